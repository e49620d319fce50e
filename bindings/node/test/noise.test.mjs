// The Noise layer of the Node binding: live handshakes between two Node peers (IK, XX, psk,
// hfs) with identity payloads, ordered / framed / unordered transports and rekeying, the
// shared vectors replayed byte for byte (sealwire's HFS vectors and the standard cacophony
// vectors), bad input with its error codes, the spent-handshake rule, and a live handshake
// against an independent JavaScript Noise implementation (holepunch's `noise-handshake`).
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { inspect } from 'node:util'
import crypto from 'node:crypto'
import { createRequire } from 'node:module'

import {
  Identity,
  PublicIdentity,
  NoiseHandshake,
  NoiseTransport,
  NoiseUnorderedTransport,
  noiseIdentityPayload,
} from '../index.js'

const require = createRequire(import.meta.url)

// Every code of sealwire::ErrorKind::ALL (core/src/error.rs).
const CODES = [
  'ERR_SEALWIRE_TRUNCATED',
  'ERR_SEALWIRE_TRAILING_BYTES',
  'ERR_SEALWIRE_INVALID_LENGTH',
  'ERR_SEALWIRE_BAD_MAGIC',
  'ERR_SEALWIRE_UNSUPPORTED_VERSION',
  'ERR_SEALWIRE_UNSUPPORTED_ALGORITHM',
  'ERR_SEALWIRE_MALFORMED',
  'ERR_SEALWIRE_INVALID_PUBLIC_KEY',
  'ERR_SEALWIRE_BAD_SIGNATURE',
  'ERR_SEALWIRE_NON_CONTRIBUTORY',
  'ERR_SEALWIRE_DECRYPTION_FAILED',
  'ERR_SEALWIRE_INVALID_PARAMETER',
  'ERR_SEALWIRE_INVALID_ENCODING',
  'ERR_SEALWIRE_RANDOMNESS',
  'ERR_SEALWIRE_MESSAGE_TOO_LARGE',
  'ERR_SEALWIRE_OUT_OF_TURN',
  'ERR_SEALWIRE_REMOTE_KEY_MISMATCH',
  'ERR_SEALWIRE_HANDSHAKE_COMPLETE',
  'ERR_SEALWIRE_HANDSHAKE_INCOMPLETE',
  'ERR_SEALWIRE_NONCE_EXHAUSTED',
  'ERR_SEALWIRE_REPLAY',
]

/** assert.throws validator: an Error whose own `code` is one of `codes`. */
const sealwireError = (...codes) => (err) => {
  assert.ok(err instanceof Error, 'an Error instance')
  assert.ok(Object.hasOwn(err, 'code'), '`code` is set on the Error object itself')
  assert.ok(CODES.includes(err.code), `a sealwire code: ${err.code}`)
  assert.ok(codes.includes(err.code), `expected ${codes.join(' or ')}, got ${err.code}: ${err.message}`)
  return true
}

const hex = (s) => Buffer.from(s, 'hex')
const x25519Of = (pub) => pub.toBytes().subarray(37, 69) // public identity layout, docs/FORMATS.md

const IK = 'Noise_IK_25519_ChaChaPoly_BLAKE2s'
const XX = 'Noise_XX_25519_ChaChaPoly_BLAKE2s'
const XXHFS = 'Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s'
const IKHFS = 'Noise_IKhfs_25519+MLKEM768_AESGCM_SHA256'
const MLKEM768_PUBLIC_LEN = 1184
const MLKEM768_CIPHERTEXT_LEN = 1088

const alice = Identity.generate()
const bob = Identity.generate()
const mallory = Identity.generate()

/** Drive a handshake to the end, each side sending `payloads(side, index)`; returns the payloads received. */
function run(init, resp, payloads = () => Buffer.alloc(0)) {
  const received = []
  let i = 0
  while (!init.isFinished || !resp.isFinished) {
    const [w, r] = init.isMyTurn ? [init, resp] : [resp, init]
    assert.equal(r.isMyTurn, false)
    const payload = payloads(w === init ? 'init' : 'resp', i)
    const msg = w.writeMessage(payload)
    assert.ok(Buffer.isBuffer(msg))
    const got = r.readMessage(msg)
    assert.ok(Buffer.isBuffer(got))
    assert.deepEqual(got, Buffer.from(payload))
    received.push({ from: w === init ? 'init' : 'resp', payload: got, message: msg })
    i++
  }
  return received
}

/** A finished pair of ordered transports over `name` (NN-style patterns need no keys). */
function transports(name = XX, { unordered = false } = {}) {
  const init = NoiseHandshake.initiator(name, { identity: alice, remote: name.includes('_IK') ? bob.public : undefined })
  const resp = NoiseHandshake.responder(name, { identity: bob })
  run(init, resp)
  return unordered
    ? [init.intoUnorderedTransport(), resp.intoUnorderedTransport()]
    : [init.intoTransport(), resp.intoTransport()]
}

function checkTransportsBothWays(ti, tr, rounds = 5) {
  for (let k = 0; k < rounds; k++) {
    const m1 = crypto.randomBytes(k * 37)
    const c1 = ti.encrypt(m1)
    assert.ok(Buffer.isBuffer(c1))
    assert.equal(c1.length, m1.length + 16)
    assert.deepEqual(tr.decrypt(c1), m1)
    const m2 = crypto.randomBytes(k * 11 + 1)
    assert.deepEqual(ti.decrypt(tr.encrypt(m2)), m2)
  }
}

describe('module and API shape', () => {
  test('exports the Noise classes and function', () => {
    for (const c of [NoiseHandshake, NoiseTransport, NoiseUnorderedTransport, noiseIdentityPayload]) {
      assert.equal(typeof c, 'function')
    }
    const cjs = require('..')
    assert.equal(cjs.NoiseHandshake, NoiseHandshake)
    assert.equal(cjs.noiseIdentityPayload, noiseIdentityPayload)
  })

  test('the classes expose exactly the documented API', () => {
    const own = (o) => Object.getOwnPropertyNames(o).filter((n) => !['length', 'name', 'prototype', 'arguments', 'caller'].includes(n)).sort()
    assert.deepEqual(own(NoiseHandshake), ['_fromVectorInputs', 'initiator', 'responder'])
    assert.deepEqual(own(NoiseHandshake.prototype), [
      'constructor', 'expectRemoteIdentity', 'handshakeHash', 'intoTransport', 'intoUnorderedTransport', 'isFinished',
      'isInitiator', 'isMyTurn', 'protocolName', 'readMessage', 'remoteStatic', 'verifyIdentityPayload', 'writeMessage',
    ])
    assert.deepEqual(own(NoiseTransport.prototype), [
      'constructor', 'decrypt', 'decryptFramed', 'encrypt', 'encryptFramed', 'handshakeHash', 'isInitiator',
      'receivingNonce', 'rekeyIncoming', 'rekeyOutgoing', 'remoteStatic', 'sendingNonce', 'setRekeyInterval',
    ])
    assert.deepEqual(own(NoiseUnorderedTransport.prototype), [
      'constructor', 'decrypt', 'encrypt', 'handshakeHash', 'isInitiator', 'remoteStatic', 'sendingNonce', 'setRekeyInterval',
    ])
    assert.deepEqual(own(NoiseTransport), [])
    assert.deepEqual(own(NoiseUnorderedTransport), [])
  })

  test('the constructors cannot be called directly', () => {
    assert.throws(() => new NoiseHandshake())
    assert.throws(() => new NoiseTransport())
    assert.throws(() => new NoiseUnorderedTransport())
  })

  test('nothing secret or identifying in inspect, toString or JSON', () => {
    const init = NoiseHandshake.initiator(IK, { identity: alice, remote: bob.public, prologue: Buffer.from('p') })
    const resp = NoiseHandshake.responder(IK, { identity: bob, prologue: Buffer.from('p') })
    run(init, resp)
    const secrets = [x25519Of(alice.public), x25519Of(bob.public), init.handshakeHash].map((b) => b.toString('hex'))
    const [ti, tr] = [init.intoTransport(), resp.intoTransport()]
    const [ui, ur] = transports(XX, { unordered: true })
    for (const obj of [NoiseHandshake.initiator(XX, { identity: alice }), ti, tr, ui, ur, init]) {
      const texts = [inspect(obj), inspect(obj, { showHidden: true, depth: 5 }), String(obj), JSON.stringify(obj)]
      assert.deepEqual(Object.keys(obj), [])
      for (const text of texts) {
        for (const s of secrets) assert.ok(!text.includes(s))
        assert.ok(!/[0-9a-f]{32}/i.test(text), text)
      }
      assert.equal(JSON.stringify(obj), '{}')
    }
  })
})

