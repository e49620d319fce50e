// The envelope layer of the Node binding: the shared vectors (tests/vectors/envelope.json:
// every envelope opens for every listed opener, every invalid case gives the listed code, the
// keyring file loads), round trips per provider type, multi-wrap, failures and their codes,
// tampering and truncation, the stream and file helpers, rewrap, keyring rotation / cutoff /
// persistence, providers written in JavaScript, and the async variants.
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, mkdtempSync, rmSync, writeFileSync, statSync, readdirSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import crypto from 'node:crypto'

import {
  seal,
  sealAsync,
  unseal,
  unsealAsync,
  rewrap,
  keyProviderInfo,
  EnvelopeHeader,
  EnvelopeSealer,
  EnvelopeOpener,
  Keyring,
  KeyringKey,
  RootKey,
  XWingKeyPair,
  XWingPublicKey,
  Identity,
  PublicIdentity,
  createSealStream,
  createUnsealStream,
  sealFile,
  unsealFile,
} from '../sealwire.js'
import * as generated from '../index.js'

const vectors = JSON.parse(
  readFileSync(new URL('../../../tests/vectors/envelope.json', import.meta.url), 'utf8'),
)
const hex = (s) => Buffer.from(s, 'hex')
const ctxOf = (pairs) => Object.fromEntries(pairs)
const FAST = Object.freeze({ memoryKib: 19456, iterations: 2, lanes: 1 }) // KdfParams::MINIMUM
const TAG = 16

/** assert.throws / assert.rejects validator: an Error whose own `code` is `code`. */
const code = (expected) => (err) => {
  assert.ok(err instanceof Error, `an Error instance (got ${inspect(err)})`)
  assert.ok(Object.hasOwn(err, 'code'), '`code` is set on the Error object itself')
  assert.equal(err.code, expected, err.message)
  return true
}

const tmp = mkdtempSync(join(tmpdir(), 'sealwire-node-envelope-'))
after(() => rmSync(tmp, { recursive: true, force: true }))
let tmpCounter = 0
const tmpPath = (name) => join(tmp, `${tmpCounter++}-${name}`)

// ---------------------------------------------------------------------------------------------
// Vector fixtures
// ---------------------------------------------------------------------------------------------

const K = vectors.keys.keyring
const rootKey = () => RootKey.fromHex(K.root_key)
/** The vector keyring, loaded from its root-key-sealed file, at the vectors' `open_at`. */
function vectorKeyring(now = K.open_at) {
  const path = tmpPath('vector.keyring')
  writeFileSync(path, hex(K.file))
  const ring = Keyring.load(path, { rootKey: rootKey() })
  ring._setTime(now)
  return ring
}
const x25519Recipient = (name) => {
  const v = vectors.keys.x25519_recipients.find((r) => r.name === name)
  return Identity.fromSecretBytes(hex(v.ed25519_seed), hex(v.x25519_secret))
}
const xwingRecipient = (name) => {
  const v = vectors.keys.xwing_recipients.find((r) => r.name === name)
  return XWingKeyPair.fromSeed(hex(v.seed))
}
function opener(name, now) {
  if (name === 'keyring') return vectorKeyring(now ?? K.open_at)
  if (name === 'carol-xwing') return xwingRecipient(name)
  return x25519Recipient(name)
}

/** Collect a readable into one Buffer. */
async function collect(readable) {
  const parts = []
  for await (const c of readable) parts.push(c)
  return Buffer.concat(parts)
}
/** A Readable of `buf` cut into pieces of the given sizes (cycled). */
function chunked(buf, sizes = [1, 7, 100, 4096, 65536, 65537, 13]) {
  const parts = []
  for (let i = 0, k = 0; i < buf.length; k++) {
    const n = sizes[k % sizes.length]
    parts.push(buf.subarray(i, i + n))
    i += n
  }
  return Readable.from(parts, { objectMode: false })
}
/** Run `input` through `transform`; resolves to the output, rejects with the stream error. */
async function through(input, transform, sizes) {
  const parts = []
  await pipeline(
    chunked(input, sizes),
    transform,
    new Writable({
      write(chunk, _e, cb) {
        parts.push(chunk)
        cb()
      },
    }),
  )
  return Buffer.concat(parts)
}
/** Open with the incremental handle, feeding `sizes`-sized pieces synchronously. */
function openIncrementally(sealed, options, piece = 37) {
  const len = EnvelopeHeader.headerLength(sealed)
  const o = EnvelopeOpener.create(sealed.subarray(0, len), options)
  const out = []
  for (let i = len; i < sealed.length; i += piece) out.push(o.update(sealed.subarray(i, i + piece)))
  out.push(o.final())
  return Buffer.concat(out)
}

// ---------------------------------------------------------------------------------------------
// Shared vectors
// ---------------------------------------------------------------------------------------------

