// RelayClient / RelayAgent against a real `sealwire relay serve` process (SQLite, 127.0.0.1,
// free port; stopped at the end): two agents never online together (each reopens from its
// SQLite file), duplicates suppressed (an acknowledgement and a deposit answer lost by a
// fault-injecting proxy), forged deposits rejected, prekeys replenished after claims,
// unreachable relay, the relay SIGKILLed and restarted on the same database mid-conversation
// (every message delivered once, in order), the event loop running during a long poll, the
// six relay error codes, ownership of the messenger, and tests/cross/relay_node.mjs against
// its contract.
//
// The relay binary: $SEALWIRE_BIN, else target/$CARGO_BUILD_TARGET/release/sealwire (built by
// run-tests.sh with `cargo build --release -p sealwire-cli`).
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn, spawnSync, execFile } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { inspect, promisify } from 'node:util'
import http from 'node:http'
import net from 'node:net'
import crypto from 'node:crypto'

import {
  Identity,
  Messenger,
  MemorySessionStore,
  PublicIdentity,
  RelayAgent,
  RelayClient,
  peerId,
} from '../sealwire.js'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const TRIPLE = process.env.CARGO_BUILD_TARGET || 'x86_64-unknown-linux-gnu'
const BIN = process.env.SEALWIRE_BIN || join(ROOT, 'target', TRIPLE, 'release', 'sealwire')
const CROSS = join(ROOT, 'tests', 'cross', 'relay_node.mjs')

const tmp = mkdtempSync(join(tmpdir(), 'sealwire-node-relay-'))
after(() => rmSync(tmp, { recursive: true, force: true }))
let n = 0
const fresh = (name) => join(tmp, `${name}-${n++}`)

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
/** A Promise's value or error, without an unhandled rejection meanwhile. */
const settle = (p) => p.then((v) => v, (e) => e)
const text = (b) => Buffer.from(b).toString('utf8')

/** assert.throws / assert.rejects validator: an Error whose own `code` is `code`. */
const code = (c) => (err) => {
  assert.ok(err instanceof Error, `an Error instance (got ${inspect(err)})`)
  assert.ok(Object.hasOwn(err, 'code'), '`code` is set on the Error object itself')
  assert.equal(err.code, c, `${err.code}: ${err.message}`)
  return true
}

// ---------------------------------------------------------------------------------------------
// A real relay process
// ---------------------------------------------------------------------------------------------

function checkBinary() {
  const r = spawnSync(BIN, ['relay', 'serve', '--help'], { encoding: 'utf8' })
  if (r.error || r.status !== 0) {
    throw new Error(
      `no usable relay binary at ${BIN} (missing, or without "relay serve"): build it with ` +
        `CARGO_BUILD_TARGET=${TRIPLE} cargo build --release -p sealwire-cli, or set SEALWIRE_BIN`,
    )
  }
}

/** `sealwire relay serve` on 127.0.0.1 with a SQLite database of its own. */
class Relay {
  constructor(extra = []) {
    this.dir = fresh('relay')
    this.db = join(this.dir, 'relay.db')
    this.extra = extra
    this.port = 0
    this.proc = null
    this.url = null
    this.log = ''
  }

  /** Start (on the port of the previous run, if any), and wait for /v1/health. */
  async start() {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#spawn()
        break
      } catch (e) {
        // After a kill the old port may be briefly unavailable: try again.
        if (this.port === 0 || attempt >= 50) throw e
        await sleep(100)
      }
    }
    for (let i = 0; ; i++) {
      try {
        const r = await fetch(`${this.url}/v1/health`)
        if (r.status === 200 && (await r.json()).status === 'ok') return
      } catch {
        // not yet
      }
      if (i >= 100) throw new Error(`relay not healthy: ${this.log.slice(-2000)}`)
      await sleep(50)
    }
  }

  #spawn() {
    return new Promise((resolve, reject) => {
      mkdirSync(this.dir, { recursive: true })
      const args = ['relay', 'serve', '--listen', `127.0.0.1:${this.port}`, '--db', this.db, ...this.extra]
      const proc = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      let settled = false
      const fail = (why) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        proc.kill('SIGKILL')
        reject(new Error(`relay did not start (${why}): ${this.log.slice(-2000)}`))
      }
      const timer = setTimeout(() => fail('timeout'), 15_000)
      proc.once('error', (e) => fail(e.message))
      proc.once('exit', (c, s) => fail(`exit ${c ?? s}`))
      proc.stderr.on('data', (d) => {
        this.log = (this.log + d).slice(-100_000)
      })
      proc.stdout.on('data', (d) => {
        out += d
        const m = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(out)
        if (m && !settled) {
          settled = true
          clearTimeout(timer)
          this.proc = proc
          this.url = m[1]
          this.port = Number(m[2])
          resolve()
        }
      })
    })
  }

  /** Stop the process with `signal` (SIGKILL: no chance to finish anything) and wait. */
  async kill(signal = 'SIGKILL') {
    const p = this.proc
    this.proc = null
    if (p === null || p.exitCode !== null || p.signalCode !== null) return
    const exited = once(p, 'exit')
    p.kill(signal)
    await exited
  }

  async restart() {
    await this.kill('SIGKILL')
    await this.start()
  }

  stop() {
    return this.kill('SIGTERM')
  }
}

