// Agent (the agent facade, docs/AGENT.md) from Node: two agents in this process talk over
// TCP on 127.0.0.1 — both sides are Promises on the libuv pool, so B's `receive` loop answers
// A's `connect` while the event loop stays free. First contact runs Noise XX, messages go
// both ways exactly once with acknowledgements, a restart from the homes runs IK and
// re-delivers an unacknowledged message with the same id; wrong passphrase (nothing written),
// a home open twice, sealing, maintenance idempotence, calls on one agent serialized, a
// closed agent, argument errors as rejections, and the event loop ticking during a long
// `receive`. The relay paths are in agent_relay.test.mjs.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync, existsSync, mkdtempSync, rmSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'

import { Agent, EnvelopeHeader, PublicIdentity, RootKey, SecurityConfig, peerId } from '../sealwire.js'

const tmp = mkdtempSync(join(tmpdir(), 'sealwire-node-agent-'))
after(() => rmSync(tmp, { recursive: true, force: true }))
let n = 0
const fresh = (name) => join(tmp, `${name}-${n++}`)

/** The default configuration with a cheap Argon2id (tests only) and small prekey batches. */
const CONFIG = `version = 1
[identity.kdf]
memory_kib = 19456
iterations = 2
lanes = 1
[prekeys]
batch_size = 10
kem_batch_size = 10
[overrides]
allow_weak_kdf = true
`
const PASS = 'correct horse battery staple'

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const text = (b) => Buffer.from(b).toString('utf8')
const code = (c) => (err) => {
  assert.ok(err instanceof Error, `an Error instance (got ${inspect(err)})`)
  assert.ok(Object.hasOwn(err, 'code'), '`code` is set on the Error object itself')
  assert.equal(err.code, c, `${err.code}: ${err.message}`)
  return true
}

const open = (home, options = {}) => Agent.open(home, CONFIG, { passphrase: PASS, ...options })

/**
 * Receive on `agent` in a loop (each call a Promise on the pool) until `stop()`; every
 * message goes to `log` as { id, text, peer }, acknowledged unless `ack` is false.
 */
function pump(agent, { ack = true } = {}) {
  const log = []
  let running = true
  const done = (async () => {
    while (running) {
      for (const m of await agent.receive(30)) {
        log.push({ id: m.id, text: text(m.plaintext), peer: Buffer.from(m.peer), messageId: Buffer.from(m.messageId) })
        if (ack) await agent.ack(m.id)
      }
    }
  })()
  return {
    log,
    async stop() {
      running = false
      await done
    },
  }
}

