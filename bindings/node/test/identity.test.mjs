// Behaviour of the Node binding beyond the shared vectors: errors and their codes, strict
// decoding, the reserved signing prefix, export options, async variants, and that nothing
// secret or identifying leaks through inspection.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { inspect } from 'node:util'
import crypto from 'node:crypto'
import { createRequire } from 'node:module'

import { Identity, PublicIdentity, version } from '../index.js'

const require = createRequire(import.meta.url)
const FAST = Object.freeze({ memoryKib: 19456, iterations: 2, lanes: 1 }) // KdfParams::MINIMUM
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
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
]

/** assert.throws / assert.rejects validator: an Error whose own `code` is `code`. */
const sealwireError = (code) => (err) => {
  assert.ok(err instanceof Error, 'an Error instance')
  assert.ok(Object.hasOwn(err, 'code'), '`code` is set on the Error object itself')
  assert.equal(err.code, code)
  assert.ok(CODES.includes(err.code))
  return true
}

const SEED = Buffer.alloc(32, 0x42)
const XSECRET = Buffer.alloc(32, 0x24)

describe('module', () => {
  test('exports version, Identity, PublicIdentity', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
    assert.equal(typeof version, 'string')
    assert.equal(version, pkg.version)
    assert.equal(typeof Identity, 'function')
    assert.equal(typeof PublicIdentity, 'function')
    const cjs = require('..')
    assert.equal(cjs.Identity, Identity)
    assert.equal(cjs.version, version)
  })

  test('the classes expose exactly the documented API (no secret getters)', () => {
    const own = (o) => Object.getOwnPropertyNames(o).filter((n) => !['length', 'name', 'prototype', 'arguments', 'caller'].includes(n)).sort()
    assert.deepEqual(own(Identity), ['fromSecretBytes', 'generate', 'import', 'importAsync'])
    assert.deepEqual(own(Identity.prototype), ['constructor', 'export', 'exportAsync', 'public', 'sign'])
    assert.deepEqual(own(PublicIdentity), ['fromBytes'])
    assert.deepEqual(own(PublicIdentity.prototype), ['constructor', 'did', 'equals', 'fingerprint', 'matchesDid', 'toBytes', 'verify'])
  })

  test('the constructors cannot be called directly', () => {
    assert.throws(() => new Identity())
    assert.throws(() => new PublicIdentity())
  })
})