describe('IK and XX between two Node peers', () => {
  test('IK with identities: payloads verified, keys and hashes agree, transport both ways', () => {
    const init = NoiseHandshake.initiator(IK, { identity: alice, remote: bob.public })
    const resp = NoiseHandshake.responder(IK, { identity: bob })
    assert.equal(init.isInitiator, true)
    assert.equal(resp.isInitiator, false)
    assert.equal(init.protocolName, IK)
    assert.equal(init.isMyTurn, true)
    assert.equal(resp.isMyTurn, false)
    assert.deepEqual(init.remoteStatic, x25519Of(bob.public), 'pre-shared key known from the start')
    assert.equal(resp.remoteStatic, null)

    const m1 = init.writeMessage(noiseIdentityPayload(alice))
    const p1 = resp.readMessage(m1)
    const seenAlice = resp.verifyIdentityPayload(p1)
    assert.ok(seenAlice instanceof PublicIdentity)
    assert.ok(seenAlice.equals(alice.public))
    resp.expectRemoteIdentity(alice.public)
    assert.deepEqual(resp.remoteStatic, x25519Of(alice.public))

    const m2 = resp.writeMessage(noiseIdentityPayload(bob))
    const seenBob = init.verifyIdentityPayload(init.readMessage(m2))
    assert.ok(seenBob.equals(bob.public))
    init.expectRemoteIdentity(bob.public)

    assert.equal(init.isFinished, true)
    assert.equal(resp.isFinished, true)
    assert.equal(init.isMyTurn, false)
    assert.equal(init.handshakeHash.length, 32)
    assert.deepEqual(init.handshakeHash, resp.handshakeHash)
    const hh = init.handshakeHash

    const ti = init.intoTransport()
    const tr = resp.intoTransport()
    assert.ok(ti instanceof NoiseTransport)
    assert.deepEqual(ti.handshakeHash, hh)
    assert.deepEqual(tr.handshakeHash, hh)
    assert.deepEqual(ti.remoteStatic, x25519Of(bob.public))
    assert.deepEqual(tr.remoteStatic, x25519Of(alice.public))
    assert.equal(ti.isInitiator, true)
    assert.equal(tr.isInitiator, false)
    assert.equal(ti.sendingNonce, 0n)
    checkTransportsBothWays(ti, tr)
    assert.equal(ti.sendingNonce, 5n)
    assert.equal(tr.receivingNonce, 5n)
    assert.equal(typeof ti.receivingNonce, 'bigint')
  })

  test('IK with the responder key as raw bytes (Uint8Array view with an offset)', () => {
    const backing = new Uint8Array(64)
    backing.set(x25519Of(bob.public), 10)
    const init = NoiseHandshake.initiator(IK, { identity: alice, remote: backing.subarray(10, 42) })
    const resp = NoiseHandshake.responder(IK, { identity: bob })
    run(init, resp)
    checkTransportsBothWays(init.intoTransport(), resp.intoTransport())
  })

  test('XX: first contact, each side learns and verifies the other identity', () => {
    const init = NoiseHandshake.initiator(XX, { identity: alice })
    const resp = NoiseHandshake.responder(XX, { identity: bob })
    const m1 = init.writeMessage()
    assert.equal(m1.length, 32, 'e only, empty payload in clear')
    assert.equal(resp.readMessage(m1).length, 0)
    assert.equal(resp.remoteStatic, null)
    assert.throws(() => resp.expectRemoteIdentity(alice.public), sealwireError('ERR_SEALWIRE_HANDSHAKE_INCOMPLETE'))
    assert.throws(() => resp.verifyIdentityPayload(noiseIdentityPayload(alice)), sealwireError('ERR_SEALWIRE_HANDSHAKE_INCOMPLETE'))

    const m2 = resp.writeMessage(noiseIdentityPayload(bob))
    const who = init.verifyIdentityPayload(init.readMessage(m2))
    assert.ok(who.equals(bob.public))
    assert.equal(who.did, bob.public.did)
    assert.throws(() => init.expectRemoteIdentity(mallory.public), sealwireError('ERR_SEALWIRE_REMOTE_KEY_MISMATCH'))
    assert.throws(() => init.verifyIdentityPayload(noiseIdentityPayload(mallory)), sealwireError('ERR_SEALWIRE_REMOTE_KEY_MISMATCH'))
    assert.throws(() => init.verifyIdentityPayload(noiseIdentityPayload(bob).subarray(0, 10)), sealwireError('ERR_SEALWIRE_TRUNCATED'))
    assert.throws(() => init.verifyIdentityPayload(Buffer.alloc(134)), sealwireError('ERR_SEALWIRE_BAD_MAGIC'))
    const badSig = noiseIdentityPayload(bob)
    badSig[badSig.length - 1] ^= 1
    assert.throws(() => init.verifyIdentityPayload(badSig), sealwireError('ERR_SEALWIRE_BAD_SIGNATURE'))

    const m3 = init.writeMessage(noiseIdentityPayload(alice))
    assert.ok(resp.verifyIdentityPayload(resp.readMessage(m3)).equals(alice.public))
    assert.deepEqual(init.handshakeHash, resp.handshakeHash)
    checkTransportsBothWays(init.intoTransport(), resp.intoTransport())
  })

  test('XX with the expected peer given up front', () => {
    const init = NoiseHandshake.initiator(XX, { identity: alice, remote: bob.public })
    const resp = NoiseHandshake.responder(XX, { identity: bob, remote: alice.public })
    run(init, resp)
    assert.deepEqual(init.remoteStatic, x25519Of(bob.public))
  })

  test('every handshake is fresh: different hashes and ciphertexts', () => {
    const [a1] = transports(XX)
    const [a2] = transports(XX)
    assert.notDeepEqual(a1.handshakeHash, a2.handshakeHash)
    assert.notDeepEqual(a1.encrypt(Buffer.from('same')), a2.encrypt(Buffer.from('same')))
  })

  test('prologue and psk: both must match', () => {
    const name = 'Noise_XXpsk3_25519_ChaChaPoly_SHA256'
    const psk = crypto.randomBytes(32)
    const opts = (identity, p = psk, prologue = Buffer.from('agent-protocol/1')) => ({ identity, psks: [{ location: 3, key: p }], prologue })
    const ok = [NoiseHandshake.initiator(name, opts(alice)), NoiseHandshake.responder(name, opts(bob))]
    run(...ok)
    checkTransportsBothWays(ok[0].intoTransport(), ok[1].intoTransport())

    const wrongPsk = [NoiseHandshake.initiator(name, opts(alice, crypto.randomBytes(32))), NoiseHandshake.responder(name, opts(bob))]
    wrongPsk[1].readMessage(wrongPsk[0].writeMessage())
    wrongPsk[0].readMessage(wrongPsk[1].writeMessage())
    assert.throws(() => wrongPsk[1].readMessage(wrongPsk[0].writeMessage()), sealwireError('ERR_SEALWIRE_DECRYPTION_FAILED'))

    const wrongPrologue = [NoiseHandshake.initiator(name, opts(alice, psk, Buffer.from('other'))), NoiseHandshake.responder(name, opts(bob))]
    // With a psk modifier the first payload is already encrypted (MixKey(e)): it fails there.
    assert.throws(() => wrongPrologue[1].readMessage(wrongPrologue[0].writeMessage()), sealwireError('ERR_SEALWIRE_DECRYPTION_FAILED'))
    const xxPrologue = [NoiseHandshake.initiator(XX, { identity: alice, prologue: Buffer.from('a') }), NoiseHandshake.responder(XX, { identity: bob, prologue: Buffer.from('b') })]
    xxPrologue[1].readMessage(xxPrologue[0].writeMessage()) // XX message 1 is not encrypted
    assert.throws(() => xxPrologue[0].readMessage(xxPrologue[1].writeMessage()), sealwireError('ERR_SEALWIRE_DECRYPTION_FAILED'))

    const ikpsk2 = 'Noise_IKpsk2_25519_AESGCM_BLAKE2b'
    const p = [{ location: 2, key: new Uint8Array(psk) }]
    const pair = [NoiseHandshake.initiator(ikpsk2, { identity: alice, remote: bob.public, psks: p }), NoiseHandshake.responder(ikpsk2, { identity: bob, psks: p })]
    run(...pair)
    assert.equal(pair[0].handshakeHash.length, 64)
    checkTransportsBothWays(pair[0].intoTransport(), pair[1].intoTransport())
  })

  test('other patterns: NN, NK, KK and one-way N', () => {
    const nn = [NoiseHandshake.initiator('Noise_NN_25519_ChaChaPoly_SHA512'), NoiseHandshake.responder('Noise_NN_25519_ChaChaPoly_SHA512', {})]
    run(...nn)
    assert.equal(nn[0].remoteStatic, null)
    const tnn = [nn[0].intoTransport(), nn[1].intoTransport()]
    assert.equal(tnn[0].remoteStatic, null)
    checkTransportsBothWays(...tnn)

    const nk = 'Noise_NK_25519_AESGCM_SHA256'
    const pnk = [NoiseHandshake.initiator(nk, { remote: bob.public }), NoiseHandshake.responder(nk, { identity: bob })]
    run(...pnk)
    checkTransportsBothWays(pnk[0].intoTransport(), pnk[1].intoTransport())

    const kk = 'Noise_KK_25519_ChaChaPoly_BLAKE2b'
    const pkk = [NoiseHandshake.initiator(kk, { identity: alice, remote: bob.public }), NoiseHandshake.responder(kk, { identity: bob, remote: alice.public })]
    run(...pkk)
    checkTransportsBothWays(pkk[0].intoTransport(), pkk[1].intoTransport())

    const n = 'Noise_N_25519_ChaChaPoly_BLAKE2s'
    const pn = [NoiseHandshake.initiator(n, { remote: bob.public }), NoiseHandshake.responder(n, { identity: bob })]
    run(...pn)
    const [si, sr] = [pn[0].intoTransport(), pn[1].intoTransport()]
    assert.deepEqual(sr.decrypt(si.encrypt(Buffer.from('one way'))), Buffer.from('one way'))
    assert.equal(si.receivingNonce, null)
    assert.equal(sr.sendingNonce, null)
    assert.equal(si.sendingNonce, 1n)
    assert.throws(() => sr.encrypt(Buffer.from('back')), sealwireError('ERR_SEALWIRE_OUT_OF_TURN'))
    assert.throws(() => si.decrypt(Buffer.alloc(16)), sealwireError('ERR_SEALWIRE_OUT_OF_TURN'))
    assert.throws(() => si.rekeyIncoming(), sealwireError('ERR_SEALWIRE_OUT_OF_TURN'))
    assert.throws(() => sr.rekeyOutgoing(), sealwireError('ERR_SEALWIRE_OUT_OF_TURN'))
  })
})