/**
 * An HTTP proxy in front of a relay that can fail chosen requests: `fault(method, path)`
 * returns `null` (forward), `{ status, error }` (answer that error without forwarding) or
 * `{ status, error, forward: true }` (forward, let the relay act, then answer the error
 * instead of the relay's reply: a reply lost on the way back).
 */
class FaultProxy {
  constructor(relay) {
    this.relay = relay
    this.fault = () => null
    this.faults = 0
  }

  async start() {
    this.server = http.createServer((req, res) => this.#handle(req, res))
    this.server.listen(0, '127.0.0.1')
    await once(this.server, 'listening')
    this.url = `http://127.0.0.1:${this.server.address().port}`
  }

  #handle(req, res) {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const f = this.fault(req.method, req.url)
      if (f) this.faults++
      if (f && !f.forward) return answer(res, f.status, f.error)
      const up = http.request(
        { host: '127.0.0.1', port: this.relay.port, method: req.method, path: req.url, headers: req.headers },
        (ur) => {
          const parts = []
          ur.on('data', (c) => parts.push(c))
          ur.on('end', () => {
            if (f) return answer(res, f.status, f.error)
            res.writeHead(ur.statusCode, ur.headers)
            res.end(Buffer.concat(parts))
          })
        },
      )
      up.on('error', () => res.destroy())
      up.end(Buffer.concat(chunks))
    })
  }

  close() {
    this.server.closeAllConnections()
    this.server.close()
  }
}

