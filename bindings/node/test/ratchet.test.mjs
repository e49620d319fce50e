// The ratchet layer without persistence: PrekeyStore and RatchetSession. Sessions in both
// key agreements and both header modes, out-of-order delivery, rejections that change
// nothing, prekey consumption, sealed state with rollback detection, signed-prekey rotation
// and expiry, replenishment, argument checking, and nothing secret through inspection.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { inspect } from 'node:util'
import crypto from 'node:crypto'

import { Identity, PublicIdentity, PrekeyBundle, PrekeyStore, RatchetSession } from '../index.js'

const code = (c) => (err) => {
  assert.ok(err instanceof Error, `an Error instance (got ${inspect(err)})`)
  assert.ok(Object.hasOwn(err, 'code'), '`code` is set on the Error object itself')
  assert.equal(err.code, c)
  return true
}
const sealwireCode = (err) => typeof err.code === 'string' && err.code.startsWith('ERR_SEALWIRE_')
const text = (b) => Buffer.from(b).toString('utf8')
const NOW = 1_700_000_000

function setup({ postQuantum = true, headerEncryption = true, oneTimePrekeys = 3 } = {}) {
  const alice = Identity.generate()
  const bob = Identity.generate()
  const store = PrekeyStore.generate(bob, { oneTimePrekeys, postQuantum, now: NOW })
  const a = RatchetSession.initiate(alice, bob.public, store.bundle(), { headerEncryption })
  return { alice, bob, store, a }
}

