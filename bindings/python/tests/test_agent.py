"""sealwire.Agent without a relay: two agents in one process over TCP on 127.0.0.1 (threads),
first contact with Noise XX then IK after a restart of both, messages both ways exactly once
by inbox id (an unacknowledged message comes back after a restart with the same id), the
home's unlock and lock errors, sealing, maintenance idempotence, a connected Python socket
taken over, the GIL released during a blocking receive, and the asyncio twins running
concurrently with other tasks. The relay paths are in test_agent_relay.py."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

import sealwire
from sealwire import (
    Agent,
    ChannelInfo,
    ContextMismatchError,
    DecryptionError,
    KeyNotAvailableError,
    ParameterError,
    ProtocolError,
    Received,
    RootKey,
    SecurityConfig,
    StaleStateError,
    StorageError,
)

PASS = "correct horse battery staple"

# The default configuration with the cheapest Argon2id core accepts (tests only) and small
# prekey batches (as core/src/agent/tests.rs).
FAST = """version = 1
[identity.kdf]
memory_kib = 19456
iterations = 2
lanes = 1
[prekeys]
batch_size = 10
kem_batch_size = 10
[overrides]
allow_weak_kdf = true
"""

DAY = 86_400

T = TypeVar("T")


@pytest.fixture(scope="module")
def config() -> SecurityConfig:
    return SecurityConfig.load(FAST)


def open_agent(home: Path, config: SecurityConfig, **kw: object) -> Agent:
    return Agent.open(home, config, passphrase=PASS, handshake_timeout=5.0, **kw)  # type: ignore[arg-type]


def in_thread(f: Callable[[], T]) -> Callable[[], T]:
    """Run `f` on a thread now; the returned function joins it and returns (or raises) its
    result."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["result"] = f()
        except BaseException as e:  # re-raised by join()
            box["error"] = e

    t = threading.Thread(target=run)
    t.start()

    def join() -> T:
        t.join(30)
        assert not t.is_alive(), "the thread did not finish"
        if "error" in box:
            raise box["error"]  # type: ignore[misc]
        return box["result"]  # type: ignore[return-value]

    return join


def link(initiator: Agent, responder: Agent, **connect: object) -> tuple[ChannelInfo, ChannelInfo]:
    """`responder` listens (if not yet) and accepts on a thread while `initiator` connects."""
    address = responder.listening_on or responder.listen("127.0.0.1:0")
    accepted = in_thread(lambda: responder.accept_incoming(timeout=10.0))
    if not connect:
        connect = {"address": address}
    mine = initiator.connect(**connect)  # type: ignore[arg-type]
    theirs = accepted()
    assert theirs is not None
    return mine, theirs


def receive_n(agent: Agent, n: int, seconds: float = 15.0) -> list[Received]:
    got: list[Received] = []
    deadline = time.monotonic() + seconds
    while len(got) < n and time.monotonic() < deadline:
        got.extend(agent.receive(timeout=0.1))
    return got


def drain_outbox(agent: Agent, seconds: float = 15.0) -> None:
    """Let `agent` read acknowledgements until its outbox is empty."""
    deadline = time.monotonic() + seconds
    while agent.pending_outbox_len() > 0:
        assert time.monotonic() < deadline, "the outbox did not empty"
        assert agent.receive(timeout=0.05) == []
    assert agent.pending_outbox_len() == 0


def home_snapshot(home: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(home.iterdir()) if p.is_file()}


@pytest.fixture
def pair(tmp_path: Path, config: SecurityConfig) -> Iterator[tuple[Agent, Agent]]:
    a = open_agent(tmp_path / "alice", config)
    b = open_agent(tmp_path / "bob", config)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


# --- live channels and delivery -------------------------------------------------------------


