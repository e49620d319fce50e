"""sealwire.Agent against a REAL relay (`sealwire relay serve` on 127.0.0.1, SQLite in the
test's directory; the fixture of test_relay.py): publication by ``maintain`` (idempotent),
messages to an agent that is offline go to its mailbox (``delivery == "relay"``) and reach
it exactly once when it opens later, also after a restart before the acknowledgement;
a live channel whose peer stops acknowledging falls back to the relay, and the second copy
is dropped."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sealwire import Agent, Received, SecurityConfig
from test_agent import FAST, PASS, drain_outbox, link, receive_n
from test_relay import Relay, relay  # noqa: F401  (the fixture)

__all__ = ["relay"]


@pytest.fixture(scope="module")
def config() -> SecurityConfig:
    return SecurityConfig.load(FAST)


def open_agent(home: Path, config: SecurityConfig, url: str, ack_timeout: float = 5.0) -> Agent:
    return Agent.open(
        home,
        config,
        passphrase=PASS,
        relay_url=url,
        handshake_timeout=5.0,
        ack_timeout=ack_timeout,
        relay_poll_interval=0.1,
    )


def test_offline_peer_gets_relayed_messages_exactly_once(
    relay: Relay, tmp_path: Path, config: SecurityConfig
) -> None:
    ha, hb = tmp_path / "alice", tmp_path / "bob"
    a = open_agent(ha, config, relay.url)
    b = open_agent(hb, config, relay.url)
    first = b.maintain()
    assert first.published and first.changed_anything
    # The relay's view after publishing: the whole batch of one-time prekeys of FAST.
    status = first.prekey_status
    assert status is not None
    assert (status.one_time, status.kem_one_time, status.replenish) == (10, 10, False)
    again = b.maintain()
    assert not again.published  # the relay already holds this bundle
    assert again.prekey_status == status
    assert a.maintain().published
    b_public = b.public
    b.close()  # Bob goes offline

    # First contact through the relay: Bob's bundle claimed there, messages in his mailbox.
    reports = [a.send(b_public, f"offline {i}".encode()) for i in range(3)]
    assert [r.delivery for r in reports] == ["relay"] * 3
    assert a.pending_outbox_len() == 0  # deposited, nothing waits
    assert a.stats.sent_relay == 3 and a.stats.sent_live == 0
    assert a.take_last_error() is None

    # Bob comes back: each message once; he restarts before acknowledging one of them.
    b = open_agent(hb, config, relay.url)
    got = receive_n(b, 3)
    assert sorted(m.plaintext for m in got) == [b"offline 0", b"offline 1", b"offline 2"]
    assert all(m.peer == a.peer_id for m in got)
    assert b.stats.received_relay == 3
    kept: Received = got[0]
    for m in got[1:]:
        b.ack(m.id)
    assert b.receive(timeout=1.0) == []
    b.close()
    b = open_agent(hb, config, relay.url)
    assert b.receive(timeout=1.0) == [kept]  # committed before the relay ack: same id
    b.ack(kept.id)
    assert b.receive(timeout=1.0) == []

    # Bob answers through the relay while Alice is away.
    a.close()
    assert b.send(a.public, b"welcome back").delivery == "relay"
    a = open_agent(ha, config, relay.url)
    [m] = receive_n(a, 1)
    assert (m.plaintext, m.peer) == (b"welcome back", b.peer_id)
    a.ack(m.id)
    assert a.receive(timeout=0.5) == []
    a.close()
    b.close()


def test_unacknowledged_live_message_goes_through_the_relay_once(
    relay: Relay, tmp_path: Path, config: SecurityConfig
) -> None:
    a = open_agent(tmp_path / "alice", config, relay.url, ack_timeout=0.3)
    b = open_agent(tmp_path / "bob", config, relay.url, ack_timeout=0.3)
    a.maintain()
    b.maintain()
    mine, _ = link(a, b)
    assert mine.protocol.startswith("Noise_XXhfs_")
    # Bob does not read (so does not acknowledge) while Alice's ack timeout passes.
    assert a.send(b.public, b"slow").delivery == "live"
    time.sleep(0.5)
    flushed = a.flush()
    assert (flushed.relayed, flushed.failed) == (1, 0), flushed
    assert a.stats.sent_relay == 1
    # Bob reads both copies (live and mailbox): the application sees one.
    got = receive_n(b, 1)
    deadline = time.monotonic() + 5
    while b.stats.duplicates == 0 and time.monotonic() < deadline:
        got.extend(b.receive(timeout=0.2))
    assert [m.plaintext for m in got] == [b"slow"]
    assert b.stats.duplicates >= 1
    b.ack(got[0].id)
    drain_outbox(a)
    a.close()
    b.close()
