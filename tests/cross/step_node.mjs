// Cross-language identity round trip, Node's turn: import Alice (made in Python), verify her
// signature, re-sign msg3 (must equal Python's bytes), create Bob and export him for C.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import assert from 'node:assert/strict'

const require = createRequire(import.meta.url)
const { Identity, PublicIdentity } = require('../../bindings/node/index.js')
const d = process.argv[2]
const r = (f) => readFileSync(join(d, f))

const alice = Identity.import(r('alice.swk'), 'pässwörd-α')
assert.ok(alice.public.toBytes().equals(r('alice.pub')), 'imported Alice has the published identity')
const alicePub = PublicIdentity.fromBytes(r('alice.pub'))
alicePub.verify(r('msg1'), r('alice.msg1.sig'))
assert.throws(() => alicePub.verify(Buffer.from('tampered'), r('alice.msg1.sig')), { code: 'ERR_SEALWIRE_BAD_SIGNATURE' })
writeFileSync(join(d, 'alice.msg3.sig.node'), alice.sign(r('msg3')))
writeFileSync(join(d, 'alice.did.node'), alicePub.did)
writeFileSync(join(d, 'alice.fp.node'), alicePub.fingerprint)

const bob = Identity.generate()
writeFileSync(join(d, 'bob.swk'), bob.export(Buffer.from('bob-β', 'utf8'), { memoryKib: 19456, iterations: 2, lanes: 1 }))
writeFileSync(join(d, 'bob.pub'), bob.public.toBytes())
writeFileSync(join(d, 'msg2'), Buffer.from('from node: hello python'))
writeFileSync(join(d, 'bob.msg2.sig'), bob.sign(r('msg2')))
console.log('node: imported Python-exported Alice, verified her signature, created Bob')
