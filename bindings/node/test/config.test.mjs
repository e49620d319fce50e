// SecurityConfig / checkConfig against tests/vectors/config (the files the Rust tests
// core/tests/config_vectors.rs and cli/tests/config.rs replay): every example gives exactly
// the findings its manifest lists, loads exactly when it is valid, and a refused one throws
// with `code` and every finding; TOML / JSON / plain-object forms agree; each overrides flag
// turns exactly its errors into `allowed`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { inspect } from 'node:util'

import { SecurityConfig, ConfigReport, checkConfig } from '../sealwire.js'

const DIR = fileURLToPath(new URL('../../../tests/vectors/config/', import.meta.url))
const manifest = JSON.parse(readFileSync(join(DIR, 'cases.json'), 'utf8'))
const read = (file) => readFileSync(join(DIR, file), 'utf8')
const formatOf = (file) => (file.endsWith('.json') ? 'json' : 'toml')

/** A finding as the manifest states it: path, code, severity, allow (or null). */
const key = (f) => JSON.stringify([f.path, f.code, f.severity, f.allow ?? null])
const keys = (findings) => findings.map(key).sort()

const code = (c) => (err) => {
  assert.ok(err instanceof Error, `an Error instance (got ${inspect(err)})`)
  assert.ok(Object.hasOwn(err, 'code'), '`code` is set on the Error object itself')
  assert.equal(err.code, c, `${err.code}: ${err.message}`)
  return true
}

test('every example gives exactly the findings of cases.json', () => {
  const cases = manifest.cases
  assert.ok(cases.length >= 40, `${cases.length} cases`)
  const seen = new Set()
  for (const c of cases) {
    const text = read(c.file)
    const report = checkConfig(text, formatOf(c.file))
    assert.ok(report instanceof ConfigReport)
    const got = keys(report.findings)
    assert.equal(new Set(got).size, got.length, `${c.file}: duplicate findings`)
    assert.deepEqual(got, keys(c.findings), `${c.file}: ${inspect(report.findings)}`)
    assert.equal(report.ok, c.ok, c.file)
    assert.equal(c.file.startsWith('valid/'), report.ok, c.file)
    for (const f of report.findings) {
      assert.ok(f.message.length > 0, `${c.file}: empty message`)
      seen.add(f.code)
    }
    // The JSON form of the report says the same (what `sealwire config check --json` prints).
    const json = JSON.parse(report.toJson())
    assert.equal(json.ok, report.ok)
    assert.deepEqual(keys(json.findings), got, c.file)
    // Format detection by content gives the same report as the explicit format.
    assert.deepEqual(keys(checkConfig(text).findings), got, `${c.file} (detected format)`)
  }
  // Errors, overrides and warnings all occur (the Rust test checks every code is exercised).
  assert.ok(seen.size >= 30, `${seen.size} distinct codes`)
})

test('load succeeds exactly for valid examples; a refused one throws with code and findings', () => {
  let refused = 0
  for (const c of manifest.cases) {
    const text = read(c.file)
    if (c.ok) {
      const config = SecurityConfig.load(text, formatOf(c.file))
      assert.ok(config instanceof SecurityConfig)
      // Its own report: the same findings (overrides in force, warnings), none an error.
      const report = config.validate()
      assert.equal(report.ok, true)
      assert.deepEqual(keys(report.findings), keys(c.findings), c.file)
      continue
    }
    refused++
    assert.throws(
      () => SecurityConfig.load(text, formatOf(c.file)),
      (err) => {
        code('ERR_SEALWIRE_INVALID_PARAMETER')(err)
        assert.deepEqual(keys(err.findings), keys(c.findings), `${c.file}: err.findings`)
        // The message names every blocking finding by its code.
        for (const f of c.findings.filter((f) => f.severity === 'error')) {
          assert.ok(err.message.includes(`[${f.code}]`), `${c.file}: ${f.code} not in ${err.message}`)
        }
        return true
      },
      c.file,
    )
  }
  assert.ok(refused >= 30, `${refused} refused`)
})

test('TOML, JSON, plain objects and the written forms agree', () => {
  const full = SecurityConfig.load(read('valid/full.toml'), 'toml')
  assert.ok(full.equals(SecurityConfig.load(read('valid/full.json'), 'json')))
  assert.ok(!full.equals(SecurityConfig.default()))
  assert.ok(SecurityConfig.load(read('valid/minimal.json')).equals(SecurityConfig.default()))
  assert.ok(SecurityConfig.load(SecurityConfig.defaultToml(), 'toml').equals(SecurityConfig.default()))
  assert.equal(checkConfig(SecurityConfig.defaultToml()).findings.length, 0)
  // Written back and read again: the same configuration (every key written).
  for (const c of [full, SecurityConfig.default(), SecurityConfig.load(read('valid/overrides.toml'))]) {
    assert.ok(SecurityConfig.load(c.toToml(), 'toml').equals(c))
    assert.ok(SecurityConfig.load(c.toJson(), 'json').equals(c))
    assert.ok(SecurityConfig.load(c.toJson()).equals(c), 'JSON detected by content')
  }
  // A plain object goes through JSON.stringify.
  const object = JSON.parse(full.toJson())
  assert.ok(SecurityConfig.load(JSON.stringify(object)).equals(full))
  object.handshake.online = 'NN'
  assert.throws(() => SecurityConfig.load(JSON.stringify(object)), (err) => {
    code('ERR_SEALWIRE_INVALID_PARAMETER')(err)
    assert.ok(err.findings.some((f) => f.path === 'handshake.online' && f.severity === 'error'), inspect(err.findings))
    return true
  })
  // An unknown key anywhere is an error, not ignored.
  assert.throws(() => SecurityConfig.load(JSON.stringify({ version: 1, cipher: { aed: 'x' } })), (err) => {
    code('ERR_SEALWIRE_INVALID_PARAMETER')(err)
    assert.deepEqual(err.findings.map((f) => [f.code, f.path]), [['unknown-key', 'cipher.aed']])
    return true
  })
})