describe('hybrid post-quantum handshakes (hfs, ML-KEM-768)', () => {
  test('XXhfs with identities', () => {
    const init = NoiseHandshake.initiator(XXHFS, { identity: alice })
    const resp = NoiseHandshake.responder(XXHFS, { identity: bob })
    const m1 = init.writeMessage()
    assert.equal(m1.length, 32 + MLKEM768_PUBLIC_LEN, '-> e, e1 (no key yet: in clear)')
    resp.readMessage(m1)
    const payload2 = noiseIdentityPayload(bob)
    const m2 = resp.writeMessage(payload2)
    assert.equal(m2.length, 32 + MLKEM768_CIPHERTEXT_LEN + 16 + 32 + 16 + payload2.length + 16, '<- e, ee, ekem1, s, es')
    assert.ok(init.verifyIdentityPayload(init.readMessage(m2)).equals(bob.public))
    assert.ok(resp.verifyIdentityPayload(resp.readMessage(init.writeMessage(noiseIdentityPayload(alice)))).equals(alice.public))
    assert.deepEqual(init.handshakeHash, resp.handshakeHash)
    checkTransportsBothWays(init.intoTransport(), resp.intoTransport())
  })

  test('IKhfs with identities', () => {
    const init = NoiseHandshake.initiator(IKHFS, { identity: alice, remote: bob.public })
    const resp = NoiseHandshake.responder(IKHFS, { identity: bob })
    const m1 = init.writeMessage(noiseIdentityPayload(alice))
    assert.equal(m1.length, 32 + MLKEM768_PUBLIC_LEN + 16 + 48 + 134 + 16, '-> e, es, e1, s, ss')
    assert.ok(resp.verifyIdentityPayload(resp.readMessage(m1)).equals(alice.public))
    const m2 = resp.writeMessage(noiseIdentityPayload(bob))
    assert.ok(init.verifyIdentityPayload(init.readMessage(m2)).equals(bob.public))
    checkTransportsBothWays(init.intoTransport(), resp.intoTransport())
  })

  test('a modified KEM ciphertext or key fails, and the genuine message still works', () => {
    const init = NoiseHandshake.initiator(XXHFS, { identity: alice })
    const resp = NoiseHandshake.responder(XXHFS, { identity: bob })
    const m1 = init.writeMessage()
    // ML-KEM-768 keys are 12-bit coefficients, which must be below q = 3329 (FIPS 203 modulus check).
    const outOfRange = Buffer.from(m1)
    outOfRange[32] = 0xff
    outOfRange[33] |= 0x0f
    assert.throws(() => NoiseHandshake.responder(XXHFS, { identity: bob }).readMessage(outOfRange), sealwireError('ERR_SEALWIRE_INVALID_PUBLIC_KEY'))
    // A different but valid key: accepted by the responder, then the initiator's check fails.
    const other = Buffer.from(m1)
    const c0 = ((other[32] | ((other[33] & 0x0f) << 8)) + 1) % 3329 // first coefficient, changed
    other[32] = c0 & 0xff
    other[33] = (other[33] & 0xf0) | (c0 >> 8)
    assert.notDeepEqual(other, m1)
    const r2 = NoiseHandshake.responder(XXHFS, { identity: bob })
    r2.readMessage(other)
    assert.throws(() => init.readMessage(r2.writeMessage()), sealwireError('ERR_SEALWIRE_DECRYPTION_FAILED'))
    resp.readMessage(m1)
    const m2 = resp.writeMessage()
    for (const at of [40, 32 + 500, 32 + MLKEM768_CIPHERTEXT_LEN + 4]) {
      const bad = Buffer.from(m2)
      bad[at] ^= 0x80
      assert.throws(() => init.readMessage(bad), sealwireError('ERR_SEALWIRE_DECRYPTION_FAILED'), `byte ${at}`)
    }
    init.readMessage(m2)
    resp.readMessage(init.writeMessage())
    checkTransportsBothWays(init.intoTransport(), resp.intoTransport())
  })
})

