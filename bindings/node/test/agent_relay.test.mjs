// Agent with a real relay (`sealwire relay serve` on 127.0.0.1 with its own SQLite database,
// as in relay.test.mjs): B publishes and goes offline, A sends through B's mailbox
// ('relay'), B opens later and receives each message exactly once (also across another
// restart), B answers through A's mailbox; an unreachable relay is absorbed by receive and
// reported by takeLastError(), and the message waits in the outbox ('queued') until a flush
// reaches the relay.
//
// The relay binary: $SEALWIRE_BIN, else target/$CARGO_BUILD_TARGET/release/sealwire (built by
// run-tests.sh with `cargo build --release -p sealwire-cli`).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { inspect } from 'node:util'
import net from 'node:net'

import { Agent } from '../sealwire.js'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const TRIPLE = process.env.CARGO_BUILD_TARGET || 'x86_64-unknown-linux-gnu'
const BIN = process.env.SEALWIRE_BIN || join(ROOT, 'target', TRIPLE, 'release', 'sealwire')

const tmp = mkdtempSync(join(tmpdir(), 'sealwire-node-agent-relay-'))
after(() => rmSync(tmp, { recursive: true, force: true }))
let n = 0
const fresh = (name) => join(tmp, `${name}-${n++}`)

const CONFIG = `version = 1
[identity.kdf]
memory_kib = 19456
iterations = 2
lanes = 1
[prekeys]
batch_size = 12
kem_batch_size = 12
[overrides]
allow_weak_kdf = true
`
const PASS = 'agent relay test passphrase'

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const text = (b) => Buffer.from(b).toString('utf8')
const code = (c) => (err) => {
  assert.ok(err instanceof Error, `an Error instance (got ${inspect(err)})`)
  assert.ok(Object.hasOwn(err, 'code'), '`code` is set on the Error object itself')
  assert.equal(err.code, c, `${err.code}: ${err.message}`)
  return true
}

/** `sealwire relay serve --listen 127.0.0.1:0 --db …`, until it prints `listening on URL`. */
async function startRelay() {
  const r = spawnSync(BIN, ['relay', 'serve', '--help'], { encoding: 'utf8' })
  if (r.error || r.status !== 0) {
    throw new Error(
      `no usable relay binary at ${BIN}: build it with CARGO_BUILD_TARGET=${TRIPLE} cargo build ` +
        '--release -p sealwire-cli, or set SEALWIRE_BIN',
    )
  }
  const db = join(fresh('relay'), 'relay.db')
  mkdirSync(join(db, '..'), { recursive: true })
  const proc = spawn(BIN, ['relay', 'serve', '--listen', '127.0.0.1:0', '--db', db], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let log = ''
  proc.stderr.on('data', (d) => (log = (log + d).slice(-20_000)))
  const url = await new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`relay did not start: ${log}`)), 15_000)
    proc.once('exit', (c, s) => reject(new Error(`relay exited (${c ?? s}): ${log}`)))
    proc.stdout.on('data', (d) => {
      out += d
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m[1])
      }
    })
  })
  return {
    url,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      const exited = once(proc, 'exit')
      proc.kill('SIGTERM')
      await exited
    },
  }
}

/** A TCP port nothing listens on (bound, then closed). */
async function deadPort() {
  const server = net.createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address()
  server.close()
  await once(server, 'close')
  return port
}

let relay
before(async () => {
  relay = await startRelay()
})
after(async () => {
  await relay?.stop()
})

const options = (url) => ({
  passphrase: PASS,
  relayUrl: url,
  handshakeTimeoutMs: 3000,
  ackTimeoutMs: 400,
  relayPollIntervalMs: 100,
})
const open = (home, url = relay.url) => Agent.open(home, CONFIG, options(url))

/** Receive until `count` messages came or `ms` passed (acknowledging each unless told). */
async function receiveN(agent, count, { ms = 15_000, ack = true } = {}) {
  const got = []
  const end = Date.now() + ms
  while (got.length < count && Date.now() < end) {
    for (const m of await agent.receive(100)) {
      got.push(m)
      if (ack) await agent.ack(m.id)
    }
  }
  return got
}