describe('shared vectors (tests/vectors/envelope.json)', () => {
  test('file shape', () => {
    assert.equal(vectors.format_version, 1)
    assert.ok(vectors.envelopes.length >= 5)
    assert.ok(vectors.invalid_envelopes.length >= 25)
  })

  test('the keyring file loads (root key), with its keys, versions and generation', async () => {
    const ring = vectorKeyring()
    assert.equal(ring.generation, K.file_generation)
    assert.equal(ring.defaultKey, K.default_key)
    assert.deepEqual(ring.keyIds, K.keys.map((k) => k.id).sort())
    for (const key of K.keys) {
      assert.equal(ring.primaryVersion(key.id), key.primary)
      const expected = key.versions.map((v) => {
        const info = { version: v.version, primary: v.version === key.primary, createdAt: v.created_at }
        if (v.retired_at !== undefined) info.retiredAt = v.retired_at
        if (v.decrypt_until !== undefined) info.decryptUntil = v.decrypt_until
        return info
      })
      assert.deepEqual(ring.versions(key.id).map((v) => ({ ...v })), expected)
      assert.equal(ring.key(key.id).keyVersion, key.primary)
    }
    // The async loader and RootKey.fromBytes agree.
    const path = tmpPath('vector-async.keyring')
    writeFileSync(path, hex(K.file))
    const again = await Keyring.loadAsync(path, { rootKey: RootKey.fromBytes(hex(K.root_key)) })
    assert.ok(again instanceof Keyring)
    assert.deepEqual(again.keyIds, ring.keyIds)
    assert.equal(again.generation, K.file_generation)
    // A wrong root key: DECRYPTION_FAILED; a passphrase for a root-key file: INVALID_PARAMETER.
    assert.throws(() => Keyring.load(path, { rootKey: RootKey.generate() }), code('ERR_SEALWIRE_DECRYPTION_FAILED'))
    assert.throws(() => Keyring.load(path, { passphrase: 'x' }), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    await assert.rejects(Keyring.loadAsync(path, { rootKey: RootKey.generate() }), code('ERR_SEALWIRE_DECRYPTION_FAILED'))
  })

  test('recipients: key ids and the X-Wing public key encoding', () => {
    for (const v of vectors.keys.x25519_recipients) {
      const id = x25519Recipient(v.name)
      assert.deepEqual(keyProviderInfo(id), { providerId: 'hpke-x25519', keyId: v.key_id, keyVersion: 0 })
      assert.deepEqual(keyProviderInfo(id.public), { providerId: 'hpke-x25519', keyId: v.key_id, keyVersion: 0 })
    }
    for (const v of vectors.keys.xwing_recipients) {
      const kp = xwingRecipient(v.name)
      assert.equal(kp.publicKey.toBytes().toString('hex'), v.public_key)
      assert.equal(kp.keyId, v.key_id)
      assert.equal(kp.publicKey.keyId, v.key_id)
      assert.equal(kp.exportSeed().toString('hex'), v.seed)
      const pk = XWingPublicKey.fromBytes(hex(v.public_key))
      assert.ok(pk.equals(kp.publicKey))
      assert.equal(pk.rawBytes().toString('hex'), v.public_key.slice(10))
      assert.ok(XWingPublicKey.fromRawBytes(pk.rawBytes()).equals(pk))
      assert.deepEqual(keyProviderInfo(pk), { providerId: 'hpke-xwing', keyId: v.key_id, keyVersion: 0 })
    }
  })

  for (const c of vectors.envelopes) {
    test(`opens: ${c.name}`, async () => {
      const sealed = hex(c.sealed)
      const pt = hex(c.plaintext)
      const context = ctxOf(c.context)
      const h = EnvelopeHeader.parse(sealed)
      assert.equal(h.suite, c.suite)
      assert.equal(h.segmentSize, c.segment_size)
      assert.deepEqual({ ...h.context }, context)
      assert.equal(h.messageId.toString('hex'), c.message_id)
      assert.equal(h.headerLen, c.header_len)
      assert.equal(EnvelopeHeader.headerLength(sealed.subarray(0, 9)), c.header_len)
      assert.deepEqual(
        h.wrappedKeys.map((w) => ({ ...w })),
        c.wrapped_keys.map((w) => ({ provider: w.provider, keyId: w.key_id, version: w.key_version })),
      )
      assert.ok(c.openers.length >= 1)
      for (const name of c.openers) {
        const keys = [opener(name)]
        assert.deepEqual(unseal(sealed, { context, keys }), pt, `${name}: unseal`)
        assert.deepEqual(await unsealAsync(sealed, { context, keys }), pt, `${name}: unsealAsync`)
        assert.deepEqual(openIncrementally(sealed, { context, keys }), pt, `${name}: EnvelopeOpener`)
        assert.deepEqual(await through(sealed, createUnsealStream({ context, keys }), [3, 50, 7]), pt, `${name}: stream`)
      }
    })
  }

  for (const c of vectors.invalid_envelopes) {
    test(`invalid: ${c.description} → ${c.error}`, async () => {
      const sealed = hex(c.sealed)
      const options = () => ({ context: ctxOf(c.context), keys: [opener(c.opener, c.now)] })
      assert.throws(() => unseal(sealed, options()), code(c.error))
      await assert.rejects(unsealAsync(sealed, options()), code(c.error))
      if (c.opener === 'keyring') {
        // The streaming path reports the same code, and never emits plaintext it has not
        // verified.
        await assert.rejects(through(sealed, createUnsealStream(options()), [5, 64, 1000]), code(c.error))
        assert.throws(() => {
          const h = EnvelopeHeader.headerLength(sealed)
          if (sealed.length < h) EnvelopeOpener.create(sealed, options())
          openIncrementally(sealed, options(), 80)
        }, code(c.error))
      }
    })
  }
})

// ---------------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------------

describe('round trips', () => {
  const ring = new Keyring()
  ring.createKey('orders')
  ring.createKey('payroll')
  const alice = Identity.generate()
  const bob = Identity.generate()
  const carol = XWingKeyPair.generate()
  const jsKms = toyKms('toy-kms', 'tenant-key', 7)

  const cases = [
    ['Keyring → Keyring', [ring], [ring]],
    ['KeyringKey → KeyringKey', [ring.key('payroll')], [ring.key('payroll')]],
    ['KeyringKey → Keyring', [ring.key('payroll')], [ring]],
    ['Keyring → KeyringKey (default key)', [ring], [ring.key('orders')]],
    ['PublicIdentity → Identity', [bob.public], [bob]],
    ['Identity → Identity', [alice], [alice]],
    ['XWingPublicKey → XWingKeyPair', [carol.publicKey], [carol]],
    ['XWingKeyPair → XWingKeyPair', [carol], [carol]],
    ['JS provider → JS provider', [jsKms], [jsKms]],
  ]
  const sizes = [0, 1, 63, 64, 65, 127, 128, 129, 1000]
  for (const [name, to, keys] of cases) {
    test(name, async () => {
      for (const suite of ['chacha20poly1305', 'aes256gcm']) {
        for (const n of sizes) {
          const pt = crypto.randomBytes(n)
          const context = { n: String(n), suite }
          const sealed = seal(pt, { context, to, suite, segmentSize: 64 })
          assert.ok(Buffer.isBuffer(sealed))
          const h = EnvelopeHeader.parse(sealed)
          assert.equal(h.suite, suite === 'aes256gcm' ? 'aes-256-gcm' : 'chacha20-poly1305')
          assert.equal(sealed.length, h.headerLen + n + TAG * (Math.floor(n / 64) + 1))
          assert.deepEqual(unseal(sealed, { context, keys }), pt)
          assert.deepEqual(unseal(new Uint8Array(sealed), { context, keys }), pt)
        }
      }
      const pt = crypto.randomBytes(5000)
      const sealed = await sealAsync(pt, { to, segmentSize: 1024 })
      assert.deepEqual(await unsealAsync(sealed, { keys }), pt)
    })
  }

  test('default options: ChaCha20-Poly1305, 64 KiB segments, empty context', () => {
    const sealed = seal(Buffer.from('x'), { to: [ring] })
    const h = EnvelopeHeader.parse(sealed)
    assert.equal(h.suite, 'chacha20-poly1305')
    assert.equal(h.segmentSize, 65536)
    assert.deepEqual({ ...h.context }, {})
    assert.deepEqual(unseal(sealed, { keys: [ring] }), Buffer.from('x'))
    assert.deepEqual(unseal(sealed, { context: {}, keys: [ring] }), Buffer.from('x'))
    // The core's suite names are accepted too.
    assert.equal(EnvelopeHeader.parse(seal(Buffer.alloc(1), { to: [ring], suite: 'aes-256-gcm' })).suite, 'aes-256-gcm')
  })

  test('multi-wrap: every recipient opens, alone', () => {
    const pt = crypto.randomBytes(3000)
    const context = { purpose: 'handoff' }
    const sealed = seal(pt, { context, to: [ring, bob.public, carol.publicKey, jsKms], segmentSize: 256 })
    assert.deepEqual(
      EnvelopeHeader.parse(sealed).wrappedKeys.map((w) => w.provider),
      ['keyring', 'hpke-x25519', 'hpke-xwing', 'toy-kms'],
    )
    for (const k of [ring, ring.key('orders'), bob, carol, jsKms]) {
      assert.deepEqual(unseal(sealed, { context, keys: [k] }), pt)
    }
    // Several keys, only one of which matches, also work.
    assert.deepEqual(unseal(sealed, { context, keys: [alice, carol] }), pt)
  })

  test('two seals of the same plaintext differ (fresh data key and message id)', () => {
    const a = seal(Buffer.from('same'), { to: [ring] })
    const b = seal(Buffer.from('same'), { to: [ring] })
    assert.notDeepEqual(a, b)
    assert.notDeepEqual(EnvelopeHeader.parse(a).messageId, EnvelopeHeader.parse(b).messageId)
  })

  test('large one-shot payload (6 MiB, default segments), sync and async', async () => {
    const pt = crypto.randomBytes(6 * 1024 * 1024 + 17)
    const sealed = await sealAsync(pt, { to: [carol.publicKey, ring] })
    assert.deepEqual(unseal(sealed, { keys: [carol] }), pt)
    assert.deepEqual(await unsealAsync(sealed, { keys: [ring] }), pt)
  })
})

// ---------------------------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------------------------

describe('failures and their codes', () => {
  const ring = new Keyring()
  ring.createKey('orders')
  const bob = Identity.generate()
  const mallory = Identity.generate()
  const carol = XWingKeyPair.generate()
  const context = { tenant: 'acme', object: 'a/b' }
  const pt = crypto.randomBytes(300)
  const sealed = seal(pt, { context, to: [ring, bob.public, carol.publicKey], segmentSize: 64 })
  const h = EnvelopeHeader.parse(sealed)

  test('wrong identity / no matching key: ERR_SEALWIRE_NO_MATCHING_KEY', async () => {
    assert.throws(() => unseal(sealed, { context, keys: [mallory] }), code('ERR_SEALWIRE_NO_MATCHING_KEY'))
    assert.throws(() => unseal(sealed, { context, keys: [XWingKeyPair.generate()] }), code('ERR_SEALWIRE_NO_MATCHING_KEY'))
    assert.throws(() => unseal(sealed, { context, keys: [] }), code('ERR_SEALWIRE_NO_MATCHING_KEY'))
    // Public keys unwrap nothing.
    assert.throws(() => unseal(sealed, { context, keys: [bob.public, carol.publicKey] }), code('ERR_SEALWIRE_NO_MATCHING_KEY'))
    const other = new Keyring()
    other.createKey('payroll')
    assert.throws(() => unseal(sealed, { context, keys: [other] }), code('ERR_SEALWIRE_NO_MATCHING_KEY'))
    await assert.rejects(unsealAsync(sealed, { context, keys: [mallory] }), code('ERR_SEALWIRE_NO_MATCHING_KEY'))
    assert.throws(() => EnvelopeOpener.create(sealed, { context, keys: [mallory] }), code('ERR_SEALWIRE_NO_MATCHING_KEY'))
  })

  test('same key id, other key material: ERR_SEALWIRE_HEADER_AUTH_FAILED', () => {
    const impostor = new Keyring()
    impostor.createKey('orders')
    assert.throws(() => unseal(sealed, { context, keys: [impostor] }), code('ERR_SEALWIRE_HEADER_AUTH_FAILED'))
    assert.throws(() => unseal(sealed, { context, keys: [impostor.key('orders')] }), code('ERR_SEALWIRE_HEADER_AUTH_FAILED'))
  })

  test('wrong context: ERR_SEALWIRE_CONTEXT_MISMATCH', async () => {
    for (const wrong of [{}, { tenant: 'acme' }, { ...context, extra: '' }, { ...context, tenant: 'Acme' }]) {
      assert.throws(() => unseal(sealed, { context: wrong, keys: [ring] }), code('ERR_SEALWIRE_CONTEXT_MISMATCH'))
      await assert.rejects(unsealAsync(sealed, { context: wrong, keys: [bob] }), code('ERR_SEALWIRE_CONTEXT_MISMATCH'))
      await assert.rejects(through(sealed, createUnsealStream({ context: wrong, keys: [carol] })), code('ERR_SEALWIRE_CONTEXT_MISMATCH'))
    }
    assert.throws(() => unseal(sealed, { keys: [ring] }), code('ERR_SEALWIRE_CONTEXT_MISMATCH'))
  })

  test('tampering: every header byte and a payload byte', () => {
    // Flipping any byte of the header or payload makes opening fail; no byte is ignored.
    const codes = new Set()
    for (let i = 0; i < sealed.length; i += i < h.headerLen ? 1 : 29) {
      const t = Buffer.from(sealed)
      t[i] ^= 0x01
      let err
      try {
        unseal(t, { context, keys: [ring] })
      } catch (e) {
        err = e
      }
      assert.ok(err instanceof Error, `flipping byte ${i} was not detected`)
      assert.match(err.code, /^ERR_SEALWIRE_/)
      codes.add(err.code)
    }
    for (const c of [
      'ERR_SEALWIRE_BAD_MAGIC',
      'ERR_SEALWIRE_UNSUPPORTED_VERSION',
      'ERR_SEALWIRE_HEADER_AUTH_FAILED',
      'ERR_SEALWIRE_COMMITMENT_MISMATCH',
      'ERR_SEALWIRE_DECRYPTION_FAILED',
    ]) {
      assert.ok(codes.has(c), `some flip gives ${c} (got ${[...codes]})`)
    }
    // The key commitment: right after the context.
    const commitmentAt = 46 + 2 + Object.entries(context).reduce((n, [k, v]) => n + 4 + k.length + v.length, 0)
    const t = Buffer.from(sealed)
    t[commitmentAt] ^= 0x80
    assert.throws(() => unseal(t, { context, keys: [bob] }), code('ERR_SEALWIRE_COMMITMENT_MISMATCH'))
    // A payload byte.
    const p = Buffer.from(sealed)
    p[h.headerLen + 5] ^= 0x01
    assert.throws(() => unseal(p, { context, keys: [carol] }), code('ERR_SEALWIRE_DECRYPTION_FAILED'))
    // Segments swapped.
    const seg = 64 + TAG
    const s = Buffer.from(sealed)
    sealed.copy(s, h.headerLen, h.headerLen + seg, h.headerLen + 2 * seg)
    sealed.copy(s, h.headerLen + seg, h.headerLen, h.headerLen + seg)
    assert.throws(() => unseal(s, { context, keys: [ring] }), code('ERR_SEALWIRE_DECRYPTION_FAILED'))
    // Appended data.
    assert.throws(() => unseal(Buffer.concat([sealed, Buffer.alloc(1)]), { context, keys: [ring] }), code('ERR_SEALWIRE_DECRYPTION_FAILED'))
  })

  test('truncation: every cut is refused; cuts at segment boundaries are ERR_SEALWIRE_TRUNCATED', () => {
    const seg = 64 + TAG
    for (let len = 0; len < sealed.length; len++) {
      const cut = sealed.subarray(0, len)
      let err
      try {
        unseal(cut, { context, keys: [ring] })
      } catch (e) {
        err = e
      }
      assert.ok(err instanceof Error, `a cut at ${len} was accepted`)
      if (len <= h.headerLen || (len - h.headerLen) % seg === 0 || (len - h.headerLen) % seg < TAG) {
        assert.equal(err.code, 'ERR_SEALWIRE_TRUNCATED', `cut at ${len}`)
      } else {
        assert.equal(err.code, 'ERR_SEALWIRE_DECRYPTION_FAILED', `cut at ${len}`)
      }
    }
  })

  test('bad options', async () => {
    assert.throws(() => seal(Buffer.alloc(1), { to: [] }), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    assert.throws(() => seal(Buffer.alloc(1), { to: [ring], suite: 'rot13' }), code('ERR_SEALWIRE_UNSUPPORTED_ALGORITHM'))
    for (const segmentSize of [0, 63, 16 * 1024 * 1024 + 1, 64.5, -64, NaN]) {
      assert.throws(() => seal(Buffer.alloc(1), { to: [ring], segmentSize }), code('ERR_SEALWIRE_INVALID_PARAMETER'), String(segmentSize))
    }
    assert.throws(() => seal(Buffer.alloc(1), { to: [ring], context: { '': 'x' } }), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    assert.throws(() => seal(Buffer.alloc(1), { to: [new Keyring()] }), code('ERR_SEALWIRE_KEY_NOT_FOUND'))
    for (const bad of [{}, { providerId: 'p' }, { providerId: 'p', keyId: 'k' }, { providerId: 'p', keyId: 'k', wrap: 1 },
      { providerId: '', keyId: 'k', wrap() {} }, { providerId: 'p', keyId: 'k\n', wrap() {} },
      { providerId: 'p', keyId: 'k', keyVersion: -1, wrap() {} }, Buffer.alloc(32)]) {
      assert.throws(() => seal(Buffer.alloc(1), { to: [bad] }), code('ERR_SEALWIRE_INVALID_PARAMETER'), inspect(bad))
    }
    assert.throws(() => seal(Buffer.alloc(1), { to: [42] }), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    assert.throws(() => seal(Buffer.alloc(1), { to: ['keyring'] }), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    // Async forms reject (they do not throw) for bad options.
    const p = sealAsync(Buffer.alloc(1), { to: [] })
    assert.ok(p instanceof Promise)
    await assert.rejects(p, code('ERR_SEALWIRE_INVALID_PARAMETER'))
    await assert.rejects(sealAsync(Buffer.alloc(1), { to: [ring], segmentSize: 1 }), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    await assert.rejects(unsealAsync(sealed, { context, keys: [{}] }), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    assert.throws(() => createSealStream({ to: [] }), code('ERR_SEALWIRE_INVALID_PARAMETER'))
  })

  test('EnvelopeHeader.parse and headerLength are strict', () => {
    assert.throws(() => EnvelopeHeader.parse(Buffer.alloc(0)), code('ERR_SEALWIRE_TRUNCATED'))
    assert.throws(() => EnvelopeHeader.parse(sealed.subarray(0, h.headerLen - 1)), code('ERR_SEALWIRE_TRUNCATED'))
    assert.throws(() => EnvelopeHeader.headerLength(sealed.subarray(0, 8)), code('ERR_SEALWIRE_TRUNCATED'))
    const m = Buffer.from(sealed)
    m[0] = 0x58
    assert.throws(() => EnvelopeHeader.parse(m), code('ERR_SEALWIRE_BAD_MAGIC'))
    assert.throws(() => EnvelopeHeader.headerLength(m), code('ERR_SEALWIRE_BAD_MAGIC'))
    const v = Buffer.from(sealed)
    v[4] = 2
    assert.throws(() => EnvelopeHeader.parse(v), code('ERR_SEALWIRE_UNSUPPORTED_VERSION'))
    const s = Buffer.from(sealed)
    s[9] = 7
    assert.throws(() => EnvelopeHeader.parse(s), code('ERR_SEALWIRE_UNSUPPORTED_ALGORITHM'))
    // The header alone parses (no payload needed).
    assert.equal(EnvelopeHeader.parse(sealed.subarray(0, h.headerLen)).headerLen, h.headerLen)
  })

  test('X-Wing keys and root keys are strict too', () => {
    const pk = XWingKeyPair.generate().publicKey.toBytes()
    assert.throws(() => XWingPublicKey.fromBytes(pk.subarray(0, 100)), code('ERR_SEALWIRE_TRUNCATED'))
    assert.throws(() => XWingPublicKey.fromBytes(Buffer.concat([pk, Buffer.alloc(1)])), code('ERR_SEALWIRE_TRAILING_BYTES'))
    const m = Buffer.from(pk)
    m[0] ^= 1
    assert.throws(() => XWingPublicKey.fromBytes(m), code('ERR_SEALWIRE_BAD_MAGIC'))
    assert.throws(() => XWingPublicKey.fromRawBytes(pk.subarray(5, 100)), code('ERR_SEALWIRE_INVALID_LENGTH'))
    // An ML-KEM coefficient ≥ q (12 bits of 0xfff) is refused as FIPS 203 requires.
    const bad = Buffer.from(pk)
    bad[5] = 0xff
    bad[6] = 0xff
    assert.throws(() => XWingPublicKey.fromBytes(bad), code('ERR_SEALWIRE_INVALID_PUBLIC_KEY'))
    assert.throws(() => XWingKeyPair.fromSeed(Buffer.alloc(31)), code('ERR_SEALWIRE_INVALID_LENGTH'))
    const seed = crypto.randomBytes(32)
    assert.ok(XWingKeyPair.fromSeed(seed).publicKey.equals(XWingKeyPair.fromSeed(seed).publicKey))
    assert.throws(() => RootKey.fromHex('zz'.repeat(32)), code('ERR_SEALWIRE_INVALID_ENCODING'))
    assert.throws(() => RootKey.fromHex('ab'), code('ERR_SEALWIRE_INVALID_ENCODING'))
    assert.throws(() => RootKey.fromBytes(Buffer.alloc(31)), code('ERR_SEALWIRE_INVALID_LENGTH'))
    const r = RootKey.generate()
    assert.match(r.toHex(), /^[0-9a-f]{64}$/)
    assert.equal(RootKey.fromHex(r.toHex().toUpperCase()).toHex(), r.toHex())
  })
})

// ---------------------------------------------------------------------------------------------
// Streams and files
// ---------------------------------------------------------------------------------------------

describe('streams', () => {
  const ring = new Keyring()
  ring.createKey('stream')
  const carol = XWingKeyPair.generate()
  const context = { bucket: 'b1', object: 'big.bin' }
  const big = crypto.randomBytes(5 * 1024 * 1024 + 12345)
  let sealedBig

  before(async () => {
    sealedBig = await through(big, createSealStream({ context, to: [ring, carol.publicKey], segmentSize: 16384 }))
  })

  test('5 MiB through createSealStream / createUnsealStream with pipeline()', async () => {
    const h = EnvelopeHeader.parse(sealedBig)
    assert.equal(h.segmentSize, 16384)
    assert.equal(sealedBig.length, h.headerLen + big.length + TAG * (Math.floor(big.length / 16384) + 1))
    // The stream's output is an ordinary envelope ...
    assert.deepEqual(unseal(sealedBig, { context, keys: [carol] }), big)
    // ... and opens as a stream, whatever the chunking.
    assert.deepEqual(await through(sealedBig, createUnsealStream({ context, keys: [ring] })), big)
    assert.deepEqual(await through(sealedBig, createUnsealStream({ context, keys: [carol] }), [65536]), big)
    assert.deepEqual(await through(sealedBig, createUnsealStream({ context, keys: [ring] }), [16400, 16399, 1]), big)
  })

  test('one-shot seal → stream open, stream seal of the default segment size → one-shot open', async () => {
    const pt = crypto.randomBytes(200_000)
    const sealed = seal(pt, { context, to: [ring], segmentSize: 4096, suite: 'aes256gcm' })
    assert.deepEqual(await through(sealed, createUnsealStream({ context, keys: [ring] })), pt)
    const streamed = await through(pt, createSealStream({ context, to: [ring] }), [999])
    assert.equal(EnvelopeHeader.parse(streamed).segmentSize, 65536)
    assert.deepEqual(await unsealAsync(streamed, { context, keys: [ring] }), pt)
  })

  test('empty input streams', async () => {
    const sealed = await through(Buffer.alloc(0), createSealStream({ to: [ring] }))
    assert.equal(sealed.length, EnvelopeHeader.parse(sealed).headerLen + TAG)
    assert.deepEqual(unseal(sealed, { keys: [ring] }), Buffer.alloc(0))
    assert.deepEqual(await through(sealed, createUnsealStream({ keys: [ring] })), Buffer.alloc(0))
  })

  test('a truncated stream is rejected with ERR_SEALWIRE_TRUNCATED', async () => {
    const h = EnvelopeHeader.parse(sealedBig)
    const seg = 16384 + TAG
    const cuts = [
      sealedBig.length - (big.length % 16384) - TAG, // the final segment dropped
      h.headerLen + 10 * seg, // at a segment boundary in the middle
      h.headerLen, // the header only
      h.headerLen - 1, // inside the header
      5, // inside the header prefix
      0, // nothing at all
      sealedBig.length - (big.length % 16384) - TAG + 15, // 15 bytes of the final segment
    ]
    for (const len of cuts) {
      let emitted = 0
      const open = createUnsealStream({ context, keys: [ring] })
      open.on('data', (c) => {
        // Whatever was pushed before the failure is verified plaintext, in order.
        assert.deepEqual(c, big.subarray(emitted, emitted + c.length))
        emitted += c.length
      })
      await assert.rejects(
        pipeline(chunked(sealedBig.subarray(0, len)), open, new Writable({ write: (_c, _e, cb) => cb() })),
        code('ERR_SEALWIRE_TRUNCATED'),
        `cut at ${len}`,
      )
    }
  })

  test('a modified stream fails with ERR_SEALWIRE_DECRYPTION_FAILED and emits only verified plaintext', async () => {
    const h = EnvelopeHeader.parse(sealedBig)
    const t = Buffer.from(sealedBig)
    const at = h.headerLen + 40 * (16384 + TAG) + 100
    t[at] ^= 0x10
    const out = []
    const open = createUnsealStream({ context, keys: [carol] })
    open.on('data', (c) => out.push(c))
    await assert.rejects(
      pipeline(chunked(t, [8192]), open, new Writable({ write: (_c, _e, cb) => cb() })),
      code('ERR_SEALWIRE_DECRYPTION_FAILED'),
    )
    const got = Buffer.concat(out)
    assert.ok(got.length <= 40 * 16384, `only segments before the modified one (${got.length})`)
    assert.deepEqual(got, big.subarray(0, got.length))
  })

  test('header errors surface as stream errors', async () => {
    await assert.rejects(through(sealedBig, createUnsealStream({ context, keys: [Identity.generate()] })), code('ERR_SEALWIRE_NO_MATCHING_KEY'))
    const m = Buffer.from(sealedBig.subarray(0, 5000))
    m[1] ^= 1
    await assert.rejects(through(m, createUnsealStream({ context, keys: [ring] })), code('ERR_SEALWIRE_BAD_MAGIC'))
  })

  test('EnvelopeSealer / EnvelopeOpener handles (sync and async)', async () => {
    const pt = crypto.randomBytes(10_000)
    const sealer = EnvelopeSealer.create({ context, to: [ring], segmentSize: 1000 })
    const parts = [sealer.update(pt.subarray(0, 10)), await sealer.updateAsync(pt.subarray(10, 5000))]
    parts.push(sealer.update(pt.subarray(5000)), await sealer.finalAsync())
    const sealed = Buffer.concat(parts)
    assert.ok(parts[0].length > 0, 'the header comes out of the first update')
    assert.deepEqual(unseal(sealed, { context, keys: [ring] }), pt)
    assert.throws(() => sealer.update(Buffer.alloc(1)), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    assert.throws(() => sealer.final(), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    await assert.rejects(sealer.finalAsync(), code('ERR_SEALWIRE_INVALID_PARAMETER'))

    // Overlapping async calls are refused (data is processed strictly in call order).
    const s2 = EnvelopeSealer.create({ to: [ring] })
    const first = s2.updateAsync(crypto.randomBytes(1 << 20))
    assert.throws(() => s2.update(Buffer.alloc(1)), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    assert.throws(() => s2.final(), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    const second = s2.updateAsync(Buffer.alloc(1))
    await assert.rejects(second, code('ERR_SEALWIRE_INVALID_PARAMETER'))
    await first
    s2.update(Buffer.alloc(1))

    const hl = EnvelopeHeader.headerLength(sealed)
    // Extra bytes after the header are buffered and come out later.
    const o = EnvelopeOpener.create(sealed.subarray(0, hl + 1500), { context, keys: [ring] })
    assert.deepEqual({ ...o.header.context }, context)
    assert.equal(o.header.segmentSize, 1000)
    const out = [o.update(Buffer.alloc(0)), await o.updateAsync(sealed.subarray(hl + 1500, hl + 7000))]
    out.push(o.update(sealed.subarray(hl + 7000)), await o.finalAsync())
    assert.deepEqual(Buffer.concat(out), pt)
    assert.equal(out[0].length, 1000, 'one complete segment was in the initial bytes')
    assert.throws(() => o.update(Buffer.alloc(1)), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    assert.throws(() => EnvelopeOpener.create(sealed.subarray(0, hl - 1), { context, keys: [ring] }), code('ERR_SEALWIRE_TRUNCATED'))

    // Errors are final.
    const t = Buffer.from(sealed)
    t[hl + 3] ^= 1
    const o2 = EnvelopeOpener.create(t, { context, keys: [ring] })
    assert.throws(() => o2.update(Buffer.alloc(0)), code('ERR_SEALWIRE_DECRYPTION_FAILED'))
    assert.throws(() => o2.final(), code('ERR_SEALWIRE_INVALID_PARAMETER'))
  })
})

describe('files', () => {
  const ring = new Keyring()
  ring.createKey('files')
  const bob = Identity.generate()
  const context = { path: 'report.pdf' }
  const data = crypto.randomBytes(3 * 1024 * 1024 + 7)

  test('sealFile / unsealFile round trip; outputs are mode 0600; no temporary files remain', async () => {
    const dir = mkdtempSync(join(tmp, 'files-'))
    const src = join(dir, 'plain.bin')
    const enc = join(dir, 'plain.bin.swev')
    const dec = join(dir, 'plain.out')
    writeFileSync(src, data)
    await sealFile(src, enc, { context, to: [ring, bob.public], segmentSize: 32768 })
    assert.deepEqual(unseal(readFileSync(enc), { context, keys: [bob] }), data)
    await unsealFile(enc, dec, { context, keys: [ring] })
    assert.deepEqual(readFileSync(dec), data)
    if (process.platform !== 'win32') {
      assert.equal(statSync(enc).mode & 0o777, 0o600)
      assert.equal(statSync(dec).mode & 0o777, 0o600)
    }
    // Replacing an existing destination works.
    await unsealFile(enc, dec, { context, keys: [bob] })
    assert.deepEqual(readFileSync(dec), data)
    assert.deepEqual(readdirSync(dir).sort(), ['plain.bin', 'plain.bin.swev', 'plain.out'])
  })

  test('unsealFile of a truncated, modified or wrongly-opened file writes nothing', async () => {
    const dir = mkdtempSync(join(tmp, 'files-bad-'))
    const src = join(dir, 'plain.bin')
    const enc = join(dir, 'sealed.swev')
    writeFileSync(src, data)
    await sealFile(src, enc, { context, to: [ring] })
    const sealed = readFileSync(enc)
    const cut = join(dir, 'cut.swev')
    writeFileSync(cut, sealed.subarray(0, sealed.length - 100_000))
    const dst = join(dir, 'out.bin')
    await assert.rejects(unsealFile(cut, dst, { context, keys: [ring] }), code('ERR_SEALWIRE_DECRYPTION_FAILED'))
    const h = EnvelopeHeader.parse(sealed)
    writeFileSync(cut, sealed.subarray(0, h.headerLen + 3 * (65536 + TAG)))
    await assert.rejects(unsealFile(cut, dst, { context, keys: [ring] }), code('ERR_SEALWIRE_TRUNCATED'))
    await assert.rejects(unsealFile(enc, dst, { context: {}, keys: [ring] }), code('ERR_SEALWIRE_CONTEXT_MISMATCH'))
    await assert.rejects(unsealFile(enc, dst, { context, keys: [bob] }), code('ERR_SEALWIRE_NO_MATCHING_KEY'))
    await assert.rejects(sealFile(src, dst, { to: [] }), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    await assert.rejects(sealFile(join(dir, 'missing'), dst, { to: [ring] }), (e) => e.code === 'ENOENT')
    assert.equal(existsSync(dst), false)
    assert.deepEqual(readdirSync(dir).sort(), ['cut.swev', 'plain.bin', 'sealed.swev'])
  })
})

// ---------------------------------------------------------------------------------------------
// Rewrap
// ---------------------------------------------------------------------------------------------

describe('rewrap', () => {
  const payloadOf = (sealed) => sealed.subarray(EnvelopeHeader.parse(sealed).headerLen)

  test('add and remove recipients; payload bytes unchanged', () => {
    const ring = new Keyring()
    ring.createKey('orders')
    const bob = Identity.generate()
    const carol = XWingKeyPair.generate()
    const context = { k: 'v' }
    const pt = crypto.randomBytes(1000)
    const sealed = seal(pt, { context, to: [ring], segmentSize: 128 })

    const withBob = rewrap(sealed, { context, keys: [ring], add: [bob.public, carol.publicKey] })
    assert.deepEqual(payloadOf(withBob), payloadOf(sealed))
    assert.deepEqual(EnvelopeHeader.parse(withBob).messageId, EnvelopeHeader.parse(sealed).messageId)
    assert.deepEqual(EnvelopeHeader.parse(withBob).wrappedKeys.map((w) => w.provider), ['keyring', 'hpke-x25519', 'hpke-xwing'])
    for (const k of [ring, bob, carol]) assert.deepEqual(unseal(withBob, { context, keys: [k] }), pt)

    // Hand over to bob only: remove the keyring and carol's entries.
    const bobOnly = rewrap(withBob, {
      context,
      keys: [bob],
      remove: [{ provider: 'keyring', keyId: 'orders' }, { provider: 'hpke-xwing', keyId: carol.keyId }],
    })
    assert.deepEqual(payloadOf(bobOnly), payloadOf(sealed))
    assert.deepEqual(EnvelopeHeader.parse(bobOnly).wrappedKeys.map((w) => w.provider), ['hpke-x25519'])
    assert.deepEqual(unseal(bobOnly, { context, keys: [bob] }), pt)
    assert.throws(() => unseal(bobOnly, { context, keys: [ring] }), code('ERR_SEALWIRE_NO_MATCHING_KEY'))
    assert.throws(() => unseal(bobOnly, { context, keys: [carol] }), code('ERR_SEALWIRE_NO_MATCHING_KEY'))

    // Removing a recipient by its keyProviderInfo.
    const info = keyProviderInfo(bob.public)
    assert.throws(
      () => rewrap(bobOnly, { context, keys: [bob], remove: [{ provider: info.providerId, keyId: info.keyId }] }),
      code('ERR_SEALWIRE_INVALID_PARAMETER'),
      'at least one entry must remain',
    )
    // Rewrap authenticates like open.
    assert.throws(() => rewrap(sealed, { context, keys: [bob], add: [bob] }), code('ERR_SEALWIRE_NO_MATCHING_KEY'))
    assert.throws(() => rewrap(sealed, { context: {}, keys: [ring], add: [bob] }), code('ERR_SEALWIRE_CONTEXT_MISMATCH'))
    const t = Buffer.from(sealed)
    t[20] ^= 1 // message id
    assert.throws(() => rewrap(t, { context, keys: [ring], add: [bob] }), code('ERR_SEALWIRE_HEADER_AUTH_FAILED'))
  })

  test('a JavaScript provider can be added and can open', () => {
    const ring = new Keyring()
    ring.createKey('a')
    const kms = toyKms('toy-kms', 'k', 1)
    const sealed = seal(Buffer.from('payload'), { to: [ring] })
    const out = rewrap(sealed, { keys: [ring], add: [kms], remove: [{ provider: 'keyring', keyId: 'a' }] })
    assert.deepEqual(unseal(out, { keys: [kms] }), Buffer.from('payload'))
    assert.deepEqual(payloadOf(out), payloadOf(sealed))
  })
})

// ---------------------------------------------------------------------------------------------
// Keyring
// ---------------------------------------------------------------------------------------------

describe('keyring', () => {
  test('create, rotate with a cutoff, retire, rewrap to the primary version, remove a version', () => {
    const ring = Keyring.create()
    ring._setTime(1_000)
    assert.deepEqual(ring.keyIds, [])
    assert.equal(ring.defaultKey, null)
    assert.equal(ring.createKey('orders'), 1)
    assert.equal(ring.createKey('payroll'), 1)
    assert.throws(() => ring.createKey('orders'), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    assert.throws(() => ring.createKey('bad id!'), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    assert.equal(ring.defaultKey, 'orders')
    const ordersKey = ring.key('orders')
    assert.ok(ordersKey instanceof KeyringKey)
    assert.equal(ordersKey.keyId, 'orders')
    assert.equal(ordersKey.keyVersion, 1)
    assert.throws(() => ring.key('nope'), code('ERR_SEALWIRE_KEY_NOT_FOUND'))

    const pt = Buffer.from('rotating secrets')
    const v1 = seal(pt, { to: [ring] })
    assert.deepEqual(EnvelopeHeader.parse(v1).wrappedKeys, [{ provider: 'keyring', keyId: 'orders', version: 1 }])

    ring._setTime(1_500)
    assert.equal(ring.rotate('orders', { oldDecryptUntil: 3_000 }), 2)
    assert.equal(ring.primaryVersion('orders'), 2)
    assert.equal(ordersKey.keyVersion, 2, 'a KeyringKey sees the rotation')
    assert.deepEqual(ring.versions('orders').map((v) => ({ ...v })), [
      { version: 1, primary: false, createdAt: 1_000, retiredAt: 1_500, decryptUntil: 3_000 },
      { version: 2, primary: true, createdAt: 1_500 },
    ])
    const v2 = seal(pt, { to: [ordersKey] })
    assert.equal(EnvelopeHeader.parse(v2).wrappedKeys[0].version, 2)

    // Before the cutoff the retired version still opens; at the cutoff it refuses.
    assert.deepEqual(unseal(v1, { keys: [ring] }), pt)
    ring._setTime(3_000)
    assert.throws(() => unseal(v1, { keys: [ring] }), code('ERR_SEALWIRE_KEY_RETIRED'))
    assert.throws(() => unseal(v1, { keys: [ordersKey] }), code('ERR_SEALWIRE_KEY_RETIRED'))
    assert.deepEqual(unseal(v2, { keys: [ring] }), pt)
    // Clearing the cutoff restores it; rewrap moves the object to the primary version.
    ring.setDecryptUntil('orders', 1, null)
    assert.deepEqual(unseal(v1, { keys: [ring] }), pt)
    const moved = rewrap(v1, { keys: [ring], rewrapWith: [ring] })
    assert.deepEqual(EnvelopeHeader.parse(moved).wrappedKeys, [{ provider: 'keyring', keyId: 'orders', version: 2 }])
    assert.deepEqual(moved.subarray(EnvelopeHeader.parse(moved).headerLen), v1.subarray(EnvelopeHeader.parse(v1).headerLen))
    ring.setDecryptUntil('orders', 1, 2_000)
    assert.throws(() => unseal(v1, { keys: [ring] }), code('ERR_SEALWIRE_KEY_RETIRED'))
    assert.throws(() => rewrap(v1, { keys: [ring], rewrapWith: [ring] }), code('ERR_SEALWIRE_KEY_RETIRED'))
    assert.deepEqual(unseal(moved, { keys: [ring] }), pt)
    assert.throws(() => ring.setDecryptUntil('orders', 2, 5_000), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    assert.throws(() => ring.setDecryptUntil('orders', 9, 5_000), code('ERR_SEALWIRE_KEY_NOT_FOUND'))
    assert.throws(() => ring.rotate('nope'), code('ERR_SEALWIRE_KEY_NOT_FOUND'))
    assert.throws(() => ring.rotate('orders', { oldDecryptUntil: -5 }), code('ERR_SEALWIRE_INVALID_PARAMETER'))

    // Removing the retired version crypto-shreds what only it wrapped.
    assert.throws(() => ring.removeVersion('orders', 2), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    ring.removeVersion('orders', 1)
    ring.setDecryptUntil('orders', 2, null)
    assert.throws(() => unseal(v1, { keys: [ring] }), code('ERR_SEALWIRE_KEY_NOT_FOUND'))
    assert.deepEqual(unseal(moved, { keys: [ring] }), pt)

    // The default key.
    ring.setDefaultKey('payroll')
    assert.equal(ring.defaultKey, 'payroll')
    assert.equal(EnvelopeHeader.parse(seal(pt, { to: [ring] })).wrappedKeys[0].keyId, 'payroll')
    assert.throws(() => ring.setDefaultKey('nope'), code('ERR_SEALWIRE_KEY_NOT_FOUND'))
    ring._setTime(null)
  })

  test('save / load with a passphrase and a root key (sync and async); generation; mode 0600', async () => {
    const ring = new Keyring()
    ring.createKey('a')
    ring.createKey('b/c:d.e_f-g')
    ring.rotate('a')
    const sealed = seal(Buffer.from('kept'), { to: [ring.key('b/c:d.e_f-g'), ring] })
    assert.equal(ring.generation, 0)

    const p1 = tmpPath('pass.keyring')
    ring.save(p1, { passphrase: 'correct horse', kdf: FAST })
    assert.equal(ring.generation, 1)
    if (process.platform !== 'win32') assert.equal(statSync(p1).mode & 0o777, 0o600)
    const l1 = Keyring.load(p1, { passphrase: 'correct horse' })
    assert.equal(l1.generation, 1)
    assert.deepEqual(l1.keyIds, ['a', 'b/c:d.e_f-g'])
    assert.deepEqual(l1.versions('a').map((v) => v.version), [1, 2])
    assert.deepEqual(unseal(sealed, { keys: [l1] }), Buffer.from('kept'))
    assert.throws(() => Keyring.load(p1, { passphrase: 'wrong' }), code('ERR_SEALWIRE_DECRYPTION_FAILED'))
    assert.throws(() => Keyring.load(p1, { rootKey: RootKey.generate() }), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    // Passphrases may be bytes.
    await ring.saveAsync(p1, { passphrase: Buffer.from('bytes pass'), kdf: FAST })
    assert.equal(ring.generation, 2)
    const l2 = await Keyring.loadAsync(p1, { passphrase: new Uint8Array(Buffer.from('bytes pass')) })
    assert.equal(l2.generation, 2)
    await assert.rejects(Keyring.loadAsync(p1, { passphrase: 'nope' }), code('ERR_SEALWIRE_DECRYPTION_FAILED'))

    const root = RootKey.generate()
    const p2 = tmpPath('root.keyring')
    await ring.saveAsync(p2, { rootKey: root })
    assert.equal(ring.generation, 3)
    const l3 = Keyring.load(p2, { rootKey: RootKey.fromHex(root.toHex()) })
    assert.deepEqual(unseal(sealed, { keys: [l3.key('b/c:d.e_f-g')] }), Buffer.from('kept'))

    // Root key from the environment.
    const env = 'SEALWIRE_TEST_NODE_ROOT_KEY'
    assert.throws(() => RootKey.fromEnv(env), code('ERR_SEALWIRE_KEY_NOT_FOUND'))
    process.env[env] = ` ${root.toHex()}\n`
    try {
      assert.equal(Keyring.load(p2, { rootKey: RootKey.fromEnv(env) }).generation, 3)
    } finally {
      delete process.env[env]
    }
    const saved = process.env.SEALWIRE_KEYRING_ROOT_KEY
    process.env.SEALWIRE_KEYRING_ROOT_KEY = root.toHex()
    try {
      assert.equal(RootKey.fromEnv().toHex(), root.toHex())
    } finally {
      if (saved === undefined) delete process.env.SEALWIRE_KEYRING_ROOT_KEY
      else process.env.SEALWIRE_KEYRING_ROOT_KEY = saved
    }

    // Protection must be exactly one of the two; I/O errors have their code.
    assert.throws(() => ring.save(p2, {}), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    assert.throws(() => ring.save(p2, { passphrase: 'x', rootKey: root }), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    assert.throws(() => ring.save(p2, { passphrase: 'x', kdf: { memoryKib: 1 } }), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    await assert.rejects(ring.saveAsync(p2, {}), code('ERR_SEALWIRE_INVALID_PARAMETER'))
    assert.throws(() => Keyring.load(join(tmp, 'does-not-exist'), { rootKey: root }), code('ERR_SEALWIRE_IO'))
    assert.throws(() => ring.save(join(tmp, 'no-such-dir', 'k'), { rootKey: root }), code('ERR_SEALWIRE_IO'))
    await assert.rejects(Keyring.loadAsync(join(tmp, 'does-not-exist'), { rootKey: root }), code('ERR_SEALWIRE_IO'))
    // A modified file.
    const bytes = readFileSync(p2)
    bytes[bytes.length - 1] ^= 1
    writeFileSync(p2, bytes)
    assert.throws(() => Keyring.load(p2, { rootKey: root }), code('ERR_SEALWIRE_DECRYPTION_FAILED'))
    writeFileSync(p2, Buffer.from('not a keyring at all, clearly'))
    assert.throws(() => Keyring.load(p2, { rootKey: root }), code('ERR_SEALWIRE_BAD_MAGIC'))
  })

  test('handles expose no key material', () => {
    const ring = new Keyring()
    ring.createKey('k')
    const objs = [ring, ring.key('k'), RootKey.generate(), XWingKeyPair.generate(), XWingKeyPair.generate().publicKey]
    for (const o of objs) {
      assert.deepEqual(Object.keys(o), [])
      assert.equal(JSON.stringify(o), '{}')
      assert.doesNotMatch(inspect(o, { showHidden: true, depth: 5 }), /[0-9a-f]{32}/)
    }
  })
})

// ---------------------------------------------------------------------------------------------
// Providers written in JavaScript
// ---------------------------------------------------------------------------------------------

/** A toy KMS: AES-256-GCM under a local key, binding the wrap AAD (as a real one must). */
function toyKms(providerId, keyId, keyVersion) {
  const kek = crypto.randomBytes(32)
  return {
    providerId,
    keyId,
    keyVersion,
    calls: { wrap: 0, unwrap: 0 },
    wrap(dataKey, ctx) {
      this.calls.wrap++
      const iv = crypto.randomBytes(12)
      const c = crypto.createCipheriv('aes-256-gcm', kek, iv)
      c.setAAD(ctx.aad)
      return Buffer.concat([iv, c.update(dataKey), c.final(), c.getAuthTag()])
    },
    unwrap(wrapped, ctx) {
      this.calls.unwrap++
      try {
        const d = crypto.createDecipheriv('aes-256-gcm', kek, wrapped.subarray(0, 12))
        d.setAAD(ctx.aad)
        d.setAuthTag(wrapped.subarray(wrapped.length - 16))
        return Buffer.concat([d.update(wrapped.subarray(12, wrapped.length - 16)), d.final()])
      } catch (cause) {
        const e = new Error('toy KMS: the wrapped key does not authenticate', { cause })
        e.code = 'ERR_SEALWIRE_HEADER_AUTH_FAILED'
        throw e
      }
    },
  }
}

describe('JavaScript key providers', () => {
  test('callbacks get the data key and the wrap context; the data key buffer is wiped', () => {
    const seen = []
    let dekRef
    const p = {
      providerId: 'inspect',
      keyId: 'arn:aws:kms:eu-west-1:1:key/x',
      keyVersion: 4,
      wrap(dataKey, ctx) {
        assert.equal(this, p, '`this` is the provider object')
        assert.ok(Buffer.isBuffer(dataKey))
        assert.equal(dataKey.length, 32)
        assert.notDeepEqual(dataKey, Buffer.alloc(32))
        dekRef = dataKey
        seen.push({ ...ctx, dek: Buffer.from(dataKey) })
        return Buffer.concat([Buffer.from([0xaa]), dataKey])
      },
      unwrap(wrapped, ctx) {
        assert.equal(this, p)
        seen.push({ ...ctx, wrapped: Buffer.from(wrapped) })
        return new Uint8Array(wrapped.subarray(1))
      },
    }
    const context = { tenant: 'acme' }
    const sealed = seal(Buffer.from('hello'), { context, to: [p], suite: 'aes256gcm' })
    assert.deepEqual(dekRef, Buffer.alloc(32), 'the data key handed to wrap is zero-filled afterwards')
    const [w] = seen
    assert.equal(w.providerId, 'inspect')
    assert.equal(w.keyId, 'arn:aws:kms:eu-west-1:1:key/x')
    assert.equal(w.keyVersion, 4)
    assert.deepEqual({ ...w.context }, context)
    assert.equal(w.suite, 'aes-256-gcm')
    const h = EnvelopeHeader.parse(sealed)
    assert.deepEqual(w.messageId, h.messageId)
    assert.ok(w.aad.subarray(0, 26).equals(Buffer.from('SEALWIRE\0envelope-v1\0wrap\0', 'latin1')))
    assert.equal(w.aad.length, 26 + 32)
    assert.deepEqual(h.wrappedKeys, [{ provider: 'inspect', keyId: 'arn:aws:kms:eu-west-1:1:key/x', version: 4 }])

    assert.deepEqual(unseal(sealed, { context, keys: [p] }), Buffer.from('hello'))
    const u = seen[1]
    assert.deepEqual(u.wrapped, Buffer.concat([Buffer.from([0xaa]), w.dek]))
    assert.deepEqual(u.aad, w.aad)
    assert.equal(u.keyVersion, 4)
    assert.deepEqual(keyProviderInfo(p), { providerId: 'inspect', keyId: 'arn:aws:kms:eu-west-1:1:key/x', keyVersion: 4 })
  })

  test('a provider that binds the wrap AAD: a wrapped key moved to another envelope fails', () => {
    const kms = toyKms('toy-kms', 'k1', 1)
    const a = seal(Buffer.from('A'.repeat(100)), { to: [kms] })
    const b = seal(Buffer.from('B'.repeat(100)), { to: [kms] })
    assert.equal(kms.calls.wrap, 2)
    assert.deepEqual(unseal(a, { keys: [kms] }), Buffer.from('A'.repeat(100)))
    // b's header with a's wrapped key (same length: same position and size).
    const ha = EnvelopeHeader.parse(a)
    const hb = EnvelopeHeader.parse(b)
    assert.equal(ha.headerLen, hb.headerLen)
    const wrappedLen = 12 + 32 + 16
    const at = ha.headerLen - 32 - wrappedLen
    const mixed = Buffer.from(b)
    a.copy(mixed, at, at, at + wrappedLen)
    assert.throws(() => unseal(mixed, { keys: [kms] }), (e) => {
      code('ERR_SEALWIRE_HEADER_AUTH_FAILED')(e)
      assert.match(e.cause.message, /toy KMS/, 'the thrown error is the cause')
      return true
    })
  })

  test('thrown errors: mapped codes, ERR_SEALWIRE_PROVIDER_FAILED otherwise, with the cause', async () => {
    const ring = new Keyring()
    ring.createKey('k')
    const thrower = (err) => ({
      providerId: 'x',
      keyId: 'y',
      wrap() {
        throw err
      },
      unwrap() {
        throw err
      },
    })
    const denied = Object.assign(new Error('AccessDeniedException'), { code: 'AccessDenied' })
    assert.throws(() => seal(Buffer.alloc(1), { to: [ring, thrower(denied)] }), (e) => {
      code('ERR_SEALWIRE_PROVIDER_FAILED')(e)
      assert.equal(e.cause, denied)
      return true
    })
    await assert.rejects(sealAsync(Buffer.alloc(1), { to: [thrower(denied)] }), (e) => {
      code('ERR_SEALWIRE_PROVIDER_FAILED')(e)
      assert.equal(e.cause, denied)
      return true
    })
    assert.throws(() => createSealStream({ to: [thrower(denied)] }), code('ERR_SEALWIRE_PROVIDER_FAILED'))
    // Non-Error values can be thrown too.
    assert.throws(() => seal(Buffer.alloc(1), { to: [thrower('just a string')] }), (e) => {
      code('ERR_SEALWIRE_PROVIDER_FAILED')(e)
      assert.equal(e.cause, 'just a string')
      return true
    })
    // Unwrap failures: a mapped code is reported as such.
    const kms = toyKms('x', 'y', 0)
    const sealed = seal(Buffer.from('m'), { to: [kms] })
    for (const c of ['ERR_SEALWIRE_KEY_RETIRED', 'ERR_SEALWIRE_KEY_NOT_FOUND', 'ERR_SEALWIRE_HEADER_AUTH_FAILED', 'ERR_SEALWIRE_NO_MATCHING_KEY']) {
      const err = Object.assign(new Error(c), { code: c })
      assert.throws(() => unseal(sealed, { keys: [thrower(err)] }), (e) => {
        code(c)(e)
        assert.equal(e.cause, err)
        return true
      })
      await assert.rejects(unsealAsync(sealed, { keys: [thrower(err)] }), code(c))
    }
    assert.throws(() => unseal(sealed, { keys: [thrower(denied)] }), code('ERR_SEALWIRE_PROVIDER_FAILED'))
    // Another provider that opens wins over a failing one.
    const both = seal(Buffer.from('m'), { to: [kms, ring] })
    assert.deepEqual(unseal(both, { keys: [thrower(denied), ring] }), Buffer.from('m'))
  })

  test('bad return values: ERR_SEALWIRE_PROVIDER_FAILED', async () => {
    const returning = (value) => ({ providerId: 'r', keyId: 'k', wrap: () => value, unwrap: () => value })
    for (const v of [undefined, null, 'string', 42, {}, Buffer.alloc(0), Buffer.alloc(65536)]) {
      assert.throws(() => seal(Buffer.alloc(1), { to: [returning(v)] }), code('ERR_SEALWIRE_PROVIDER_FAILED'), inspect(v))
    }
    const promised = Promise.resolve(Buffer.alloc(40))
    assert.throws(() => seal(Buffer.alloc(1), { to: [returning(promised)] }), (e) => {
      code('ERR_SEALWIRE_PROVIDER_FAILED')(e)
      assert.match(e.message, /Promise/)
      return true
    })
    const ok = { providerId: 'r', keyId: 'k', wrap: (dek) => Buffer.from(dek) }
    const sealed = seal(Buffer.alloc(1), { to: [ok] })
    for (const v of [Buffer.alloc(31), Buffer.alloc(33), 'x']) {
      assert.throws(() => unseal(sealed, { keys: [returning(v)] }), code('ERR_SEALWIRE_PROVIDER_FAILED'))
    }
    // A provider without unwrap owns nothing it can open; one without wrap cannot seal.
    assert.throws(() => unseal(sealed, { keys: [ok] }), code('ERR_SEALWIRE_NO_MATCHING_KEY'))
    assert.throws(() => seal(Buffer.alloc(1), { to: [{ providerId: 'r', keyId: 'k', unwrap: (w) => w }] }), code('ERR_SEALWIRE_PROVIDER_FAILED'))
  })

  test('async variants with JavaScript providers; streams and files too', async () => {
    const kms = toyKms('toy-kms', 'k', 2)
    const pt = crypto.randomBytes(300_000)
    const sealed = await sealAsync(pt, { to: [kms], segmentSize: 1024 })
    assert.deepEqual(await unsealAsync(sealed, { keys: [kms] }), pt)
    assert.deepEqual(await through(sealed, createUnsealStream({ keys: [kms] })), pt)
    assert.deepEqual(unseal(await through(pt, createSealStream({ to: [kms] })), { keys: [kms] }), pt)
    await assert.rejects(unsealAsync(sealed.subarray(0, sealed.length - 1), { keys: [kms] }), code('ERR_SEALWIRE_DECRYPTION_FAILED'))
    await assert.rejects(unsealAsync(sealed.subarray(0, EnvelopeHeader.parse(sealed).headerLen), { keys: [kms] }), code('ERR_SEALWIRE_TRUNCATED'))
  })

  test('a callback cannot modify a keyring in use (no deadlock), but may read it', () => {
    const ring = new Keyring()
    ring.createKey('k')
    let inner
    const sneaky = {
      providerId: 's',
      keyId: 's',
      wrap(dek) {
        inner = seal(Buffer.from('nested'), { to: [ring] }) // reading: allowed
        ring.rotate('k') // writing while seal holds the keyring: refused
        return Buffer.from(dek)
      },
    }
    assert.throws(() => seal(Buffer.alloc(1), { to: [ring, sneaky] }), (e) => {
      code('ERR_SEALWIRE_PROVIDER_FAILED')(e)
      code('ERR_SEALWIRE_INVALID_PARAMETER')(e.cause)
      return true
    })
    assert.deepEqual(unseal(inner, { keys: [ring] }), Buffer.from('nested'))
    assert.equal(ring.primaryVersion('k'), 1)
    ring.rotate('k') // outside a callback: fine
    assert.equal(ring.primaryVersion('k'), 2)
  })
})

// ---------------------------------------------------------------------------------------------
// Async variants
// ---------------------------------------------------------------------------------------------

describe('async variants', () => {
  test('many concurrent seals and opens on the pool', async () => {
    const ring = new Keyring()
    ring.createKey('k')
    const carol = XWingKeyPair.generate()
    const inputs = Array.from({ length: 24 }, (_, i) => crypto.randomBytes(1000 * i + 1))
    const sealed = await Promise.all(inputs.map((pt, i) => sealAsync(pt, { context: { i: String(i) }, to: [ring, carol.publicKey] })))
    const opened = await Promise.all(sealed.map((s, i) => unsealAsync(s, { context: { i: String(i) }, keys: i % 2 ? [ring] : [carol] })))
    assert.deepEqual(opened, inputs)
    // A rotation while work is in flight is safe.
    const pending = inputs.map((pt) => sealAsync(pt, { to: [ring] }))
    ring.rotate('k')
    for (const s of await Promise.all(pending)) assert.ok(EnvelopeHeader.parse(s).wrappedKeys[0].version >= 1)
  })

  test('rejections carry codes; inputs may be reused at once', async () => {
    const ring = new Keyring()
    ring.createKey('k')
    const pt = Buffer.from('do not change me')
    const p = sealAsync(pt, { to: [ring] })
    pt.fill(0) // the input was copied
    assert.deepEqual(unseal(await p, { keys: [ring] }), Buffer.from('do not change me'))
    const sealed = await p
    await assert.rejects(unsealAsync(sealed, { context: { a: 'b' }, keys: [ring] }), code('ERR_SEALWIRE_CONTEXT_MISMATCH'))
    await assert.rejects(unsealAsync(Buffer.alloc(0), { keys: [ring] }), code('ERR_SEALWIRE_TRUNCATED'))
    const cut = sealed.subarray(0, EnvelopeHeader.parse(sealed).headerLen)
    await assert.rejects(unsealAsync(cut, { keys: [ring] }), code('ERR_SEALWIRE_TRUNCATED'))
    ring._setTime(10)
    ring.rotate('k', { oldDecryptUntil: 20 })
    ring._setTime(20)
    await assert.rejects(unsealAsync(sealed, { keys: [ring] }), code('ERR_SEALWIRE_KEY_RETIRED'))
  })
})

test('the entry point re-exports the generated bindings and adds the helpers', async () => {
  const entry = await import('../sealwire.js')
  for (const [name, value] of Object.entries(generated)) {
    if (name === 'default') continue
    assert.equal(entry[name], value, name)
  }
  for (const name of ['createSealStream', 'createUnsealStream', 'sealFile', 'unsealFile']) {
    assert.equal(typeof entry[name], 'function', name)
  }
  assert.ok(Identity.generate().public instanceof PublicIdentity)
})