describe('Identity', () => {
  test('generate gives distinct identities that sign and verify', () => {
    const a = Identity.generate()
    const b = Identity.generate()
    assert.ok(a instanceof Identity)
    assert.equal(a.public.equals(b.public), false)
    assert.notEqual(a.public.did, b.public.did)
    assert.match(a.public.did, /^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]+$/)
    assert.match(a.public.fingerprint, /^(\d{5} ){11}\d{5}$/)
    const msg = Buffer.from('hello, agent')
    const sig = a.sign(msg)
    assert.ok(Buffer.isBuffer(sig))
    assert.equal(sig.length, 64)
    a.public.verify(msg, sig)
    assert.deepEqual(a.sign(msg), sig, 'Ed25519 is deterministic')
    assert.throws(() => b.public.verify(msg, sig), sealwireError('ERR_SEALWIRE_BAD_SIGNATURE'))
  })

  test('the public getter returns an equal, independent PublicIdentity each time', () => {
    const id = Identity.generate()
    const p1 = id.public
    const p2 = id.public
    assert.ok(p1 instanceof PublicIdentity)
    assert.ok(p1.equals(p2))
    assert.deepEqual(p1.toBytes(), p2.toBytes())
    const bytes = p1.toBytes()
    bytes.fill(0) // mutating the returned Buffer changes nothing inside
    assert.deepEqual(p2.toBytes(), id.public.toBytes())
    assert.notDeepEqual(id.public.toBytes(), bytes)
  })

  test('fromSecretBytes is deterministic and checks lengths', () => {
    const a = Identity.fromSecretBytes(SEED, XSECRET)
    const b = Identity.fromSecretBytes(new Uint8Array(SEED), new Uint8Array(XSECRET))
    assert.ok(a.public.equals(b.public))
    assert.throws(() => Identity.fromSecretBytes(SEED.subarray(1), XSECRET), sealwireError('ERR_SEALWIRE_INVALID_LENGTH'))
    assert.throws(() => Identity.fromSecretBytes(SEED, Buffer.alloc(33)), sealwireError('ERR_SEALWIRE_INVALID_LENGTH'))
    assert.throws(() => Identity.fromSecretBytes(Buffer.alloc(0), XSECRET), sealwireError('ERR_SEALWIRE_INVALID_LENGTH'))
  })

  test('sign refuses messages starting with "SEALWIRE\\0"', () => {
    const id = Identity.generate()
    const reserved = Buffer.from('SEALWIRE\0', 'latin1')
    assert.equal(reserved.length, 9)
    for (const msg of [reserved, Buffer.concat([reserved, Buffer.from('public-identity\0anything')])]) {
      assert.throws(() => id.sign(msg), sealwireError('ERR_SEALWIRE_INVALID_PARAMETER'))
      assert.throws(() => id.sign(new Uint8Array(msg)), sealwireError('ERR_SEALWIRE_INVALID_PARAMETER'))
    }
    // Only the exact prefix is reserved.
    for (const ok of ['SEALWIRE', 'SEALWIRE\x01', 'sealwire\0', 'xSEALWIRE\0', '']) {
      const msg = Buffer.from(ok, 'latin1')
      id.public.verify(msg, id.sign(msg))
    }
  })

  test('signatures verify with node:crypto (independent Ed25519)', () => {
    const id = Identity.generate()
    const raw = id.public.toBytes().subarray(5, 37)
    const spki = crypto.createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' })
    const jwk = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' })
    for (const len of [0, 1, 31, 32, 64, 1000, 65536]) {
      const msg = crypto.randomBytes(len)
      const sig = id.sign(msg)
      assert.equal(crypto.verify(null, msg, spki, sig), true)
      assert.equal(crypto.verify(null, msg, jwk, sig), true)
      const tampered = Buffer.from(sig)
      tampered[len % 64] ^= 1
      assert.equal(crypto.verify(null, msg, spki, tampered), false)
      assert.throws(() => id.public.verify(msg, tampered), sealwireError('ERR_SEALWIRE_BAD_SIGNATURE'))
    }
  })

  test('verify: wrong message, flipped bits, wrong length', () => {
    const id = Identity.generate()
    const msg = Buffer.from('payload')
    const sig = id.sign(msg)
    assert.throws(() => id.public.verify(Buffer.from('payloaD'), sig), sealwireError('ERR_SEALWIRE_BAD_SIGNATURE'))
    for (const bit of [0, 255, 256, 511]) {
      const bad = Buffer.from(sig)
      bad[bit >> 3] ^= 1 << (bit & 7)
      assert.throws(() => id.public.verify(msg, bad), sealwireError('ERR_SEALWIRE_BAD_SIGNATURE'))
    }
    assert.throws(() => id.public.verify(msg, sig.subarray(0, 63)), sealwireError('ERR_SEALWIRE_INVALID_LENGTH'))
    assert.throws(() => id.public.verify(msg, Buffer.concat([sig, Buffer.alloc(1)])), sealwireError('ERR_SEALWIRE_INVALID_LENGTH'))
    assert.throws(() => id.public.verify(msg, Buffer.alloc(0)), sealwireError('ERR_SEALWIRE_INVALID_LENGTH'))
  })

  test('argument type errors throw (napi codes)', () => {
    const id = Identity.generate()
    assert.throws(() => id.sign('a string'), (e) => e instanceof Error && typeof e.code === 'string')
    assert.throws(() => id.sign(), Error)
    assert.throws(() => id.sign([1, 2, 3]), Error)
    assert.throws(() => id.sign(new Uint16Array(4)), Error)
    assert.throws(() => PublicIdentity.fromBytes(null), Error)
    assert.throws(() => id.public.equals({}), Error)
    assert.throws(() => id.export(42, FAST), Error)
  })
})