describe('ordered transport', () => {
  test('framed payloads larger than 64 KiB, both ways, exact boundaries', () => {
    const [ti, tr] = transports(XX)
    const CHUNK = 65518
    for (const size of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 65536, 200_000, 3 * CHUNK]) {
      const payload = crypto.randomBytes(size)
      const before = ti.sendingNonce
      const framed = ti.encryptFramed(payload)
      const frames = Math.max(1, Math.ceil(size / CHUNK))
      assert.equal(ti.sendingNonce - before, BigInt(frames), `size ${size}`)
      assert.equal(framed.length, size + frames * (2 + 1 + 16))
      assert.deepEqual(tr.decryptFramed(framed), payload)
      assert.deepEqual(ti.decryptFramed(tr.encryptFramed(payload)), payload)
    }
  })

  test('framed: truncation, trailing bytes and modification throw; the genuine stream still works', () => {
    const [ti, tr] = transports(XX)
    const payload = crypto.randomBytes(150_000)
    const framed = ti.encryptFramed(payload)
    const before = tr.receivingNonce
    for (const n of [0, 1, 2, 100, 65537, 65537 + 2, framed.length - 1]) {
      assert.throws(() => tr.decryptFramed(framed.subarray(0, n)), sealwireError('ERR_SEALWIRE_TRUNCATED'), `length ${n}`)
    }
    // Cutting exactly at a frame boundary: the final-frame flag is missing.
    assert.throws(() => tr.decryptFramed(framed.subarray(0, 2 + 65535)), sealwireError('ERR_SEALWIRE_TRUNCATED'))
    assert.throws(() => tr.decryptFramed(Buffer.concat([framed, Buffer.from([0])])), sealwireError('ERR_SEALWIRE_TRAILING_BYTES'))
    const bad = Buffer.from(framed)
    bad[framed.length - 20] ^= 1
    assert.throws(() => tr.decryptFramed(bad), sealwireError('ERR_SEALWIRE_DECRYPTION_FAILED'))
    assert.equal(tr.receivingNonce, before, 'all or nothing')
    assert.deepEqual(tr.decryptFramed(framed), payload)
  })

  test('single messages: size limits, truncation, tampering, reordering', () => {
    const [ti, tr] = transports(IK)
    const big = ti.encrypt(Buffer.alloc(65519))
    assert.equal(big.length, 65535)
    assert.deepEqual(tr.decrypt(big), Buffer.alloc(65519))
    assert.throws(() => ti.encrypt(Buffer.alloc(65520)), sealwireError('ERR_SEALWIRE_MESSAGE_TOO_LARGE'))
    assert.equal(tr.decrypt(ti.encrypt(Buffer.alloc(0))).length, 0)
    assert.throws(() => tr.decrypt(Buffer.alloc(65536)), sealwireError('ERR_SEALWIRE_MESSAGE_TOO_LARGE'))

    const c1 = ti.encrypt(Buffer.from('first'))
    const c2 = ti.encrypt(Buffer.from('second'))
    for (const n of [0, 1, 15]) {
      assert.throws(() => tr.decrypt(c1.subarray(0, n)), sealwireError('ERR_SEALWIRE_TRUNCATED'), `length ${n}`)
    }
    for (const n of [16, c1.length - 1]) {
      assert.throws(() => tr.decrypt(c1.subarray(0, n)), sealwireError('ERR_SEALWIRE_DECRYPTION_FAILED'), `length ${n}`)
    }
    const flipped = Buffer.from(c1)
    flipped[0] ^= 1
    assert.throws(() => tr.decrypt(flipped), sealwireError('ERR_SEALWIRE_DECRYPTION_FAILED'))
    assert.throws(() => tr.decrypt(c2), sealwireError('ERR_SEALWIRE_DECRYPTION_FAILED'), 'out of order')
    const nonce = tr.receivingNonce
    assert.deepEqual(tr.decrypt(c1), Buffer.from('first'))
    assert.equal(tr.receivingNonce, nonce + 1n)
    assert.throws(() => tr.decrypt(c1), sealwireError('ERR_SEALWIRE_DECRYPTION_FAILED'), 'replayed')
    assert.deepEqual(tr.decrypt(c2), Buffer.from('second'))
  })

  test('manual rekey: both sides at the same point', () => {
    const [ti, tr] = transports(XX)
    checkTransportsBothWays(ti, tr, 2)
    const before = ti.encrypt(Buffer.from('before'))
    assert.deepEqual(tr.decrypt(before), Buffer.from('before'))
    ti.rekeyOutgoing()
    const after = ti.encrypt(Buffer.from('after'))
    assert.throws(() => tr.decrypt(after), sealwireError('ERR_SEALWIRE_DECRYPTION_FAILED'), 'old key')
    tr.rekeyIncoming()
    assert.deepEqual(tr.decrypt(after), Buffer.from('after'))
    tr.rekeyOutgoing()
    ti.rekeyIncoming()
    checkTransportsBothWays(ti, tr, 3)
  })

  test('automatic rekey interval equals manual rekeying every N messages (same session, fixed keys)', () => {
    const v = hfsVectors.vectors[0]
    const sessions = () => {
      const init = vectorSide(v, true)
      const resp = vectorSide(v, false)
      run(init, resp, (side, i) => hex(v.messages[i].payload))
      return [init.intoTransport(), resp.intoTransport()]
    }
    const [ai, ar] = sessions()
    const [mi, mr] = sessions()
    ai.setRekeyInterval(3)
    ar.setRekeyInterval(3n)
    for (let k = 1; k <= 10; k++) {
      const msg = Buffer.from(`message ${k}`)
      const auto = ai.encrypt(msg)
      const manual = mi.encrypt(msg)
      assert.deepEqual(auto, manual, `message ${k}`)
      assert.deepEqual(ar.decrypt(auto), msg)
      assert.deepEqual(mr.decrypt(manual), msg)
      if (k % 3 === 0) {
        mi.rekeyOutgoing()
        mr.rekeyIncoming()
      }
    }
    // The other direction too, and a mismatched interval breaks at the first rekey.
    ai.setRekeyInterval(0)
    for (let k = 1; k <= 4; k++) {
      const c = ar.encrypt(Buffer.from([k]))
      if (k <= 3) assert.deepEqual(ai.decrypt(c), Buffer.from([k]))
      else assert.throws(() => ai.decrypt(c), sealwireError('ERR_SEALWIRE_DECRYPTION_FAILED'))
    }
  })

  test('setRekeyInterval accepts safe integers and bigints only', () => {
    const [ti] = transports(XX)
    for (const ok of [0, 1, 1000, Number.MAX_SAFE_INTEGER, 0n, 2n ** 64n - 1n]) ti.setRekeyInterval(ok)
    for (const bad of [-1, 1.5, NaN, Infinity, Number.MAX_SAFE_INTEGER + 1, -1n, 2n ** 64n]) {
      assert.throws(() => ti.setRekeyInterval(bad), sealwireError('ERR_SEALWIRE_INVALID_PARAMETER'), String(bad))
    }
    assert.throws(() => ti.setRekeyInterval('10'), Error)
    assert.throws(() => ti.setRekeyInterval(), Error)
    ti.setRekeyInterval(0)
  })
})

