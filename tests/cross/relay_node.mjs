// Cross-language relay agent, Node's implementation (the Python and C programs follow the
// same contract; the cross-language relay test drives them against one `sealwire relay serve`).
//
//   node tests/cross/relay_node.mjs RELAY_URL HOME_DIR STORAGE_KEY_HEX ACTION [ARGS...]
//
// RELAY_URL        the relay, e.g. http://127.0.0.1:8790 (http only on loopback).
// HOME_DIR         the agent's directory; its state is one SQLite messenger file in it,
//                  HOME_DIR/messenger.db (created by `init`, the directory too if missing).
// STORAGE_KEY_HEX  the messenger's 32-byte storage key, 64 lowercase hex digits.
//
// Actions:
//   init                          create the messenger from a fresh identity (default prekey
//                                 options: 100 one-time prekeys of each kind, post-quantum),
//                                 open the mailbox and publish the bundle; print the public
//                                 identity (its canonical `SWPI` encoding, PublicIdentity.toBytes(),
//                                 134 bytes) as one line of lowercase hex. Fails if HOME_DIR
//                                 already holds a messenger.
//   send PEER_IDENTITY_HEX TEXT…  PEER_IDENTITY_HEX: a public identity as printed by `init`.
//                                 Deposit any outbox left by an earlier failed run first; claim
//                                 the peer's bundle if there is no session with it yet; then
//                                 send each TEXT (UTF-8) as one message, in order. Prints
//                                 nothing.
//   receive N                     print every message left unhandled by an earlier run
//                                 (committed but not acknowledged), then receive from the relay
//                                 until N messages in all were printed or 10 s passed. One line
//                                 per message: `FROM_PEER_ID_HEX TEXT` — the sender's 32-byte
//                                 peer id (its Ed25519 public key: bytes 5..37 of its `SWPI`
//                                 public identity) in lowercase hex, one space, the plaintext
//                                 as UTF-8 (texts must not contain a newline). Each message is
//                                 acknowledged after its line is written.
//
// Exit status: 0 on success; 2 for `receive` when fewer than N messages arrived within 10 s
// (those that did are printed); 1 on any error or bad usage (`CODE: message` or a usage line
// on stderr, nothing on stdout for the failed step). No rollback check across runs
// (minCounter 0).
import { mkdirSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { Identity, Messenger, PublicIdentity, RelayAgent, RelayClient } = require('../../bindings/node/sealwire.js')

const RECEIVE_SECONDS = 10
const USAGE =
  'usage: relay_node.mjs RELAY_URL HOME_DIR STORAGE_KEY_HEX (init | send PEER_IDENTITY_HEX TEXT... | receive N)'

class Usage extends Error {}

function hexBytes(s, what, length) {
  if (typeof s !== 'string' || !/^([0-9a-f]{2})+$/.test(s) || (length !== undefined && s.length !== 2 * length)) {
    throw new Usage(`${what} must be ${length === undefined ? '' : `${length} bytes of `}lowercase hex`)
  }
  return Buffer.from(s, 'hex')
}

function writeLine(line) {
  return new Promise((resolve, reject) => process.stdout.write(`${line}\n`, (e) => (e ? reject(e) : resolve())))
}

async function openAgent(url, home, key) {
  const path = join(home, 'messenger.db')
  const messenger = await Messenger.openAsync(path, key, { minCounter: 0 })
  return new RelayAgent(messenger, new RelayClient(url))
}

async function init(url, home, key) {
  mkdirSync(home, { recursive: true })
  const path = join(home, 'messenger.db')
  if (existsSync(path)) throw new Usage(`${path} exists already`)
  const identity = Identity.generate()
  const messenger = await Messenger.createAsync(path, identity, key)
  const agent = new RelayAgent(messenger, new RelayClient(url))
  try {
    await agent.publishAsync()
  } finally {
    agent.close()
  }
  await writeLine(identity.public.toBytes().toString('hex'))
}

async function send(url, home, key, peerHex, texts) {
  const peer = PublicIdentity.fromBytes(hexBytes(peerHex, 'PEER_IDENTITY_HEX'))
  const agent = await openAgent(url, home, key)
  try {
    await agent.flushOutboxAsync()
    if (!agent.messenger.hasSession(peer)) await agent.connectAsync(peer)
    for (const t of texts) await agent.sendAsync(peer, Buffer.from(t, 'utf8'))
  } finally {
    agent.close()
  }
}

/** Returns how many messages were printed. */
async function receive(url, home, key, wanted) {
  const agent = await openAgent(url, home, key)
  const messenger = agent.messenger
  let printed = 0
  const show = async (m) => {
    await writeLine(`${Buffer.from(m.peer).toString('hex')} ${Buffer.from(m.plaintext).toString('utf8')}`)
    await messenger.ackAsync(m.id)
    printed++
  }
  try {
    for (const m of messenger.pendingInbox()) await show(m)
    const deadline = Date.now() + RECEIVE_SECONDS * 1000
    while (printed < wanted) {
      const left = Math.ceil((deadline - Date.now()) / 1000)
      if (left <= 0) break
      const report = await agent.receiveAsync({ limit: Math.min(1000, wanted - printed), waitSeconds: Math.min(left, 10) })
      for (const m of report.received) await show(m)
      if (report.interrupted !== undefined && report.received.length === 0) {
        throw Object.assign(new Error(report.interruptedMessage), { code: report.interrupted })
      }
    }
  } finally {
    agent.close()
  }
  return printed
}

async function main(argv) {
  if (argv.length < 4) throw new Usage(USAGE)
  const [url, home, keyHex, action, ...rest] = argv
  const key = hexBytes(keyHex, 'STORAGE_KEY_HEX', 32)
  switch (action) {
    case 'init':
      if (rest.length !== 0) throw new Usage(USAGE)
      await init(url, home, key)
      return 0
    case 'send':
      if (rest.length < 2) throw new Usage(USAGE)
      await send(url, home, key, rest[0], rest.slice(1))
      return 0
    case 'receive': {
      if (rest.length !== 1 || !/^[1-9][0-9]{0,5}$/.test(rest[0])) throw new Usage(`N must be a positive integer; ${USAGE}`)
      const wanted = Number(rest[0])
      const printed = await receive(url, home, key, wanted)
      if (printed < wanted) {
        process.stderr.write(`received ${printed} of ${wanted} messages in ${RECEIVE_SECONDS} s\n`)
        return 2
      }
      return 0
    }
    default:
      throw new Usage(USAGE)
  }
}

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status
  },
  (err) => {
    process.stderr.write(err instanceof Usage ? `${err.message}\n` : `${err.code ?? 'ERROR'}: ${err.message}\n`)
    process.exitCode = 1
  },
)
