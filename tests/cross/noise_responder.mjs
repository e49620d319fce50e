// Noise responder in Node for tests/cross/noise_driver.py: length-prefixed frames on
// stdin/stdout; see the driver for the conversation.
import { createRequire } from 'node:module'
import { readSync, writeSync } from 'node:fs'

const require = createRequire(import.meta.url)
const { Identity, NoiseHandshake, noiseIdentityPayload } = require('../../bindings/node/index.js')

function readExact(n) {
  const buf = Buffer.alloc(n)
  let off = 0
  while (off < n) {
    const got = readSync(0, buf, off, n - off, null)
    if (got === 0) return null
    off += got
  }
  return buf
}
const recv = () => {
  const head = readExact(4)
  if (head === null) return null
  return readExact(head.readUInt32BE(0))
}
const send = (data) => {
  const head = Buffer.alloc(4)
  head.writeUInt32BE(data.length, 0)
  writeSync(1, Buffer.concat([head, data]))
}

const protocol = process.argv[2]
const me = Identity.generate()
send(me.public.toBytes())
const hs = NoiseHandshake.responder(protocol, { identity: me })
let peer = null
while (!hs.isFinished) {
  if (hs.isMyTurn) {
    send(hs.writeMessage(noiseIdentityPayload(me)))
  } else {
    const payload = hs.readMessage(recv())
    if (payload.length > 0) peer = hs.verifyIdentityPayload(payload)
  }
}
if (peer === null) throw new Error('initiator never presented its identity')
const hash = hs.handshakeHash
const t = hs.intoTransport()
send(hash)
send(t.encrypt(Buffer.from(peer.did)))
for (let i = 0; i < 3; i++) {
  const msg = t.decrypt(recv())
  send(t.encrypt(Buffer.concat([Buffer.from('echo:'), Buffer.from(msg).reverse()])))
}
const big = t.decryptFramed(recv())
send(t.encryptFramed(Buffer.from(big).reverse()))
try {
  t.decrypt(recv())
  send(Buffer.from('accepted'))
} catch (e) {
  send(Buffer.from(`refused:${e.code}`))
}
if (recv() !== null) throw new Error('unexpected trailing frame')