def test_xx_first_then_ik_after_restart_and_each_message_once(
    tmp_path: Path, config: SecurityConfig
) -> None:
    ha, hb = tmp_path / "alice", tmp_path / "bob"
    a, b = open_agent(ha, config), open_agent(hb, config)
    a_public, b_public = a.public, b.public
    assert a_public != b_public
    assert a.peer_id == a_public.ed25519_key and len(a.peer_id) == 32
    assert a.peers == [] and b.peers == []

    # First contact: XX (hybrid, the default configuration's first_contact).
    mine, theirs = link(a, b)
    assert mine.protocol.startswith("Noise_XXhfs_25519+MLKEM768_"), mine.protocol
    assert theirs.protocol == mine.protocol
    assert (mine.initiator, theirs.initiator) == (True, False)
    assert mine.peer == b_public and theirs.peer == a_public
    assert a.is_connected(b_public) and b.is_connected(a.peer_id)
    [known] = a.peers
    assert known.identity == b_public
    assert known.address == b.listening_on
    assert a.stats.handshakes == 1 and b.stats.handshakes == 1

    # Alice -> Bob, live; each message once, acknowledged.
    reports = [a.send(b_public, f"hello {i}".encode()) for i in range(3)]
    assert [r.delivery for r in reports] == ["live"] * 3
    assert reports[0].id < reports[1].id < reports[2].id
    got = receive_n(b, 3)
    assert sorted(m.plaintext for m in got) == [b"hello 0", b"hello 1", b"hello 2"]
    assert all(m.peer == a.peer_id for m in got)
    assert len({m.id for m in got}) == 3 and len({m.message_id for m in got}) == 3
    bob_ids = {m.id for m in got}
    for m in got:
        b.ack(m.id)
    drain_outbox(a)
    assert b.receive(timeout=0.2) == []  # nothing twice

    # Bob -> Alice over the same channel; Alice acknowledges one and keeps the other.
    assert b.send(a_public, b"reply").delivery == "live"
    assert b.send(a_public, b"kept").delivery == "live"
    got = receive_n(a, 2)
    by_text = {m.plaintext: m for m in got}
    assert set(by_text) == {b"reply", b"kept"}
    a.ack(by_text[b"reply"].id)
    a.ack(by_text[b"reply"].id)  # idempotent
    kept = by_text[b"kept"]
    drain_outbox(b)
    assert a.receive(timeout=0.2) == []
    assert a.stats.received_live == 2 and b.stats.received_live == 3

    # Restart both from their homes.
    a.close()
    b.close()
    assert a.closed and b.closed
    a, b = open_agent(ha, config), open_agent(hb, config)
    assert a.public == a_public and b.public == b_public
    # The unacknowledged message comes back, once, with the same inbox id; nothing else.
    [again] = a.receive(timeout=0.0)
    assert (again.id, again.message_id, again.plaintext) == (kept.id, kept.message_id, b"kept")
    assert again == kept
    assert a.receive(timeout=0.2) == []
    assert b.receive(timeout=0.2) == []
    a.ack(again.id)
    [known] = a.peers
    assert known.identity == b_public  # the peer table survived

    # Reconnect by identity (address from the peer table): IK now.
    b.listen(known.address or "")
    mine, theirs = link(a, b, peer=b_public)
    assert mine.protocol.startswith("Noise_IKhfs_25519+MLKEM768_"), mine.protocol
    assert theirs.peer == a_public
    # The ratchet sessions survived the restart too.
    assert a.send(b_public, b"after restart").delivery == "live"
    [m] = receive_n(b, 1)
    assert m.plaintext == b"after restart"
    assert m.id > max(bob_ids)  # inbox ids never repeat
    b.ack(m.id)
    drain_outbox(a)
    a.close()
    b.close()

    # Acknowledged messages are gone for good.
    a, b = open_agent(ha, config), open_agent(hb, config)
    assert a.receive() == [] and b.receive() == []
    a.close()
    b.close()


def test_accept_takes_a_connected_python_socket(pair: tuple[Agent, Agent]) -> None:
    a, b = pair
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> ChannelInfo:
        conn, _ = server.accept()
        info = b.accept(conn)
        assert conn.fileno() == -1  # detached: the agent owns the connection now
        return info

    accepted = in_thread(serve)
    mine = a.connect(f"127.0.0.1:{port}")
    theirs = accepted()
    server.close()
    assert mine.peer == b.public and theirs.peer == a.public
    assert theirs.initiator is False
    assert a.send(b.public, b"over a socket").delivery == "live"
    [m] = receive_n(b, 1)
    assert m.plaintext == b"over a socket"

    # Only connected TCP sockets.
    with pytest.raises(TypeError):
        b.accept(object())  # type: ignore[arg-type]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with pytest.raises(TypeError):
        b.accept(udp)
    assert udp.fileno() != -1  # refused sockets are left alone
    udp.close()
    unconnected = socket.socket()
    with pytest.raises(OSError):
        b.accept(unconnected)
    assert unconnected.fileno() != -1
    unconnected.close()


