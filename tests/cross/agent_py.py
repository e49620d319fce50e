"""Cross-language agent test, Python's program (tests/cross/agent_driver.py): one invocation
= one sealwire.Agent process for one step, then closed. Same contract as tests/cross/agent_c.c
(byte strings in lower-case hex):

    agent_py.py HOME CONFIG_FILE PASSPHRASE RELAY_URL init
        -> "ID <public identity bytes>", "PEER <peer id>", "PUBLISHED <0|1>"
    ... send PEER_IDENTITY MSG...        -> "SENT <delivery> <id>" per message
    ... receive N WAIT_MS                -> "MSG <sender peer id> <inbox id> <plaintext>" per
                                            message (acknowledged), then one more receive of
                                            0.5 s whose messages are printed too (none expected)
    ... serve N WAIT_MS                  (live) listen on 127.0.0.1:0 -> "LISTEN <host:port>";
                                            receive N messages (printed as above), answer each
                                            with b"re:" + plaintext ("SENT ..."), acknowledge
                                            it; wait until every answer is acknowledged by the
                                            peer, then the extra receive as above.
"""

from __future__ import annotations

import sys
import time

from sealwire import Agent, PublicIdentity, Received


def show(m: Received) -> None:
    print(f"MSG {bytes(m.peer).hex()} {m.id} {bytes(m.plaintext).hex()}", flush=True)


def main() -> int:
    home, config_file, passphrase, relay_url, cmd, *args = sys.argv[1:]
    with open(config_file, encoding="utf-8") as f:
        config = f.read()
    agent = Agent.open(
        home,
        config,
        passphrase=passphrase,
        relay_url=relay_url,
        handshake_timeout=5.0,
        relay_poll_interval=0.1,
    )
    try:
        if cmd == "init":
            report = agent.maintain()
            print(f"ID {agent.public.to_bytes().hex()}")
            print(f"PEER {bytes(agent.peer_id).hex()}")
            print(f"PUBLISHED {int(report.published)}")
        elif cmd == "send":
            peer = PublicIdentity.from_bytes(bytes.fromhex(args[0]))
            for msg in args[1:]:
                r = agent.send(peer, bytes.fromhex(msg))
                print(f"SENT {r.delivery} {r.id}", flush=True)
        elif cmd in ("receive", "serve"):
            want, deadline = int(args[0]), time.monotonic() + int(args[1]) / 1000
            if cmd == "serve":
                print(f"LISTEN {agent.listen('127.0.0.1:0')}", flush=True)
            got = 0
            while got < want and time.monotonic() < deadline:
                for m in agent.receive(timeout=0.2):
                    show(m)
                    got += 1
                    if cmd == "serve":
                        senders = [p.identity for p in agent.peers if p.identity.ed25519_key == m.peer]
                        assert len(senders) == 1, "the sender is not in the peer table"
                        r = agent.send(senders[0], b"re:" + bytes(m.plaintext))
                        print(f"SENT {r.delivery} {r.id}", flush=True)
                    agent.ack(m.id)
            if cmd == "serve":
                while agent.pending_outbox_len() > 0 and time.monotonic() < deadline:
                    for m in agent.receive(timeout=0.05):
                        show(m)
                        agent.ack(m.id)
                print(f"PENDING {agent.pending_outbox_len()}", flush=True)
            for m in agent.receive(timeout=0.5):  # nothing more may come
                show(m)
                agent.ack(m.id)
        else:
            print(f"agent_py: unknown command {cmd}", file=sys.stderr)
            return 2
    finally:
        agent.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