test('B offline: A sends through the relay, B opens later and receives exactly once', async () => {
  const [homeA, homeB] = [fresh('a'), fresh('b')]
  // B publishes its bundle and mailbox, then goes offline.
  let b = await open(homeB)
  const first = await b.maintain()
  assert.equal(first.published, true, inspect(first))
  assert.ok(first.prekeyStatus && first.prekeyStatus.postQuantum, inspect(first))
  assert.equal((await b.maintain()).published, false, 'publishing again changes nothing')
  const bPublic = b.public
  await b.close()

  let a = await open(homeA)
  assert.equal((await a.maintain()).published, true)
  const sent = []
  for (let i = 0; i < 3; i++) {
    const r = await a.send(bPublic, Buffer.from(`offline ${i}`))
    assert.equal(r.delivery, 'relay', inspect(r))
    sent.push(r.id)
  }
  assert.equal(new Set(sent).size, 3)
  assert.equal(a.stats.sentRelay, 3)
  assert.equal(a.peers.length, 0, 'no handshake: the relay is not a live channel')

  // B comes back: the mailbox, each message once, from A.
  b = await open(homeB)
  const got = await receiveN(b, 3)
  assert.deepEqual(got.map((m) => text(m.plaintext)).sort(), ['offline 0', 'offline 1', 'offline 2'])
  for (const m of got) assert.deepEqual(Buffer.from(m.peer), a.peerId)
  assert.equal(new Set(got.map((m) => m.id)).size, 3)
  assert.equal(b.stats.receivedRelay, 3)
  assert.deepEqual(await b.receive(300), [], 'nothing twice')

  // B answers through A's mailbox (A is online but has no channel: relay).
  assert.equal((await b.send(a.public, Buffer.from('answer'))).delivery, 'relay')
  const answer = await receiveN(a, 1)
  assert.deepEqual(answer.map((m) => text(m.plaintext)), ['answer'])
  assert.deepEqual(Buffer.from(answer[0].peer), b.peerId)

  // Another restart of B: everything was acknowledged, nothing comes back.
  await b.close()
  b = await open(homeB)
  assert.deepEqual(await b.receive(300), [])
  assert.equal(b.takeLastError(), null, 'the relay answered every call')
  await Promise.all([a.close(), b.close()])
})

test('an unreachable relay: the message waits in the outbox and goes when the relay answers', async () => {
  const [homeA, homeB] = [fresh('qa'), fresh('qb')]
  const b = await open(homeB)
  await b.maintain()
  const bPublic = b.public
  await b.close()

  // A first claims B's bundle through the real relay (the session exists from then on)...
  let a = await open(homeA)
  assert.equal((await a.send(bPublic, Buffer.from('first'))).delivery, 'relay')
  await a.close()
  // ...then runs with a relay that does not answer: committed, queued, error absorbed.
  a = await open(homeA, `http://127.0.0.1:${await deadPort()}`)
  const r = await a.send(bPublic, Buffer.from('queued'))
  assert.equal(r.delivery, 'queued', inspect(r))
  assert.deepEqual(await a.receive(0), [])
  const err = a.takeLastError()
  assert.ok(err instanceof Error, inspect(err))
  assert.equal(err.code, 'ERR_SEALWIRE_RELAY_UNAVAILABLE', err.message)
  assert.equal(a.takeLastError(), null, 'taken once')
  const flushed = await a.flush()
  assert.equal(flushed.relayed, 0)
  assert.ok(flushed.failed >= 1, inspect(flushed))
  assert.equal(await a.pendingOutboxLen(), 1, 'the queued message waits in the outbox')
  await a.close()

  // Back on the real relay: the next flush deposits it, B receives both once.
  a = await open(homeA)
  assert.equal(await a.pendingOutboxLen(), 1, 'still there after a restart')
  const ok = await a.flush()
  assert.equal(ok.relayed, 1, inspect(ok))
  assert.equal(await a.pendingOutboxLen(), 0)
  await a.close()
  const b2 = await open(homeB)
  const got = await receiveN(b2, 2)
  assert.deepEqual(got.map((m) => text(m.plaintext)).sort(), ['first', 'queued'])
  assert.deepEqual(await b2.receive(300), [])
  await b2.close()
  await assert.rejects(b2.flush(), code('ERR_SEALWIRE_STORAGE'))
})