def test_without_relay_or_channel_there_is_no_session(pair: tuple[Agent, Agent]) -> None:
    a, b = pair
    with pytest.raises(ProtocolError) as info:
        a.send(b.public, b"nowhere")
    assert info.value.code == "ERR_SEALWIRE_NO_SESSION"
    assert a.pending_outbox_len() == 0  # nothing committed
    with pytest.raises(ParameterError, match="itself"):
        a.send(a.public, b"me")
    link(a, b)
    with pytest.raises(ParameterError) as too_large:
        a.send(b.public, bytes(192 * 1024 + 1))
    assert too_large.value.code == "ERR_SEALWIRE_MESSAGE_TOO_LARGE"
    assert a.send(b.public, bytes(192 * 1024)).delivery == "live"
    [m] = receive_n(b, 1)
    assert m.plaintext == bytes(192 * 1024)


# --- the home: unlocking, the lock ------------------------------------------------------------


def test_wrong_passphrase_is_a_decryption_error_and_writes_nothing(
    tmp_path: Path, config: SecurityConfig
) -> None:
    home = tmp_path / "alice"
    open_agent(home, config).close()
    before = home_snapshot(home)
    assert {"identity.swik", "keyring.swkr", "agent.state", "sessions.sqlite"} <= set(before)
    with pytest.raises(DecryptionError) as info:
        Agent.open(home, config, passphrase="not the passphrase")
    assert info.value.code == "ERR_SEALWIRE_DECRYPTION_FAILED"
    assert home_snapshot(home) == before
    # A passphrase is needed at all; a bytes passphrase is the same secret as its str.
    with pytest.raises(ParameterError):
        Agent.open(home, config)
    assert home_snapshot(home) == before
    Agent.open(home, config, passphrase=PASS.encode()).close()


def test_a_home_is_open_in_one_agent_at_a_time(tmp_path: Path, config: SecurityConfig) -> None:
    home = tmp_path / "alice"
    with open_agent(home, config) as first:
        with pytest.raises(StorageError) as info:
            open_agent(home, config)
        assert info.value.code == "ERR_SEALWIRE_STORAGE"
        assert not first.closed
    assert first.closed  # the context manager closed it
    open_agent(home, config).close()


def test_root_key_unlocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = FAST + '[identity]\nstorage = "kek-envelope"\n'
    text = text.replace("[identity.kdf]", '[storage.kek]\nkeyring_protection = "root-key"\n[identity.kdf]')
    # (`[identity]` after `[identity.kdf]` is valid TOML: tables in any order.)
    config = SecurityConfig.load(text)
    home = tmp_path / "alice"
    key = RootKey.generate()
    with Agent.open(home, config, root_key=key) as a:
        public = a.public
        blob = a.seal(b"data", {"k": "v"})
    assert "identity.swev" in home_snapshot(home)
    with Agent.open(home, config, root_key=bytes.fromhex(key.to_hex())) as a:
        assert a.public == public and a.open_sealed(blob, {"k": "v"}) == b"data"
    with pytest.raises(DecryptionError):
        Agent.open(home, config, root_key=RootKey.generate())
    monkeypatch.setenv("SEALWIRE_KEYRING_ROOT_KEY", key.to_hex())
    with Agent.open(home, config, root_key_from_env=True) as a:
        assert a.public == public
    with Agent.open(home, config) as a:  # no secret given: the core reads the variable
        assert a.public == public
    with pytest.raises(ParameterError, match="at most one"):
        Agent.open(home, config, root_key=key, root_key_from_env=True)


def test_an_ephemeral_agent_needs_no_secret_and_writes_nothing(tmp_path: Path) -> None:
    config = SecurityConfig.load(
        'version = 1\n[identity]\nstorage = "memory"\n[storage]\nsession_store = "memory"\n'
        'pattern = "direct"\n[storage.kek]\nprovider = "none"\n'
    )
    assert {f.code for f in config.validate().findings} == {
        "identity-not-persisted",
        "sessions-not-persisted",
    }
    home = tmp_path / "never"
    with Agent.open(home, config) as a, Agent.open(home, config) as b:
        assert a.public != b.public  # a new identity each time, and no lock
        with pytest.raises(ParameterError, match="envelope"):
            a.seal(b"x")
    assert not home.exists()


