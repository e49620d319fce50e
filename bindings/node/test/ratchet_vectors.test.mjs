// Replays tests/vectors/ratchet.json through the Node binding, step for step like
// core/tests/ratchet_vectors.rs: every recorded random input is fed back through the
// `…ForVectors` test hooks (the core's ByteTape, consumed exactly), and every output must
// match byte for byte. Rejections must carry the listed codes and change nothing.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'

import { Identity, PrekeyBundle, PrekeyStore, RatchetSession } from '../index.js'

const doc = JSON.parse(readFileSync(new URL('../../../tests/vectors/ratchet.json', import.meta.url), 'utf8'))
const hex = (s) => Buffer.from(s, 'hex')
const KEY_AGREEMENT = { X3dh: 'X3DH', Pqxdh: 'PQXDH' }

function identity(name) {
  const v = doc.identities.find((i) => i.name === name)
  assert.ok(v, `identity ${name} in the vector file`)
  const id = Identity.fromSecretBytes(hex(v.ed25519_seed), hex(v.x25519_secret))
  assert.equal(id.public.toBytes().toString('hex'), v.public_identity)
  return id
}

const code = (c) => (err) => {
  assert.ok(err instanceof Error)
  assert.equal(err.code, c)
  return true
}

/** What the replay did, to check that nothing was skipped. */
const executed = { cases: 0, steps: 0, ops: {} }

/** Replay one case; returns the number of steps executed. */
function replay(c, alice, bob, storageKey) {
  const o = c.prekey_options
  const options = {
    oneTimePrekeys: o.one_time_prekeys,
    kemOneTimePrekeys: o.kem_one_time_prekeys,
    postQuantum: o.post_quantum,
    now: c.now_unix,
  }
  const store = PrekeyStore._generateForVectors(bob, options, hex(c.store_random))
  assert.equal(store.bundle().toBytes().toString('hex'), c.published_bundle, 'published bundle')
  const bundle = PrekeyBundle.fromBytes(hex(c.bundle))
  const a = RatchetSession._initiateForVectors(alice, bob.public, bundle, { headerEncryption: c.header_encryption }, hex(c.initiate_random))
  assert.equal(a.keyAgreement, KEY_AGREEMENT[c.key_agreement])
  assert.equal(a.headerEncryption, c.header_encryption)
  let b = null
  let steps = 0

  for (const [i, step] of c.steps.entries()) {
    const ctx = `${c.name} step ${i} (${step.party} ${step.op})`
    switch (step.op) {
      case 'accept': {
        const r = RatchetSession._acceptForVectors(bob, store, hex(step.message), hex(step.random))
        assert.equal(r.plaintext.toString('hex'), step.plaintext, ctx)
        assert.equal(r.session.sessionId.toString('hex'), c.session_id, ctx)
        assert.equal(a.sessionId.toString('hex'), c.session_id, ctx)
        assert.ok(r.session.peerIdentity.equals(alice.public), ctx)
        b = r.session
        break
      }
      case 'accept_error': {
        const before = store.generation
        assert.throws(() => RatchetSession.accept(bob, store, hex(step.message)), code(step.error), ctx)
        assert.equal(store.generation, before, `${ctx}: the store is unchanged`)
        break
      }
      case 'seal_store': {
        assert.equal(store.generation, BigInt(step.generation), ctx)
        const blob = store._sealForVectors(storageKey, hex(step.random))
        assert.equal(blob.toString('hex'), step.blob, ctx)
        const back = PrekeyStore.open(blob, storageKey, store.generation)
        assert.deepEqual(back.bundle().toBytes(), store.bundle().toBytes(), ctx)
        break
      }
      default: {
        const s = step.party === 'alice' ? a : b
        assert.ok(s, `${ctx}: session exists`)
        switch (step.op) {
          case 'encrypt': {
            const m = s._encryptForVectors(hex(step.plaintext), hex(step.random))
            assert.equal(m.toString('hex'), step.message, ctx)
            break
          }
          case 'decrypt': {
            const pt = s._decryptForVectors(hex(step.message), hex(step.random))
            assert.equal(pt.toString('hex'), step.plaintext, ctx)
            break
          }
          case 'decrypt_error': {
            // No randomness may be consumed by a rejected message; nothing changes.
            const before = s.generation
            assert.throws(() => s._decryptForVectors(hex(step.message), new Uint8Array(0)), code(step.error), ctx)
            assert.equal(s.generation, before, `${ctx}: the session is unchanged`)
            break
          }
          case 'seal_session': {
            assert.equal(s.generation, BigInt(step.generation), ctx)
            const blob = s._sealForVectors(storageKey, hex(step.random))
            assert.equal(blob.toString('hex'), step.blob, ctx)
            const reopened = RatchetSession.open(blob, storageKey, s.generation)
            assert.deepEqual(reopened.sessionId, s.sessionId, ctx)
            assert.equal(reopened.generation, s.generation, ctx)
            break
          }
          default:
            assert.fail(`${ctx}: unknown op ${step.op}`)
        }
      }
    }
    steps++
    executed.ops[step.op] = (executed.ops[step.op] ?? 0) + 1
  }
  return steps
}

describe('ratchet vectors (tests/vectors/ratchet.json)', () => {
  const alice = identity('alice')
  const bob = identity('bob')
  const storageKey = hex(doc.storage_key)

  test('the file has the expected shape', () => {
    assert.equal(doc.format_version, 1)
    assert.equal(doc.cases.length, 5)
  })

  for (const c of doc.cases) {
    test(`${c.name}: every step replays byte for byte`, () => {
      const steps = replay(c, alice, bob, storageKey)
      assert.equal(steps, c.steps.length)
      executed.cases++
      executed.steps += steps
    })
  }

  test('every case and every step ran, every kind of step included', () => {
    assert.equal(executed.cases, doc.cases.length)
    assert.equal(executed.steps, doc.cases.reduce((n, c) => n + c.steps.length, 0))
    for (const op of ['accept', 'accept_error', 'encrypt', 'decrypt', 'decrypt_error', 'seal_session', 'seal_store']) {
      assert.ok(executed.ops[op] > 0, `at least one ${op} step`)
    }
  })

  test('the hooks refuse a tape that is too short or too long, and then change nothing', () => {
    const c = doc.cases.find((x) => x.header_encryption)
    const o = c.prekey_options
    const options = { oneTimePrekeys: o.one_time_prekeys, kemOneTimePrekeys: o.kem_one_time_prekeys, postQuantum: o.post_quantum, now: c.now_unix }
    const tape = hex(c.store_random)
    assert.throws(() => PrekeyStore._generateForVectors(bob, options, tape.subarray(1)), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    assert.throws(() => PrekeyStore._generateForVectors(bob, options, Buffer.concat([tape, Buffer.alloc(1)])), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    const bundle = PrekeyBundle.fromBytes(hex(c.bundle))
    const a = RatchetSession._initiateForVectors(alice, bob.public, bundle, { headerEncryption: true }, hex(c.initiate_random))
    const first = c.steps[0]
    assert.equal(first.op, 'encrypt')
    const nonce = hex(first.random)
    assert.throws(() => a._encryptForVectors(hex(first.plaintext), Buffer.concat([nonce, Buffer.alloc(1)])), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    assert.throws(() => a._encryptForVectors(hex(first.plaintext), nonce.subarray(1)), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    assert.equal(a.generation, 0n)
    // Unchanged: the recorded message still comes out.
    assert.equal(a._encryptForVectors(hex(first.plaintext), nonce).toString('hex'), first.message)
  })
})