describe('unordered transport', () => {
  test('reordering is fine, replays are rejected', () => {
    const [ui, ur] = transports(XX, { unordered: true })
    assert.ok(ui instanceof NoiseUnorderedTransport)
    assert.deepEqual(ui.handshakeHash, ur.handshakeHash)
    assert.deepEqual(ui.remoteStatic, x25519Of(bob.public))
    assert.equal(ui.isInitiator, true)
    const msgs = Array.from({ length: 20 }, (_, i) => Buffer.from(`datagram ${i}`))
    const cts = msgs.map((m) => ui.encrypt(m))
    assert.equal(ui.sendingNonce, 20n)
    cts.forEach((c, i) => {
      assert.equal(c.length, 8 + msgs[i].length + 16)
      assert.equal(c.readBigUInt64BE(0), BigInt(i))
    })
    const order = [5, 3, 19, 0, 1, 2, 18, 4, 6, 17, 7, 8, 9, 16, 10, 15, 11, 14, 12, 13]
    for (const i of order) {
      assert.deepEqual(ur.decrypt(cts[i]), msgs[i])
      assert.throws(() => ur.decrypt(cts[i]), sealwireError('ERR_SEALWIRE_REPLAY'), `replay of ${i}`)
    }
    for (const i of [0, 7, 19]) assert.throws(() => ur.decrypt(cts[i]), sealwireError('ERR_SEALWIRE_REPLAY'))
    // The other direction.
    const back = [ur.encrypt(Buffer.from('a')), ur.encrypt(Buffer.from('b'))]
    assert.deepEqual(ui.decrypt(back[1]), Buffer.from('b'))
    assert.deepEqual(ui.decrypt(back[0]), Buffer.from('a'))
  })

  test('messages older than the 1024-nonce window are replays; bad input changes nothing', () => {
    const [ui, ur] = transports(IK, { unordered: true })
    const cts = Array.from({ length: 1100 }, (_, i) => ui.encrypt(Buffer.from(String(i))))
    assert.deepEqual(ur.decrypt(cts[1099]), Buffer.from('1099'))
    assert.throws(() => ur.decrypt(cts[0]), sealwireError('ERR_SEALWIRE_REPLAY'))
    assert.throws(() => ur.decrypt(cts[75]), sealwireError('ERR_SEALWIRE_REPLAY'), 'age 1024')
    const tampered = Buffer.from(cts[76])
    tampered[10] ^= 1
    assert.throws(() => ur.decrypt(tampered), sealwireError('ERR_SEALWIRE_DECRYPTION_FAILED'))
    const renumbered = Buffer.from(cts[76])
    renumbered.writeBigUInt64BE(77n, 0)
    assert.throws(() => ur.decrypt(renumbered), sealwireError('ERR_SEALWIRE_DECRYPTION_FAILED'), 'nonce is authenticated')
    for (const n of [0, 7, 8, 23]) {
      assert.throws(() => ur.decrypt(cts[76].subarray(0, n)), sealwireError('ERR_SEALWIRE_TRUNCATED'), `length ${n}`)
    }
    const exhausted = Buffer.from(cts[76])
    exhausted.writeBigUInt64BE(2n ** 64n - 1n, 0)
    assert.throws(() => ur.decrypt(exhausted), sealwireError('ERR_SEALWIRE_NONCE_EXHAUSTED'))
    assert.throws(() => ur.decrypt(Buffer.alloc(65536)), sealwireError('ERR_SEALWIRE_MESSAGE_TOO_LARGE'))
    assert.deepEqual(ur.decrypt(cts[76]), Buffer.from('76'), 'age 1023 still accepted')
    assert.equal(ui.encrypt(Buffer.alloc(65511)).length, 65535)
    assert.throws(() => ui.encrypt(Buffer.alloc(65512)), sealwireError('ERR_SEALWIRE_MESSAGE_TOO_LARGE'))
  })

  test('epoch rekeying across reordered messages', () => {
    const [ui, ur] = transports(XX, { unordered: true })
    for (const bad of [1, 100, 1023, -1, 0.5]) {
      assert.throws(() => ui.setRekeyInterval(bad), sealwireError('ERR_SEALWIRE_INVALID_PARAMETER'), String(bad))
    }
    ui.setRekeyInterval(1024)
    ur.setRekeyInterval(1024n)
    const total = 3000
    const cts = Array.from({ length: total }, (_, i) => ui.encrypt(Buffer.from(String(i))))
    // Deliver in blocks of 500, each block reversed: never more than 499 behind the newest.
    for (let start = 0; start < total; start += 500) {
      for (let i = Math.min(start + 499, total - 1); i >= start; i--) {
        assert.deepEqual(ur.decrypt(cts[i]), Buffer.from(String(i)), `message ${i}`)
      }
    }
    assert.throws(() => ur.decrypt(cts[total - 1]), sealwireError('ERR_SEALWIRE_REPLAY'))
    assert.throws(() => ui.setRekeyInterval(2048), sealwireError('ERR_SEALWIRE_INVALID_PARAMETER'), 'after the first message')
    // A receiver without the interval cannot read messages of later epochs.
    const [vi, vr] = transports(XX, { unordered: true })
    vi.setRekeyInterval(1024)
    const late = Array.from({ length: 1025 }, () => vi.encrypt(Buffer.from('x')))
    assert.deepEqual(vr.decrypt(late[1023]), Buffer.from('x'))
    assert.throws(() => vr.decrypt(late[1024]), sealwireError('ERR_SEALWIRE_DECRYPTION_FAILED'))
  })
})

