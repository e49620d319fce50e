// Asynchronous sessions through the persistent Messenger (SQLite file): the offline scenario
// (Bob publishes a bundle and goes offline, Alice sends, Bob reopens from disk and reads in
// order), duplicates, restart with a pending outbox, rollback detection, wrong storage key,
// the Promise forms, and that nothing secret shows through inspection.
import { test, describe, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, copyFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import crypto from 'node:crypto'

import { Identity, PublicIdentity, Messenger, PrekeyBundle, peerId } from '../index.js'

const tmp = mkdtempSync(join(tmpdir(), 'sealwire-node-messenger-'))
after(() => rmSync(tmp, { recursive: true, force: true }))
let n = 0
const dbPath = (name) => join(tmp, `${name}-${n++}.db`)
const OPTS = Object.freeze({ oneTimePrekeys: 3 })

/** assert.throws / assert.rejects validator: an Error whose own `code` is `code`. */
const code = (c) => (err) => {
  assert.ok(err instanceof Error, `an Error instance (got ${inspect(err)})`)
  assert.ok(Object.hasOwn(err, 'code'), '`code` is set on the Error object itself')
  assert.equal(err.code, c)
  return true
}

const text = (b) => Buffer.from(b).toString('utf8')

function pair() {
  const aliceId = Identity.generate()
  const bobId = Identity.generate()
  const alicePath = dbPath('alice')
  const bobPath = dbPath('bob')
  const aliceKey = crypto.randomBytes(32)
  const bobKey = crypto.randomBytes(32)
  const alice = Messenger.create(alicePath, aliceId, aliceKey, OPTS)
  const bob = Messenger.create(bobPath, bobId, bobKey, OPTS)
  return { aliceId, bobId, alicePath, bobPath, aliceKey, bobKey, alice, bob }
}

describe('PrekeyBundle', () => {
  test('round trip, identity, post-quantum flag, strict decoding', () => {
    const id = Identity.generate()
    const m = Messenger.create(dbPath('b'), id, crypto.randomBytes(32), { oneTimePrekeys: 2 })
    const b = m.bundle()
    assert.ok(b instanceof PrekeyBundle)
    assert.ok(b.isPostQuantum)
    assert.equal(b.oneTimePrekeyCount, 2)
    assert.ok(b.identity.equals(id.public))
    const bytes = b.toBytes()
    assert.ok(Buffer.isBuffer(bytes))
    const again = PrekeyBundle.fromBytes(new Uint8Array(bytes))
    assert.deepEqual(again.toBytes(), bytes)
    assert.throws(() => PrekeyBundle.fromBytes(bytes.subarray(0, bytes.length - 1)), (e) => typeof e.code === 'string' && e.code.startsWith('ERR_SEALWIRE_'))
    assert.throws(() => PrekeyBundle.fromBytes(Buffer.concat([bytes, Buffer.alloc(1)])), code('ERR_SEALWIRE_TRAILING_BYTES'))
    const tampered = Buffer.from(bytes)
    tampered[tampered.length - 1] ^= 1
    assert.throws(() => PrekeyBundle.fromBytes(tampered), (e) => typeof e.code === 'string' && e.code.startsWith('ERR_SEALWIRE_'))
    m.close()

    const classic = Messenger.create(dbPath('c'), Identity.generate(), crypto.randomBytes(32), { postQuantum: false, oneTimePrekeys: 1 })
    assert.equal(classic.bundle().isPostQuantum, false)
    classic.close()
  })
})

describe('Messenger', () => {
  test('offline scenario: Bob publishes and goes offline, reads from disk in order, replies', () => {
    const { aliceId, bobId, bobPath, bobKey, alice, bob } = pair()
    assert.ok(alice.identity.equals(aliceId.public))
    assert.equal(typeof bob.counter, 'bigint')
    const published = bob.bundle().toBytes()
    assert.equal(bob.oneTimePrekeyCount(), 3)
    let bobCounter = bob.counter
    bob.close() // offline
    assert.ok(bob.closed)
    assert.throws(() => bob.counter, code('ERR_SEALWIRE_STORAGE'))

    alice.connect(bobId.public, PrekeyBundle.fromBytes(published))
    assert.ok(alice.hasSession(bobId.public))
    assert.ok(alice.hasSession(peerId(bobId.public)))
    const wire = []
    for (let i = 0; i < 4; i++) {
      const out = alice.send(bobId.public, Buffer.from(`message ${i}`))
      assert.equal(typeof out.id, 'bigint')
      assert.equal(out.messageId.length, 32)
      assert.deepEqual(out.peer, peerId(bobId.public))
      wire.push(out.ciphertext)
      alice.markSent(out.id)
    }
    assert.deepEqual(alice.pendingOutbox(), [])

    // Bob comes back: reopen from disk with the counter he saved.
    const bob2 = Messenger.open(bobPath, bobKey, { minCounter: bobCounter })
    assert.ok(bob2.identity.equals(bobId.public))
    for (let i = 0; i < wire.length; i++) {
      const got = bob2.receive(wire[i])
      assert.ok(got)
      assert.equal(text(got.plaintext), `message ${i}`)
      assert.deepEqual(got.peer, peerId(aliceId.public))
      assert.equal(typeof got.id, 'bigint')
      bob2.ack(got.id)
    }
    assert.deepEqual(bob2.pendingInbox(), [])
    assert.equal(bob2.oneTimePrekeyCount(), 2) // one consumed by Alice's session
    assert.ok(bob2.hasSession(aliceId.public))
    assert.equal(bob2.peers().length, 1)
    bob2.replenishPrekeys()
    assert.equal(bob2.oneTimePrekeyCount(), 3)

    const reply = bob2.send(aliceId.public, Buffer.from('hello alice'))
    bob2.markSent(Number(reply.id))
    bobCounter = bob2.counter
    bob2.close()
    const r = alice.receive(reply.ciphertext)
    assert.equal(text(r.plaintext), 'hello alice')
    alice.ack(r.id)

    // Continue: Alice sends more, Bob reads them after another restart.
    const more = [alice.send(bobId.public, Buffer.from('again 1')), alice.send(bobId.public, Buffer.from('again 2'))]
    const bob3 = Messenger.open(bobPath, bobKey, { minCounter: bobCounter })
    assert.equal(text(bob3.receive(more[0].ciphertext).plaintext), 'again 1')
    assert.equal(text(bob3.receive(more[1].ciphertext).plaintext), 'again 2')
    assert.ok(bob3.counter > bobCounter)
    bob3.close()
    alice.close()
  })

  test('duplicates → null; unacknowledged messages come back from pendingInbox', () => {
    const { bobId, bobPath, bobKey, alice, bob } = pair()
    alice.connect(bobId.public, bob.bundle())
    const out = alice.send(bobId.public, Buffer.from('once'))
    const got = bob.receive(out.ciphertext)
    assert.equal(text(got.plaintext), 'once')
    assert.equal(bob.receive(out.ciphertext), null)
    assert.equal(bob.receive(new Uint8Array(out.ciphertext)), null)
    const c = bob.counter
    bob.close()
    const again = Messenger.open(bobPath, bobKey, { minCounter: c })
    assert.equal(again.receive(out.ciphertext), null) // still a duplicate after a restart
    const pending = again.pendingInbox()
    assert.equal(pending.length, 1)
    assert.equal(pending[0].id, got.id)
    assert.deepEqual(pending[0].messageId, got.messageId)
    assert.equal(text(pending[0].plaintext), 'once')
    again.ack(pending[0].id)
    again.ack(pending[0].id) // idempotent
    assert.deepEqual(again.pendingInbox(), [])
    again.close()
    alice.close()
  })

  test('restart with a pending outbox: the same bytes are sent again', () => {
    const { bobId, alicePath, aliceKey, alice, bob } = pair()
    alice.connect(bobId.public, bob.bundle())
    const first = alice.send(bobId.public, Buffer.from('one'))
    const second = alice.send(bobId.public, Buffer.from('two'))
    alice.markSent(first.id)
    const c = alice.counter
    alice.close() // "crash" before the transport took `second`
    const alice2 = Messenger.open(alicePath, aliceKey, { minCounter: c })
    const pending = alice2.pendingOutbox()
    assert.equal(pending.length, 1)
    assert.equal(pending[0].id, second.id)
    assert.deepEqual(pending[0].ciphertext, second.ciphertext)
    assert.deepEqual(pending[0].messageId, second.messageId)
    assert.deepEqual(pending[0].peer, peerId(bobId.public))
    // The receiver reads both; the resent copy of `second` is a duplicate.
    assert.equal(text(bob.receive(first.ciphertext).plaintext), 'one')
    assert.equal(text(bob.receive(second.ciphertext).plaintext), 'two')
    assert.equal(bob.receive(pending[0].ciphertext), null)
    alice2.markSent(pending[0].id)
    assert.deepEqual(alice2.pendingOutbox(), [])
    // Sending continues with a fresh message key.
    const third = alice2.send(bobId.public, Buffer.from('three'))
    assert.equal(text(bob.receive(third.ciphertext).plaintext), 'three')
    alice2.close()
    bob.close()
  })

  test('a stale snapshot is refused with ERR_SEALWIRE_STALE_STATE', () => {
    const { bobId, alicePath, aliceKey, alice, bob } = pair()
    alice.connect(bobId.public, bob.bundle())
    alice.close()
    const snapshot = `${alicePath}.snapshot`
    copyFileSync(alicePath, snapshot)
    const a2 = Messenger.open(alicePath, aliceKey, { minCounter: 0 })
    a2.send(bobId.public, Buffer.from('after the snapshot'))
    const saved = a2.counter
    a2.close()
    copyFileSync(snapshot, alicePath) // the file is rolled back
    assert.throws(() => Messenger.open(alicePath, aliceKey, { minCounter: saved }), code('ERR_SEALWIRE_STALE_STATE'))
    assert.throws(() => Messenger.open(alicePath, aliceKey, { minCounter: BigInt(saved) }), code('ERR_SEALWIRE_STALE_STATE'))
    // Without the saved counter, the rolled-back copy opens (the check needs the anchor).
    const stale = Messenger.open(alicePath, aliceKey, { minCounter: 0 })
    assert.ok(stale.counter < saved)
    stale.close()
    bob.close()
  })

  test('wrong storage key, bad arguments, missing file, no session', () => {
    const { aliceId, bobId, alicePath, alice, bob } = pair()
    alice.close()
    assert.throws(() => Messenger.open(alicePath, crypto.randomBytes(32), { minCounter: 0 }), code('ERR_SEALWIRE_DECRYPTION_FAILED'))
    assert.throws(() => Messenger.open(alicePath, Buffer.alloc(31), { minCounter: 0 }), code('ERR_SEALWIRE_INVALID_LENGTH'))
    assert.throws(() => Messenger.open(alicePath, Buffer.alloc(32), { minCounter: -1 }), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    assert.throws(() => Messenger.open(alicePath, Buffer.alloc(32), { minCounter: 1.5 }), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    const missing = join(tmp, 'missing.db')
    assert.throws(() => Messenger.open(missing, Buffer.alloc(32), { minCounter: 0 }), code('ERR_SEALWIRE_STORAGE'))
    assert.equal(existsSync(missing), false)
    assert.throws(() => Messenger.create(dbPath('k'), aliceId, Buffer.alloc(16)), code('ERR_SEALWIRE_INVALID_LENGTH'))
    assert.throws(() => Messenger.create(dbPath('o'), aliceId, Buffer.alloc(32), { oneTimePrekeys: 1001 }), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    assert.throws(() => Messenger.create(dbPath('o'), aliceId, Buffer.alloc(32), { oneTimePrekeys: 0.5 }), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    assert.throws(() => bob.send(aliceId.public, Buffer.from('x')), code('ERR_SEALWIRE_NO_SESSION'))
    assert.throws(() => bob.send(Buffer.alloc(31), Buffer.from('x')), code('ERR_SEALWIRE_INVALID_LENGTH'))
    assert.equal(bob.hasSession(Buffer.alloc(32)), false)
    assert.throws(() => bob.receive(Buffer.from('garbage')), (e) => typeof e.code === 'string' && e.code.startsWith('ERR_SEALWIRE_'))
    // A bundle that is not the named peer's.
    const carol = Messenger.create(dbPath('carol'), Identity.generate(), crypto.randomBytes(32), OPTS)
    assert.throws(() => bob.connect(bobId.public, carol.bundle()), (e) => typeof e.code === 'string' && e.code.startsWith('ERR_SEALWIRE_'))
    carol.close()
    bob.close()
    bob.close() // idempotent
    assert.throws(() => bob.bundle(), code('ERR_SEALWIRE_STORAGE'))
  })

  test('async forms resolve, and reject with codes', async () => {
    const aliceId = Identity.generate()
    const bobId = Identity.generate()
    const alicePath = dbPath('alice-async')
    const bobPath = dbPath('bob-async')
    const key = crypto.randomBytes(32)
    const [alice, bob] = await Promise.all([
      Messenger.createAsync(alicePath, aliceId, key, OPTS),
      Messenger.createAsync(bobPath, bobId, key, { ...OPTS, postQuantum: true }),
    ])
    assert.ok(alice instanceof Messenger)
    await alice.connectAsync(bobId.public, bob.bundle())
    const sent = []
    for (let i = 0; i < 3; i++) {
      const out = await alice.sendAsync(bobId.public, Buffer.from(`async ${i}`))
      sent.push(out)
      await alice.markSentAsync(out.id)
    }
    for (let i = 0; i < 3; i++) {
      const got = await bob.receiveAsync(sent[i].ciphertext)
      assert.equal(text(got.plaintext), `async ${i}`)
      await bob.ackAsync(got.id)
    }
    assert.equal(await bob.receiveAsync(sent[0].ciphertext), null)
    const reply = await bob.sendAsync(peerId(aliceId.public), Buffer.from('pong'))
    assert.equal(text((await alice.receiveAsync(reply.ciphertext)).plaintext), 'pong')
    const saved = bob.counter
    bob.close()

    const bob2 = await Messenger.openAsync(bobPath, key, { minCounter: saved })
    assert.equal(bob2.counter, saved)
    bob2.close()
    await assert.rejects(Messenger.openAsync(bobPath, key, { minCounter: saved + 1n }), code('ERR_SEALWIRE_STALE_STATE'))
    await assert.rejects(Messenger.openAsync(bobPath, crypto.randomBytes(32), { minCounter: 0 }), code('ERR_SEALWIRE_DECRYPTION_FAILED'))
    await assert.rejects(Messenger.openAsync(bobPath, key, { minCounter: -1 }), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    await assert.rejects(Messenger.createAsync(dbPath('x'), aliceId, Buffer.alloc(3)), code('ERR_SEALWIRE_INVALID_LENGTH'))
    await assert.rejects(alice.sendAsync(PublicIdentity.fromBytes(Identity.generate().public.toBytes()), Buffer.from('x')), code('ERR_SEALWIRE_NO_SESSION'))
    await assert.rejects(alice.sendAsync(Buffer.alloc(5), Buffer.from('x')), code('ERR_SEALWIRE_INVALID_LENGTH'))
    await assert.rejects(alice.receiveAsync(sent[0].ciphertext), (e) => typeof e.code === 'string' && e.code.startsWith('ERR_SEALWIRE_'))
    await assert.rejects(alice.markSentAsync(-2), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    alice.close()
    await assert.rejects(alice.sendAsync(bobId.public, Buffer.from('x')), code('ERR_SEALWIRE_STORAGE'))
    await assert.rejects(alice.receiveAsync(reply.ciphertext), code('ERR_SEALWIRE_STORAGE'))
  })

  test('concurrent async operations on one messenger are serialized', async () => {
    const { bobId, alice, bob } = pair()
    alice.connect(bobId.public, bob.bundle())
    const first = alice.send(bobId.public, Buffer.from('m0')) // the initial message
    assert.equal(text(bob.receive(first.ciphertext).plaintext), 'm0')
    // Several sends in flight at once, plus synchronous calls while they run.
    const pending = [1, 2, 3, 4].map((i) => alice.sendAsync(bobId.public, Buffer.from(`m${i}`)))
    assert.equal(typeof alice.counter, 'bigint')
    pending.push(Promise.resolve(alice.send(bobId.public, Buffer.from('m5'))))
    const outs = await Promise.all(pending)
    const ids = outs.map((o) => o.id)
    assert.equal(new Set(ids.map(String)).size, ids.length)
    assert.equal(alice.pendingOutbox().length, 6)
    // Received in any order (out-of-order delivery is within the ratchet's skip window).
    const got = await Promise.all(outs.reverse().map((o) => bob.receiveAsync(o.ciphertext)))
    assert.deepEqual(got.map((g) => text(g.plaintext)).sort(), ['m1', 'm2', 'm3', 'm4', 'm5'])
    assert.equal(bob.pendingInbox().length, 6)
    alice.close()
    bob.close()
  })

  test('nothing secret in inspect; no constructor', () => {
    const key = crypto.randomBytes(32)
    const id = Identity.generate()
    const m = Messenger.create(dbPath('inspect'), id, key, OPTS)
    const b = m.bundle()
    for (const o of [m, b]) {
      const s = inspect(o, { showHidden: true, depth: 5 })
      assert.doesNotMatch(s, /[0-9a-f]{32}/)
      assert.ok(!s.includes(key.toString('hex')))
      assert.deepEqual(Object.keys(o), [])
    }
    assert.throws(() => new Messenger())
    m.close()
  })
})