describe('PublicIdentity decoding', () => {
  const id = Identity.fromSecretBytes(SEED, XSECRET)
  const good = id.public.toBytes()

  test('round trip, including from views with a byte offset', () => {
    assert.equal(good.length, 134)
    assert.ok(PublicIdentity.fromBytes(good).equals(id.public))
    const backing = new Uint8Array(good.length + 20)
    backing.set(good, 7)
    const view = backing.subarray(7, 7 + good.length)
    assert.ok(PublicIdentity.fromBytes(view).equals(id.public))
    const pooled = Buffer.from(good.toString('hex'), 'hex') // small Buffers share a pool
    assert.ok(PublicIdentity.fromBytes(pooled).equals(id.public))
  })

  test('every truncation is ERR_SEALWIRE_TRUNCATED', () => {
    for (let n = 0; n < good.length; n++) {
      assert.throws(() => PublicIdentity.fromBytes(good.subarray(0, n)), sealwireError('ERR_SEALWIRE_TRUNCATED'), `length ${n}`)
    }
  })

  test('trailing bytes are ERR_SEALWIRE_TRAILING_BYTES', () => {
    for (const extra of [Buffer.alloc(1), Buffer.from([0xff]), Buffer.alloc(64)]) {
      assert.throws(() => PublicIdentity.fromBytes(Buffer.concat([good, extra])), sealwireError('ERR_SEALWIRE_TRAILING_BYTES'))
    }
  })

  test('any other version is ERR_SEALWIRE_UNSUPPORTED_VERSION', () => {
    for (const v of [0, 2, 3, 0x7f, 0xff]) {
      const bad = Buffer.from(good)
      bad[4] = v
      assert.throws(() => PublicIdentity.fromBytes(bad), sealwireError('ERR_SEALWIRE_UNSUPPORTED_VERSION'), `version ${v}`)
    }
  })

  test('wrong magic is ERR_SEALWIRE_BAD_MAGIC', () => {
    for (let i = 0; i < 4; i++) {
      const bad = Buffer.from(good)
      bad[i] ^= 0x20
      assert.throws(() => PublicIdentity.fromBytes(bad), sealwireError('ERR_SEALWIRE_BAD_MAGIC'))
    }
  })

  test('any flipped bit in the keys or binding signature is rejected', () => {
    for (let byte = 5; byte < good.length; byte++) {
      if (byte === 69) continue // the optional-key count: UNSUPPORTED_ALGORITHM, below
      const bad = Buffer.from(good)
      bad[byte] ^= 0x01
      assert.throws(
        () => PublicIdentity.fromBytes(bad),
        (e) => ['ERR_SEALWIRE_BAD_SIGNATURE', 'ERR_SEALWIRE_INVALID_PUBLIC_KEY'].includes(e.code),
        `byte ${byte}`,
      )
    }
    const bad = Buffer.from(good)
    bad[69] = 1
    assert.throws(() => PublicIdentity.fromBytes(bad), sealwireError('ERR_SEALWIRE_UNSUPPORTED_ALGORITHM'))
  })

  test('matchesDid is false for other or malformed strings', () => {
    const pub = id.public
    assert.equal(pub.matchesDid(pub.did), true)
    for (const s of ['', 'did:key:', pub.did.slice(0, -1), pub.did + '1', pub.did.toUpperCase(), Identity.generate().public.did, 'did:web:example.com']) {
      assert.equal(pub.matchesDid(s), false, JSON.stringify(s))
    }
  })
})

