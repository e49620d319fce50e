// Remote KMS keys (KmsKey: Vault Transit, AWS KMS) and the data-key cache from Node.
//
// Two groups:
// * always run (no server needed): URI parsing and settings, secrets never shown, the
//   synchronous forms refusing a KmsKey without any network call, KmsKey + JavaScript
//   provider refused, the event loop staying free while a KMS call waits (an in-process
//   HTTP server stands in for Vault), DataKeyCache over a local keyring;
// * against REAL servers (OpenBao and moto, started by scripts/kms-servers.sh): read from the
//   env file named by SEALWIRE_KMS_ENV_FILE (SEALWIRE_TEST_* variables in the environment
//   take precedence). Without it these tests SKIP loudly, unless SEALWIRE_KMS_REQUIRED=1
//   (bindings/node/test-kms.sh), which makes them fail instead — the convention of
//   core/tests/kms_*.rs.
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { createServer } from 'node:net'
import http from 'node:http'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import crypto from 'node:crypto'

import {
  seal,
  sealAsync,
  unseal,
  unsealAsync,
  rewrap,
  rewrapAsync,
  keyProviderInfo,
  EnvelopeHeader,
  EnvelopeSealer,
  EnvelopeOpener,
  Keyring,
  KmsKey,
  DataKeyCache,
  createSealStream,
  createUnsealStream,
  sealFile,
  unsealFile,
} from '../sealwire.js'

// ------------------------------------------------------------------------------ settings

const NEEDS = [
  'SEALWIRE_TEST_VAULT_ADDR',
  'SEALWIRE_TEST_VAULT_TOKEN',
  'SEALWIRE_TEST_AWS_ENDPOINT',
  'SEALWIRE_TEST_AWS_REGION',
  'SEALWIRE_TEST_AWS_ACCESS_KEY_ID',
  'SEALWIRE_TEST_AWS_SECRET_ACCESS_KEY',
  'SEALWIRE_TEST_AWS_KEY_ARN',
  'SEALWIRE_TEST_AWS_KEY2_ARN',
]

function loadSettings() {
  const s = {}
  const file = process.env.SEALWIRE_KMS_ENV_FILE
  if (file) {
    let text = ''
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      // missing file: reported below as missing settings
    }
    for (const line of text.split('\n')) {
      const i = line.indexOf('=')
      if (i > 0) s[line.slice(0, i).trim()] = line.slice(i + 1).trim()
    }
  }
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('SEALWIRE_TEST_')) s[k] = v
  }
  return s
}

const S = loadSettings()
const missing = NEEDS.filter((n) => !S[n])
const REQUIRED = process.env.SEALWIRE_KMS_REQUIRED === '1'
// With servers: run. Without: skip (a string explains why), or fail when required.
const serverTest = missing.length === 0 || REQUIRED ? {} : { skip: `KMS test servers not configured (missing ${missing.join(', ')})` }
if (missing.length > 0 && !REQUIRED) {
  process.stderr.write(
    `\n*** SKIPPING the KMS server tests of bindings/node/test/kms.test.mjs: missing ${missing.join(', ')}.\n` +
      '*** Run `bash scripts/test-kms.sh`, or `bash scripts/kms-servers.sh start` and set SEALWIRE_KMS_ENV_FILE.\n',
  )
}
function requireServers() {
  if (missing.length > 0) {
    assert.fail(`KMS test servers are required (SEALWIRE_KMS_REQUIRED=1) but not configured: missing ${missing.join(', ')}`)
  }
}

// ------------------------------------------------------------------------------ helpers

const CTX = { tenant: 'acme', purpose: 'node-kms-test' }
const unique = (prefix) => `${prefix}-${crypto.randomBytes(6).toString('hex')}`
const data = (n, seed = 7) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff))

/** A loopback port with nothing listening (bound, then released). */
async function closedPort() {
  const srv = createServer()
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const { port } = srv.address()
  await new Promise((resolve) => srv.close(resolve))
  return port
}

