// Shared vectors (tests/vectors/identity.json): byte-identical outputs, and every invalid
// case raises the listed error code. Signatures are also cross-checked against Node's own
// Ed25519 implementation (OpenSSL), independent of sealwire's.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import crypto from 'node:crypto'

import { Identity, PublicIdentity } from '../index.js'

const vectors = JSON.parse(
  readFileSync(new URL('../../../tests/vectors/identity.json', import.meta.url), 'utf8'),
)
const hex = (s) => Buffer.from(s, 'hex')
const byName = new Map(vectors.identities.map((v) => [v.name, v]))

// DER prefixes of an Ed25519 SubjectPublicKeyInfo and of a PKCS#8 private key (RFC 8410).
const SPKI_PREFIX = hex('302a300506032b6570032100')
const PKCS8_PREFIX = hex('302e020100300506032b657004220420')
const nodePublicKey = (raw) =>
  crypto.createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' })
const nodePublicKeyJwk = (raw) =>
  crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' })
const nodePrivateKey = (seed) =>
  crypto.createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })

// Public identity layout: magic(4) version(1) ed25519(32) x25519(32) count(1) signature(64).
const ed25519Of = (bytes) => bytes.subarray(5, 37)
const x25519Of = (bytes) => bytes.subarray(37, 69)

test('vector file has the expected shape', () => {
  assert.equal(vectors.format_version, 1)
  assert.ok(vectors.identities.length >= 1)
  assert.ok(vectors.exports.length >= 1)
  assert.ok(vectors.invalid_public_identities.length >= 1)
  assert.ok(vectors.invalid_exports.length >= 1)
})

describe('identities', () => {
  for (const v of vectors.identities) {
    test(`${v.name}: public identity, did, fingerprint`, () => {
      const id = Identity.fromSecretBytes(hex(v.ed25519_seed), hex(v.x25519_secret))
      const pub = id.public
      assert.ok(pub instanceof PublicIdentity)
      const bytes = pub.toBytes()
      assert.ok(Buffer.isBuffer(bytes))
      assert.equal(bytes.toString('hex'), v.public_identity)
      assert.equal(ed25519Of(bytes).toString('hex'), v.ed25519_public)
      assert.equal(x25519Of(bytes).toString('hex'), v.x25519_public)
      assert.equal(pub.did, v.did)
      assert.equal(pub.fingerprint, v.fingerprint)
      assert.equal(pub.matchesDid(v.did), true)

      const decoded = PublicIdentity.fromBytes(hex(v.public_identity))
      assert.ok(decoded.equals(pub))
      assert.ok(pub.equals(decoded))
      assert.equal(decoded.toBytes().toString('hex'), v.public_identity)
      assert.equal(decoded.did, v.did)
      assert.equal(decoded.fingerprint, v.fingerprint)
    })

    test(`${v.name}: signatures (sealwire and node:crypto agree)`, () => {
      const id = Identity.fromSecretBytes(hex(v.ed25519_seed), hex(v.x25519_secret))
      const pub = PublicIdentity.fromBytes(hex(v.public_identity))
      const raw = hex(v.ed25519_public)
      const spkiKey = nodePublicKey(raw)
      const jwkKey = nodePublicKeyJwk(raw)
      const nodeKey = nodePrivateKey(hex(v.ed25519_seed))
      assert.ok(v.signatures.length >= 1)
      for (const s of v.signatures) {
        const msg = hex(s.message)
        const sig = id.sign(msg)
        assert.ok(Buffer.isBuffer(sig))
        assert.equal(sig.toString('hex'), s.signature, `signature over ${s.message.slice(0, 16)}`)
        assert.equal(pub.verify(msg, sig), undefined)
        // An independent Ed25519 implementation accepts sealwire's signature ...
        assert.equal(crypto.verify(null, msg, spkiKey, sig), true)
        assert.equal(crypto.verify(null, msg, jwkKey, sig), true)
        // ... and produces the same (deterministic) one, which sealwire accepts.
        const nodeSig = crypto.sign(null, msg, nodeKey)
        assert.equal(nodeSig.toString('hex'), s.signature)
        pub.verify(msg, nodeSig)
      }
    })

    test(`${v.name}: other identities' keys reject its signatures`, () => {
      const id = Identity.fromSecretBytes(hex(v.ed25519_seed), hex(v.x25519_secret))
      for (const other of vectors.identities) {
        if (other.name === v.name) continue
        const otherPub = PublicIdentity.fromBytes(hex(other.public_identity))
        assert.equal(otherPub.equals(id.public), false)
        assert.equal(otherPub.matchesDid(v.did), false)
        const msg = Buffer.from('cross-identity check')
        assert.throws(() => otherPub.verify(msg, id.sign(msg)), { code: 'ERR_SEALWIRE_BAD_SIGNATURE' })
      }
    })
  }
})