test('the weak test KDF needs its override, and the override shows as allowed', () => {
  const weak = { version: 1, identity: { kdf: { memory_kib: 19456, iterations: 2, lanes: 1 } } }
  assert.throws(() => SecurityConfig.load(JSON.stringify(weak)), (err) => {
    code('ERR_SEALWIRE_INVALID_PARAMETER')(err)
    assert.ok(err.findings.some((f) => f.code === 'weak-kdf' && f.severity === 'error' && f.allow === 'allow_weak_kdf'))
    return true
  })
  const allowed = SecurityConfig.load(JSON.stringify({ ...weak, overrides: { allow_weak_kdf: true } }))
  assert.deepEqual(
    allowed.validate().findings.map((f) => [f.code, f.severity]),
    [['weak-kdf', 'allowed']],
  )
  // A flag set but not needed is a warning, so an override cannot silently outlive its reason.
  const unused = checkConfig(JSON.stringify({ version: 1, overrides: { allow_weak_kdf: true } }))
  assert.equal(unused.ok, true)
  assert.deepEqual(unused.findings.map((f) => [f.code, f.severity]), [['unused-override', 'warning']])
})

test('every allow flag turns exactly its errors into allowed', () => {
  let tried = 0
  for (const c of manifest.cases) {
    if (!c.file.endsWith('.toml')) continue
    const report = checkConfig(read(c.file), 'toml')
    const errors = report.findings.filter((f) => f.severity === 'error')
    if (errors.length === 0 || errors.some((f) => !f.allow)) continue
    let text = read(c.file)
    if (!text.includes('[overrides]')) text += '\n[overrides]\n'
    for (const flag of new Set(errors.map((f) => f.allow))) {
      text = text.replace('[overrides]\n', `[overrides]\n${flag} = true\n`)
    }
    const again = checkConfig(text, 'toml')
    assert.equal(again.ok, true, `${c.file}: ${inspect(again.findings)}`)
    assert.equal(again.findings.length, report.findings.length, c.file)
    report.findings.forEach((before, i) => {
      const after = again.findings[i]
      assert.deepEqual([after.path, after.code], [before.path, before.code], c.file)
      assert.equal(after.severity, before.severity === 'error' ? 'allowed' : before.severity, c.file)
    })
    // And it now loads.
    assert.ok(SecurityConfig.load(text, 'toml') instanceof SecurityConfig)
    tried++
  }
  assert.ok(tried >= 12, `${tried} cases`)
})

test('parse errors carry a line; bad arguments throw INVALID_PARAMETER', () => {
  const syntax = checkConfig(read('invalid/syntax.toml'), 'toml')
  assert.equal(syntax.ok, false)
  assert.ok(syntax.findings.some((f) => f.code === 'syntax' && Number.isInteger(f.line) && f.line >= 1))
  // The same text in the wrong format is a syntax error, not a silent misreading.
  assert.equal(checkConfig(read('valid/full.toml'), 'json').findings[0].code, 'syntax')
  assert.throws(() => checkConfig('version = 1', 'yaml'), code('ERR_SEALWIRE_INVALID_PARAMETER'))
  assert.throws(() => SecurityConfig.load('version = 1', 'yaml'), code('ERR_SEALWIRE_INVALID_PARAMETER'))
  assert.throws(() => SecurityConfig.default().noiseProtocol('offline'), code('ERR_SEALWIRE_INVALID_PARAMETER'))
})

test('the configuration names the Noise protocols an agent runs', () => {
  const d = SecurityConfig.default()
  assert.equal(d.noiseProtocol('online'), 'Noise_IKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s')
  assert.equal(d.noiseProtocol('first-contact'), 'Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s')
  const classical = SecurityConfig.load(
    'version = 1\npost_quantum = "off"\n[handshake]\nonline = "IK"\nfirst_contact = "XX"\n[cipher]\naead = "aes-256-gcm"\nkdf = "hkdf-sha256"\n',
  )
  assert.equal(classical.noiseProtocol('online'), 'Noise_IK_25519_AESGCM_SHA256')
  assert.equal(classical.noiseProtocol('first-contact'), 'Noise_XX_25519_AESGCM_SHA256')
})