describe('bad input to the handshake', () => {
  test('truncation at several offsets throws with a code; the genuine message still works', () => {
    const init = NoiseHandshake.initiator(IK, { identity: alice, remote: bob.public })
    const resp = NoiseHandshake.responder(IK, { identity: bob })
    const m1 = init.writeMessage(noiseIdentityPayload(alice))
    assert.equal(m1.length, 32 + 48 + 134 + 16)
    for (const n of [0, 1, 31, 32, 33, 79, 80, 95, 96, 97, 150, m1.length - 1]) {
      const expected = n < 96 ? 'ERR_SEALWIRE_TRUNCATED' : 'ERR_SEALWIRE_DECRYPTION_FAILED'
      assert.throws(() => resp.readMessage(m1.subarray(0, n)), sealwireError(expected), `length ${n}`)
      assert.equal(resp.isMyTurn, false)
      assert.equal(resp.remoteStatic, null)
    }
    assert.throws(() => resp.readMessage(Buffer.concat([m1, Buffer.alloc(1)])), sealwireError('ERR_SEALWIRE_DECRYPTION_FAILED'))
    assert.ok(resp.verifyIdentityPayload(resp.readMessage(m1)).equals(alice.public))

    const m2 = resp.writeMessage(noiseIdentityPayload(bob))
    for (const n of [0, 31, 32, 47, 48, m2.length - 1]) {
      const expected = n < 48 ? 'ERR_SEALWIRE_TRUNCATED' : 'ERR_SEALWIRE_DECRYPTION_FAILED'
      assert.throws(() => init.readMessage(m2.subarray(0, n)), sealwireError(expected), `length ${n}`)
      assert.equal(init.isFinished, false)
    }
    init.readMessage(m2)
    checkTransportsBothWays(init.intoTransport(), resp.intoTransport())
  })

  test('modified messages: flipped bits and non-canonical or low-order ephemeral keys', () => {
    const init = NoiseHandshake.initiator(XX, { identity: alice })
    const resp = NoiseHandshake.responder(XX, { identity: bob })
    resp.readMessage(init.writeMessage())
    const m2 = resp.writeMessage(Buffer.from('hello'))
    for (const at of [0, 31, 32, 60, 79, m2.length - 1]) {
      const bad = Buffer.from(m2)
      bad[at] ^= 0x01
      assert.throws(() => init.readMessage(bad), sealwireError('ERR_SEALWIRE_DECRYPTION_FAILED'), `byte ${at}`)
    }
    const topBit = Buffer.from(m2)
    topBit[31] |= 0x80
    assert.throws(() => init.readMessage(topBit), sealwireError('ERR_SEALWIRE_INVALID_PUBLIC_KEY'))
    const lowOrder = Buffer.from(m2)
    lowOrder.fill(0, 0, 32) // the identity point: DH output all zeros
    assert.throws(() => init.readMessage(lowOrder), sealwireError('ERR_SEALWIRE_NON_CONTRIBUTORY'))
    assert.deepEqual(init.readMessage(m2), Buffer.from('hello'))
  })

  test('wrong remote static key', () => {
    // IK: the initiator encrypts to the wrong responder key.
    const wrong = NoiseHandshake.initiator(IK, { identity: alice, remote: mallory.public })
    const resp = NoiseHandshake.responder(IK, { identity: bob })
    assert.throws(() => resp.readMessage(wrong.writeMessage()), sealwireError('ERR_SEALWIRE_DECRYPTION_FAILED'))
    const right = NoiseHandshake.initiator(IK, { identity: alice, remote: bob.public })
    resp.readMessage(right.writeMessage())
    right.readMessage(resp.writeMessage())

    // XX: the initiator expects bob, mallory answers.
    const init = NoiseHandshake.initiator(XX, { identity: alice, remote: bob.public })
    const imposter = NoiseHandshake.responder(XX, { identity: mallory })
    imposter.readMessage(init.writeMessage())
    assert.throws(() => init.readMessage(imposter.writeMessage()), sealwireError('ERR_SEALWIRE_REMOTE_KEY_MISMATCH'))
    assert.equal(init.remoteStatic, null)
    assert.equal(init.isMyTurn, false)

    // XX: the responder expects alice, mallory initiates.
    const r = NoiseHandshake.responder(XX, { identity: bob, remote: alice.public })
    const m = NoiseHandshake.initiator(XX, { identity: mallory })
    r.readMessage(m.writeMessage())
    m.readMessage(r.writeMessage())
    assert.throws(() => r.readMessage(m.writeMessage()), sealwireError('ERR_SEALWIRE_REMOTE_KEY_MISMATCH'))

    // A verified identity payload of someone else.
    const i2 = NoiseHandshake.initiator(XX, { identity: alice })
    const r2 = NoiseHandshake.responder(XX, { identity: bob })
    r2.readMessage(i2.writeMessage())
    const payload = i2.readMessage(r2.writeMessage(noiseIdentityPayload(mallory)))
    assert.throws(() => i2.verifyIdentityPayload(payload), sealwireError('ERR_SEALWIRE_REMOTE_KEY_MISMATCH'))
  })

  test('out of turn, after completion, too large', () => {
    const init = NoiseHandshake.initiator(XX, { identity: alice })
    const resp = NoiseHandshake.responder(XX, { identity: bob })
    assert.throws(() => resp.writeMessage(), sealwireError('ERR_SEALWIRE_OUT_OF_TURN'))
    assert.throws(() => init.readMessage(Buffer.alloc(32)), sealwireError('ERR_SEALWIRE_OUT_OF_TURN'))
    assert.throws(() => init.writeMessage(Buffer.alloc(65504)), sealwireError('ERR_SEALWIRE_MESSAGE_TOO_LARGE'))
    assert.throws(() => resp.readMessage(Buffer.alloc(65536)), sealwireError('ERR_SEALWIRE_MESSAGE_TOO_LARGE'))
    const m1 = init.writeMessage(Buffer.alloc(65503))
    assert.equal(m1.length, 65535)
    assert.throws(() => init.writeMessage(), sealwireError('ERR_SEALWIRE_OUT_OF_TURN'), 'twice in a row')
    resp.readMessage(m1)
    assert.throws(() => resp.readMessage(m1), sealwireError('ERR_SEALWIRE_OUT_OF_TURN'))
    init.readMessage(resp.writeMessage())
    assert.throws(() => init.intoTransport(), sealwireError('ERR_SEALWIRE_HANDSHAKE_INCOMPLETE'))
    assert.throws(() => resp.intoUnorderedTransport(), sealwireError('ERR_SEALWIRE_HANDSHAKE_INCOMPLETE'))
    const m3 = init.writeMessage()
    resp.readMessage(m3)
    for (const hs of [init, resp]) {
      assert.equal(hs.isFinished, true)
      assert.throws(() => hs.writeMessage(), sealwireError('ERR_SEALWIRE_HANDSHAKE_COMPLETE'))
      assert.throws(() => hs.readMessage(m3), sealwireError('ERR_SEALWIRE_HANDSHAKE_COMPLETE'))
    }
    checkTransportsBothWays(init.intoTransport(), resp.intoTransport(), 1)
  })

  test('a spent handshake throws ERR_SEALWIRE_HANDSHAKE_COMPLETE on every use', () => {
    for (const into of ['intoTransport', 'intoUnorderedTransport']) {
      const init = NoiseHandshake.initiator(XX, { identity: alice })
      const resp = NoiseHandshake.responder(XX, { identity: bob })
      run(init, resp)
      const t = init[into]()
      assert.ok(t instanceof (into === 'intoTransport' ? NoiseTransport : NoiseUnorderedTransport))
      const spent = sealwireError('ERR_SEALWIRE_HANDSHAKE_COMPLETE')
      const uses = [
        () => init.writeMessage(),
        () => init.readMessage(Buffer.alloc(48)),
        () => init.isFinished,
        () => init.isMyTurn,
        () => init.isInitiator,
        () => init.protocolName,
        () => init.handshakeHash,
        () => init.remoteStatic,
        () => init.expectRemoteIdentity(bob.public),
        () => init.verifyIdentityPayload(noiseIdentityPayload(bob)),
        () => init.intoTransport(),
        () => init.intoUnorderedTransport(),
      ]
      for (const use of uses) {
        assert.throws(use, (e) => spent(e) && /turned into a transport/.test(e.message), use.toString())
      }
      // The responder is unaffected; the transport works.
      const u = resp[into]()
      assert.deepEqual(u.decrypt(t.encrypt(Buffer.from('still fine'))), Buffer.from('still fine'))
    }
  })

  test('options that do not fit the pattern, bad names, bad keys', () => {
    const param = sealwireError('ERR_SEALWIRE_INVALID_PARAMETER')
    assert.throws(() => NoiseHandshake.initiator('Noise_XX_25519_ChaChaPoly'), sealwireError('ERR_SEALWIRE_MALFORMED'))
    assert.throws(() => NoiseHandshake.initiator('not a noise name'), sealwireError('ERR_SEALWIRE_MALFORMED'))
    assert.throws(() => NoiseHandshake.initiator('Noise_XX_448_ChaChaPoly_BLAKE2s', { identity: alice }), sealwireError('ERR_SEALWIRE_UNSUPPORTED_ALGORITHM'))
    assert.throws(() => NoiseHandshake.initiator('Noise_XX_25519_AESGCM_MD5', { identity: alice }), sealwireError('ERR_SEALWIRE_UNSUPPORTED_ALGORITHM'))
    assert.throws(() => NoiseHandshake.initiator(XX), param, 'no identity')
    assert.throws(() => NoiseHandshake.initiator(IK, { identity: alice }), param, 'no remote for IK')
    assert.throws(() => NoiseHandshake.initiator('Noise_NN_25519_ChaChaPoly_SHA256', { identity: alice }), param)
    assert.throws(() => NoiseHandshake.initiator('Noise_NN_25519_ChaChaPoly_SHA256', { remote: bob.public }), param)
    assert.throws(() => NoiseHandshake.initiator('Noise_XXpsk3_25519_ChaChaPoly_SHA256', { identity: alice }), param, 'psk missing')
    const key = Buffer.alloc(32, 7)
    assert.throws(() => NoiseHandshake.initiator(XX, { identity: alice, psks: [{ location: 0, key }] }), param, 'no psk in XX')
    for (const location of [-1, 1.5, 256, NaN]) {
      assert.throws(() => NoiseHandshake.initiator('Noise_XXpsk3_25519_ChaChaPoly_SHA256', { identity: alice, psks: [{ location, key }] }), param, String(location))
    }
    assert.throws(() => NoiseHandshake.initiator('Noise_XXpsk3_25519_ChaChaPoly_SHA256', { identity: alice, psks: [{ location: 3, key: key.subarray(1) }] }), sealwireError('ERR_SEALWIRE_INVALID_LENGTH'))
    assert.throws(() => NoiseHandshake.initiator(IK, { identity: alice, remote: Buffer.alloc(31, 9) }), sealwireError('ERR_SEALWIRE_INVALID_LENGTH'))
    assert.throws(() => NoiseHandshake.initiator(IK, { identity: alice, remote: Buffer.alloc(32) }), sealwireError('ERR_SEALWIRE_INVALID_PUBLIC_KEY', 'ERR_SEALWIRE_NON_CONTRIBUTORY'))
    // Wrong JavaScript types are argument errors (napi codes), not sealwire codes.
    assert.throws(() => NoiseHandshake.initiator(XX, { identity: bob.public }), Error)
    assert.throws(() => NoiseHandshake.initiator(IK, { identity: alice, remote: 'bob' }), Error)
    assert.throws(() => NoiseHandshake.initiator(42), Error)
    assert.throws(() => NoiseHandshake.initiator(XX, { identity: alice }).readMessage('text'), Error)
    assert.throws(() => noiseIdentityPayload(alice.public), Error)
    // The test-only constructor checks its inputs too.
    assert.throws(() => NoiseHandshake._fromVectorInputs(XX, true, { identity: alice }, { localStatic: key }), param)
    assert.throws(() => NoiseHandshake._fromVectorInputs(XX, true, {}, { localStatic: key, kemSeed: Buffer.alloc(64) }), param, 'KEM seed without hfs')
    assert.throws(() => NoiseHandshake._fromVectorInputs(XX, true, {}, { localStatic: key, ephemeral: Buffer.alloc(31) }), sealwireError('ERR_SEALWIRE_INVALID_LENGTH'))
    assert.throws(() => NoiseHandshake._fromVectorInputs(XXHFS, true, {}, { localStatic: key, kemSeed: Buffer.alloc(63) }), sealwireError('ERR_SEALWIRE_INVALID_LENGTH'))
  })

  test('noiseIdentityPayload is the canonical public identity encoding', () => {
    const p = noiseIdentityPayload(alice)
    assert.ok(Buffer.isBuffer(p))
    assert.deepEqual(p, alice.public.toBytes())
  })
})

