"""Cross-language relay test, Python's agent program (C and Node have the same program with
the same contract: tests/cross/relay_c.c, relay_node.mjs). One invocation = one agent online
for one action, then offline.

    python relay_python.py RELAY_URL HOME_DIR STORAGE_KEY_HEX ACTION [ARGS...]

    RELAY_URL        the relay, e.g. http://127.0.0.1:8790 (plain http on loopback only)
    HOME_DIR         the agent's existing directory: HOME_DIR/messenger.db is its SQLite
                     messenger store; HOME_DIR/counter holds the messenger counter (decimal)
                     after the last action, passed as min_counter when the store is opened
                     (a missing file means 0: no rollback check)
    STORAGE_KEY_HEX  the 32-byte storage key, 64 hex digits

Actions:
    init                      create HOME_DIR/messenger.db for a fresh identity (100 one-time
                              X25519 and 100 one-time ML-KEM prekeys, post-quantum) and
                              publish it on the relay. stdout: one line, the encoded public
                              identity in lower-case hex.
    send PEER_IDENTITY_HEX TEXT...
                              open; if there is no session with the peer (its public identity
                              in hex, as printed by init), connect through the relay (claims
                              its bundle); send each TEXT as one message, in order.
                              stdout: nothing.
    receive N                 open; first the messages committed but not acknowledged by an
                              earlier run (pending inbox), then receive from the relay until
                              N messages in all or 10 s. stdout: one line per message,
                              "FROM_PEER_ID_HEX TEXT" (the sender's 32-byte peer id, its
                              Ed25519 key, in lower-case hex; one space; the plaintext as is),
                              each acknowledged after it is printed. Fewer than N: exit 1.

Exit status: 0 success; 1 failure (stderr names the step and the error code); 2 usage.
"""

from __future__ import annotations

import os
import string
import sys
import time
from pathlib import Path
from typing import Callable, NoReturn, TypeVar

import sealwire

DEADLINE_SECS = 10
USAGE = (
    "usage: relay_python.py RELAY_URL HOME_DIR STORAGE_KEY_HEX "
    "(init | send PEER_IDENTITY_HEX TEXT... | receive N)\n"
)

_T = TypeVar("_T")


class Usage(Exception):
    pass


def fail(what: str, err: BaseException) -> NoReturn:
    code = err.code if isinstance(err, sealwire.SealwireError) else type(err).__name__
    sys.stderr.write(f"relay_python: {what} failed: {code}\n")
    sys.exit(1)


def step(what: str, call: Callable[[], _T]) -> _T:
    try:
        return call()
    except Exception as e:  # noqa: BLE001 - reported with the step's name
        fail(what, e)


def from_hex(text: str) -> bytes:
    if len(text) % 2 != 0:
        raise Usage("odd-length hex")
    if any(c not in string.hexdigits for c in text):
        raise Usage("malformed hex")
    return bytes.fromhex(text)


class Home:
    def __init__(self, path: str, key: bytes) -> None:
        self.db = Path(path) / "messenger.db"
        self.counter_path = Path(path) / "counter"
        self.key = key

    def read_counter(self) -> int:
        try:
            return int(self.counter_path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0

    def save_counter(self, messenger: sealwire.Messenger) -> None:
        """Write a temporary file, then rename it over the counter file."""
        counter = step("counter", lambda: messenger.counter)
        tmp = Path(str(self.counter_path) + ".tmp")
        try:
            tmp.write_text(f"{counter}\n")
            os.replace(tmp, self.counter_path)
        except OSError as e:
            fail(f"write {self.counter_path}", e)

    def open_agent(self, client: sealwire.RelayClient) -> sealwire.RelayAgent:
        """Open the store and make it a relay agent (agent.messenger is the same object)."""
        m = step("open the store", lambda: sealwire.Messenger.open(self.db, self.key, min_counter=self.read_counter()))
        return step("relay agent", lambda: sealwire.RelayAgent(m, client))

    def finish(self, agent: sealwire.RelayAgent) -> None:
        self.save_counter(agent.messenger)
        agent.close()


def do_init(home: Home, client: sealwire.RelayClient) -> int:
    identity = sealwire.Identity.generate()
    m = step(
        "create the store",
        lambda: sealwire.Messenger.create(
            home.db, identity, home.key, one_time_prekeys=100, kem_one_time_prekeys=100, post_quantum=True
        ),
    )
    agent = step("relay agent", lambda: sealwire.RelayAgent(m, client))
    step("publish", agent.publish)
    home.finish(agent)
    sys.stdout.write(identity.public.to_bytes().hex() + "\n")
    return 0


def do_send(home: Home, client: sealwire.RelayClient, peer_hex: str, texts: list[str]) -> int:
    peer = step("decode the peer identity", lambda: sealwire.PublicIdentity.from_bytes(from_hex(peer_hex)))
    agent = home.open_agent(client)
    if not step("has_session", lambda: agent.messenger.has_session(peer)):
        step("connect", lambda: agent.connect(peer))
    for text in texts:
        try:
            agent.send(peer, os.fsencode(text))
        except Exception as e:  # noqa: BLE001
            home.save_counter(agent.messenger)  # the message is committed
            fail("send", e)
    home.finish(agent)
    return 0


def print_all(agent: sealwire.RelayAgent, received: list[sealwire.Received]) -> int:
    """Print and acknowledge every message; returns how many."""
    out = sys.stdout.buffer
    for r in received:
        out.write(r.peer.hex().encode() + b" " + r.plaintext + b"\n")
        out.flush()
        step("ack", lambda: agent.messenger.ack(r.id))
    return len(received)


def do_receive(home: Home, client: sealwire.RelayClient, want: int) -> int:
    agent = home.open_agent(client)
    deadline = time.monotonic() + DEADLINE_SECS
    got = print_all(agent, step("pending inbox", agent.messenger.pending_inbox))
    while got < want:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        # A long poll, shorter than the request timeout (15 s) and the deadline.
        wait = max(0, min(5, int(remaining)))
        report = step("receive", lambda: agent.receive(100, wait))
        got += print_all(agent, report.received)
    home.finish(agent)
    if got < want:
        sys.stderr.write(f"relay_python: {got} of {want} messages within {DEADLINE_SECS} s\n")
        return 1
    return 0


def main(argv: list[str]) -> int:
    if len(argv) < 5:
        sys.stderr.write(USAGE)
        return 2
    try:
        key = from_hex(argv[3])
        if len(key) != 32:
            raise Usage("the storage key must be 32 bytes (64 hex digits)")
        home = Home(argv[2], key)
        client = step("relay client", lambda: sealwire.RelayClient(argv[1]))
        action = argv[4]
        if action == "init" and len(argv) == 5:
            return do_init(home, client)
        if action == "send" and len(argv) >= 7:
            return do_send(home, client, argv[5], argv[6:])
        if action == "receive" and len(argv) == 6 and argv[5].isdigit() and int(argv[5]) > 0:
            return do_receive(home, client, int(argv[5]))
        raise Usage(USAGE.rstrip("\n"))
    except Usage as e:
        sys.stderr.write(f"relay_python: {e}\n" if not str(e).startswith("usage:") else f"{e}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