/** Raw Vault admin call (key setup the provider does not offer). */
async function vaultAdmin(method, path, body) {
  const r = await fetch(`${S.SEALWIRE_TEST_VAULT_ADDR}/v1/${path}`, {
    method,
    headers: { 'X-Vault-Token': S.SEALWIRE_TEST_VAULT_TOKEN, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  await r.arrayBuffer()
  assert.ok(r.status < 300, `vault ${method} ${path}: HTTP ${r.status}`)
}

const vaultSettings = (extra = {}) => ({
  vaultAddress: S.SEALWIRE_TEST_VAULT_ADDR,
  vaultToken: S.SEALWIRE_TEST_VAULT_TOKEN,
  ...extra,
})
const vaultKey = (name, extra) => KmsKey.fromUri(`vault://${name}`, vaultSettings(extra))

/** A new derived Transit key on the test server, and a KmsKey for it. */
async function freshVaultKey() {
  const name = unique('node')
  await vaultAdmin('POST', `transit/keys/${name}`, { derived: true })
  return { name, key: vaultKey(name) }
}

const awsUri = (arn, endpoint = S.SEALWIRE_TEST_AWS_ENDPOINT) =>
  `aws-kms://${arn}?region=${S.SEALWIRE_TEST_AWS_REGION}&endpoint=${encodeURIComponent(endpoint)}`
const awsSettings = (extra = {}) => ({
  awsAccessKeyId: S.SEALWIRE_TEST_AWS_ACCESS_KEY_ID,
  awsSecretAccessKey: S.SEALWIRE_TEST_AWS_SECRET_ACCESS_KEY,
  ...extra,
})
const awsKey = (arn = S.SEALWIRE_TEST_AWS_KEY_ARN, endpoint, extra) => KmsKey.fromUri(awsUri(arn, endpoint), awsSettings(extra))

/** Every secret of the test configuration: none may appear in an error message. */
const secrets = () =>
  [S.SEALWIRE_TEST_AWS_SECRET_ACCESS_KEY, S.SEALWIRE_TEST_VAULT_TOKEN].filter((v) => typeof v === 'string' && v.length >= 4)

/** Await `promise`'s rejection with `code`; check no secret leaks into it; return the error. */
async function rejectsWith(promise, code, extraSecrets = []) {
  let err
  await assert.rejects(promise, (e) => {
    err = e
    return true
  })
  assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`)
  assert.ok(err instanceof Error)
  for (const s of [...secrets(), ...extraSecrets]) {
    assert.ok(!err.message.includes(s), 'an error message contains a secret')
    assert.ok(!inspect(err).includes(s), 'an inspected error contains a secret')
  }
  return err
}

function throwsWith(fn, code, pattern) {
  let err
  assert.throws(fn, (e) => {
    err = e
    return true
  })
  assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`)
  if (pattern) assert.match(err.message, pattern)
  return err
}

/** Offsets of the Vault entries (`vault:vN:` + base64) in an envelope: the wrapped bytes,
 * whose length is the u16 just before them (docs/FORMATS.md, "Wrapped-key entry"). */
function vaultEntries(buf) {
  const out = []
  let i = buf.indexOf('vault:v')
  while (i >= 0) {
    const w = buf.readUInt16BE(i - 2)
    assert.match(buf.subarray(i, i + w).toString('latin1'), /^vault:v\d+:[A-Za-z0-9+/=]+$/)
    out.push({ start: i, end: i + w })
    i = buf.indexOf('vault:v', i + w)
  }
  return out
}

// ==================================================================== always run (no server)

describe('KmsKey without a server', () => {
  const TOKEN = 'hvs.node-test-secret-token-6f1c2a'
  const AWS_SECRET = 'node-test-aws-secret-Zq8xP0wLk3'
  let deadAddr

  before(async () => {
    deadAddr = `http://127.0.0.1:${await closedPort()}`
  })

  test('fromUri: getters, key ids, no network call, no secret in inspect', () => {
    const v = KmsKey.fromUri('vault://orders%2Dv?mount=kv%2Ftransit', { vaultAddress: deadAddr, vaultToken: TOKEN })
    assert.equal(v.providerId, 'vault-transit')
    assert.equal(v.keyId, 'orders-v')
    assert.deepEqual(v.stats(), { operations: 0, httpRequests: 0, retries: 0, failures: 0 })
    const arn = 'arn:aws:kms:eu-west-1:111122223333:key/abc'
    const a = KmsKey.fromUri(`aws-kms://${arn}?endpoint=${encodeURIComponent(deadAddr)}`, {
      awsAccessKeyId: 'AKIANODETEST',
      awsSecretAccessKey: AWS_SECRET,
    })
    assert.equal(a.providerId, 'aws-kms')
    assert.equal(a.keyId, arn)
    assert.deepEqual(keyProviderInfo(a), { providerId: 'aws-kms', keyId: arn, keyVersion: 0 })
    for (const k of [v, a]) {
      const shown = inspect(k, { showHidden: true, depth: 5 }) + JSON.stringify(k) + String(k)
      assert.ok(!shown.includes(TOKEN) && !shown.includes(AWS_SECRET), shown)
      assert.deepEqual(Object.keys(k), [])
    }
    assert.throws(() => new KmsKey(), /constructor/)
  })

  test('fromUri refuses malformed URIs and missing configuration with INVALID_PARAMETER', () => {
    const s = { vaultAddress: deadAddr, vaultToken: TOKEN }
    for (const bad of ['vault:/k', 'vault://', 'gcp://k', 'vault://k?mount', 'vault://k?foo=1', 'vault://k?mount=a&mount=b', 'vault://k?mount=', 'vault://%zz']) {
      const e = throwsWith(() => KmsKey.fromUri(bad, s), 'ERR_SEALWIRE_INVALID_PARAMETER')
      assert.ok(!e.message.includes(TOKEN))
    }
    // AWS: access key id and secret go together.
    throwsWith(
      () => KmsKey.fromUri('aws-kms://arn:aws:kms:eu-west-1:1:key/abc', { awsAccessKeyId: 'AKIA' }),
      'ERR_SEALWIRE_INVALID_PARAMETER',
    )
    // Nothing in the environment and nothing given: the message says what is missing.
    const saved = {}
    for (const n of ['VAULT_ADDR', 'BAO_ADDR', 'VAULT_TOKEN', 'BAO_TOKEN']) {
      saved[n] = process.env[n]
      delete process.env[n]
    }
    try {
      throwsWith(() => KmsKey.fromUri('vault://k'), 'ERR_SEALWIRE_INVALID_PARAMETER', /Vault address/)
      throwsWith(() => KmsKey.fromUri('vault://k', { vaultAddress: deadAddr }), 'ERR_SEALWIRE_INVALID_PARAMETER', /Vault token/)
      // The environment is the fallback.
      process.env.VAULT_ADDR = deadAddr
      process.env.VAULT_TOKEN = TOKEN
      assert.equal(KmsKey.fromUri('vault://from-env').keyId, 'from-env')
    } finally {
      for (const [n, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[n]
        else process.env[n] = v
      }
    }
  })

  test('the synchronous forms refuse a KmsKey before any network call', () => {
    const k = KmsKey.fromUri('vault://orders', { vaultAddress: deadAddr, vaultToken: TOKEN })
    const ring = new Keyring()
    ring.createKey('local')
    const sealed = seal(Buffer.from('x'), { to: [ring], context: CTX })
    const P = 'ERR_SEALWIRE_INVALID_PARAMETER'
    throwsWith(() => seal(Buffer.from('x'), { to: [ring, k], context: CTX }), P, /sealAsync/)
    throwsWith(() => unseal(sealed, { keys: [k, ring], context: CTX }), P, /unsealAsync/)
    throwsWith(() => rewrap(sealed, { keys: [ring], add: [k], context: CTX }), P, /rewrapAsync/)
    throwsWith(() => rewrap(sealed, { keys: [k], context: CTX }), P, /rewrapAsync/)
    throwsWith(() => EnvelopeSealer.create({ to: [k], context: CTX }), P, /EnvelopeSealer\.createAsync/)
    const hlen = EnvelopeHeader.headerLength(sealed)
    throwsWith(() => EnvelopeOpener.create(sealed.subarray(0, hlen), { keys: [k], context: CTX }), P, /EnvelopeOpener\.createAsync/)
    // A truncated header is still reported as such first.
    throwsWith(() => EnvelopeOpener.create(sealed.subarray(0, hlen - 1), { keys: [k], context: CTX }), 'ERR_SEALWIRE_TRUNCATED')
    throwsWith(() => new DataKeyCache().seal(Buffer.from('x'), { to: [k], context: CTX }), P, /DataKeyCache\.sealAsync/)
    // The sealed object still opens with the keyring alone.
    assert.equal(unseal(sealed, { keys: [ring], context: CTX }).toString(), 'x')
    // No KMS call was made.
    assert.equal(k.stats().operations, 0)
    assert.equal(k.stats().httpRequests, 0)
  })

  test('a KmsKey cannot be combined with a JavaScript provider', async () => {
    const k = KmsKey.fromUri('vault://orders', { vaultAddress: deadAddr, vaultToken: TOKEN })
    let calls = 0
    const js = {
      providerId: 'js-test',
      keyId: 'k1',
      wrap(dek) {
        calls++
        return Buffer.from(dek)
      },
      unwrap(w) {
        calls++
        return Buffer.from(w)
      },
    }
    const ring = new Keyring()
    ring.createKey('local')
    const sealed = seal(Buffer.from('x'), { to: [ring], context: CTX })
    const P = 'ERR_SEALWIRE_INVALID_PARAMETER'
    await rejectsWith(sealAsync(Buffer.from('x'), { to: [js, k], context: CTX }), P)
    await rejectsWith(unsealAsync(sealed, { keys: [k, js], context: CTX }), P)
    await rejectsWith(rewrapAsync(sealed, { keys: [ring], add: [k, js], context: CTX }), P)
    await rejectsWith(rewrapAsync(sealed, { keys: [js], rewrapWith: [k], context: CTX }), P)
    await rejectsWith(EnvelopeSealer.createAsync({ to: [k, js], context: CTX }), P)
    const hlen = EnvelopeHeader.headerLength(sealed)
    await rejectsWith(EnvelopeOpener.createAsync(sealed.subarray(0, hlen), { keys: [js, k], context: CTX }), P)
    await rejectsWith(new DataKeyCache().sealAsync(Buffer.from('x'), { to: [js, k], context: CTX }), P)
    assert.equal(calls, 0)
    assert.equal(k.stats().operations, 0)
    // Without a KmsKey the asynchronous forms still take JavaScript providers.
    const viaJs = await sealAsync(Buffer.from('js'), { to: [js], context: CTX })
    assert.equal((await unsealAsync(viaJs, { keys: [js], context: CTX })).toString(), 'js')
    const added = await rewrapAsync(viaJs, { keys: [js], add: [ring], context: CTX })
    assert.equal(unseal(added, { keys: [ring], context: CTX }).toString(), 'js')
  })

  test('an unreachable KMS rejects fast with KMS_UNAVAILABLE', async () => {
    const k = KmsKey.fromUri('vault://orders', { vaultAddress: deadAddr, vaultToken: TOKEN })
    const t0 = Date.now()
    await rejectsWith(sealAsync(Buffer.from('x'), { to: [k], context: CTX }), 'ERR_SEALWIRE_KMS_UNAVAILABLE', [TOKEN])
    assert.ok(Date.now() - t0 < 5000)
    const s = k.stats()
    assert.ok(s.operations >= 1 && s.failures >= 1, JSON.stringify(s))
    const a = KmsKey.fromUri(`aws-kms://arn:aws:kms:us-east-1:1:key/abc?endpoint=${encodeURIComponent(deadAddr)}`, {
      awsAccessKeyId: 'AKIANODETEST',
      awsSecretAccessKey: AWS_SECRET,
    })
    await rejectsWith(sealAsync(Buffer.from('x'), { to: [a], context: CTX }), 'ERR_SEALWIRE_KMS_UNAVAILABLE', [AWS_SECRET])
    // Streams and files: the stream fails with the KMS code.
    const chunks = []
    await rejectsWith(
      pipeline(Readable.from([Buffer.from('abc')]), createSealStream({ to: [k], context: CTX }), new Writable({ write(c, _e, cb) { chunks.push(c); cb() } })),
      'ERR_SEALWIRE_KMS_UNAVAILABLE',
    )
    assert.equal(chunks.length, 0)
  })

  test('the event loop keeps running while a KMS call waits (an in-process server answers)', async () => {
    // A stand-in for Vault in this very process: it answers every request 403 after 150 ms.
    // If the KMS call blocked the event loop, this server could never answer.
    let requests = 0
    const srv = http.createServer((req, res) => {
      requests++
      req.resume()
      setTimeout(() => {
        res.writeHead(403, { 'Content-Type': 'application/json' })
        res.end('{"errors":["permission denied"]}')
      }, 150)
    })
    await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve))
    const addr = `http://127.0.0.1:${srv.address().port}`
    let ticks = 0
    const timer = setInterval(() => ticks++, 10)
    try {
      const k = KmsKey.fromUri('vault://orders', { vaultAddress: addr, vaultToken: TOKEN })
      const err = await rejectsWith(sealAsync(Buffer.from('x'), { to: [k], context: CTX }), 'ERR_SEALWIRE_KMS_AUTH_FAILED', [TOKEN])
      assert.ok(!err.message.includes(addr.split(':')[2]), 'no URL in the message')
    } finally {
      clearInterval(timer)
      await new Promise((resolve) => srv.close(resolve))
    }
    assert.ok(requests >= 1)
    assert.ok(ticks >= 5, `timer ticks while waiting: ${ticks}`)
  })
})

describe('DataKeyCache (local keyring)', () => {
  test('limits: defaults, explicit values, and out-of-range values refused', () => {
    assert.deepEqual(new DataKeyCache().limits, { maxAgeSeconds: 300, maxMessages: 4096, maxBytes: 2 ** 30, maxEntries: 64 })
    const c = new DataKeyCache({ maxAgeSeconds: 1.5, maxMessages: 10, maxBytes: 1000, maxEntries: 3 })
    assert.deepEqual(c.limits, { maxAgeSeconds: 1.5, maxMessages: 10, maxBytes: 1000, maxEntries: 3 })
    const P = 'ERR_SEALWIRE_INVALID_PARAMETER'
    for (const bad of [
      { maxAgeSeconds: 0 },
      { maxAgeSeconds: -1 },
      { maxAgeSeconds: 86401 },
      { maxAgeSeconds: NaN },
      { maxMessages: 0 },
      { maxMessages: 2 ** 32 + 1 },
      { maxMessages: 1.5 },
      { maxBytes: 0 },
      { maxBytes: -5 },
      { maxEntries: 0 },
      { maxEntries: 65537 },
    ]) {
      throwsWith(() => new DataKeyCache(bad), P)
    }
  })

  test('one data key serves a batch; objects open without the cache', async () => {
    const ring = new Keyring()
    ring.createKey('orders')
    const cache = new DataKeyCache({ maxMessages: 5 })
    const objs = []
    for (let i = 0; i < 6; i++) objs.push(cache.seal(data(100, i), { to: [ring], context: CTX }))
    for (let i = 0; i < 6; i++) objs.push(await cache.sealAsync(data(100, i + 6), { to: [ring], context: CTX }))
    // 12 seals, 5 per data key: 3 keys made, 2 retired.
    assert.deepEqual(cache.stats(), { hits: 9, misses: 3, bypassed: 0, evicted: 2, entries: 1 })
    // The envelopes of one batch carry the same wrapped entry...
    const ids = objs.map((o) => EnvelopeHeader.parse(o).messageId.toString('hex'))
    assert.equal(new Set(ids).size, 12)
    for (let i = 0; i < 12; i++) {
      assert.deepEqual(unseal(objs[i], { keys: [ring], context: CTX }), data(100, i))
    }
    // Another context is another entry; a message above maxBytes bypasses the cache.
    const small = new DataKeyCache({ maxBytes: 50 })
    small.seal(data(10), { to: [ring], context: CTX })
    small.seal(data(10), { to: [ring], context: { tenant: 'other' } })
    const big = small.seal(data(51), { to: [ring], context: CTX })
    assert.deepEqual(unseal(big, { keys: [ring], context: CTX }), data(51))
    assert.deepEqual(small.stats(), { hits: 0, misses: 2, bypassed: 1, evicted: 0, entries: 2 })
    small.clear()
    assert.equal(small.stats().entries, 0)
    assert.equal(small.stats().evicted, 2)
    // Argument errors as for seal.
    throwsWith(() => cache.seal(data(1), { to: [], context: CTX }), 'ERR_SEALWIRE_INVALID_PARAMETER')
    await rejectsWith(cache.sealAsync(data(1), { to: [ring], suite: 'rot13' }), 'ERR_SEALWIRE_UNSUPPORTED_ALGORITHM')
  })
})

// ==================================================================== against real servers

describe('KMS servers (OpenBao, moto)', serverTest, () => {
  let tmp
  before(() => {
    requireServers()
    tmp = mkdtempSync(join(tmpdir(), 'sealwire-node-kms-'))
  })
  after(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true })
  })

  test('Vault Transit: seal / unseal round trip, entries, streams, fresh instances', async () => {
    const { name, key } = await freshVaultKey()
    const pt = data(3000)
    const sealed = await sealAsync(pt, { to: [key], context: CTX })
    const h = EnvelopeHeader.parse(sealed)
    assert.deepEqual(h.wrappedKeys, [{ provider: 'vault-transit', keyId: name, version: 1 }])
    assert.deepEqual(h.context, CTX)
    assert.equal(vaultEntries(sealed).length, 1)
    // A separate KmsKey instance (another process would do the same) opens it.
    const other = vaultKey(name)
    assert.deepEqual(await unsealAsync(sealed, { keys: [other], context: CTX }), pt)
    // Incremental handles and the file helpers with a KmsKey.
    const sealer = await EnvelopeSealer.createAsync({ to: [key], context: CTX, segmentSize: 1024 })
    const parts = [sealer.update(pt.subarray(0, 1500)), await sealer.updateAsync(pt.subarray(1500)), sealer.final()]
    const streamed = Buffer.concat(parts)
    const hlen = EnvelopeHeader.headerLength(streamed)
    const opener = await EnvelopeOpener.createAsync(streamed.subarray(0, hlen + 10), { keys: [other], context: CTX })
    assert.deepEqual(Buffer.concat([opener.update(streamed.subarray(hlen + 10)), opener.final()]), pt)
    const src = join(tmp, 'v.txt')
    writeFileSync(src, data(200_000))
    await sealFile(src, join(tmp, 'v.swev'), { to: [key], context: CTX, segmentSize: 4096 })
    await unsealFile(join(tmp, 'v.swev'), join(tmp, 'v.out'), { keys: [other], context: CTX })
    assert.deepEqual(readFileSync(join(tmp, 'v.out')), data(200_000))
    // Unsealing through a stream in small chunks (the header arrives in pieces).
    const sealedFile = readFileSync(join(tmp, 'v.swev'))
    const chunks = []
    for (let i = 0; i < sealedFile.length; i += 777) chunks.push(sealedFile.subarray(i, i + 777))
    const outs = []
    await pipeline(Readable.from(chunks), createUnsealStream({ keys: [other], context: CTX }), new Writable({ write(c, _e, cb) { outs.push(c); cb() } }))
    assert.deepEqual(Buffer.concat(outs), data(200_000))
    const st = key.stats()
    assert.equal(st.failures, 0)
    assert.ok(st.operations >= 3, JSON.stringify(st))
  })

  test('AWS KMS: seal / unseal round trip, entry key id is the ARN', async () => {
    const key = awsKey()
    const pt = data(5000, 3)
    const sealed = await sealAsync(pt, { to: [key], context: CTX, suite: 'aes256gcm' })
    const h = EnvelopeHeader.parse(sealed)
    assert.equal(h.suite, 'aes-256-gcm')
    assert.deepEqual(h.wrappedKeys, [{ provider: 'aws-kms', keyId: S.SEALWIRE_TEST_AWS_KEY_ARN, version: 0 }])
    assert.deepEqual(await unsealAsync(sealed, { keys: [awsKey()], context: CTX }), pt)
    // The second key cannot open an object wrapped only for the first.
    await rejectsWith(unsealAsync(sealed, { keys: [awsKey(S.SEALWIRE_TEST_AWS_KEY2_ARN)], context: CTX }), 'ERR_SEALWIRE_NO_MATCHING_KEY')
    const st = key.stats()
    assert.equal(st.failures, 0)
    assert.equal(st.operations, 1, JSON.stringify(st)) // one GenerateDataKey
  })

  test('multi-KMS: wrapped for Vault and AWS, opens when either one is unreachable', async () => {
    const { name, key: vault } = await freshVaultKey()
    const aws = awsKey()
    const pt = data(1234, 9)
    const sealed = await sealAsync(pt, { to: [vault, aws], context: CTX })
    assert.deepEqual(
      EnvelopeHeader.parse(sealed).wrappedKeys.map((w) => w.provider),
      ['vault-transit', 'aws-kms'],
    )
    const dead = `http://127.0.0.1:${await closedPort()}`
    const deadVault = KmsKey.fromUri(`vault://${name}`, vaultSettings({ vaultAddress: dead }))
    const deadAws = awsKey(S.SEALWIRE_TEST_AWS_KEY_ARN, dead)
    // Entries are tried in header order: the dead Vault first, then AWS.
    assert.deepEqual(await unsealAsync(sealed, { keys: [deadVault, awsKey()], context: CTX }), pt)
    assert.ok(deadVault.stats().failures >= 1, JSON.stringify(deadVault.stats()))
    // AWS entry first this time: the dead AWS endpoint first, then Vault.
    const awsFirst = await sealAsync(pt, { to: [aws, vault], context: CTX })
    assert.deepEqual(await unsealAsync(awsFirst, { keys: [deadAws, vaultKey(name)], context: CTX }), pt)
    assert.ok(deadAws.stats().failures >= 1, JSON.stringify(deadAws.stats()))
    // Both unreachable: the KMS code.
    await rejectsWith(unsealAsync(sealed, { keys: [deadVault, deadAws], context: CTX }), 'ERR_SEALWIRE_KMS_UNAVAILABLE')
    // Sealing needs every recipient: one unreachable KMS fails the seal.
    await rejectsWith(sealAsync(pt, { to: [vault, deadAws], context: CTX }), 'ERR_SEALWIRE_KMS_UNAVAILABLE')
  })

  test('wrong context, and a wrapped key moved to another object: CONTEXT_MISMATCH', async () => {
    const { key } = await freshVaultKey()
    const a = await sealAsync(data(64, 1), { to: [key], context: CTX })
    const b = await sealAsync(data(64, 2), { to: [key], context: CTX })
    await rejectsWith(unsealAsync(a, { keys: [key], context: { ...CTX, tenant: 'evil' } }), 'ERR_SEALWIRE_CONTEXT_MISMATCH')
    // Same context, but b's wrapped key in a: Vault's key derivation binds it to b.
    const [ea] = vaultEntries(a)
    const [eb] = vaultEntries(b)
    assert.equal(ea.end - ea.start, eb.end - eb.start)
    const forged = Buffer.from(a)
    b.copy(forged, ea.start, eb.start, eb.end)
    assert.notDeepEqual(forged, a)
    await rejectsWith(unsealAsync(forged, { keys: [key], context: CTX }), 'ERR_SEALWIRE_CONTEXT_MISMATCH')
    // AWS: the envelope context goes to KMS as its EncryptionContext.
    const aws = awsKey()
    const c = await sealAsync(data(64, 3), { to: [aws], context: CTX })
    await rejectsWith(unsealAsync(c, { keys: [aws], context: { tenant: 'acme' } }), 'ERR_SEALWIRE_CONTEXT_MISMATCH')
    assert.deepEqual(await unsealAsync(a, { keys: [key], context: CTX }), data(64, 1))
  })

  test('unknown key: KMS_KEY_NOT_FOUND (Vault and AWS)', async () => {
    const missingVault = vaultKey(unique('no-such-key'))
    await rejectsWith(sealAsync(data(10), { to: [missingVault], context: CTX }), 'ERR_SEALWIRE_KMS_KEY_NOT_FOUND')
    const arn = S.SEALWIRE_TEST_AWS_KEY_ARN.replace(/key\/.*$/, `key/${crypto.randomUUID()}`)
    await rejectsWith(sealAsync(data(10), { to: [awsKey(arn)], context: CTX }), 'ERR_SEALWIRE_KMS_KEY_NOT_FOUND')
  })

  test('bad credentials: KMS_AUTH_FAILED, and the secret is in no error', async () => {
    const { name } = await freshVaultKey()
    const badToken = 'hvs.node-bad-token-1c9e0d5a7b'
    const bad = vaultKey(name, { vaultToken: badToken })
    const e1 = await rejectsWith(sealAsync(data(10), { to: [bad], context: CTX }), 'ERR_SEALWIRE_KMS_AUTH_FAILED', [badToken])
    const badSecret = 'node-bad-aws-secret-Qm4ZtR8vX2'
    const badAws = awsKey(S.SEALWIRE_TEST_AWS_KEY_ARN, undefined, { awsSecretAccessKey: badSecret })
    const e2 = await rejectsWith(sealAsync(data(10), { to: [badAws], context: CTX }), 'ERR_SEALWIRE_KMS_AUTH_FAILED', [badSecret])
    const unknownId = awsKey(S.SEALWIRE_TEST_AWS_KEY_ARN, undefined, { awsAccessKeyId: 'AKIANOSUCHUSER0000', awsSecretAccessKey: badSecret })
    await rejectsWith(sealAsync(data(10), { to: [unknownId], context: CTX }), 'ERR_SEALWIRE_KMS_AUTH_FAILED', [badSecret])
    for (const e of [e1, e2]) assert.ok(e.message.length > 0)
    // Opening with a bad token: the same code (the object is fine).
    const sealed = await sealAsync(data(10), { to: [vaultKey(name)], context: CTX })
    await rejectsWith(unsealAsync(sealed, { keys: [bad], context: CTX }), 'ERR_SEALWIRE_KMS_AUTH_FAILED', [badToken])
  })

  test('the synchronous forms refuse a working KmsKey too (no call made)', async () => {
    const { key } = await freshVaultKey()
    const sealed = await sealAsync(data(10), { to: [key], context: CTX })
    const before = key.stats().operations
    throwsWith(() => seal(data(10), { to: [key], context: CTX }), 'ERR_SEALWIRE_INVALID_PARAMETER', /sealAsync/)
    throwsWith(() => unseal(sealed, { keys: [key], context: CTX }), 'ERR_SEALWIRE_INVALID_PARAMETER', /unsealAsync/)
    throwsWith(() => rewrap(sealed, { keys: [key], context: CTX }), 'ERR_SEALWIRE_INVALID_PARAMETER', /rewrapAsync/)
    assert.equal(key.stats().operations, before)
  })

  test('rewrapAsync: add AWS to a Vault object, remove Vault, rewrap after a Vault rotation', async () => {
    const { name, key: vault } = await freshVaultKey()
    const aws = awsKey()
    const pt = data(4096, 5)
    const sealed = await sealAsync(pt, { to: [vault], context: CTX })
    const both = await rewrapAsync(sealed, { keys: [vault], add: [aws], context: CTX })
    assert.deepEqual(EnvelopeHeader.parse(both).wrappedKeys.map((w) => w.provider), ['vault-transit', 'aws-kms'])
    // The payload bytes are untouched.
    const tail = (b) => b.subarray(EnvelopeHeader.headerLength(b))
    assert.deepEqual(tail(both), tail(sealed))
    assert.deepEqual(await unsealAsync(both, { keys: [aws], context: CTX }), pt)
    const awsOnly = await rewrapAsync(both, { keys: [aws], remove: [{ provider: 'vault-transit', keyId: name }], context: CTX })
    assert.deepEqual(EnvelopeHeader.parse(awsOnly).wrappedKeys.map((w) => w.provider), ['aws-kms'])
    await rejectsWith(unsealAsync(awsOnly, { keys: [vault], context: CTX }), 'ERR_SEALWIRE_NO_MATCHING_KEY')
    // Rotation: rewrapWith moves the Vault entry to version 2 (server-side rewrap).
    await vaultAdmin('POST', `transit/keys/${name}/rotate`)
    const moved = await rewrapAsync(both, { keys: [vault], rewrapWith: [vault], context: CTX })
    const vEntry = EnvelopeHeader.parse(moved).wrappedKeys.find((w) => w.provider === 'vault-transit')
    assert.equal(vEntry.version, 2)
    assert.match(moved.toString('latin1'), /vault:v2:/)
    // After raising min_decryption_version, version-1 objects are retired, moved ones open.
    await vaultAdmin('POST', `transit/keys/${name}/config`, { min_decryption_version: 2 })
    const fresh = vaultKey(name)
    assert.deepEqual(await unsealAsync(moved, { keys: [fresh], context: CTX }), pt)
    await rejectsWith(unsealAsync(sealed, { keys: [fresh], context: CTX }), 'ERR_SEALWIRE_KEY_RETIRED')
    // A wrong context is refused before anything is rewrapped.
    await rejectsWith(rewrapAsync(both, { keys: [aws], add: [fresh], context: { tenant: 'x' } }), 'ERR_SEALWIRE_CONTEXT_MISMATCH')
  })

  test('DataKeyCache: 1000 seals cost one data key per KMS; objects open without the cache', async () => {
    const { name, key: vault } = await freshVaultKey()
    const aws = awsKey()
    const cache = new DataKeyCache({ maxAgeSeconds: 300, maxMessages: 10_000, maxBytes: 1 << 30 })
    const v0 = vault.stats().operations
    const a0 = aws.stats().operations
    const objs = []
    for (let i = 0; i < 1000; i++) {
      objs.push(await cache.sealAsync(data(64, i), { to: [vault, aws], context: CTX }))
    }
    assert.deepEqual(cache.stats(), { hits: 999, misses: 1, bypassed: 0, evicted: 0, entries: 1 })
    // Vault: the key check and one datakey; AWS: one Encrypt of the shared data key.
    const vOps = vault.stats().operations - v0
    const aOps = aws.stats().operations - a0
    assert.ok(vOps >= 1 && vOps <= 2, `vault operations for 1000 cached seals: ${vOps}`)
    assert.equal(aOps, 1, `aws operations for 1000 cached seals: ${aOps}`)
    // Without the cache every seal calls the KMS (the comparison that makes the point).
    const u0 = aws.stats().operations
    for (let i = 0; i < 5; i++) await sealAsync(data(64, i), { to: [aws], context: CTX })
    assert.equal(aws.stats().operations - u0, 5)
    // Cached objects open with plain unsealAsync, with either KMS, through new instances.
    for (const i of [0, 499, 999]) {
      assert.deepEqual(await unsealAsync(objs[i], { keys: [awsKey()], context: CTX }), data(64, i))
      assert.deepEqual(await unsealAsync(objs[i], { keys: [vaultKey(name)], context: CTX }), data(64, i))
    }
    // A message limit makes a new data key per batch: one AWS call per miss.
    const batch = new DataKeyCache({ maxMessages: 100 })
    const b0 = aws.stats().operations
    for (let i = 0; i < 250; i++) await batch.sealAsync(data(16, i), { to: [aws], context: CTX })
    assert.equal(batch.stats().misses, 3)
    assert.equal(aws.stats().operations - b0, 3)
    // Concurrent seals through one cache are safe and open.
    const many = await Promise.all(Array.from({ length: 50 }, (_, i) => cache.sealAsync(data(32, i), { to: [vault, aws], context: CTX })))
    assert.deepEqual(await unsealAsync(many[49], { keys: [aws], context: CTX }), data(32, 49))
    // The sync form of the cache refuses KMS keys.
    throwsWith(() => cache.seal(data(1), { to: [aws], context: CTX }), 'ERR_SEALWIRE_INVALID_PARAMETER', /sealAsync/)
  })
})
