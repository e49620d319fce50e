// Cross-language ratchet step, Node's implementation (contract: RATCHET_CROSS, run by
// tests/cross/run.sh): `node ratchet_step.mjs IN.json OUT.json`.
//
// Actions: "prekeys" (generate and seal a prekey store, publish its bundle), "initiate"
// (session from a peer's bundle, then ops), "accept" (open the prekey store checked against
// its generation, accept the initial message, then ops), "continue" (open a sealed session
// checked against its generation, then ops). Ops: {"op":"encrypt","plaintext"} →
// {"message"}, {"op":"decrypt","message"} → {"plaintext"}. Byte strings are lowercase hex.
// Only the package's public API is used. On any error: the message on stderr, exit status 1,
// and no OUT file.
import { readFileSync, writeFileSync, renameSync } from 'node:fs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { Identity, PrekeyBundle, PrekeyStore, RatchetSession } = require('../../bindings/node/index.js')

function fail(message) {
  throw new Error(message)
}

/** A lowercase hex string field → Buffer. */
function bytes(obj, name) {
  const v = obj[name]
  if (typeof v !== 'string' || v.length % 2 !== 0 || !/^[0-9a-f]*$/.test(v)) {
    fail(`"${name}" must be a lowercase hex string`)
  }
  return Buffer.from(v, 'hex')
}

function integer(obj, name) {
  const v = obj[name]
  if (!Number.isSafeInteger(v) || v < 0) fail(`"${name}" must be a non-negative integer`)
  return v
}

function boolean(obj, name) {
  const v = obj[name]
  if (typeof v !== 'boolean') fail(`"${name}" must be a boolean`)
  return v
}

function object(obj, name) {
  const v = obj[name]
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(`"${name}" must be an object`)
  return v
}

const hex = (b) => Buffer.from(b).toString('hex')

function identity(input) {
  const id = object(input, 'identity')
  return Identity.fromSecretBytes(bytes(id, 'ed25519_seed'), bytes(id, 'x25519_secret'))
}

/** Apply the ops to `session`; one result per op. */
function applyOps(session, input) {
  const ops = input.ops
  if (!Array.isArray(ops)) fail('"ops" must be an array')
  return ops.map((op, i) => {
    if (op === null || typeof op !== 'object') fail(`ops[${i}] must be an object`)
    switch (op.op) {
      case 'encrypt':
        return { message: hex(session.encrypt(bytes(op, 'plaintext'))) }
      case 'decrypt':
        return { plaintext: hex(session.decrypt(bytes(op, 'message'))) }
      default:
        return fail(`ops[${i}]: unknown op ${JSON.stringify(op.op)}`)
    }
  })
}

function run(input) {
  const storageKey = bytes(input, 'storage_key')
  switch (input.action) {
    case 'prekeys': {
      const store = PrekeyStore.generate(identity(input), {
        oneTimePrekeys: integer(input, 'one_time_prekeys'),
        postQuantum: boolean(input, 'post_quantum'),
        now: integer(input, 'now'),
      })
      return { prekey_store: hex(store.seal(storageKey)), bundle: hex(store.bundle().toBytes()) }
    }
    case 'initiate': {
      const bundle = PrekeyBundle.fromBytes(bytes(input, 'peer_bundle'))
      const session = RatchetSession.initiate(identity(input), bundle.identity, bundle, {
        headerEncryption: boolean(input, 'header_encryption'),
      })
      const results = applyOps(session, input)
      return { session: hex(session.seal(storageKey)), generation: Number(session.generation), results }
    }
    case 'accept': {
      const store = PrekeyStore.open(bytes(input, 'prekey_store'), storageKey, integer(input, 'prekey_generation'))
      const { session, plaintext } = RatchetSession.accept(identity(input), store, bytes(input, 'initial_message'))
      const results = [{ plaintext: hex(plaintext) }, ...applyOps(session, input)]
      return {
        session: hex(session.seal(storageKey)),
        generation: Number(session.generation),
        prekey_store: hex(store.seal(storageKey)),
        prekey_generation: Number(store.generation),
        results,
      }
    }
    case 'continue': {
      const session = RatchetSession.open(bytes(input, 'session'), storageKey, integer(input, 'generation'))
      const results = applyOps(session, input)
      return { session: hex(session.seal(storageKey)), generation: Number(session.generation), results }
    }
    default:
      return fail(`unknown action ${JSON.stringify(input.action)}`)
  }
}

const [inPath, outPath] = process.argv.slice(2)
try {
  if (!inPath || !outPath) fail('usage: node ratchet_step.mjs IN.json OUT.json')
  const input = JSON.parse(readFileSync(inPath, 'utf8'))
  if (input === null || typeof input !== 'object') fail('IN.json must hold an object')
  const output = run(input)
  // Written in full or not at all.
  const tmp = `${outPath}.tmp-${process.pid}`
  writeFileSync(tmp, JSON.stringify(output))
  renameSync(tmp, outPath)
} catch (e) {
  process.stderr.write(`ratchet_step.mjs: ${e.code ? `${e.code}: ` : ''}${e.message}\n`)
  process.exit(1)
}