describe('exports', () => {
  for (const [i, e] of vectors.exports.entries()) {
    const expected = byName.get(e.identity)

    test(`export ${i} (${e.identity}): header carries the vector's KDF parameters`, () => {
      const blob = hex(e.blob)
      assert.equal(blob.readUInt32BE(6), e.memory_kib)
      assert.equal(blob.readUInt32BE(10), e.iterations)
      assert.equal(blob.readUInt32BE(14), e.lanes)
      assert.equal(blob.subarray(18, 34).toString('hex'), e.salt)
      assert.equal(blob.subarray(35, 59).toString('hex'), e.nonce)
    })

    test(`export ${i} (${e.identity}): import with a string passphrase`, () => {
      const id = Identity.import(hex(e.blob), e.passphrase)
      assert.equal(id.public.toBytes().toString('hex'), expected.public_identity)
      // The imported identity signs exactly like the original.
      for (const s of expected.signatures) {
        assert.equal(id.sign(hex(s.message)).toString('hex'), s.signature)
      }
    })

    test(`export ${i} (${e.identity}): import with a Buffer / Uint8Array passphrase`, () => {
      const asBuffer = Buffer.from(e.passphrase, 'utf8')
      const asUint8 = new TextEncoder().encode(e.passphrase)
      assert.equal(Identity.import(hex(e.blob), asBuffer).public.did, expected.did)
      assert.equal(Identity.import(new Uint8Array(hex(e.blob)), asUint8).public.did, expected.did)
    })

    test(`export ${i} (${e.identity}): importAsync resolves`, async () => {
      const id = await Identity.importAsync(hex(e.blob), e.passphrase)
      assert.ok(id instanceof Identity)
      assert.equal(id.public.toBytes().toString('hex'), expected.public_identity)
    })
  }
})

describe('invalid public identities', () => {
  for (const c of vectors.invalid_public_identities) {
    test(`${c.description} -> ${c.error}`, () => {
      assert.throws(
        () => PublicIdentity.fromBytes(hex(c.bytes)),
        (err) => {
          assert.ok(err instanceof Error)
          assert.ok(Object.hasOwn(err, 'code'), 'code is an own property of the Error')
          assert.equal(err.code, c.error)
          assert.equal(typeof err.message, 'string')
          assert.ok(err.message.length > 0)
          if (c.bytes.length >= 64) assert.ok(!err.message.includes(c.bytes.slice(10, 42)))
          return true
        },
      )
    })
  }
})

describe('invalid exports', () => {
  for (const c of vectors.invalid_exports) {
    test(`${c.description} -> ${c.error} (sync)`, () => {
      assert.throws(
        () => Identity.import(hex(c.blob), c.passphrase),
        (err) => {
          assert.ok(err instanceof Error)
          assert.equal(err.code, c.error)
          assert.ok(!err.message.includes(c.passphrase), 'the message never echoes the passphrase')
          return true
        },
      )
    })

    test(`${c.description} -> ${c.error} (async)`, async () => {
      await assert.rejects(Identity.importAsync(hex(c.blob), c.passphrase), (err) => {
        assert.ok(err instanceof Error)
        assert.ok(Object.hasOwn(err, 'code'))
        assert.equal(err.code, c.error)
        return true
      })
    })
  }
})
