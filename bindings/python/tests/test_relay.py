"""sealwire.RelayClient / sealwire.RelayAgent against a REAL relay (`sealwire relay serve`,
SQLite in the test's temporary directory, 127.0.0.1, a free port): agents on SQLite files
that are never online together, relay-level and messenger-level deduplication,
acknowledgements lost (a proxy in the test answers 503) → ``interrupted`` and duplicates,
prekey maintenance after claims, an unreachable and a silent relay, the relay SIGKILLed and
restarted on the same database while messages flow, the asyncio twins (two agents in one
event loop), the GIL released during a long poll, and agents over a Python SessionStore.

The relay binary is ``target/$CARGO_BUILD_TARGET/release/sealwire`` (built by the Rust
suite, which scripts/test.sh runs first); when it is missing this module builds it with
``cargo build --release -p sealwire-cli`` and fails (never skips) if that fails."""

from __future__ import annotations

import asyncio
import http.client
import os
import random
import select
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import sealwire
from sealwire import (
    Identity,
    MemorySessionStore,
    Messenger,
    PrekeyStatus,
    ReceiveReport,
    RelayAgent,
    RelayClient,
    RelayError,
)

ROOT = Path(__file__).resolve().parents[3]
TRIPLE = os.environ.get("CARGO_BUILD_TARGET", "x86_64-unknown-linux-gnu")
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target")))
RELAY_BIN = TARGET / TRIPLE / "release" / "sealwire"

KEY = bytes(range(32))
SMALL = 3  # one-time prekeys of each kind: few keep the tests fast

UNAVAILABLE = "ERR_SEALWIRE_RELAY_UNAVAILABLE"

_build_lock = threading.Lock()