describe('export / import', () => {
  const id = Identity.fromSecretBytes(SEED, XSECRET)

  test('round trip with explicit options; the header records them', () => {
    const blob = id.export('correct horse', FAST)
    assert.ok(Buffer.isBuffer(blob))
    assert.equal(blob.subarray(0, 4).toString('latin1'), 'SWIK')
    assert.equal(blob.readUInt32BE(6), 19456)
    assert.equal(blob.readUInt32BE(10), 2)
    assert.equal(blob.readUInt32BE(14), 1)
    assert.ok(Identity.import(blob, 'correct horse').public.equals(id.public))
    assert.notDeepEqual(id.export('correct horse', FAST), blob, 'fresh salt and nonce each time')
  })

  test('partial options take the defaults for the missing fields', () => {
    const blob = id.export('pw', { memoryKib: 19456 })
    assert.equal(blob.readUInt32BE(6), 19456)
    assert.equal(blob.readUInt32BE(10), 3)
    assert.equal(blob.readUInt32BE(14), 4)
    assert.ok(Identity.import(blob, 'pw').public.equals(id.public))
  })

  test('string passphrases are UTF-8, interchangeable with bytes', () => {
    const pass = 'pässwörd 🔑'
    const blob = id.export(pass, FAST)
    assert.ok(Identity.import(blob, Buffer.from(pass, 'utf8')).public.equals(id.public))
    const blob2 = id.export(new TextEncoder().encode(pass), FAST)
    assert.ok(Identity.import(blob2, pass).public.equals(id.public))
    assert.throws(() => Identity.import(blob, Buffer.from(pass, 'latin1')), sealwireError('ERR_SEALWIRE_DECRYPTION_FAILED'))
  })

  test('wrong passphrase is ERR_SEALWIRE_DECRYPTION_FAILED, and the message does not echo it', () => {
    const blob = id.export('right one', FAST)
    for (const wrong of ['wrong one', 'right one ', '', Buffer.from('right on')]) {
      assert.throws(
        () => Identity.import(blob, wrong),
        (e) => sealwireError('ERR_SEALWIRE_DECRYPTION_FAILED')(e) && !e.message.includes('one'),
      )
    }
  })

  test('truncated, trailing, wrong version, wrong magic, modified', () => {
    const blob = id.export('pw', FAST)
    for (const n of [0, 1, 3, 4, 5, 6, 17, 58, 59, blob.length - 1]) {
      assert.throws(() => Identity.import(blob.subarray(0, n), 'pw'), sealwireError('ERR_SEALWIRE_TRUNCATED'), `length ${n}`)
    }
    assert.throws(() => Identity.import(Buffer.concat([blob, Buffer.alloc(1)]), 'pw'), sealwireError('ERR_SEALWIRE_TRAILING_BYTES'))
    for (const v of [0, 2, 0xff]) {
      const bad = Buffer.from(blob)
      bad[4] = v
      assert.throws(() => Identity.import(bad, 'pw'), sealwireError('ERR_SEALWIRE_UNSUPPORTED_VERSION'))
    }
    const magic = Buffer.from(blob)
    magic[0] = 0
    assert.throws(() => Identity.import(magic, 'pw'), sealwireError('ERR_SEALWIRE_BAD_MAGIC'))
    const kdf = Buffer.from(blob)
    kdf[5] = 2
    assert.throws(() => Identity.import(kdf, 'pw'), sealwireError('ERR_SEALWIRE_UNSUPPORTED_ALGORITHM'))
    const huge = Buffer.from(blob)
    huge.writeUInt32BE(0xffffffff, 6)
    assert.throws(() => Identity.import(huge, 'pw'), sealwireError('ERR_SEALWIRE_MALFORMED'))
    for (const at of [20, 40, blob.length - 1]) {
      const bad = Buffer.from(blob)
      bad[at] ^= 1
      assert.throws(() => Identity.import(bad, 'pw'), sealwireError('ERR_SEALWIRE_DECRYPTION_FAILED'), `byte ${at}`)
    }
  })

  test('out-of-range or non-integer options are ERR_SEALWIRE_INVALID_PARAMETER', () => {
    const bad = [
      { memoryKib: 1024 },
      { memoryKib: 4 * 1024 * 1024 + 1 },
      { memoryKib: 19456, iterations: 1 }, // below 19 MiB x 2
      { iterations: 0 },
      { iterations: 65 },
      { lanes: 0 },
      { lanes: 17 },
      { lanes: 1.5 },
      { lanes: -1 },
      { iterations: NaN },
      { memoryKib: Infinity },
      { memoryKib: 2 ** 32 },
    ]
    for (const options of bad) {
      assert.throws(() => id.export('pw', options), sealwireError('ERR_SEALWIRE_INVALID_PARAMETER'), JSON.stringify(options))
    }
  })

  test('default parameters (64 MiB, 3 passes, 4 lanes)', () => {
    for (const options of [undefined, null, {}]) {
      const blob = options === undefined ? id.export('pw') : id.export('pw', options)
      assert.equal(blob.readUInt32BE(6), 65536)
      assert.equal(blob.readUInt32BE(10), 3)
      assert.equal(blob.readUInt32BE(14), 4)
      if (options === undefined) assert.ok(Identity.import(blob, 'pw').public.equals(id.public))
    }
  })
})