function answer(res, status, error) {
  const body = JSON.stringify({ error, message: 'injected by the test proxy' })
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

/** A port on 127.0.0.1 with nothing listening. */
async function deadPort() {
  const s = net.createServer()
  s.listen(0, '127.0.0.1')
  await once(s, 'listening')
  const { port } = s.address()
  s.close()
  await once(s, 'close')
  return port
}

// ---------------------------------------------------------------------------------------------
// Agents
// ---------------------------------------------------------------------------------------------

/** An agent's durable parts: identity, SQLite file and storage key (no open handle). */
function newAgentHome(name) {
  return { identity: Identity.generate(), path: `${fresh(name)}.db`, key: crypto.randomBytes(32) }
}

async function createAgent(home, url, options = { oneTimePrekeys: 3 }) {
  const m = await Messenger.createAsync(home.path, home.identity, home.key, options)
  return new RelayAgent(m, new RelayClient(url))
}

async function openAgent(home, url) {
  const m = await Messenger.openAsync(home.path, home.key, { minCounter: 0 })
  return new RelayAgent(m, new RelayClient(url))
}

/** Receive until `count` new messages arrived (or `ms` passed); acknowledges each. */
async function receiveAll(agent, count, ms = 10_000) {
  const got = []
  const deadline = Date.now() + ms
  while (got.length < count && Date.now() < deadline) {
    const r = await agent.receiveAsync({ waitSeconds: 1 })
    assert.equal(r.interrupted, undefined)
    for (const m of r.received) {
      got.push(m)
      await agent.messenger.ackAsync(m.id)
    }
  }
  return got
}

// ---------------------------------------------------------------------------------------------

describe('RelayClient / RelayAgent against a real relay', () => {
  const relay = new Relay(['--replenish-below', '2'])
  before(async () => {
    checkBinary()
    await relay.start()
  })
  after(() => relay.stop())

  test('client: health, URL and option checks, no secret in inspection', async () => {
    const c = new RelayClient(relay.url, { connectTimeoutMs: 1000, requestTimeoutMs: 5000 })
    await c.healthAsync()
    assert.equal(c.requestTimeoutMs, 5000)
    assert.equal(c.connectTimeoutMs, 1000)
    assert.equal(new RelayClient(`${relay.url}/`).requestTimeoutMs, 15000)
    for (const url of ['http://example.com:8790', 'ftp://127.0.0.1:1', 'not a url', `${relay.url}/v1`]) {
      assert.throws(() => new RelayClient(url), code('ERR_SEALWIRE_INVALID_PARAMETER'), url)
    }
    // allowPlainHttp lifts the loopback rule (nothing is sent by the constructor).
    assert.ok(new RelayClient('http://example.com:8790', { allowPlainHttp: true }))
    for (const opts of [{ connectTimeoutMs: 0 }, { requestTimeoutMs: 1.5 }, { requestTimeoutMs: -1 }, { connectTimeoutMs: 4e6 }]) {
      assert.throws(() => new RelayClient(relay.url, opts), code('ERR_SEALWIRE_INVALID_PARAMETER'), inspect(opts))
    }
    assert.doesNotMatch(inspect(c), /127\.0\.0\.1/)
  })

  test('two agents never online together: publish, offline, send 3, reopen, receive in order, reply', async () => {
    const aHome = newAgentHome('alice')
    const bHome = newAgentHome('bob')
    const aPub = aHome.identity.public
    const bPub = bHome.identity.public

    // Alice publishes and goes offline.
    let alice = await createAgent(aHome, relay.url)
    assert.ok(alice.identity.equals(aPub))
    assert.equal(alice.mailboxAddress.length, 32)
    assert.notDeepEqual(alice.mailboxAddress, peerId(aPub), 'the mailbox is not addressed by the identity')
    const status = await alice.publishAsync()
    assert.deepEqual({ ...status }, { oneTime: 3, kemOneTime: 3, postQuantum: true, replenish: false })
    alice.close()
    assert.ok(alice.closed)
    await assert.rejects(alice.publishAsync(), code('ERR_SEALWIRE_STORAGE'))

    // Bob, alone: publishes (so that replies can reach him), connects, sends 3, goes offline.
    let bob = await createAgent(bHome, relay.url)
    await bob.publishAsync()
    await bob.connectAsync(aPub)
    assert.ok(bob.messenger.hasSession(aPub))
    const ids = []
    for (const t of ['one', 'two', 'three']) ids.push(await bob.sendAsync(aPub, Buffer.from(t)))
    assert.ok(ids.every((id) => typeof id === 'bigint'))
    assert.ok(ids[0] < ids[1] && ids[1] < ids[2])
    assert.deepEqual(bob.messenger.pendingOutbox(), [], 'every deposit was marked sent')
    const bobMessenger = bob.messenger
    bob.close()
    assert.ok(bobMessenger.closed, 'closing the agent closes its messenger')

    // Alice comes back from her file and reads them in deposit order.
    alice = await openAgent(aHome, relay.url)
    const r = await alice.receiveAsync()
    assert.equal(r.duplicates, 0)
    assert.equal(r.rejected, 0)
    assert.equal(r.interrupted, undefined)
    assert.deepEqual(r.received.map((m) => text(m.plaintext)), ['one', 'two', 'three'])
    for (const m of r.received) assert.deepEqual(m.peer, peerId(bPub))
    assert.equal(alice.messenger.pendingInbox().length, 3, 'committed, not yet handled by the application')
    for (const m of r.received) await alice.messenger.ackAsync(m.id)
    assert.equal(alice.messenger.pendingInbox().length, 0)
    const again = await alice.receiveAsync()
    assert.deepEqual([again.received.length, again.duplicates, again.rejected], [0, 0, 0], 'the mailbox was emptied')
    await alice.sendAsync(bPub, Buffer.from('got them'))
    alice.close()

    // Bob comes back and reads the reply.
    bob = await openAgent(bHome, relay.url)
    const got = await receiveAll(bob, 1)
    assert.deepEqual(got.map((m) => text(m.plaintext)), ['got them'])
    assert.deepEqual(got[0].peer, peerId(aPub))
    // The session keeps going in both directions.
    await bob.sendAsync(aPub, Buffer.from('four'))
    bob.close()
    alice = await openAgent(aHome, relay.url)
    assert.deepEqual((await receiveAll(alice, 1)).map((m) => text(m.plaintext)), ['four'])
    alice.close()
  })

  test('duplicates suppressed: a lost acknowledgement and a lost deposit reply deliver nothing twice', async () => {
    const proxy = new FaultProxy(relay)
    await proxy.start()
    try {
      const aHome = newAgentHome('alice')
      const alice = await createAgent(aHome, proxy.url)
      await alice.publishAsync()
      const bob = await createAgent(newAgentHome('bob'), proxy.url)
      await bob.publishAsync()
      const aPub = aHome.identity.public
      await bob.connectAsync(aPub)
      await bob.sendAsync(aPub, Buffer.from('m1'))
      await bob.sendAsync(aPub, Buffer.from('m2'))

      // The acknowledgement is lost: both are committed and returned, the error reported.
      proxy.fault = (method, path) => (method === 'POST' && path.endsWith('/ack') ? { status: 503, error: 'unavailable' } : null)
      const r1 = await alice.receiveAsync()
      assert.deepEqual(r1.received.map((m) => text(m.plaintext)), ['m1', 'm2'])
      assert.equal(r1.interrupted, 'ERR_SEALWIRE_RELAY_UNAVAILABLE')
      assert.equal(typeof r1.interruptedMessage, 'string')
      assert.equal(proxy.faults, 1)
      // Without a committed message the same failure rejects the Promise instead.
      await bob.sendAsync(aPub, Buffer.from('m3'))
      proxy.fault = (method) => (method === 'GET' ? { status: 503, error: 'unavailable' } : null)
      await assert.rejects(alice.receiveAsync(), code('ERR_SEALWIRE_RELAY_UNAVAILABLE'))

      // The relay delivers m1 and m2 again: recognized, acknowledged, not returned.
      proxy.fault = () => null
      const r2 = await alice.receiveAsync()
      assert.equal(r2.duplicates, 2)
      assert.deepEqual(r2.received.map((m) => text(m.plaintext)), ['m3'])
      assert.equal(r2.interrupted, undefined)

      // A deposit that the relay stored but whose reply was lost: the send rejects, the
      // record stays in the outbox, and flushing deposits it again under the same deposit
      // id — the relay keeps one copy.
      proxy.fault = (method, path) =>
        method === 'PUT' && path.includes('/messages/') ? { status: 503, error: 'unavailable', forward: true } : null
      await assert.rejects(bob.sendAsync(aPub, Buffer.from('m4')), code('ERR_SEALWIRE_RELAY_UNAVAILABLE'))
      const pending = bob.messenger.pendingOutbox()
      assert.equal(pending.length, 1)
      proxy.fault = () => null
      assert.equal(await bob.flushOutboxAsync(), 1)
      assert.equal(await bob.flushOutboxAsync(), 0)
      assert.deepEqual(bob.messenger.pendingOutbox(), [])
      const r3 = await alice.receiveAsync()
      assert.deepEqual(r3.received.map((m) => text(m.plaintext)), ['m4'])
      assert.equal(r3.duplicates, 0, 'the relay stored the re-deposit once')

      // Everything the application got: each message once, in order.
      const inbox = alice.messenger.pendingInbox().map((m) => text(m.plaintext))
      assert.deepEqual(inbox, ['m1', 'm2', 'm3', 'm4'])
      alice.close()
      bob.close()
    } finally {
      proxy.close()
    }
  })

  test('a forged deposit (anyone may deposit) is acknowledged and counted as rejected', async () => {
    const aHome = newAgentHome('alice')
    const alice = await createAgent(aHome, relay.url)
    await alice.publishAsync()
    // A well-formed SWMM that no one sealed for this mailbox.
    const sealed = Buffer.concat([Buffer.from('SWMM'), Buffer.from([1]), crypto.randomBytes(32 + 64)])
    const depositId = crypto.randomBytes(32).toString('hex')
    const url = `${relay.url}/v1/mailboxes/${alice.mailboxAddress.toString('hex')}/messages/${depositId}`
    const put = await fetch(url, { method: 'PUT', body: sealed, headers: { 'content-type': 'application/octet-stream' } })
    assert.equal(put.status, 201)
    const r = await alice.receiveAsync()
    assert.deepEqual([r.received.length, r.duplicates, r.rejected], [0, 0, 1])
    const r2 = await alice.receiveAsync()
    assert.equal(r2.rejected, 0, 'it was acknowledged')
    alice.close()
  })

  test('prekeys replenished after claims (maintainAsync), and the claimed ones still work', async () => {
    const aHome = newAgentHome('alice')
    const aPub = aHome.identity.public
    const alice = await createAgent(aHome, relay.url)
    assert.deepEqual({ ...(await alice.publishAsync()) }, { oneTime: 3, kemOneTime: 3, postQuantum: true, replenish: false })
    assert.deepEqual({ ...(await alice.maintainAsync()) }, { oneTime: 3, kemOneTime: 3, postQuantum: true, replenish: false })
    const counter = alice.messenger.counter
    assert.equal(await alice.maintainAsync().then(() => alice.messenger.counter), counter, 'nothing to do: nothing committed')

    const senders = []
    for (const name of ['bob', 'carol']) {
      const s = await createAgent(newAgentHome(name), relay.url)
      await s.connectAsync(aPub) // claims one prekey of each kind
      senders.push(s)
    }
    // 1 left of each kind, below the relay's threshold (--replenish-below 2).
    const after = await alice.maintainAsync()
    assert.deepEqual({ ...after }, { oneTime: 3, kemOneTime: 3, postQuantum: true, replenish: false })
    assert.ok(alice.messenger.counter > counter, 'the new prekeys were committed')
    // The claimed prekeys are kept until their initial messages arrive.
    const dave = await createAgent(newAgentHome('dave'), relay.url)
    await dave.connectAsync(aPub) // a new prekey
    senders.push(dave)
    for (const [i, s] of senders.entries()) {
      await s.publishAsync()
      await s.sendAsync(aPub, Buffer.from(`hello ${i}`))
    }
    const got = await receiveAll(alice, 3)
    assert.deepEqual(got.map((m) => text(m.plaintext)), ['hello 0', 'hello 1', 'hello 2'])
    // Each reply reaches its sender (sessions from the claimed and from the new prekeys).
    for (const [i, s] of senders.entries()) {
      await alice.sendAsync(s.identity, Buffer.from(`re ${i}`))
      assert.deepEqual((await receiveAll(s, 1)).map((m) => text(m.plaintext)), [`re ${i}`])
      s.close()
    }
    alice.close()
  })

  test('unknown peer → ERR_SEALWIRE_RELAY_NOT_FOUND; no session → ERR_SEALWIRE_NO_SESSION', async () => {
    const alice = await createAgent(newAgentHome('alice'), relay.url)
    const stranger = Identity.generate().public
    await assert.rejects(alice.connectAsync(stranger), code('ERR_SEALWIRE_RELAY_NOT_FOUND'))
    await assert.rejects(alice.sendAsync(stranger, Buffer.from('x')), code('ERR_SEALWIRE_NO_SESSION'))
    await assert.rejects(alice.sendAsync(Buffer.alloc(31), Buffer.from('x')), code('ERR_SEALWIRE_INVALID_LENGTH'))
    // Receiving before our mailbox was opened (publishAsync): the relay does not know it.
    await assert.rejects(alice.receiveAsync(), code('ERR_SEALWIRE_RELAY_NOT_FOUND'))
    alice.close()
  })

  test('every relay error code comes through as `code`', async () => {
    const proxy = new FaultProxy(relay)
    await proxy.start()
    try {
      const client = new RelayClient(proxy.url)
      const cases = [
        [400, 'malformed_request', 'ERR_SEALWIRE_RELAY_REJECTED'],
        [413, 'body_too_large', 'ERR_SEALWIRE_RELAY_REJECTED'],
        [401, 'bad_signature', 'ERR_SEALWIRE_RELAY_AUTH_FAILED'],
        [403, 'forbidden', 'ERR_SEALWIRE_RELAY_AUTH_FAILED'],
        [404, 'not_found', 'ERR_SEALWIRE_RELAY_NOT_FOUND'],
        [507, 'mailbox_full', 'ERR_SEALWIRE_RELAY_MAILBOX_FULL'],
        [503, 'unavailable', 'ERR_SEALWIRE_RELAY_UNAVAILABLE'],
        [500, 'internal', 'ERR_SEALWIRE_RELAY_UNAVAILABLE'],
        [408, 'timeout', 'ERR_SEALWIRE_RELAY_TIMEOUT'],
      ]
      for (const [status, error, expected] of cases) {
        proxy.fault = () => ({ status, error })
        await assert.rejects(client.healthAsync(), code(expected), `${status} ${error}`)
      }
      proxy.fault = () => ({ status: 400, error: 'bad_bundle' })
      await assert.rejects(client.healthAsync(), (e) => code('ERR_SEALWIRE_RELAY_REJECTED')(e) && /bad_bundle/.test(e.message))
      proxy.fault = () => null
      await client.healthAsync()
    } finally {
      proxy.close()
    }
    // A client whose request timeout is shorter than the relay's long poll.
    const alice = await createAgent(newAgentHome('alice'), relay.url)
    await alice.publishAsync()
    const slow = new RelayAgent(alice.messenger, new RelayClient(relay.url, { requestTimeoutMs: 3000 }))
    await assert.rejects(slow.receiveAsync({ waitSeconds: 3 }), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    slow.close()
  })

  test('the event loop keeps running during a long-poll receive, and a deposit wakes it', async () => {
    const aHome = newAgentHome('alice')
    const alice = await createAgent(aHome, relay.url)
    await alice.publishAsync()
    const bob = await createAgent(newAgentHome('bob'), relay.url)
    await bob.connectAsync(aHome.identity.public)

    let ticks = 0
    const timer = setInterval(() => ticks++, 10)
    try {
      // An empty mailbox: the relay holds the request for the whole wait.
      let t0 = performance.now()
      const empty = await alice.receiveAsync({ waitSeconds: 2 })
      const waited = performance.now() - t0
      assert.equal(empty.received.length, 0)
      assert.ok(waited >= 1800, `the relay held the request (${waited} ms)`)
      assert.ok(ticks >= 20, `timers ran during the wait (${ticks} ticks of 10 ms in ${waited} ms)`)

      // A deposit during the wait answers it at once.
      ticks = 0
      t0 = performance.now()
      const waiting = alice.receiveAsync({ waitSeconds: 10 })
      await sleep(300)
      assert.ok(ticks >= 5, `timers ran while the poll was pending (${ticks})`)
      await bob.sendAsync(aHome.identity.public, Buffer.from('wake up'))
      const r = await waiting
      assert.deepEqual(r.received.map((m) => text(m.plaintext)), ['wake up'])
      assert.ok(performance.now() - t0 < 8000, 'woken by the deposit, not by the end of the wait')
    } finally {
      clearInterval(timer)
    }
    alice.close()
    bob.close()
  })

  test('receive options are checked (the Promise rejects)', async () => {
    const alice = await createAgent(newAgentHome('alice'), relay.url)
    for (const opts of [{ limit: 0 }, { limit: 1001 }, { limit: 1.5 }, { waitSeconds: -1 }, { waitSeconds: 31 }, { waitSeconds: 15 }]) {
      await assert.rejects(alice.receiveAsync(opts), code('ERR_SEALWIRE_INVALID_PARAMETER'), inspect(opts))
    }
    alice.close()
  })

  test('ownership: the messenger stays usable, one agent per messenger, intoMessenger, JS stores refused', async () => {
    const aHome = newAgentHome('alice')
    const m = await Messenger.createAsync(aHome.path, aHome.identity, aHome.key, { oneTimePrekeys: 3 })
    const client = new RelayClient(relay.url)
    const first = new RelayAgent(m, client)
    assert.ok(first.client instanceof RelayClient)
    assert.ok(first.messenger instanceof Messenger)
    assert.ok(first.messenger.identity.equals(m.identity))
    await first.publishAsync()
    const counter = m.counter
    assert.equal(first.messenger.counter, counter, 'the same state through both handles')

    // A second agent takes the messenger over; the first one no longer reaches it.
    const second = new RelayAgent(m, client)
    await assert.rejects(first.publishAsync(), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    first.close() // no effect: it no longer holds the messenger
    assert.equal(m.closed, false)
    await second.publishAsync()

    // Released: the messenger works alone, the agent refuses.
    const back = second.intoMessenger()
    assert.ok(back instanceof Messenger)
    assert.throws(() => second.intoMessenger(), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    await assert.rejects(second.maintainAsync(), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    assert.equal(back.bundle().oneTimePrekeyCount, 3)

    // A closed messenger cannot be taken over.
    const third = new RelayAgent(m, client)
    m.close()
    assert.ok(third.closed)
    await assert.rejects(third.receiveAsync(), code('ERR_SEALWIRE_STORAGE'))
    assert.throws(() => new RelayAgent(m, client), code('ERR_SEALWIRE_STORAGE'))

    // A messenger over a JavaScript store: refused (its callbacks cannot run on the pool).
    const js = Messenger.createWithStore(new MemorySessionStore(), Identity.generate(), crypto.randomBytes(32))
    assert.throws(() => new RelayAgent(js, client), (e) => code('ERR_SEALWIRE_INVALID_PARAMETER')(e) && /SessionStore/.test(e.message))
    assert.equal(js.closed, false, 'the refused messenger is untouched')
    assert.equal(js.pendingOutbox().length, 0)

    // Argument types.
    assert.throws(() => new RelayAgent(client, client), /instanceof class `Messenger`/)
    assert.throws(() => new RelayAgent(js), /RelayClient/)
    // Nothing secret (nor the URL) through inspection.
    assert.doesNotMatch(inspect(third, { showHidden: true, depth: 5 }), /secret|seed|127\.0\.0\.1/i)
  })
})

describe('relay unreachable', () => {
  test('→ ERR_SEALWIRE_RELAY_UNAVAILABLE, nothing lost locally', async () => {
    const url = `http://127.0.0.1:${await deadPort()}`
    const client = new RelayClient(url, { connectTimeoutMs: 1000 })
    await assert.rejects(client.healthAsync(), code('ERR_SEALWIRE_RELAY_UNAVAILABLE'))
    const home = newAgentHome('alice')
    const alice = await createAgent(home, url)
    const counter = alice.messenger.counter
    await assert.rejects(alice.publishAsync(), code('ERR_SEALWIRE_RELAY_UNAVAILABLE'))
    await assert.rejects(alice.maintainAsync(), code('ERR_SEALWIRE_RELAY_UNAVAILABLE'))
    await assert.rejects(alice.connectAsync(Identity.generate().public), code('ERR_SEALWIRE_RELAY_UNAVAILABLE'))
    await assert.rejects(alice.receiveAsync(), code('ERR_SEALWIRE_RELAY_UNAVAILABLE'))
    assert.equal(await alice.flushOutboxAsync(), 0, 'nothing to deposit: no request made')
    assert.equal(alice.messenger.counter, counter, 'nothing committed')
    // A send with a session but no relay: committed in the outbox, deposited later.
    const bobHome = newAgentHome('bob')
    const bobM = await Messenger.createAsync(bobHome.path, bobHome.identity, bobHome.key, { oneTimePrekeys: 1 })
    await alice.messenger.connectAsync(bobHome.identity.public, bobM.bundle())
    await assert.rejects(alice.sendAsync(bobHome.identity.public, Buffer.from('later')), code('ERR_SEALWIRE_RELAY_UNAVAILABLE'))
    assert.equal(alice.messenger.pendingOutbox().length, 1)
    await assert.rejects(alice.flushOutboxAsync(), code('ERR_SEALWIRE_RELAY_UNAVAILABLE'))
    assert.equal(alice.messenger.pendingOutbox().length, 1)
    alice.close()
    bobM.close()
  })
})

describe('relay SIGKILLed and restarted on the same database mid-conversation', () => {
  const relay = new Relay()
  before(async () => {
    checkBinary()
    await relay.start()
  })
  after(() => relay.stop())

  test('nothing lost, nothing delivered twice, in order', async () => {
    const aHome = newAgentHome('alice')
    const bHome = newAgentHome('bob')
    const aPub = aHome.identity.public
    const bPub = bHome.identity.public
    let alice = await createAgent(aHome, relay.url)
    await alice.publishAsync()
    let bob = await createAgent(bHome, relay.url)
    await bob.publishAsync()
    await bob.connectAsync(aPub)

    const sent = []
    const got = []
    const take = (r) => {
      for (const m of r.received) got.push(text(m.plaintext))
    }
    const TOTAL = 24
    const KILL_AT = new Set([4, 9, 15, 20])
    for (let i = 1; i <= TOTAL; i++) {
      const msg = `msg ${i}`
      if (KILL_AT.has(i)) {
        if (i % 2 === 0) {
          // A long poll in flight on an empty mailbox when the relay dies.
          take(await alice.receiveAsync({ limit: 1000 }))
          const polling = settle(alice.receiveAsync({ waitSeconds: 5 }))
          await sleep(300)
          await relay.kill('SIGKILL')
          const outcome = await polling
          assert.ok(outcome instanceof Error, 'the poll was in flight')
          code('ERR_SEALWIRE_RELAY_UNAVAILABLE')(outcome)
        } else {
          // A receive of waiting messages (fetch, commits, acknowledgement) when it dies.
          const receiving = settle(alice.receiveAsync({ limit: 2 }))
          await sleep(i % 4)
          await relay.kill('SIGKILL')
          const outcome = await receiving
          if (outcome instanceof Error) code('ERR_SEALWIRE_RELAY_UNAVAILABLE')(outcome)
          else take(outcome)
        }
        // While it is down: the send is committed locally, not deposited.
        await assert.rejects(bob.sendAsync(aPub, Buffer.from(msg)), code('ERR_SEALWIRE_RELAY_UNAVAILABLE'))
        await assert.rejects(alice.receiveAsync(), code('ERR_SEALWIRE_RELAY_UNAVAILABLE'))
        assert.equal(bob.messenger.pendingOutbox().length, 1)
        sent.push(msg)
        await relay.start()
        // Agents restart too, every other time (from their SQLite files).
        if (i % 2 === 0) {
          alice.close()
          bob.close()
          alice = await openAgent(aHome, relay.url)
          bob = await openAgent(bHome, relay.url)
        }
        assert.equal(await bob.flushOutboxAsync(), 1)
      } else {
        await bob.sendAsync(aPub, Buffer.from(msg))
        sent.push(msg)
      }
      if (i % 3 === 0) take(await alice.receiveAsync({ limit: 2 }))
    }
    got.push(...(await receiveAll(alice, TOTAL - got.length)).map((m) => text(m.plaintext)))
    assert.deepEqual(got, sent, 'each message once, in order')
    const last = await alice.receiveAsync()
    assert.deepEqual([last.received.length, last.rejected], [0, 0])
    // The relay's mailbox is empty (only duplicates could have been left).
    const drained = await alice.receiveAsync()
    assert.deepEqual([drained.received.length, drained.duplicates], [0, 0])

    // And the conversation goes on the other way.
    await alice.sendAsync(bPub, Buffer.from('all received'))
    assert.deepEqual((await receiveAll(bob, 1)).map((m) => text(m.plaintext)), ['all received'])
    alice.close()
    bob.close()
  })
})

// ---------------------------------------------------------------------------------------------
// tests/cross/relay_node.mjs against its contract
// ---------------------------------------------------------------------------------------------

describe('tests/cross/relay_node.mjs', () => {
  const relay = new Relay()
  before(async () => {
    checkBinary()
    await relay.start()
  })
  after(() => relay.stop())

  const run = promisify(execFile)
  const cross = (home, key, ...args) =>
    run(process.execPath, [CROSS, relay.url, home, key, ...args], { encoding: 'utf8' }).then(
      (r) => ({ status: 0, ...r }),
      (e) => ({ status: e.code, stdout: e.stdout, stderr: e.stderr }),
    )

  test('init, send, receive (both ways), errors', async () => {
    const aHome = fresh('cross-a')
    const bHome = fresh('cross-b')
    const aKey = crypto.randomBytes(32).toString('hex')
    const bKey = crypto.randomBytes(32).toString('hex')
    const a = await cross(aHome, aKey, 'init')
    assert.equal(a.status, 0, a.stderr)
    const aIdHex = a.stdout.trim()
    assert.match(aIdHex, /^[0-9a-f]+$/)
    const aPub = PublicIdentity.fromBytes(Buffer.from(aIdHex, 'hex'))
    const b = await cross(bHome, bKey, 'init')
    assert.equal(b.status, 0, b.stderr)
    const bIdHex = b.stdout.trim()
    const bPub = PublicIdentity.fromBytes(Buffer.from(bIdHex, 'hex'))
    // init twice on the same home fails.
    assert.equal((await cross(aHome, aKey, 'init')).status, 1)

    let r = await cross(bHome, bKey, 'send', aIdHex, 'hello there', 'second line')
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, '')
    r = await cross(bHome, bKey, 'send', aIdHex, 'third') // the session exists: no new claim
    assert.equal(r.status, 0, r.stderr)
    r = await cross(aHome, aKey, 'receive', '3')
    assert.equal(r.status, 0, r.stderr)
    const from = peerId(bPub).toString('hex')
    assert.equal(r.stdout, `${from} hello there\n${from} second line\n${from} third\n`)
    r = await cross(aHome, aKey, 'send', bIdHex, 'réponse ✓')
    assert.equal(r.status, 0, r.stderr)
    r = await cross(bHome, bKey, 'receive', '1')
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, `${peerId(aPub).toString('hex')} réponse ✓\n`)

    // Fewer messages than asked within the time: what arrived is printed, exit status 2.
    const t0 = Date.now()
    r = await cross(bHome, bKey, 'receive', '1')
    assert.equal(r.status, 2, r.stderr)
    assert.equal(r.stdout, '')
    assert.ok(Date.now() - t0 >= 9000, 'it waited about 10 s')

    // Usage and key errors: exit 1, a message on stderr.
    for (const args of [[], ['frobnicate'], ['receive', 'x'], ['send', aIdHex], ['send', 'zz', 'x']]) {
      const e = await cross(bHome, bKey, ...args)
      assert.equal(e.status, 1, `${args}: ${e.stdout}`)
      assert.ok(e.stderr.length > 0)
    }
    const wrongKey = await cross(bHome, aKey, 'receive', '1')
    assert.equal(wrongKey.status, 1)
    assert.match(wrongKey.stderr, /ERR_SEALWIRE_DECRYPTION_FAILED/)
  })
})