def relay_binary() -> Path:
    """The CLI binary; built once if missing (a failed build fails the test)."""
    with _build_lock:
        if not RELAY_BIN.exists():
            env = dict(os.environ, CARGO_BUILD_TARGET=TRIPLE)
            p = subprocess.run(
                ["cargo", "build", "--release", "-p", "sealwire-cli"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
            )
            if p.returncode != 0 or not RELAY_BIN.exists():
                pytest.fail(
                    f"the relay binary {RELAY_BIN} is missing and `cargo build --release -p "
                    f"sealwire-cli` failed ({p.returncode}):\n{p.stderr[-3000:]}"
                )
    return RELAY_BIN


class Relay:
    """One `sealwire relay serve` process on 127.0.0.1 over a SQLite file; SIGKILL and restart
    on the same port and database."""

    def __init__(self, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.db = workdir / "relay.db"
        self.log = workdir / "relay.log"
        self.port = 0
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = relay_binary()
        deadline = time.monotonic() + 20
        while True:
            with self.log.open("ab") as log:
                proc = subprocess.Popen(
                    [binary, "relay", "serve", "--listen", f"127.0.0.1:{self.port}", "--db", self.db],
                    stdout=subprocess.PIPE,
                    stderr=log,
                )
            line = self._first_line(proc, deadline)
            if line.startswith("listening on "):
                self.url = line.removeprefix("listening on ").strip()
                self.port = int(self.url.rsplit(":", 1)[1])
                self.proc = proc
                return
            # The old port may be briefly unavailable after a kill: try again.
            proc.kill()
            proc.wait()
            if time.monotonic() > deadline:
                pytest.fail(f"the relay did not start:\n{self.log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.05)

    @staticmethod
    def _first_line(proc: subprocess.Popen[bytes], deadline: float) -> str:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        data = b""
        while b"\n" not in data:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
        return data.decode(errors="replace").split("\n", 1)[0]

    def kill9(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def restart(self) -> None:
        self.kill9()
        self.start()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[Relay]:
    r = Relay(tmp_path / "relay")
    r.start()
    try:
        yield r
    finally:
        r.stop()


def free_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


def memory_agent(client: RelayClient, n: int = SMALL) -> RelayAgent:
    m = Messenger.create_in_memory(Identity.generate(), KEY, one_time_prekeys=n)
    return RelayAgent(m, client)


def texts(report: ReceiveReport) -> list[bytes]:
    return [r.plaintext for r in report.received]


def receive_all(agent: RelayAgent, want: int, seconds: float = 10) -> list[bytes]:
    """Receive (and acknowledge to the messenger) until `want` messages or `seconds`."""
    got: list[bytes] = []
    deadline = time.monotonic() + seconds
    while len(got) < want and time.monotonic() < deadline:
        report = agent.receive(wait_seconds=2)
        assert report.interrupted is None
        for r in report.received:
            got.append(r.plaintext)
            agent.messenger.ack(r.id)
    return got


# --- client and arguments ------------------------------------------------------------------


def test_client_options_and_url_checks(relay: Relay) -> None:
    c = RelayClient(relay.url)
    assert (c.connect_timeout, c.request_timeout, c.allow_plain_http) == (2.0, 15.0, False)
    c.health()
    assert repr(c) == "<RelayClient>"  # no URL: it may carry credentials
    c = RelayClient(relay.url + "/", connect_timeout=0.5, request_timeout=3, allow_plain_http=True)
    assert (c.connect_timeout, c.request_timeout, c.allow_plain_http) == (0.5, 3.0, True)
    c.health()
    RelayClient("https://relay.example:8443")
    RelayClient("http://[::1]:9")
    RelayClient("http://localhost:9")
    RelayClient("http://relay.example", allow_plain_http=True)
    for url in ("http://relay.example", "ftp://127.0.0.1", "https://relay.example/v1", "not a url", "",
                "https://relay.example?x=1"):
        with pytest.raises(sealwire.ParameterError) as info:
            RelayClient(url)
        assert info.value.code == "ERR_SEALWIRE_INVALID_PARAMETER"
    for bad in (0, -1, 300.5, float("nan"), float("inf")):
        with pytest.raises(sealwire.ParameterError):
            RelayClient(relay.url, connect_timeout=bad)
        with pytest.raises(sealwire.ParameterError):
            RelayClient(relay.url, request_timeout=bad)
    with pytest.raises(TypeError):
        RelayClient(relay.url, 2.0)  # type: ignore[call-arg]
    assert isinstance(RelayClient(relay.url), sealwire._native._RelayClient)


def test_argument_checks_come_before_the_network() -> None:
    # Nothing listens there: a check that came after the network would be a RelayError.
    client = RelayClient(f"http://127.0.0.1:{free_port()}", request_timeout=5)
    agent = memory_agent(client)
    for limit in (0, 1001, -1):
        with pytest.raises(sealwire.ParameterError):
            agent.receive(limit=limit)
    for wait in (-1, 31, 5, 6):  # 5 and 6: not shorter than the 5 s request timeout
        with pytest.raises(sealwire.ParameterError):
            agent.receive(wait_seconds=wait)
    with pytest.raises(TypeError):
        agent.receive(wait_seconds=1.5)  # type: ignore[arg-type]
    with pytest.raises(sealwire.DecodeError):
        agent.send(b"\x01" * 31, b"x")
    with pytest.raises(TypeError):
        agent.send("peer", b"x")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        agent.connect(b"\x01" * 32)  # type: ignore[arg-type]
    # No session: refused before anything is committed or sent.
    with pytest.raises(sealwire.ProtocolError) as info:
        agent.send(Identity.generate().public, b"x")
    assert info.value.code == "ERR_SEALWIRE_NO_SESSION"
    assert agent.messenger.pending_outbox() == []
    with pytest.raises(TypeError):
        RelayAgent(object(), client)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        RelayAgent(Messenger.create_in_memory(Identity.generate(), KEY, one_time_prekeys=1), object())  # type: ignore[arg-type]


# --- ownership of the messenger ------------------------------------------------------------


def test_the_agent_takes_the_messenger_over_and_gives_it_back(relay: Relay) -> None:
    client = RelayClient(relay.url)
    m = Messenger.create_in_memory(Identity.generate(), KEY, one_time_prekeys=SMALL)
    agent = RelayAgent(m, client)
    assert agent.messenger is m and agent.client is client
    assert len(agent.mailbox_address) == 32 and agent.mailbox_address != m.peer_id
    assert not agent.closed and repr(agent) == "<RelayAgent>"
    # A messenger belongs to one agent at a time.
    with pytest.raises(sealwire.ParameterError, match="already belongs to a RelayAgent"):
        RelayAgent(m, client)
    # The messenger stays usable, on the same state, while the agent holds it.
    before = m.counter
    status = agent.publish()
    assert m.counter == before  # publishing commits nothing
    assert (status.one_time, status.kem_one_time, status.post_quantum) == (SMALL, SMALL, True)
    bob = memory_agent(client)
    bob.publish()
    m.connect(bob.messenger.identity, bob.messenger.bundle())
    rec = m.send(bob.messenger.identity, b"plain")
    assert [r.id for r in m.pending_outbox()] == [rec.id]
    assert agent.flush_outbox() == 1  # the agent deposits what the messenger committed
    assert m.pending_outbox() == []
    assert texts(bob.receive()) == [b"plain"]
    # Give it back: the same object, without an agent; the old agent is released.
    assert agent.into_messenger() is m
    assert agent.closed and not m.closed and repr(agent) == "<RelayAgent closed>"
    for call in (agent.publish, agent.maintain, agent.flush_outbox, agent.receive, agent.into_messenger):
        with pytest.raises(sealwire.ParameterError, match="into_messenger"):
            call()
    agent.close()  # a no-op for a released agent: the messenger is not closed
    assert not m.closed
    # A new agent over it; the released one never reaches it again.
    again = RelayAgent(m, client)
    with pytest.raises(sealwire.ParameterError):
        agent.send(bob.messenger.peer_id, b"x")
    assert again.send(bob.messenger.peer_id, b"again") > rec.id
    assert texts(bob.receive()) == [b"again"]
    # An agent dropped without into_messenger() gives the messenger back too.
    del again
    third = RelayAgent(m, client)
    # Closing the agent closes the messenger (as sealwire_relay_agent_free); idempotent.
    with third:
        pass
    assert third.closed and m.closed
    third.close()
    with pytest.raises(sealwire.ParameterError, match="closed"):
        third.publish()
    with pytest.raises(sealwire.ParameterError, match="closed"):
        RelayAgent(m, client)
    # Closing the messenger closes its agent.
    m2 = Messenger.create_in_memory(Identity.generate(), KEY, one_time_prekeys=1)
    fourth = RelayAgent(m2, client)
    m2.close()
    assert fourth.closed
    with pytest.raises(sealwire.ParameterError, match="closed"):
        fourth.receive()


# --- two agents never online together --------------------------------------------------------


class Home:
    """An agent's directory: messenger.db and the counter saved after each run."""

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.db = path / "messenger.db"
        self.counter_file = path / "counter"

    def counter(self) -> int:
        return int(self.counter_file.read_text()) if self.counter_file.exists() else 0

    def open(self, client: RelayClient) -> RelayAgent:
        return RelayAgent(Messenger.open(self.db, KEY, min_counter=self.counter()), client)

    def close(self, agent: RelayAgent) -> None:
        self.counter_file.write_text(f"{agent.messenger.counter}\n")
        agent.close()


def test_two_agents_never_online_together(relay: Relay, tmp_path: Path) -> None:
    client = RelayClient(relay.url)
    alice_home, bob_home = Home(tmp_path / "alice"), Home(tmp_path / "bob")
    alice_id, bob_id = Identity.generate(), Identity.generate()

    # Alice: create, publish, go offline.
    alice = RelayAgent(Messenger.create(alice_home.db, alice_id, KEY, one_time_prekeys=SMALL), client)
    status = alice.publish()
    assert (status.one_time, status.kem_one_time, status.replenish) == (SMALL, SMALL, True)
    alice_home.close(alice)

    # Bob: create (he never publishes a bundle; his mailbox is opened by publish()),
    # connect to Alice through the relay, send three, go offline.
    bob = RelayAgent(Messenger.create(bob_home.db, bob_id, KEY, one_time_prekeys=SMALL), client)
    bob.publish()
    bob.connect(alice_id.public)
    ids = [bob.send(alice_id.public, f"bob {i}".encode()) for i in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert bob.messenger.pending_outbox() == []
    bob_home.close(bob)

    # Alice reopens (rollback check against her saved counter): three in order, from Bob.
    alice = alice_home.open(client)
    report = alice.receive()
    assert texts(report) == [b"bob 0", b"bob 1", b"bob 2"]
    assert {r.peer for r in report.received} == {bob_id.public.ed25519_key}
    assert (report.duplicates, report.rejected, report.interrupted) == (0, 0, None)
    assert [r.id for r in alice.messenger.pending_inbox()] == [r.id for r in report.received]
    for r in report.received:
        alice.messenger.ack(r.id)
    assert alice.messenger.pending_inbox() == []
    # The claimed prekey was used by Bob's initial message: maintain() tops the relay up.
    assert alice.maintain().one_time == SMALL
    # Reply: Alice looks Bob's mailbox up on the relay (she never connected).
    alice.send(bob_id.public, b"alice 0")
    alice_home.close(alice)
    assert texts(alice_home.open(client).receive()) == []  # nothing for Alice now

    # Bob reopens and reads the reply; nothing more is waiting on either side.
    bob = bob_home.open(client)
    assert receive_all(bob, 1) == [b"alice 0"]
    assert bob.receive().received == []
    bob_home.close(bob)
    # A messenger opened with a counter above the store's was rolled back: refused.
    with pytest.raises(sealwire.StaleStateError):
        Messenger.open(bob_home.db, KEY, min_counter=bob_home.counter() + 1)


# --- deduplication -----------------------------------------------------------------------


def copy_store(db: Path, dest: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(db) + suffix)
        if src.exists():
            shutil.copyfile(src, Path(str(dest) + suffix))


def test_a_crash_before_mark_sent_deposits_once(relay: Relay, tmp_path: Path) -> None:
    client = RelayClient(relay.url)
    bob = memory_agent(client)
    bob.publish()
    home = Home(tmp_path / "alice")
    alice = RelayAgent(Messenger.create(home.db, Identity.generate(), KEY, one_time_prekeys=SMALL), client)
    alice.connect(bob.messenger.identity)
    alice.messenger.send(bob.messenger.peer_id, b"one")  # committed, not yet deposited
    alice.messenger.send(bob.messenger.peer_id, b"two")
    home.close(alice)
    snapshot = tmp_path / "snapshot.db"
    copy_store(home.db, snapshot)  # the store as a crash before mark_sent leaves it
    counter = home.counter()

    def crashed(name: str) -> RelayAgent:
        copy_store(snapshot, tmp_path / name)
        return RelayAgent(Messenger.open(tmp_path / name, KEY, min_counter=counter), client)

    alice = home.open(client)
    assert alice.flush_outbox() == 2
    assert alice.messenger.pending_outbox() == [] and alice.flush_outbox() == 0
    alice.close()
    # The crashed copy deposits the same two ratchet messages again, under the same deposit
    # ids: the relay stores each once.
    first = crashed("crashed1.db")
    assert len(first.messenger.pending_outbox()) == 2
    assert first.flush_outbox() == 2
    first.close()
    report = bob.receive()
    assert texts(report) == [b"one", b"two"] and report.duplicates == 0
    assert bob.receive().received == []
    # Once more after Bob acknowledged them (new rows on the relay): his messenger knows them.
    second = crashed("crashed2.db")
    assert second.flush_outbox() == 2
    second.close()
    report = bob.receive()
    assert (report.received, report.duplicates, report.rejected) == ([], 2, 0)
    # Bob's application saw each once (not acknowledged to his messenger yet: still there).
    assert [r.plaintext for r in bob.messenger.pending_inbox()] == [b"one", b"two"]


class AckBlocker:
    """A forwarding proxy in front of the relay that answers 503 to batch acknowledgements
    while `block_acks` is set (the relay keeps those messages)."""

    def __init__(self, relay: Relay) -> None:
        self.block_acks = False
        self.blocked = 0
        host, port = "127.0.0.1", relay.port
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if outer.block_acks and self.command == "POST" and self.path.endswith("/ack"):
                    outer.blocked += 1
                    self._reply(503, b'{"error":"unavailable","message":"blocked by the test"}', "application/json")
                    return
                conn = http.client.HTTPConnection(host, port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                self._reply(resp.status, data, resp.getheader("Content-Type") or "application/json")

            def _reply(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_lost_acknowledgements_interrupt_then_come_back_as_duplicates(relay: Relay) -> None:
    proxy = AckBlocker(relay)
    try:
        direct = RelayClient(relay.url)
        alice = memory_agent(direct)
        bob = memory_agent(RelayClient(proxy.url))
        bob.publish()
        alice.connect(bob.messenger.identity)
        alice.send(bob.messenger.peer_id, b"first")
        alice.send(bob.messenger.peer_id, b"second")
        proxy.block_acks = True
        report = bob.receive()
        # Committed, then the acknowledgement failed: the messages are returned anyway.
        assert texts(report) == [b"first", b"second"]
        assert isinstance(report.interrupted, RelayError)
        assert report.interrupted.code == UNAVAILABLE
        assert "interrupted=ERR_SEALWIRE_RELAY_UNAVAILABLE" in repr(report)
        assert proxy.blocked == 1
        for r in report.received:
            bob.messenger.ack(r.id)
        counter = bob.messenger.counter
        # Still on the relay: fetched again and recognized (nothing committed); with no new
        # message the failed acknowledgement is raised.
        with pytest.raises(RelayError) as info:
            bob.receive()
        assert info.value.code == UNAVAILABLE and proxy.blocked == 2
        assert bob.messenger.counter == counter
        proxy.block_acks = False
        # Acknowledged now, as duplicates; nothing committed, nothing handed over again.
        report = bob.receive()
        assert (report.received, report.duplicates, report.rejected, report.interrupted) == ([], 2, 0, None)
        assert bob.messenger.counter == counter
        assert bob.receive().duplicates == 0  # the mailbox is empty now
        assert bob.messenger.pending_inbox() == []
    finally:
        proxy.close()


def test_forged_deposits_are_rejected_and_dropped(relay: Relay) -> None:
    client = RelayClient(relay.url)
    alice, bob = memory_agent(client), memory_agent(client)
    bob.publish()
    alice.connect(bob.messenger.identity)
    # A deposit anyone could make: a well-formed SWMM that does not open under Bob's key.
    forged = b"SWMM\x01" + os.urandom(32) + os.urandom(64)
    conn = http.client.HTTPConnection("127.0.0.1", relay.port, timeout=5)
    conn.request(
        "PUT",
        f"/v1/mailboxes/{bob.mailbox_address.hex()}/messages/{os.urandom(32).hex()}",
        body=forged,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert conn.getresponse().status == 201
    conn.close()
    alice.send(bob.messenger.peer_id, b"genuine")
    report = bob.receive()
    assert texts(report) == [b"genuine"] and report.rejected == 1
    report = bob.receive()
    assert (report.received, report.duplicates, report.rejected) == ([], 0, 0)


# --- prekeys -----------------------------------------------------------------------------


def test_maintain_replenishes_after_claims(relay: Relay) -> None:
    client = RelayClient(relay.url)
    alice = memory_agent(client, 12)
    status = alice.publish()
    assert isinstance(status, PrekeyStatus)
    assert (status.one_time, status.kem_one_time, status.replenish) == (12, 12, False)
    assert alice.maintain() == status  # nothing to do at 12 (the relay's threshold is 10)
    assert alice.messenger.one_time_prekey_count() == 12
    claimers = [memory_agent(client, 1) for _ in range(3)]
    for c in claimers:
        c.publish()
        c.connect(alice.messenger.identity)
    status = alice.maintain()
    assert (status.one_time, status.kem_one_time, status.replenish) == (12, 12, False)
    assert "one_time=12" in repr(status)
    # The claimed ones are kept until their initial messages arrive.
    assert alice.messenger.one_time_prekey_count() == 15
    for i, c in enumerate(claimers):
        c.send(alice.messenger.peer_id, f"claimer {i}".encode())
    assert sorted(receive_all(alice, 3)) == [b"claimer 0", b"claimer 1", b"claimer 2"]
    assert alice.messenger.one_time_prekey_count() == 12
    # Replies reach each claimer.
    for i, c in enumerate(claimers):
        alice.send(c.messenger.peer_id, f"reply {i}".encode())
        assert receive_all(c, 1) == [f"reply {i}".encode()]
    # A fresh bundle after a reset: the relay forgets its rows and high-water marks.
    status = alice.publish_reset()
    assert (status.one_time, status.kem_one_time) == (12, 12)


def test_relay_not_found(relay: Relay) -> None:
    client = RelayClient(relay.url)
    alice = memory_agent(client)
    stranger = Identity.generate().public
    with pytest.raises(RelayError) as info:
        alice.connect(stranger)
    assert info.value.code == "ERR_SEALWIRE_RELAY_NOT_FOUND"
    with pytest.raises(RelayError) as info:
        alice.receive()  # the mailbox is opened by publish()
    assert info.value.code == "ERR_SEALWIRE_RELAY_NOT_FOUND"
    with pytest.raises(RelayError) as info:
        alice.maintain()  # nothing published yet
    assert info.value.code == "ERR_SEALWIRE_RELAY_NOT_FOUND"
    alice.publish()
    assert alice.receive().received == []


# --- an unreachable or silent relay ------------------------------------------------------


def test_unreachable_relay_is_relay_unavailable_and_keeps_the_message(relay: Relay) -> None:
    dead = RelayClient(f"http://127.0.0.1:{free_port()}")
    bob = memory_agent(RelayClient(relay.url))
    bob.publish()
    m = Messenger.create_in_memory(Identity.generate(), KEY, one_time_prekeys=SMALL)
    m.connect(bob.messenger.identity, bob.messenger.bundle())
    alice = RelayAgent(m, dead)
    calls: list[Any] = [
        dead.health,
        alice.publish,
        alice.publish_reset,
        alice.maintain,
        lambda: alice.connect(bob.messenger.identity),
        alice.receive,
    ]
    for call in calls:
        start = time.monotonic()
        with pytest.raises(RelayError) as info:
            call()
        assert info.value.code == UNAVAILABLE
        assert time.monotonic() - start < 2  # a refused connection fails at once
    with pytest.raises(RelayError) as info:
        alice.send(bob.messenger.peer_id, b"kept")
    assert info.value.code == UNAVAILABLE
    # Committed before the deposit: it stays in the outbox, and goes out later.
    assert [r.peer for r in m.pending_outbox()] == [bob.messenger.peer_id]
    with pytest.raises(RelayError):
        alice.flush_outbox()
    assert len(m.pending_outbox()) == 1
    alice.into_messenger()
    alice = RelayAgent(m, RelayClient(relay.url))
    assert alice.flush_outbox() == 1
    assert m.pending_outbox() == []
    assert receive_all(bob, 1) == [b"kept"]


def test_silent_relay_times_out() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections (the kernel does), never answers
    try:
        client = RelayClient(f"http://127.0.0.1:{listener.getsockname()[1]}", request_timeout=0.5)
        start = time.monotonic()
        with pytest.raises(RelayError) as info:
            client.health()
        assert info.value.code == "ERR_SEALWIRE_RELAY_TIMEOUT"
        assert 0.4 < time.monotonic() - start < 5
    finally:
        listener.close()


# --- the relay killed mid-conversation ----------------------------------------------------


def test_relay_killed_and_restarted_loses_and_duplicates_nothing(relay: Relay, tmp_path: Path) -> None:
    """Alice sends N messages while Bob long-polls, each on its own thread with its own SQLite
    messenger; the relay is SIGKILLed and restarted on the same database at random moments.
    Bob's application sees every message exactly once, in order."""
    seed = int(os.environ.get("SEALWIRE_RELAY_FAULT_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    client = RelayClient(relay.url)
    alice_home, bob_home = Home(tmp_path / "alice"), Home(tmp_path / "bob")
    alice = RelayAgent(Messenger.create(alice_home.db, Identity.generate(), KEY, one_time_prekeys=SMALL), client)
    bob = RelayAgent(Messenger.create(bob_home.db, Identity.generate(), KEY, one_time_prekeys=SMALL), client)
    alice.publish()
    bob.publish()
    alice.connect(bob.messenger.identity)
    n = 100
    expected = [f"message {i}".encode() for i in range(n)]
    got: list[bytes] = []
    stats = {"send_failures": 0, "receive_failures": 0, "interrupted": 0, "duplicates": 0}
    done = threading.Event()
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            i = 0
            while i < n:
                try:
                    alice.flush_outbox()  # earlier failures first: deposits stay in order
                except RelayError:
                    stats["send_failures"] += 1
                    time.sleep(0.02)
                    continue
                try:
                    alice.send(bob.messenger.peer_id, expected[i])
                except RelayError:
                    stats["send_failures"] += 1  # committed: flushed on the next round
                i += 1
                time.sleep(rng.uniform(0, 0.03))
            while alice.messenger.pending_outbox():
                try:
                    alice.flush_outbox()
                except RelayError:
                    time.sleep(0.02)
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    def receiver() -> None:
        try:
            deadline = time.monotonic() + 90
            while len(got) < n and time.monotonic() < deadline:
                try:
                    report = bob.receive(limit=7, wait_seconds=1)
                except RelayError:
                    stats["receive_failures"] += 1
                    time.sleep(0.02)
                    continue
                for r in report.received:  # committed: handle, then ack to the messenger
                    got.append(r.plaintext)
                    bob.messenger.ack(r.id)
                stats["duplicates"] += report.duplicates
                if report.interrupted is not None:
                    assert isinstance(report.interrupted, RelayError)
                    stats["interrupted"] += 1
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)
        finally:
            done.set()

    threads = [threading.Thread(target=sender), threading.Thread(target=receiver)]
    for t in threads:
        t.start()
    kills = 0
    while not done.is_set() and kills < 12:
        time.sleep(rng.uniform(0.05, 0.4))
        relay.kill9()
        kills += 1
        time.sleep(rng.uniform(0, 0.1))
        relay.start()
    for t in threads:
        t.join(120)
    assert not errors, f"seed {seed}: {errors!r}"
    assert got == expected, f"seed {seed}, {stats}: {len(got)} of {n}"
    print(f"seed {seed}: {kills} kills, {stats}")
    assert kills >= 3 and stats["send_failures"] + stats["receive_failures"] > 0, (seed, kills, stats)
    assert alice.messenger.pending_outbox() == [] and bob.messenger.pending_inbox() == []
    # Left on the relay: at most copies whose acknowledgement a kill interrupted.
    report = bob.receive()
    assert report.received == [] and report.rejected == 0
    assert bob.receive().duplicates == 0
    # The conversation goes on both ways after one more kill, on new processes' state.
    relay.restart()
    bob.send(alice.messenger.peer_id, b"still here")
    assert receive_all(alice, 1) == [b"still here"]
    alice_home.close(alice)
    bob_home.close(bob)


# --- asyncio and the GIL -----------------------------------------------------------------


def test_async_twins_two_agents_in_one_event_loop(relay: Relay) -> None:
    client = RelayClient(relay.url)
    alice, bob = memory_agent(client), memory_agent(client)

    async def main() -> None:
        await client.health_async()
        sa, sb = await asyncio.gather(alice.publish_async(), bob.publish_async())
        assert sa.one_time == sb.one_time == SMALL
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        tick_task = asyncio.create_task(ticker())
        # Bob long-polls while Alice connects and sends, in the same loop.
        start = time.monotonic()
        waiting = asyncio.create_task(bob.receive_async(wait_seconds=10))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        await alice.connect_async(bob.messenger.identity)
        out_id = await alice.send_async(bob.messenger.peer_id, b"async hello")
        report = await waiting
        assert texts(report) == [b"async hello"]
        assert time.monotonic() - start < 8  # woken by the deposit, not by the end of the wait
        assert ticks >= 10  # the loop kept running during the long poll
        assert out_id > 0
        for r in report.received:
            bob.messenger.ack(r.id)
        # Both ways at once.
        back, sent = await asyncio.gather(
            alice.receive_async(limit=10, wait_seconds=10),
            bob.send_async(alice.messenger.identity, b"async reply"),
        )
        assert texts(back) == [b"async reply"] and sent > 0
        assert await alice.flush_outbox_async() == 0
        status = await alice.maintain_async()
        assert status.one_time == SMALL
        # Bob used one prekey (Alice claimed it): a reset publishes the two left.
        assert (await bob.publish_reset_async()).one_time == bob.messenger.one_time_prekey_count() == SMALL - 1
        # Errors come through the await.
        with pytest.raises(sealwire.ParameterError):
            await alice.receive_async(limit=0)
        with pytest.raises(RelayError) as info:
            await RelayClient(f"http://127.0.0.1:{free_port()}").health_async()
        assert info.value.code == UNAVAILABLE
        stop.set()
        await tick_task

    asyncio.run(main())


def test_gil_is_released_during_a_long_poll(relay: Relay) -> None:
    client = RelayClient(relay.url)
    bob = memory_agent(client)
    bob.publish()
    result: list[ReceiveReport] = []
    poll = threading.Thread(target=lambda: result.append(bob.receive(wait_seconds=3)))
    start = time.monotonic()
    poll.start()
    time.sleep(0.3)  # the poll is waiting on the relay now
    # Python work on this thread progresses while the poll is waiting.
    n = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 0.5:
        n += sum(range(100))
    assert poll.is_alive(), "the long poll ended early"
    # The messenger's identity does not wait for the agent's call (its lock is held).
    assert bob.messenger.peer_id == bob.messenger.identity.ed25519_key
    assert time.monotonic() - start < 2.5
    poll.join(10)
    assert time.monotonic() - start >= 2.5  # it did wait (for an empty mailbox)
    assert n > 0 and result and result[0].received == []


# --- a Python SessionStore ---------------------------------------------------------------


class FlakyStore(MemorySessionStore):
    """The reference store, whose `commit_receive` number `fail_at` (counting from 1) fails."""

    def __init__(self) -> None:
        super().__init__()
        self.receive_commits = 0
        self.fail_at = 0

    def commit_receive(self, commit: sealwire.ReceiveCommit, /) -> None:
        self.receive_commits += 1
        if self.receive_commits == self.fail_at:
            raise OSError("commit refused by the test")
        super().commit_receive(commit)


def test_agents_over_python_session_stores(relay: Relay) -> None:
    """The store needs the GIL: it is called (re-attached) from inside the relay calls, from
    the calling thread or the agent's async worker."""
    client = RelayClient(relay.url)
    sa, sb = MemorySessionStore(), FlakyStore()
    alice = RelayAgent(Messenger.create_with_store(sa, Identity.generate(), KEY, one_time_prekeys=SMALL), client)
    bob = RelayAgent(Messenger.create_with_store(sb, Identity.generate(), KEY, one_time_prekeys=SMALL), client)
    bob.publish()
    alice.connect(bob.messenger.identity)
    alice.send(bob.messenger.peer_id, b"one")
    assert sa.pending_outbox() == []  # marked sent in Alice's store
    report = bob.receive()
    assert texts(report) == [b"one"]
    assert [r.id for r in sb.pending_inbox()] == [report.received[0].id]

    async def both() -> list[bytes]:
        sent = asyncio.create_task(alice.send_async(bob.messenger.peer_id, b"two"))
        report = await bob.receive_async(wait_seconds=5)
        await sent
        return texts(report)

    assert asyncio.run(both()) == [b"two"]

    # A store failure while receiving: StorageError (the store's exception as __cause__),
    # nothing acknowledged; the message comes back and is received once.
    alice.send(bob.messenger.peer_id, b"three")
    sb.fail_at = sb.receive_commits + 1
    with pytest.raises(sealwire.StorageError) as info:
        bob.receive()
    assert isinstance(info.value.__cause__, OSError)
    assert texts(bob.receive()) == [b"three"]

    # A failure after one committed message: the batch ends, reported in `interrupted`.
    alice.send(bob.messenger.peer_id, b"four")
    alice.send(bob.messenger.peer_id, b"five")
    sb.fail_at = sb.receive_commits + 2
    report = bob.receive()
    assert texts(report) == [b"four"]
    assert isinstance(report.interrupted, sealwire.StorageError)
    assert isinstance(report.interrupted.__cause__, OSError)
    report = bob.receive()  # "four" was acknowledged on the relay, "five" was not
    assert texts(report) == [b"five"] and report.duplicates == 0
    assert [r.plaintext for r in bob.messenger.pending_inbox()] == [b"one", b"two", b"three", b"four", b"five"]