def test_open_checks_its_arguments(tmp_path: Path, config: SecurityConfig) -> None:
    home = tmp_path / "alice"
    with pytest.raises(ParameterError) as info:
        Agent.open(home, FAST.replace("allow_weak_kdf = true", ""), passphrase=PASS)
    assert "error[weak-kdf]" in str(info.value)
    assert not home.exists()
    # A configuration as text or a mapping works like a SecurityConfig.
    Agent.open(home, FAST, passphrase=PASS).close()
    with pytest.raises(ParameterError, match="at most one"):
        Agent.open(home, config, passphrase=PASS, root_key=RootKey.generate())
    for bad in [0.0, -1.0, float("nan"), 301.0]:
        with pytest.raises(ParameterError, match="connect_timeout"):
            Agent.open(home, config, passphrase=PASS, connect_timeout=bad)
    with pytest.raises(ParameterError, match="kms_settings"):
        Agent.open(home, config, passphrase=PASS, kms_settings={"vault_tokn": "x"})
    with pytest.raises(TypeError):
        Agent.open(home, config, passphrase=PASS, kms_settings={"vault_token": 3})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        Agent.open(home, config, passphrase=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Agent.open(home, 3, passphrase=PASS)  # type: ignore[arg-type]
    # Nothing above left the home locked.
    Agent.open(home, config, passphrase=PASS).close()


def test_calls_on_a_closed_agent_raise(pair: tuple[Agent, Agent]) -> None:
    a, b = pair
    a.close()
    a.close()  # idempotent
    assert repr(a) == "<Agent closed>"
    calls: list[Callable[[], object]] = [
        lambda: a.receive(),
        lambda: a.send(b.public, b"x"),
        lambda: a.connect("127.0.0.1:1"),
        lambda: a.listen("127.0.0.1:0"),
        lambda: a.accept_incoming(),
        lambda: a.flush(),
        lambda: a.ack(1),
        lambda: a.seal(b"x"),
        lambda: a.open_sealed(b"x"),
        lambda: a.maintain(),
        lambda: a.maintain_step("save-anchor"),
        lambda: a.stats,
        lambda: a.peers,
        lambda: a.take_last_error(),
        lambda: a.pending_outbox_len(),
    ]
    for call in calls:
        with pytest.raises(ParameterError, match="this Agent is closed"):
            call()
    # The identity stays readable.
    assert a.public == a.public and len(a.peer_id) == 32


def test_receive_and_connect_check_their_arguments(pair: tuple[Agent, Agent]) -> None:
    a, _ = pair
    for bad in [-0.5, float("inf"), 3601.0]:
        with pytest.raises(ParameterError):
            a.receive(timeout=bad)
        with pytest.raises(ParameterError):
            a.accept_incoming(timeout=bad)
    with pytest.raises(ParameterError, match="address"):
        a.connect()
    with pytest.raises(ParameterError, match="not listening"):
        a.accept_incoming()
    with pytest.raises(ParameterError):
        a.ack(-1)
    # Nobody listens there: an IO error, typed.
    port = socket.create_server(("127.0.0.1", 0))
    address = "127.0.0.1:%d" % port.getsockname()[1]
    port.close()
    with pytest.raises(StorageError) as info:
        a.connect(address)
    assert info.value.code == "ERR_SEALWIRE_IO"
    a.listen("127.0.0.1:0")
    t0 = time.monotonic()
    assert a.accept_incoming(timeout=0.3) is None  # nobody came
    assert time.monotonic() - t0 >= 0.25


def test_a_restored_session_store_is_stale_and_recover_starts_over(
    tmp_path: Path, config: SecurityConfig
) -> None:
    ha, hb = tmp_path / "alice", tmp_path / "bob"
    a, b = open_agent(ha, config), open_agent(hb, config)
    link(a, b)
    a.send(b.public, b"one")
    [m] = receive_n(b, 1)
    b.ack(m.id)
    drain_outbox(a)
    b.close()
    backup = {p.name: p.read_bytes() for p in hb.iterdir() if p.name.startswith("sessions.sqlite")}
    assert "sessions.sqlite" in backup

    # Bob goes on (his store moves past the copy), then the old copy is put back.
    b = open_agent(hb, config)
    link(a, b)
    a.send(b.public, b"two")
    [m] = receive_n(b, 1)
    b.ack(m.id)
    drain_outbox(a)
    b.close()
    for p in list(hb.iterdir()):
        if p.name.startswith("sessions.sqlite"):
            p.unlink()
    for name, data in backup.items():
        (hb / name).write_bytes(data)
    with pytest.raises(StaleStateError) as info:
        open_agent(hb, config)
    assert info.value.code == "ERR_SEALWIRE_STALE_STATE"

    # Recover: the old store is set aside, Alice is named, and a new session works.
    b, peers = Agent.recover(hb, config, passphrase=PASS, handshake_timeout=5.0)
    assert peers == [a.peer_id]
    assert any(p.name.startswith("stale-sessions-") for p in hb.iterdir())
    assert b.receive() == []
    link(b, a, address=a.listen("127.0.0.1:0"))
    assert b.send(a.public, b"new session").delivery == "live"
    [m] = receive_n(a, 1)
    assert (m.plaintext, m.peer) == (b"new session", b.peer_id)
    a.close()
    b.close()
    # And it opens normally afterwards.
    with open_agent(hb, config) as again:
        assert again.recovered_peers == []


# --- sealing ------------------------------------------------------------------------------------


def test_seal_open_and_seal_for(pair: tuple[Agent, Agent]) -> None:
    a, b = pair
    ctx = {"tenant": "acme", "object": "orders/1"}
    blob = a.seal(b"secret data", ctx)
    assert blob[:4] == b"SWEV"
    assert a.open_sealed(blob, ctx) == b"secret data"
    assert a.open_sealed(bytearray(blob), dict(ctx)) == b"secret data"
    with pytest.raises(ContextMismatchError):
        a.open_sealed(blob, {"tenant": "other", "object": "orders/1"})
    with pytest.raises(ContextMismatchError):
        a.open_sealed(blob)
    # Another agent's keyring does not open it.
    with pytest.raises(sealwire.SealwireError):
        b.open_sealed(blob, ctx)

    # For peers: only they open it (and we, when we include ourselves).
    for_b = a.seal_for([b.public], b"for bob", ctx)
    assert b.open_sealed(for_b, ctx) == b"for bob"
    with pytest.raises(KeyNotAvailableError):
        a.open_sealed(for_b, ctx)
    with pytest.raises(ContextMismatchError):
        b.open_sealed(for_b, {"tenant": "acme"})
    both = a.seal_for([a.public, b.public], b"for both", ctx)
    assert a.open_sealed(both, ctx) == b.open_sealed(both, ctx) == b"for both"
    with pytest.raises(TypeError):
        a.seal_for([b.public.to_bytes()], b"x", ctx)  # type: ignore[list-item]

    # Re-wrapped to the current KEK version: the same payload, other bytes.
    again = a.rewrap_sealed(blob, ctx)
    assert again != blob and a.open_sealed(again, ctx) == b"secret data"


# --- maintenance ------------------------------------------------------------------------------


def test_maintain_is_idempotent_and_rotates_when_due(pair: tuple[Agent, Agent]) -> None:
    a, _ = pair
    assert Agent.maintain_steps() == [
        "rotate-signed-prekey",
        "expire-signed-prekeys",
        "publish",
        "rotate-kek",
        "rewrap-identity",
        "flush-outbox",
        "save-anchor",
    ]
    now = int(time.time())
    ctx = {"k": "v"}
    old = a.seal(b"before the rotation", ctx)
    for _ in range(2):
        r = a.maintain(now)
        assert not r.changed_anything
        assert (r.signed_prekey_rotated, r.signed_prekeys_expired, r.kek_rotated_to) == (False, 0, None)
        assert not r.published and r.prekey_status is None  # no relay
        assert r.anchor == a.counter
        assert r.flush is not None and (r.flush.live, r.flush.relayed, r.flush.failed) == (0, 0, 0)

    # Signed prekey due after 7 days: rotated once.
    r = a.maintain(now + 8 * DAY)
    assert r.signed_prekey_rotated and r.changed_anything
    assert not a.maintain(now + 8 * DAY).changed_anything
    # The replaced one expires 30 days after it was retired (and the new one is due again).
    r = a.maintain(now + 40 * DAY)
    assert (r.signed_prekey_rotated, r.signed_prekeys_expired) == (True, 1)
    assert not a.maintain(now + 40 * DAY).changed_anything

    # The KEK after 90 days, one step at a time.
    r = a.maintain_step("rotate-kek", now + 91 * DAY)
    assert r.kek_rotated_to == 2 and r.changed_anything
    assert r.flush is None and r.anchor is None  # only that step ran
    assert a.maintain_step("rotate-kek", now + 91 * DAY).kek_rotated_to is None
    # Objects sealed under version 1 still open (grace), and move to version 2.
    assert a.open_sealed(old, ctx) == b"before the rotation"
    moved = a.rewrap_sealed(old, ctx)
    assert a.open_sealed(moved, ctx) == b"before the rotation"
    r = a.maintain_step("save-anchor", now + 91 * DAY)
    assert r.anchor == a.counter and not r.changed_anything
    with pytest.raises(ParameterError, match="unknown maintenance step"):
        a.maintain_step("rotate-everything")  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        a.maintain(-1)


# --- the GIL and asyncio ----------------------------------------------------------------------


def test_the_gil_is_released_during_a_blocking_receive(pair: tuple[Agent, Agent]) -> None:
    a, _ = pair
    stop = threading.Event()
    stamps: list[float] = []

    def busy() -> None:
        # Pure Python work: it runs only while this thread holds the GIL.
        n = 0
        while not stop.is_set():
            n += 1
            if n % 1000 == 0:
                stamps.append(time.monotonic())

    t = threading.Thread(target=busy)
    t.start()
    try:
        start = time.monotonic()
        assert a.receive(timeout=1.0) == []
        end = time.monotonic()
    finally:
        stop.set()
        t.join()
    assert end - start >= 0.9
    # The other thread made progress throughout the call, not only around it.
    middle = [s for s in stamps if start + 0.3 <= s <= end - 0.3]
    assert len(middle) >= 20, (len(stamps), len(middle))


def test_asyncio_twins_run_concurrently_with_other_tasks(
    tmp_path: Path, config: SecurityConfig
) -> None:
    async def main() -> None:
        ticks = 0
        running = True

        async def ticker() -> None:
            nonlocal ticks
            while running:
                await asyncio.sleep(0.01)
                ticks += 1

        tick_task = asyncio.create_task(ticker())
        a, b = await asyncio.gather(
            Agent.open_async(tmp_path / "alice", config, passphrase=PASS),
            Agent.open_async(tmp_path / "bob", config, passphrase=PASS),
        )
        assert isinstance(a, Agent) and isinstance(b, Agent)
        address = b.listen("127.0.0.1:0")
        theirs, mine = await asyncio.gather(
            b.accept_incoming_async(timeout=10.0), a.connect_async(address)
        )
        assert theirs is not None and theirs.peer == a.public and mine.peer == b.public

        # An idle receive waits its full timeout without holding up the loop.
        before = ticks
        t0 = time.monotonic()
        assert await b.receive_async(timeout=1.0) == []
        assert time.monotonic() - t0 >= 0.9
        assert ticks - before >= 20, ticks - before

        report = await a.send_async(b.public, b"async hello")
        assert report.delivery == "live"
        got: list[Received] = []
        while not got:
            got = await b.receive_async(timeout=0.2)
        assert [m.plaintext for m in got] == [b"async hello"]
        b.ack(got[0].id)
        flushed = await a.flush_async()
        assert flushed.failed == 0
        maintained = await a.maintain_async()
        assert maintained.anchor == a.counter

        blob = await a.seal_async(b"sealed", {"k": "v"})
        assert await a.open_sealed_async(blob, {"k": "v"}) == b"sealed"
        for_b = await a.seal_for_async([b.public], b"to b", {"k": "v"})
        assert await b.open_sealed_async(for_b, {"k": "v"}) == b"to b"
        with pytest.raises(ContextMismatchError):
            await a.open_sealed_async(blob, {"k": "w"})

        async with a:
            pass
        assert a.closed
        await b.close_async()
        assert b.closed
        running = False
        await tick_task

    asyncio.run(main())


def test_calls_from_many_threads_run_one_at_a_time(pair: tuple[Agent, Agent]) -> None:
    a, b = pair
    link(a, b)
    errors: list[BaseException] = []

    def sender(k: int) -> None:
        try:
            for i in range(5):
                assert a.send(b.public, f"{k}-{i}".encode()).delivery == "live"
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    got = receive_n(b, 20)
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(m.plaintext for m in got) == sorted(
        f"{k}-{i}".encode() for k in range(4) for i in range(5)
    )
    for m in got:
        b.ack(m.id)
    drain_outbox(a)


def test_results_do_not_show_identities(pair: tuple[Agent, Agent]) -> None:
    a, b = pair
    mine, _ = link(a, b)
    a_hex = a.peer_id.hex()
    for text in [repr(mine), repr(a.peers[0]), repr(a.stats), repr(a), repr(a.send(b.public, b"x"))]:
        assert a_hex not in text and b.peer_id.hex() not in text
        assert b.public.fingerprint not in text
    assert a.listening_on is None and b.listening_on is not None