describe('async variants', () => {
  const id = Identity.fromSecretBytes(SEED, XSECRET)

  test('exportAsync / importAsync round trip', async () => {
    const p = id.exportAsync('async pw', FAST)
    assert.ok(p instanceof Promise)
    const blob = await p
    assert.ok(Buffer.isBuffer(blob))
    assert.equal(blob.readUInt32BE(6), 19456)
    const back = await Identity.importAsync(blob, 'async pw')
    assert.ok(back instanceof Identity)
    assert.ok(back.public.equals(id.public))
    assert.ok(Identity.import(blob, Buffer.from('async pw')).public.equals(id.public), 'sync and async formats agree')
    const viaBytes = await Identity.importAsync(new Uint8Array(id.export('x', FAST)), new TextEncoder().encode('x'))
    assert.ok(viaBytes.public.equals(id.public))
  })

  test('rejections carry the sealwire code (not a synchronous throw)', async () => {
    const blob = await id.exportAsync('pw', FAST)
    let p
    assert.doesNotThrow(() => {
      p = Identity.importAsync(blob, 'not pw')
    })
    await assert.rejects(p, sealwireError('ERR_SEALWIRE_DECRYPTION_FAILED'))
    await assert.rejects(Identity.importAsync(blob.subarray(0, 10), 'pw'), sealwireError('ERR_SEALWIRE_TRUNCATED'))
    await assert.rejects(Identity.importAsync(Buffer.concat([blob, Buffer.alloc(1)]), 'pw'), sealwireError('ERR_SEALWIRE_TRAILING_BYTES'))
    const v2 = Buffer.from(blob)
    v2[4] = 2
    await assert.rejects(Identity.importAsync(v2, 'pw'), sealwireError('ERR_SEALWIRE_UNSUPPORTED_VERSION'))
    let q
    assert.doesNotThrow(() => {
      q = id.exportAsync('pw', { lanes: 0 })
    })
    await assert.rejects(q, sealwireError('ERR_SEALWIRE_INVALID_PARAMETER'))
    await assert.rejects(id.exportAsync('pw', { memoryKib: 1.5 }), sealwireError('ERR_SEALWIRE_INVALID_PARAMETER'))
  })

  test('the argument buffers are copied: mutating them after the call changes nothing', async () => {
    const pass = Buffer.from('mutable')
    const p = id.exportAsync(pass, FAST)
    pass.fill(0)
    const blob = await p
    assert.ok(Identity.import(blob, 'mutable').public.equals(id.public))
    const copy = Buffer.from(blob)
    const q = Identity.importAsync(copy, 'mutable')
    copy.fill(0)
    assert.ok((await q).public.equals(id.public))
  })

  test('they run off the event loop, several at once', async () => {
    let ticks = 0
    let done = false
    const spin = () => {
      if (!done) {
        ticks++
        setImmediate(spin)
      }
    }
    setImmediate(spin)
    const blobs = await Promise.all([id.exportAsync('a'), id.exportAsync('b', FAST), id.exportAsync('c', FAST)])
    const ids = await Promise.all([
      Identity.importAsync(blobs[0], 'a'),
      Identity.importAsync(blobs[1], 'b'),
      Identity.importAsync(blobs[2], 'c'),
    ])
    done = true
    for (const back of ids) assert.ok(back.public.equals(id.public))
    assert.ok(ticks > 5, `the event loop kept turning (${ticks} turns)`)
  })
})

describe('no secrets or identifying data in string forms', () => {
  const id = Identity.fromSecretBytes(SEED, XSECRET)
  const pub = id.public
  const forbidden = [
    SEED.toString('hex'),
    XSECRET.toString('hex'),
    SEED.toString('base64'),
    pub.did,
    pub.did.slice(8),
    pub.fingerprint,
    pub.fingerprint.slice(0, 11),
    pub.toBytes().subarray(5, 37).toString('hex'),
    pub.toBytes().subarray(37, 69).toString('hex'),
  ]
  const check = (text, what) => {
    for (const f of forbidden) assert.ok(!text.includes(f), `${what} leaks ${f.slice(0, 12)}...`)
  }

  test('inspect, toString, JSON, keys', () => {
    for (const [what, obj] of [['Identity', id], ['PublicIdentity', pub]]) {
      check(inspect(obj), `inspect(${what})`)
      check(inspect(obj, { showHidden: true, depth: 5 }), `inspect(${what}, showHidden)`)
      check(String(obj), `String(${what})`)
      check(`${obj}`, `template(${what})`)
      check(JSON.stringify(obj), `JSON(${what})`)
      check(JSON.stringify({ wrapped: obj }), `JSON(nested ${what})`)
      assert.deepEqual(Object.keys(obj), [])
      assert.equal(JSON.stringify(obj), '{}')
    }
    assert.match(inspect(id), /^Identity \{\s*\}$/)
    assert.match(inspect(pub), /^PublicIdentity \{\s*\}$/)
  })

  test('error messages contain no secrets or identities', () => {
    const msgs = []
    const grab = (f) => {
      try {
        f()
      } catch (e) {
        msgs.push(e.message, String(e), inspect(e))
      }
    }
    grab(() => Identity.fromSecretBytes(SEED.subarray(0, 31), XSECRET))
    grab(() => Identity.fromSecretBytes(SEED, XSECRET.subarray(0, 31)))
    grab(() => id.sign(Buffer.concat([Buffer.from('SEALWIRE\0', 'latin1'), SEED])))
    grab(() => pub.verify(Buffer.from('m'), Buffer.alloc(64)))
    grab(() => PublicIdentity.fromBytes(pub.toBytes().subarray(0, 100)))
    grab(() => Identity.import(id.export(SEED.toString('hex'), FAST), XSECRET.toString('hex')))
    assert.equal(msgs.length, 18)
    for (const m of msgs) check(m, 'error')
  })
})
