// Cross-language envelope round trip, Node's turn: open Python's obj1 two ways (keyring and
// Node's own identity), then seal obj2 (one-shot, AES-256-GCM) and obj3 (streamed file).
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { createHash } from 'node:crypto'
import assert from 'node:assert/strict'

const require = createRequire(import.meta.url)
const sw = require('../../bindings/node/sealwire.js')
const d = process.argv[2]
const r = (f) => readFileSync(join(d, f))
const context = { agent: 'alice', kind: 'memory', object: 'cross/1' }

const rootKey = sw.RootKey.fromHex(readFileSync(join(d, 'root.hex'), 'utf8').trim())
const ring = sw.Keyring.load(join(d, 'ring.swkr'), { rootKey })
const me = sw.Identity.import(r('node.swk'), 'node-pass')
assert.ok(sw.unseal(r('obj1.swev'), { context, keys: [ring] }).equals(r('obj1.plain')), 'obj1 via keyring')
assert.ok(sw.unseal(r('obj1.swev'), { context, keys: [me] }).equals(r('obj1.plain')), 'obj1 via identity')
assert.throws(() => sw.unseal(r('obj1.swev'), { context: { ...context, object: 'x' }, keys: [me] }), { code: 'ERR_SEALWIRE_CONTEXT_MISMATCH' })

const cPub = sw.PublicIdentity.fromBytes(r('c.pub'))
const obj2 = createHash('sha512').update('obj2').digest().toString('hex').repeat(1000)
writeFileSync(join(d, 'obj2.plain'), obj2)
writeFileSync(join(d, 'obj2.swev'), sw.seal(Buffer.from(obj2), { context, to: [ring, cPub], suite: 'aes256gcm', segmentSize: 4096 }))

const obj3 = Buffer.alloc(3 * 1024 * 1024 + 17)
for (let i = 0; i < obj3.length; i++) obj3[i] = (i * 31 + 7) & 0xff
writeFileSync(join(d, 'obj3.plain'), obj3)
await sw.sealFile(join(d, 'obj3.plain'), join(d, 'obj3.swev'), { context, to: [ring] })
console.log('node: opened obj1 (keyring and own identity), sealed obj2 (AES-GCM, to keyring + C) and obj3 (3 MiB stream)')
