// tests/cross/ratchet_step.mjs (the Node side of the cross-language ratchet runs) checked
// against its contract with Node on both sides: prekeys → initiate → accept → continue, in
// both header modes and key agreements, and failures exit 1 without writing OUT.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import crypto from 'node:crypto'

const program = fileURLToPath(new URL('../../../tests/cross/ratchet_step.mjs', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'sealwire-ratchet-step-'))
after(() => rmSync(dir, { recursive: true, force: true }))
let n = 0

/** Run one step; returns { status, out, stderr } (`out` parsed, or null if no OUT file). */
function step(input) {
  const inPath = join(dir, `in-${n}.json`)
  const outPath = join(dir, `out-${n++}.json`)
  writeFileSync(inPath, JSON.stringify(input))
  const r = spawnSync(process.execPath, [program, inPath, outPath], { encoding: 'utf8' })
  return { status: r.status, stderr: r.stderr, out: existsSync(outPath) ? JSON.parse(readFileSync(outPath, 'utf8')) : null }
}

function ok(input) {
  const r = step(input)
  assert.equal(r.status, 0, r.stderr)
  assert.ok(r.out)
  return r.out
}

const hex = (s) => Buffer.from(s, 'utf8').toString('hex')
const identity = () => ({ ed25519_seed: crypto.randomBytes(32).toString('hex'), x25519_secret: crypto.randomBytes(32).toString('hex') })

for (const postQuantum of [true, false]) {
  for (const headerEncryption of [true, false]) {
    test(`prekeys → initiate → accept → continue (${postQuantum ? 'PQXDH' : 'X3DH'}, header encryption ${headerEncryption})`, () => {
      const storage_key = crypto.randomBytes(32).toString('hex')
      const alice = identity()
      const bob = identity()
      const pk = ok({ action: 'prekeys', storage_key, identity: bob, one_time_prekeys: 2, post_quantum: postQuantum, now: 1_700_000_000 })
      assert.match(pk.prekey_store, /^[0-9a-f]+$/)
      assert.ok(pk.prekey_store.startsWith(Buffer.from('SWPS').toString('hex')))

      const init = ok({
        action: 'initiate', storage_key, identity: alice, peer_bundle: pk.bundle, header_encryption: headerEncryption,
        ops: [{ op: 'encrypt', plaintext: hex('first') }, { op: 'encrypt', plaintext: hex('second') }],
      })
      assert.equal(init.generation, 2)
      assert.equal(init.results.length, 2)
      assert.ok(init.session.startsWith(Buffer.from('SWSS').toString('hex')))

      const acc = ok({
        action: 'accept', storage_key, identity: bob, prekey_store: pk.prekey_store, prekey_generation: 0,
        initial_message: init.results[0].message,
        ops: [{ op: 'decrypt', message: init.results[1].message }, { op: 'encrypt', plaintext: hex('reply') }],
      })
      assert.deepEqual(acc.results.slice(0, 2), [{ plaintext: hex('first') }, { plaintext: hex('second') }])
      assert.equal(acc.prekey_generation, 1)
      assert.equal(acc.generation, 2)

      const a2 = ok({
        action: 'continue', storage_key, session: init.session, generation: init.generation,
        ops: [{ op: 'decrypt', message: acc.results[2].message }, { op: 'encrypt', plaintext: hex('third') }],
      })
      assert.equal(a2.results[0].plaintext, hex('reply'))
      assert.equal(a2.generation, init.generation + 2)
      const b2 = ok({ action: 'continue', storage_key, session: acc.session, generation: acc.generation, ops: [{ op: 'decrypt', message: a2.results[1].message }] })
      assert.deepEqual(b2.results, [{ plaintext: hex('third') }])

      // The old prekey store (generation 0) is refused against the new generation, and the
      // consumed one-time prekey cannot start a second session.
      const stale = step({
        action: 'accept', storage_key, identity: bob, prekey_store: pk.prekey_store, prekey_generation: acc.prekey_generation,
        initial_message: init.results[0].message, ops: [],
      })
      assert.equal(stale.status, 1)
      assert.equal(stale.out, null)
      assert.match(stale.stderr, /ERR_SEALWIRE_STALE_STATE/)
      const reused = step({
        action: 'accept', storage_key, identity: bob, prekey_store: acc.prekey_store, prekey_generation: acc.prekey_generation,
        initial_message: init.results[0].message, ops: [],
      })
      assert.equal(reused.status, 1)
      assert.match(reused.stderr, /ERR_SEALWIRE_PREKEY_ALREADY_USED/)
      // A sealed session older than the generation given.
      const old = step({ action: 'continue', storage_key, session: init.session, generation: a2.generation, ops: [] })
      assert.equal(old.status, 1)
      assert.equal(old.out, null)
    })
  }
}

test('bad input: exit 1, a message on stderr, no OUT file', () => {
  const storage_key = crypto.randomBytes(32).toString('hex')
  for (const input of [
    { action: 'nope', storage_key },
    { action: 'prekeys', storage_key: 'XYZ', identity: identity(), one_time_prekeys: 1, post_quantum: true, now: 1 },
    { action: 'prekeys', storage_key, identity: identity(), one_time_prekeys: -1, post_quantum: true, now: 1 },
    { action: 'continue', storage_key, session: '00', generation: 0, ops: [] },
    { action: 'initiate', storage_key, identity: identity(), peer_bundle: 'ab', header_encryption: true, ops: [] },
  ]) {
    const r = step(input)
    assert.equal(r.status, 1, JSON.stringify(input))
    assert.equal(r.out, null)
    assert.ok(r.stderr.length > 0)
  }
  const r = spawnSync(process.execPath, [program], { encoding: 'utf8' })
  assert.equal(r.status, 1)
})