// ---------------------------------------------------------------------------------------------
// Shared vectors
// ---------------------------------------------------------------------------------------------

const loadVectors = (file) => JSON.parse(readFileSync(new URL(`../../../tests/vectors/${file}`, import.meta.url), 'utf8'))
const hfsVectors = loadVectors('noise-hfs.json')
const cacophony = loadVectors('cacophony.json')

/** psk locations named by a protocol name, sorted (the order of `init_psks` / `resp_psks`). */
function pskLocations(name) {
  const pattern = name.split('_')[1]
  return pattern
    .split('+')
    .filter((part) => part.includes('psk'))
    .map((part) => Number(part.slice(part.indexOf('psk') + 3)))
    .sort((a, b) => a - b)
}

/** One side of a vector, built through the test-only constructor. */
function vectorSide(v, initiator) {
  const p = initiator ? 'init_' : 'resp_'
  const options = {}
  const vector = {}
  if (v[`${p}prologue`] !== undefined) options.prologue = hex(v[`${p}prologue`])
  if (v[`${p}psks`] !== undefined) {
    const locations = pskLocations(v.protocol_name)
    assert.equal(locations.length, v[`${p}psks`].length)
    options.psks = locations.map((location, i) => ({ location, key: hex(v[`${p}psks`][i]) }))
  }
  if (v[`${p}remote_static`] !== undefined) options.remote = hex(v[`${p}remote_static`])
  if (v[`${p}static`] !== undefined) vector.localStatic = hex(v[`${p}static`])
  if (v[`${p}ephemeral`] !== undefined) vector.ephemeral = hex(v[`${p}ephemeral`])
  if (v[`${p}kem_seed`] !== undefined) vector.kemSeed = hex(v[`${p}kem_seed`])
  if (v[`${p}kem_encaps_m`] !== undefined) vector.kemEncapsM = hex(v[`${p}kem_encaps_m`])
  return NoiseHandshake._fromVectorInputs(v.protocol_name, initiator, options, vector)
}