async function until(what, f, ms = 20_000) {
  const end = Date.now() + ms
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

/** Every file under `dir` with its bytes (what "nothing written" compares). */
function snapshot(dir) {
  const out = {}
  for (const name of readdirSync(dir, { recursive: true })) {
    const p = join(dir, name)
    if (statSync(p).isFile()) out[name] = readFileSync(p).toString('base64')
  }
  return out
}

test('first contact runs XX, messages go both ways exactly once, a restart runs IK and re-delivers the unacknowledged', async () => {
  const [homeA, homeB] = [fresh('a'), fresh('b')]
  let a = await open(homeA)
  let b = await open(homeB)
  assert.ok(a instanceof Agent)
  assert.ok(a.public instanceof PublicIdentity)
  assert.ok(!a.public.equals(b.public))
  assert.deepEqual(a.peerId, peerId(a.public))
  assert.equal(a.peerId.length, 32)
  assert.deepEqual(a.peers, [])

  const address = await b.listen('127.0.0.1:0')
  assert.match(address, /^127\.0\.0\.1:\d+$/)
  assert.notEqual(address, '127.0.0.1:0')

  // B answers the connection inside its receive loop (both on the pool).
  let pb = pump(b)
  const info = await a.connect({ address })
  assert.ok(info.protocol.startsWith('Noise_XXhfs_25519+MLKEM768_'), info.protocol)
  assert.equal(info.initiator, true)
  assert.ok(info.peer.equals(b.public), 'the handshake authenticated B')
  assert.deepEqual(info.peerId, b.peerId)
  assert.equal(a.peers.length, 1)
  assert.ok(a.peers[0].identity.equals(b.public))
  assert.equal(a.peers[0].address, address)
  await until('B to learn A', () => b.peers.length === 1)
  assert.ok(b.peers[0].identity.equals(a.public))
  assert.equal(a.stats.handshakes, 1)

  // A → B, live.
  for (let i = 0; i < 3; i++) {
    const r = await a.send(b.public, Buffer.from(`a to b ${i}`))
    assert.equal(r.delivery, 'live')
    assert.equal(typeof r.id, 'bigint')
  }
  await until('3 messages at B', () => pb.log.length >= 3)
  // B → A, live over the same channel.
  for (let i = 0; i < 2; i++) {
    assert.equal((await b.send(a.public, Buffer.from(`b to a ${i}`))).delivery, 'live')
  }
  let pa = pump(a)
  await until('2 messages at A', () => pa.log.length >= 2)
  await sleep(300) // anything extra would show now
  await Promise.all([pa.stop(), pb.stop()])
  assert.deepEqual(pb.log.map((m) => m.text), ['a to b 0', 'a to b 1', 'a to b 2'])
  assert.deepEqual(pa.log.map((m) => m.text), ['b to a 0', 'b to a 1'])
  for (const m of pb.log) assert.deepEqual(m.peer, a.peerId, 'the sender, authenticated')
  for (const m of pa.log) assert.deepEqual(m.peer, b.peerId)
  assert.equal(new Set(pb.log.map((m) => m.id)).size, 3, 'distinct inbox ids')
  // Nothing more comes: each message exactly once.
  assert.deepEqual(await b.receive(200), [])
  assert.deepEqual(await a.receive(200), [])

  // One more, received but not acknowledged, then both restart.
  assert.equal((await a.send(b.public, Buffer.from('unacked'))).delivery, 'live')
  pb = pump(b, { ack: false })
  await until('the unacked message', () => pb.log.length === 1)
  await pb.stop()
  const unacked = pb.log[0]
  assert.equal(unacked.text, 'unacked')
  await a.receive(100) // A reads B's acknowledgement of the ratchet record
  await Promise.all([a.close(), b.close()])
  assert.equal(a.closed, true)

  a = await open(homeA)
  b = await open(homeB)
  // The peer tables survived the restart.
  assert.ok(a.peers[0].identity.equals(b.public))
  // B's application sees the unacknowledged message again, with the same id, once.
  const again = await b.receive(100)
  assert.equal(again.length, 1, inspect(again))
  assert.equal(again[0].id, unacked.id)
  assert.equal(text(again[0].plaintext), 'unacked')
  assert.deepEqual(Buffer.from(again[0].messageId), unacked.messageId)
  await b.ack(again[0].id)

  // A knows B now: IK, to B's new address.
  const address2 = await b.listen('127.0.0.1:0')
  pb = pump(b)
  const info2 = await a.connect({ address: address2, peer: b.public })
  assert.ok(info2.protocol.startsWith('Noise_IKhfs_25519+MLKEM768_'), info2.protocol)
  assert.ok(info2.peer.equals(b.public))
  assert.equal((await a.send(b.public, Buffer.from('after restart'))).delivery, 'live')
  await until('the message after restart', () => pb.log.length >= 1)
  await sleep(300)
  await pb.stop()
  assert.deepEqual(pb.log.map((m) => m.text), ['after restart'], 'the acknowledged message never came back')
  assert.ok(pb.log[0].id > unacked.id, 'inbox ids keep increasing across restarts')
  await Promise.all([a.close(), b.close()])
  await b.close() // idempotent
})

/** Copy the session store of `home` (with its SQLite side files) to `to`, or back. */
const SESSION_FILES = ['sessions.sqlite', 'sessions.sqlite-wal', 'sessions.sqlite-shm']
function saveSessions(home, to) {
  for (const f of SESSION_FILES) if (existsSync(join(home, f))) copyFileSync(join(home, f), `${to}${f}`)
}
function restoreSessions(home, from) {
  for (const f of SESSION_FILES) {
    rmSync(join(home, f), { force: true })
    if (existsSync(`${from}${f}`)) copyFileSync(`${from}${f}`, join(home, f))
  }
}
const staleDirs = (home) => readdirSync(home).filter((f) => f.startsWith('stale-sessions-'))

test('a session store restored from an older copy: open rejects STALE_STATE, recover names its peers and starts over', async () => {
  const [homeA, homeB] = [fresh('rec-a'), fresh('rec-b')]
  const saved = `${homeA}-saved-`
  let a = await open(homeA)
  const b = await open(homeB)
  const address = await b.listen('127.0.0.1:0')
  let pb = pump(b)
  await a.connect({ address })
  assert.equal((await a.send(b.public, Buffer.from('before the copy'))).delivery, 'live')
  await until('the first message', () => pb.log.length === 1)
  await pb.stop()
  await a.receive(100) // B's acknowledgement
  await a.close()

  // The copy knows B; then A commits more and closes (the anchor is saved above the copy).
  saveSessions(homeA, saved)
  assert.ok(existsSync(`${saved}sessions.sqlite`))
  a = await open(homeA)
  const queued = await a.send(b.public, Buffer.from('after the copy'))
  assert.equal(queued.delivery, 'queued') // no channel, no relay
  const anchor = (await a.maintainStep('save-anchor')).anchor
  assert.ok(anchor >= queued.id)
  await a.close()

  restoreSessions(homeA, saved)
  await assert.rejects(open(homeA), code('ERR_SEALWIRE_STALE_STATE'))
  await assert.rejects(Agent.recover(homeA, CONFIG, { passphrase: 'wrong' }), code('ERR_SEALWIRE_DECRYPTION_FAILED'))
  await assert.rejects(Agent.recover(homeA, 'version = 0'), code('ERR_SEALWIRE_INVALID_PARAMETER'))
  assert.deepEqual(staleDirs(homeA), [], 'nothing moved aside by a failed recover')

  const recovery = await Agent.recover(homeA, CONFIG, { passphrase: PASS })
  assert.deepEqual(Object.keys(recovery).sort(), ['agent', 'peers'])
  const { agent, peers } = recovery
  assert.ok(agent instanceof Agent)
  assert.ok(agent.public.equals(a.public), 'the identity is kept')
  assert.deepEqual(peers, [b.peerId], 'the peers of the old store')
  assert.equal(staleDirs(homeA).length, 1, 'the old store is kept aside')
  // Ids continue above the anchor; the message of the lost interval is gone.
  assert.ok((await agent.maintainStep('save-anchor')).anchor > anchor)
  assert.equal((await agent.flush()).failed, 0)

  // The next message to B starts a new session, which B takes as current.
  pb = pump(b)
  await agent.connect({ address })
  const r = await agent.send(b.public, Buffer.from('after recovery'))
  assert.equal(r.delivery, 'live')
  assert.ok(r.id > anchor)
  await until('the message after recovery', () => pb.log.length >= 1)
  await sleep(200)
  await pb.stop()
  assert.deepEqual(pb.log.map((m) => m.text), ['after recovery'])
  await Promise.all([agent.close(), b.close()])

  // The recovered store opens normally.
  await (await open(homeA)).close()
})

test('wrong passphrase: DECRYPTION_FAILED and nothing written; a home open twice: STORAGE', async () => {
  const home = fresh('locked')
  const agent = await open(home)
  // While open: a second open of the same home fails on the lock.
  await assert.rejects(open(home), code('ERR_SEALWIRE_STORAGE'))
  await agent.close()

  const before = snapshot(home)
  assert.ok(Object.keys(before).length >= 3, inspect(Object.keys(before)))
  await assert.rejects(open(home, { passphrase: 'not the passphrase' }), code('ERR_SEALWIRE_DECRYPTION_FAILED'))
  await assert.rejects(open(home, { passphrase: Buffer.from(PASS + '!') }), code('ERR_SEALWIRE_DECRYPTION_FAILED'))
  assert.deepEqual(snapshot(home), before, 'no file changed')
  // The right passphrase (as bytes this time) still opens it, as the same agent.
  const again = await open(home, { passphrase: Buffer.from(PASS) })
  assert.ok(again.public.equals(agent.public))
  await again.close()
})

test('seal / openSealed / sealFor / rewrapSealed, and the context must match', async () => {
  const [a, b] = await Promise.all([open(fresh('seal-a')), open(fresh('seal-b'))])
  const ctx = { tenant: 't1', purpose: 'test' }
  const blob = await a.seal(Buffer.from('kept at rest'), ctx)
  assert.ok(Buffer.isBuffer(blob))
  assert.deepEqual(EnvelopeHeader.parse(blob).context, ctx, 'the context is bound in the header')
  assert.equal(text(await a.openSealed(blob, ctx)), 'kept at rest')
  await assert.rejects(a.openSealed(blob, { tenant: 't2', purpose: 'test' }), code('ERR_SEALWIRE_CONTEXT_MISMATCH'))
  await assert.rejects(a.openSealed(blob), code('ERR_SEALWIRE_CONTEXT_MISMATCH'))
  // B's keyring is not A's (the same key id and version "agent" v1, another key: the
  // wrapped key does not authenticate).
  await assert.rejects(b.openSealed(blob, ctx), code('ERR_SEALWIRE_HEADER_AUTH_FAILED'))
  const modified = Buffer.from(blob)
  modified[modified.length - 1] ^= 1
  await assert.rejects(a.openSealed(modified, ctx), code('ERR_SEALWIRE_DECRYPTION_FAILED'))

  // For B only: B opens it, A (the sealer) cannot.
  const forB = await a.sealFor([b.public], Buffer.from('for b'), ctx)
  assert.equal(text(await b.openSealed(forB, ctx)), 'for b')
  await assert.rejects(a.openSealed(forB, ctx), code('ERR_SEALWIRE_NO_MATCHING_KEY'))
  const both = await a.sealFor([b.public, a.public], Buffer.from('for both'), ctx)
  assert.equal(text(await a.openSealed(both, ctx)), 'for both')
  assert.equal(text(await b.openSealed(both, ctx)), 'for both')

  const moved = await a.rewrapSealed(blob, ctx)
  assert.equal(text(await a.openSealed(moved, ctx)), 'kept at rest')
  await Promise.all([a.close(), b.close()])
})

test('maintain is idempotent; a KEK rotation keeps old objects readable', async () => {
  const home = fresh('maintain')
  const a = await open(home)
  const ctx = { k: 'v' }
  const old = await a.seal(Buffer.from('old'), ctx)
  const now = Math.floor(Date.now() / 1000)
  for (let i = 0; i < 2; i++) {
    const r = await a.maintain(now)
    assert.equal(r.changedAnything, false, inspect(r))
    assert.equal(typeof r.anchor, 'bigint')
    assert.equal(r.published, false, 'no relay')
  }
  // 91 days later the signed prekey (7 days) and the KEK (90 days) are due — once.
  const later = BigInt(now + 91 * 86_400)
  const step = await a.maintainStep('rotate-signed-prekey', later)
  assert.equal(step.signedPrekeyRotated, true)
  assert.equal((await a.maintainStep('rotate-signed-prekey', later)).signedPrekeyRotated, false)
  const r = await a.maintain(later)
  assert.equal(r.kekRotatedTo, 2)
  assert.equal(r.signedPrekeyRotated, false, 'already done by the single step')
  assert.equal(r.changedAnything, true)
  const r2 = await a.maintain(later)
  assert.equal(r2.changedAnything, false, inspect(r2))
  assert.equal(r2.kekRotatedTo, undefined)

  const fresh2 = await a.seal(Buffer.from('new'), ctx)
  assert.equal(EnvelopeHeader.parse(fresh2).wrappedKeys[0].version, 2)
  assert.equal(EnvelopeHeader.parse(old).wrappedKeys[0].version, 1)
  assert.equal(text(await a.openSealed(old, ctx)), 'old', 'the old version opens within its grace')
  const moved = await a.rewrapSealed(old, ctx)
  assert.equal(EnvelopeHeader.parse(moved).wrappedKeys[0].version, 2)
  assert.equal(text(await a.openSealed(moved, ctx)), 'old')

  await assert.rejects(a.maintainStep('defragment', now), code('ERR_SEALWIRE_INVALID_PARAMETER'))
  await assert.rejects(a.maintain(-1), code('ERR_SEALWIRE_INVALID_PARAMETER'))
  await a.close()
  // The rotation was written: after a reopen the new version is still the current one.
  const b = await open(home)
  assert.equal(EnvelopeHeader.parse(await b.seal(Buffer.from('x'), ctx)).wrappedKeys[0].version, 2)
  await b.close()
})

test('the event loop keeps running during a long receive; calls on one agent run one at a time', async () => {
  const a = await open(fresh('loop'))
  let ticks = 0
  const timer = setInterval(() => ticks++, 10)
  const t0 = Date.now()
  const received = a.receive(1200)
  // Issued while the receive holds the agent: it runs after it (never concurrently).
  await sleep(150)
  const sealed = a.seal(Buffer.from('x')).then(() => Date.now())
  const got = await received
  const tReceive = Date.now()
  const tSeal = await sealed
  clearInterval(timer)
  assert.deepEqual(got, [])
  assert.ok(tReceive - t0 >= 1100, `receive waited ${tReceive - t0} ms`)
  assert.ok(ticks >= 40, `only ${ticks} timer ticks in ${tReceive - t0} ms: the event loop was blocked`)
  assert.ok(tSeal >= tReceive - 5, 'the seal waited for the receive')

  // close() waits for an operation in flight; afterwards every call rejects.
  const pending = a.receive(300)
  await sleep(100)
  const closing = a.close()
  assert.deepEqual(await pending, [])
  await closing
  assert.equal(a.closed, true)
  await assert.rejects(a.receive(0), (err) => code('ERR_SEALWIRE_STORAGE')(err) && /closed/.test(err.message))
  await assert.rejects(a.seal(Buffer.from('x')), code('ERR_SEALWIRE_STORAGE'))
  // The getters still answer (the last state), without blocking.
  assert.equal(a.peers.length, 0)
  assert.equal(a.stats.handshakes, 0)
})

test('argument errors reject the Promise with a code; NO_SESSION without relay or channel', async () => {
  const home = fresh('args')
  // Several secrets, or a configuration that does not load: rejected, nothing created.
  await assert.rejects(
    Agent.open(home, CONFIG, { passphrase: PASS, rootKeyFromEnv: true }),
    code('ERR_SEALWIRE_INVALID_PARAMETER'),
  )
  await assert.rejects(Agent.open(home, 'version = 1\n[identity.kdf]\nmemory_kib = 19456\n', { passphrase: PASS }), (err) => {
    code('ERR_SEALWIRE_INVALID_PARAMETER')(err)
    assert.ok(err.findings.some((f) => f.code === 'weak-kdf'), inspect(err.findings))
    return true
  })
  await assert.rejects(Agent.open(home, CONFIG, { passphrase: PASS, ackTimeoutMs: 0.5 }), code('ERR_SEALWIRE_INVALID_PARAMETER'))
  assert.throws(() => statSync(home), { code: 'ENOENT' }, 'nothing was created')
  // Without a passphrase a passphrase-protected home cannot open.
  await assert.rejects(Agent.open(home, CONFIG), code('ERR_SEALWIRE_INVALID_PARAMETER'))

  // A SecurityConfig object works as well as its text.
  const a = await Agent.open(home, SecurityConfig.load(CONFIG), { passphrase: PASS })
  const b = await open(fresh('args-b'))
  await assert.rejects(a.connect({}), code('ERR_SEALWIRE_INVALID_PARAMETER'))
  await assert.rejects(a.ack(-1), code('ERR_SEALWIRE_INVALID_PARAMETER'))
  await assert.rejects(a.receive(-5), code('ERR_SEALWIRE_INVALID_PARAMETER'))
  await assert.rejects(a.send(a.public, Buffer.from('me')), code('ERR_SEALWIRE_INVALID_PARAMETER'))
  // No session, no channel, no relay: refused, nothing committed.
  await assert.rejects(a.send(b.public, Buffer.from('hello')), code('ERR_SEALWIRE_NO_SESSION'))
  await assert.rejects(a.send(b.public, Buffer.alloc(192 * 1024 + 1)), code('ERR_SEALWIRE_MESSAGE_TOO_LARGE'))
  // Nobody listens there: IO.
  const dead = await b.listen('127.0.0.1:0')
  await b.close()
  await assert.rejects(a.connect({ address: dead }), code('ERR_SEALWIRE_IO'))
  assert.equal(a.takeLastError(), null)
  await a.close()
})

test('acceptIncoming takes one connection and its handshake; null when none comes', async () => {
  const [a, b] = await Promise.all([open(fresh('acc-a')), open(fresh('acc-b'))])
  const address = await b.listen('127.0.0.1:0')
  const t0 = Date.now()
  assert.equal(await b.acceptIncoming(150), null)
  assert.ok(Date.now() - t0 >= 100, 'it waited')
  const [theirs, mine] = await Promise.all([b.acceptIncoming(10_000), a.connect({ address })])
  assert.ok(theirs, 'a channel')
  assert.equal(theirs.initiator, false)
  assert.equal(mine.initiator, true)
  assert.equal(theirs.protocol, mine.protocol)
  assert.ok(theirs.peer.equals(a.public))
  assert.deepEqual(theirs.peerId, a.peerId)
  assert.equal((await a.send(b.public, Buffer.from('over the accepted channel'))).delivery, 'live')
  const got = []
  for (let i = 0; i < 100 && got.length === 0; i++) got.push(...(await b.receive(50)))
  assert.deepEqual(got.map((m) => text(m.plaintext)), ['over the accepted channel'])
  await Promise.all([a.close(), b.close()])
})

test('a keyring under a root key: RootKey, its bytes, or SEALWIRE_KEYRING_ROOT_KEY', async () => {
  const config = CONFIG.replace('[prekeys]', '[storage.kek]\nkeyring_protection = "root-key"\n[prekeys]')
    .replace('version = 1\n', 'version = 1\n[identity]\nstorage = "kek-envelope"\n')
  const home = fresh('root')
  const key = RootKey.generate()
  const first = await Agent.open(home, config, { rootKey: key })
  const me = first.public
  const blob = await first.seal(Buffer.from('under the root key'))
  await first.close()

  await assert.rejects(Agent.open(home, config, { rootKey: RootKey.generate() }), code('ERR_SEALWIRE_DECRYPTION_FAILED'))
  const bytes = Buffer.from(key.toHex(), 'hex')
  const second = await Agent.open(home, config, { rootKey: bytes })
  assert.ok(second.public.equals(me), 'the same identity')
  assert.equal(text(await second.openSealed(blob)), 'under the root key')
  await second.close()

  const saved = process.env.SEALWIRE_KEYRING_ROOT_KEY
  process.env.SEALWIRE_KEYRING_ROOT_KEY = key.toHex()
  try {
    const third = await Agent.open(home, config, { rootKeyFromEnv: true })
    assert.ok(third.public.equals(me))
    await third.close()
  } finally {
    if (saved === undefined) delete process.env.SEALWIRE_KEYRING_ROOT_KEY
    else process.env.SEALWIRE_KEYRING_ROOT_KEY = saved
  }
  await assert.rejects(Agent.open(home, config, { rootKey: Buffer.alloc(31) }), code('ERR_SEALWIRE_INVALID_LENGTH'))
})
