// Cross-language agent test, Node's program (tests/cross/agent_driver.py): one invocation =
// one Agent process for one step, then closed. Same contract as tests/cross/agent_c.c (byte
// strings in lower-case hex):
//
//   node agent_node.mjs HOME CONFIG_FILE PASSPHRASE RELAY_URL init
//       -> "ID <public identity bytes>", "PEER <peer id>", "PUBLISHED <0|1>"
//   ... send PEER_IDENTITY MSG...       -> "SENT <delivery> <id>" per message
//   ... receive N WAIT_MS               -> "MSG <sender peer id> <inbox id> <plaintext>" per
//                                          message (acknowledged), then one more receive of
//                                          500 ms whose messages are printed too (none expected)
//   ... connect ADDRESS N WAIT_MS MSG...
//       (live) connect to ADDRESS (first contact) -> "PROTOCOL <name>", "CHANNEL_PEER <public
//       identity bytes>"; send each MSG to that peer ("SENT ..."), receive N answers (printed
//       and acknowledged as above), wait until every message of ours is acknowledged
//       ("PENDING <records a flush still finds>"), then the extra receive as above.
import { readFileSync } from 'node:fs'

import { Agent, PublicIdentity } from '../../bindings/node/sealwire.js'

const hex = (b) => Buffer.from(b).toString('hex')
const show = (m) => console.log(`MSG ${hex(m.peer)} ${m.id} ${hex(m.plaintext)}`)

async function receiveLoop(agent, want, deadline) {
  let got = 0
  while (got < want && Date.now() < deadline) {
    for (const m of await agent.receive(200)) {
      show(m)
      got++
      await agent.ack(m.id)
    }
  }
}

async function extraReceive(agent) {
  for (const m of await agent.receive(500)) {
    show(m)
    await agent.ack(m.id)
  }
}

async function main() {
  const [home, configFile, passphrase, relayUrl, cmd, ...args] = process.argv.slice(2)
  const agent = await Agent.open(home, readFileSync(configFile, 'utf8'), {
    passphrase,
    relayUrl,
    handshakeTimeoutMs: 5000,
    relayPollIntervalMs: 100,
  })
  try {
    if (cmd === 'init') {
      const report = await agent.maintain()
      console.log(`ID ${hex(agent.public.toBytes())}`)
      console.log(`PEER ${hex(agent.peerId)}`)
      console.log(`PUBLISHED ${report.published ? 1 : 0}`)
    } else if (cmd === 'send') {
      const peer = PublicIdentity.fromBytes(Buffer.from(args[0], 'hex'))
      for (const msg of args.slice(1)) {
        const r = await agent.send(peer, Buffer.from(msg, 'hex'))
        console.log(`SENT ${r.delivery} ${r.id}`)
      }
    } else if (cmd === 'receive') {
      await receiveLoop(agent, Number(args[0]), Date.now() + Number(args[1]))
      await extraReceive(agent)
    } else if (cmd === 'connect') {
      const [address, want, waitMs, ...msgs] = args
      const deadline = Date.now() + Number(waitMs)
      const info = await agent.connect({ address })
      console.log(`PROTOCOL ${info.protocol}`)
      console.log(`CHANNEL_PEER ${hex(info.peer.toBytes())}`)
      for (const msg of msgs) {
        const r = await agent.send(info.peer, Buffer.from(msg, 'hex'))
        console.log(`SENT ${r.delivery} ${r.id}`)
      }
      await receiveLoop(agent, Number(want), deadline)
      // The binding has no pendingOutboxLen(): a flush that finds nothing to hand on and
      // nothing waiting for an acknowledgement means the outbox is empty.
      let pending
      for (;;) {
        const f = await agent.flush()
        pending = f.live + f.relayed + f.waiting + f.failed
        if (pending === 0 || Date.now() >= deadline) break
        for (const m of await agent.receive(50)) {
          show(m)
          await agent.ack(m.id)
        }
      }
      console.log(`PENDING ${pending}`)
      await extraReceive(agent)
    } else {
      console.error(`agent_node: unknown command ${cmd}`)
      process.exitCode = 2
    }
  } finally {
    await agent.close()
  }
}

await main()