const oneWay = (name) => /^[NKX](psk\d+)*$/.test(name.split('_')[1])

/** Replay a vector: every message written by one side, read back by the other, compared byte for byte. */
function replay(v) {
  const init = vectorSide(v, true)
  const resp = vectorSide(v, false)
  let i = 0
  while (!init.isFinished) {
    assert.ok(i < v.messages.length, 'vector ends inside the handshake')
    const [w, r] = i % 2 === 0 ? [init, resp] : [resp, init]
    const payload = hex(v.messages[i].payload)
    const ct = w.writeMessage(payload)
    assert.equal(ct.toString('hex'), v.messages[i].ciphertext.toLowerCase(), `${v.protocol_name}: handshake message ${i}`)
    assert.deepEqual(r.readMessage(ct), payload)
    i++
  }
  assert.equal(resp.isFinished, true)
  assert.equal(init.handshakeHash.toString('hex'), v.handshake_hash.toLowerCase(), `${v.protocol_name}: handshake hash`)
  assert.deepEqual(resp.handshakeHash, init.handshakeHash)
  const ti = init.intoTransport()
  const tr = resp.intoTransport()
  const oneway = oneWay(v.protocol_name)
  for (; i < v.messages.length; i++) {
    const [w, r] = oneway || i % 2 === 0 ? [ti, tr] : [tr, ti]
    const payload = hex(v.messages[i].payload)
    const ct = w.encrypt(payload)
    assert.equal(ct.toString('hex'), v.messages[i].ciphertext.toLowerCase(), `${v.protocol_name}: transport message ${i}`)
    assert.deepEqual(r.decrypt(ct), payload)
  }
}

describe('vectors: tests/vectors/noise-hfs.json (sealwire HFS vectors)', () => {
  test('the file covers XXhfs and IKhfs for every cipher and hash', () => {
    assert.equal(hfsVectors.vectors.length, 16)
    const names = new Set(hfsVectors.vectors.map((v) => v.protocol_name))
    for (const pattern of ['XXhfs', 'IKhfs']) {
      for (const cipher of ['ChaChaPoly', 'AESGCM']) {
        for (const hash of ['SHA256', 'SHA512', 'BLAKE2s', 'BLAKE2b']) {
          assert.ok(names.has(`Noise_${pattern}_25519+MLKEM768_${cipher}_${hash}`))
        }
      }
    }
  })

  for (const v of hfsVectors.vectors) {
    test(`${v.protocol_name}: byte for byte`, () => replay(v))
  }
})

describe('vectors: tests/vectors/cacophony.json (standard Noise vectors)', () => {
  test('every supported 25519 vector replays byte for byte; every skipped one is X448 or a deferred pattern', () => {
    let passed = 0
    let skipped = 0
    for (const v of cacophony.vectors) {
      let supported = true
      try {
        NoiseHandshake._fromVectorInputs(v.protocol_name, true, {}, {})
      } catch (e) {
        if (e.code === 'ERR_SEALWIRE_UNSUPPORTED_ALGORITHM') supported = false
      }
      if (!supported) {
        const pattern = v.protocol_name.split('_')[1]
        const deferred = /^[A-Z]+\d/.test(pattern) // X1K, K1N, ... (deferred patterns)
        assert.ok(v.protocol_name.includes('_448_') || deferred, `unexpectedly unsupported: ${v.protocol_name}`)
        skipped++
        continue
      }
      replay(v)
      passed++
    }
    // 36 pattern/modifier combinations x 2 ciphers x 4 hashes, as in core/tests/noise_vectors.rs.
    assert.equal(passed, 288)
    assert.equal(passed + skipped, cacophony.vectors.length)
    assert.equal(cacophony.vectors.length, 944)
  })
})

// ---------------------------------------------------------------------------------------------
// Interoperability with an independent implementation
// ---------------------------------------------------------------------------------------------

describe('interop: noise-handshake (holepunch, libsodium), live', () => {
  // noise-handshake speaks Noise_{XX,IK,XXpsk0,NNpsk0}_25519_ChaChaPoly_BLAKE2b; its `tx` key
  // encrypts what this side sends, `rx` decrypts what it receives (nonce < 2^32).
  const Noise = require('noise-handshake')
  const Cipher = require('noise-handshake/cipher')
  const name = (pattern) => `Noise_${pattern}_25519_ChaChaPoly_BLAKE2b`
  const prologue = Buffer.from('interop prologue')

  /** Run a handshake between our side and theirs (`weInitiate` decides the roles). */
  function handshake(pattern, weInitiate, { psk } = {}) {
    const theirs = new Noise(pattern, !weInitiate, null, psk ? { psk } : {})
    const ourIdentity = weInitiate ? alice : bob
    const needsRemote = pattern === 'IK' && weInitiate
    const options = {
      identity: pattern.startsWith('NN') ? undefined : ourIdentity,
      remote: needsRemote ? theirs.s.publicKey : undefined,
      prologue,
      psks: psk ? [{ location: 0, key: psk }] : undefined,
    }
    const ours = weInitiate ? NoiseHandshake.initiator(name(pattern), options) : NoiseHandshake.responder(name(pattern), options)
    theirs.initialise(prologue, pattern === 'IK' && !weInitiate ? x25519Of(bob.public) : undefined)
    let k = 0
    while (!ours.isFinished) {
      const payload = Buffer.from(`payload ${k++}`)
      if (ours.isMyTurn) {
        assert.deepEqual(theirs.recv(ours.writeMessage(payload)), payload)
      } else {
        assert.deepEqual(ours.readMessage(theirs.send(payload)), payload)
      }
    }
    assert.equal(theirs.complete, true)
    assert.deepEqual(ours.handshakeHash, Buffer.from(theirs.hash))
    if (!pattern.startsWith('NN')) {
      assert.deepEqual(ours.remoteStatic, Buffer.from(theirs.s.publicKey))
      assert.deepEqual(Buffer.from(theirs.rs), x25519Of(ourIdentity.public))
    }
    const t = ours.intoTransport()
    const send = new Cipher(theirs.tx)
    const recv = new Cipher(theirs.rx)
    for (let i = 0; i < 20; i++) {
      const m = crypto.randomBytes(i * 13)
      assert.deepEqual(t.decrypt(send.encrypt(m)), m)
      assert.deepEqual(Buffer.from(recv.decrypt(t.encrypt(m))), m)
    }
    const forged = send.encrypt(Buffer.from('x'))
    forged[0] ^= 1
    assert.throws(() => t.decrypt(forged), sealwireError('ERR_SEALWIRE_DECRYPTION_FAILED'))
  }

  for (const weInitiate of [true, false]) {
    const role = weInitiate ? 'sealwire initiator' : 'sealwire responder'
    test(`XX, ${role}`, () => handshake('XX', weInitiate))
    test(`IK, ${role}`, () => handshake('IK', weInitiate))
    test(`XXpsk0, ${role}`, () => handshake('XXpsk0', weInitiate, { psk: crypto.randomBytes(32) }))
    test(`NNpsk0, ${role}`, () => handshake('NNpsk0', weInitiate, { psk: crypto.randomBytes(32) }))
  }
})