describe('PrekeyStore', () => {
  test('generate: counts, options, bundle, identity', () => {
    const bob = Identity.generate()
    const s = PrekeyStore.generate(bob, { oneTimePrekeys: 4, kemOneTimePrekeys: 2, now: NOW })
    assert.equal(s.oneTimePrekeyCount, 4)
    assert.equal(s.kemOneTimePrekeyCount, 2)
    assert.equal(s.isPostQuantum, true)
    assert.equal(s.signedPrekeyCreatedAt, NOW)
    assert.deepEqual(s.retiredSignedPrekeyIds, [])
    assert.equal(s.generation, 0n)
    assert.ok(s.identity.equals(bob.public))
    const b = s.bundle()
    assert.ok(b instanceof PrekeyBundle)
    assert.equal(b.oneTimePrekeyCount, 4)
    assert.ok(b.isPostQuantum)
    assert.ok(b.identity.equals(bob.public))

    const classic = PrekeyStore.generate(bob, { oneTimePrekeys: 1, postQuantum: false })
    assert.equal(classic.isPostQuantum, false)
    assert.equal(classic.kemOneTimePrekeyCount, 0)
    assert.equal(classic.bundle().isPostQuantum, false)
    const now = Math.floor(Date.now() / 1000)
    assert.ok(Math.abs(classic.signedPrekeyCreatedAt - now) < 60, 'now defaults to the current time')

    const defaults = PrekeyStore.generate(bob)
    assert.equal(defaults.oneTimePrekeyCount, 100)
    assert.equal(defaults.kemOneTimePrekeyCount, 100)
  })

  test('bad options are refused with codes', () => {
    const bob = Identity.generate()
    for (const bad of [{ oneTimePrekeys: 1001 }, { oneTimePrekeys: 1.5 }, { kemOneTimePrekeys: -1 }, { now: -1 }, { now: 0.5 }]) {
      assert.throws(() => PrekeyStore.generate(bob, bad), code('ERR_SEALWIRE_INVALID_PARAMETER'), inspect(bad))
    }
    assert.throws(() => PrekeyStore.generate('bob'))
    assert.throws(() => new PrekeyStore())
  })

  test('seal / open with rollback detection', () => {
    const { alice, bob, store } = setup()
    const key = crypto.randomBytes(32)
    const old = store.seal(key)
    assert.ok(Buffer.isBuffer(old))
    assert.notDeepEqual(store.seal(key), old, 'a fresh nonce per seal')
    const g0 = store.generation
    const a = RatchetSession.initiate(alice, bob.public, store.bundle())
    RatchetSession.accept(bob, store, a.encrypt(Buffer.from('hi')))
    assert.equal(store.generation, g0 + 1n)
    const current = store.seal(key)
    const opened = PrekeyStore.open(current, key, store.generation)
    assert.deepEqual(opened.bundle().toBytes(), store.bundle().toBytes())
    assert.equal(opened.generation, store.generation)
    assert.equal(PrekeyStore.open(current, key, Number(store.generation)).generation, store.generation)
    // The older copy still holds the consumed one-time prekey: refused given the generation.
    assert.throws(() => PrekeyStore.open(old, key, store.generation), code('ERR_SEALWIRE_STALE_STATE'))
    assert.equal(PrekeyStore.open(old, key).generation, g0, 'without the anchor it opens')
    assert.throws(() => PrekeyStore.open(current, crypto.randomBytes(32)), code('ERR_SEALWIRE_DECRYPTION_FAILED'))
    assert.throws(() => PrekeyStore.open(current, key.subarray(0, 31)), code('ERR_SEALWIRE_INVALID_LENGTH'))
    assert.throws(() => PrekeyStore.open(current, key, -1), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    const tampered = Buffer.from(current)
    tampered[tampered.length - 1] ^= 1
    assert.throws(() => PrekeyStore.open(tampered, key), code('ERR_SEALWIRE_DECRYPTION_FAILED'))
    assert.throws(() => PrekeyStore.open(current.subarray(0, 10), key), sealwireCode)
    assert.throws(() => store.seal(Buffer.alloc(16)), code('ERR_SEALWIRE_INVALID_LENGTH'))
  })

  test('rotation keeps the old signed prekey until it expires', () => {
    const { alice, bob, store } = setup()
    const oldBundle = store.bundle()
    const oldId = store.signedPrekeyId
    const g = store.generation
    store.rotateSignedPrekey(bob, NOW + 100)
    assert.notEqual(store.signedPrekeyId, oldId)
    assert.deepEqual(store.retiredSignedPrekeyIds, [oldId])
    assert.equal(store.signedPrekeyCreatedAt, NOW + 100)
    assert.ok(store.generation > g)
    assert.notDeepEqual(store.bundle().toBytes(), oldBundle.toBytes())
    // An initiator holding the old bundle still gets through (grace period).
    const late = RatchetSession.initiate(alice, bob.public, oldBundle)
    assert.equal(text(RatchetSession.accept(bob, store, late.encrypt(Buffer.from('late'))).plaintext), 'late')
    // Within the grace period nothing expires; after it, the old key goes.
    assert.equal(store.removeExpiredSignedPrekeys(NOW + 200, 1000), 0)
    assert.equal(store.removeExpiredSignedPrekeys(NOW + 2000, 1000), 1)
    assert.deepEqual(store.retiredSignedPrekeyIds, [])
    const tooLate = RatchetSession.initiate(Identity.generate(), bob.public, oldBundle, { headerEncryption: false })
    assert.throws(() => RatchetSession.accept(bob, store, tooLate.encrypt(Buffer.from('x'))), code('ERR_SEALWIRE_UNKNOWN_PREKEY'))
    // Not the owner.
    assert.throws(() => store.rotateSignedPrekey(alice, NOW), code('ERR_SEALWIRE_IDENTITY_MISMATCH'))
    assert.throws(() => store.replenish(alice), code('ERR_SEALWIRE_IDENTITY_MISMATCH'))
    assert.throws(() => store.removeExpiredSignedPrekeys(-5), code('ERR_SEALWIRE_INVALID_PARAMETER'))
  })

  test('accept consumes one one-time prekey; replenish tops up', () => {
    const { alice, bob, store } = setup({ oneTimePrekeys: 2 })
    const bundle = store.bundle()
    const a = RatchetSession.initiate(alice, bob.public, bundle)
    const first = a.encrypt(Buffer.from('one'))
    RatchetSession.accept(bob, store, first)
    assert.equal(store.oneTimePrekeyCount, 1)
    assert.equal(store.kemOneTimePrekeyCount, 1)
    // The same initial message again, on the store that consumed its prekey.
    const g = store.generation
    assert.throws(() => RatchetSession.accept(bob, store, first), code('ERR_SEALWIRE_PREKEY_ALREADY_USED'))
    assert.equal(store.generation, g, 'a refused message changes nothing')
    assert.equal(store.oneTimePrekeyCount, 1)
    store.replenish(bob)
    assert.equal(store.oneTimePrekeyCount, 2)
    assert.equal(store.kemOneTimePrekeyCount, 2)
    assert.ok(store.generation > g)
  })
})

describe('RatchetSession', () => {
  for (const postQuantum of [true, false]) {
    for (const headerEncryption of [true, false]) {
      test(`round trip (${postQuantum ? 'PQXDH' : 'X3DH'}, header encryption ${headerEncryption})`, () => {
        const { alice, bob, store, a } = setup({ postQuantum, headerEncryption })
        assert.equal(a.keyAgreement, postQuantum ? 'PQXDH' : 'X3DH')
        assert.equal(a.headerEncryption, headerEncryption)
        assert.equal(a.isInitiator, true)
        assert.equal(a.awaitingReply, true)
        assert.ok(a.peerIdentity.equals(bob.public))
        assert.ok(a.localIdentity.equals(alice.public))
        const m1 = a.encrypt(Buffer.from('hello bob'))
        const m2 = a.encrypt(Buffer.from('second'))
        assert.equal(a.generation, 2n)
        const { session: b, plaintext } = RatchetSession.accept(bob, store, m1)
        assert.ok(b instanceof RatchetSession)
        assert.equal(text(plaintext), 'hello bob')
        assert.equal(b.isInitiator, false)
        assert.equal(b.keyAgreement, a.keyAgreement)
        assert.equal(b.headerEncryption, headerEncryption)
        assert.ok(b.peerIdentity.equals(alice.public))
        assert.ok(b.localIdentity.equals(bob.public))
        assert.deepEqual(b.sessionId, a.sessionId)
        assert.equal(b.sessionId.length, 32)
        assert.equal(text(b.decrypt(m2)), 'second')
        const r = b.encrypt(Buffer.from('hello alice'))
        assert.equal(text(a.decrypt(r)), 'hello alice')
        assert.equal(a.awaitingReply, false)
        // A few turns, with one message delivered late.
        const late = a.encrypt(Buffer.from('late'))
        const next = a.encrypt(Buffer.from('next'))
        assert.equal(text(b.decrypt(next)), 'next')
        assert.equal(b.skippedMessageKeys, 1)
        assert.equal(text(b.decrypt(late)), 'late')
        assert.equal(b.skippedMessageKeys, 0)
        assert.equal(text(a.decrypt(b.encrypt(new Uint8Array(0)))), '')
      })
    }
  }

  test('a failed decrypt changes nothing; replays and foreign messages are refused', () => {
    const { alice, bob, store, a } = setup()
    const { session: b } = RatchetSession.accept(bob, store, a.encrypt(Buffer.from('start')))
    const m = b.encrypt(Buffer.from('genuine'))
    const g = a.generation
    const sealedBefore = a.seal(Buffer.alloc(32, 7))
    for (let i of [0, 10, m.length - 1]) {
      const bad = Buffer.from(m)
      bad[i] ^= 0x40
      assert.throws(() => a.decrypt(bad), sealwireCode)
      assert.equal(a.generation, g)
    }
    assert.throws(() => a.decrypt(m.subarray(0, m.length - 5)), sealwireCode)
    assert.throws(() => a.decrypt(Buffer.from('garbage')), sealwireCode)
    assert.equal(a.generation, g)
    assert.equal(a.skippedMessageKeys, 0)
    assert.equal(RatchetSession.open(sealedBefore, Buffer.alloc(32, 7)).generation, g)
    assert.equal(text(a.decrypt(m)), 'genuine')
    assert.throws(() => a.decrypt(m), code('ERR_SEALWIRE_REPLAY'))
    // A message of another session.
    const other = setup()
    const { session: ob } = RatchetSession.accept(other.bob, other.store, other.a.encrypt(Buffer.from('x')))
    assert.throws(() => a.decrypt(ob.encrypt(Buffer.from('not yours'))), code('ERR_SEALWIRE_DECRYPTION_FAILED'))
    // Bob is given an initial message of another session.
    assert.throws(() => b.decrypt(other.a.encrypt(Buffer.from('y'))), code('ERR_SEALWIRE_SESSION_MISMATCH'))
    void alice
  })

  test('accept: wrong recipient, bundle of another identity', () => {
    const { alice, bob, store, a } = setup()
    const first = a.encrypt(Buffer.from('x'))
    const carol = Identity.generate()
    assert.throws(() => RatchetSession.accept(carol, store, first), code('ERR_SEALWIRE_IDENTITY_MISMATCH'))
    const carolStore = PrekeyStore.generate(carol, { oneTimePrekeys: 1 })
    assert.throws(() => RatchetSession.accept(carol, carolStore, first), sealwireCode)
    assert.equal(carolStore.generation, 0n)
    assert.throws(() => RatchetSession.initiate(alice, bob.public, carolStore.bundle()), code('ERR_SEALWIRE_IDENTITY_MISMATCH'))
    assert.throws(() => RatchetSession.accept(bob, store, Buffer.from('SWRI')), sealwireCode)
    assert.equal(store.generation, 0n)
  })

  test('seal / open: round trip, rollback, wrong key, bigint and number generations', () => {
    const { bob, store, a } = setup()
    const key = crypto.randomBytes(32)
    const { session: b } = RatchetSession.accept(bob, store, a.encrypt(Buffer.from('start')))
    const sealed1 = a.seal(key)
    const g1 = a.generation
    a.decrypt(b.encrypt(Buffer.from('reply')))
    const m = a.encrypt(Buffer.from('after reply'))
    const sealed2 = a.seal(key)
    const g2 = a.generation
    assert.ok(g2 > g1)
    const reopened = RatchetSession.open(sealed2, key, g2)
    assert.deepEqual(reopened.sessionId, a.sessionId)
    assert.equal(reopened.generation, g2)
    assert.equal(reopened.awaitingReply, false)
    assert.equal(RatchetSession.open(sealed2, key, Number(g2)).generation, g2)
    // The reopened copy carries on where the original was.
    assert.equal(text(b.decrypt(m)), 'after reply')
    assert.equal(text(reopened.decrypt(b.encrypt(Buffer.from('to the copy')))), 'to the copy')
    assert.throws(() => RatchetSession.open(sealed1, key, g2), code('ERR_SEALWIRE_STALE_STATE'))
    assert.throws(() => RatchetSession.open(sealed1, key, BigInt(g2)), code('ERR_SEALWIRE_STALE_STATE'))
    assert.throws(() => RatchetSession.open(sealed2, crypto.randomBytes(32)), code('ERR_SEALWIRE_DECRYPTION_FAILED'))
    assert.throws(() => RatchetSession.open(sealed2, key, 1.5), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    assert.throws(() => RatchetSession.open(sealed2, key, -1n), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    assert.throws(() => RatchetSession.open(store.seal(key), key), sealwireCode, 'a prekey store is not a session')
    assert.throws(() => a.seal(new Uint8Array(33)), code('ERR_SEALWIRE_INVALID_LENGTH'))
  })

  test('message size limit (16 MiB)', () => {
    const { a } = setup()
    // The core reports an oversized plaintext as an invalid parameter.
    assert.throws(() => a.encrypt(Buffer.alloc(16 * 1024 * 1024 + 1)), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    assert.equal(a.generation, 0n)
  })

  test('nothing secret in inspect; no constructor; PublicIdentity arguments checked', () => {
    const { bob, store, a } = setup()
    for (const o of [store, a]) {
      const s = inspect(o, { showHidden: true, depth: 5 })
      assert.doesNotMatch(s, /[0-9a-f]{32}/)
      assert.deepEqual(Object.keys(o), [])
    }
    assert.throws(() => new RatchetSession())
    assert.throws(() => RatchetSession.initiate(bob, bob.public.toBytes(), store.bundle()))
    assert.ok(PublicIdentity.fromBytes(bob.public.toBytes()).equals(a.peerIdentity))
  })
})
