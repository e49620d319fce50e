"""Noise vectors replayed byte for byte through the Python binding.

* tests/vectors/noise-hfs.json: every vector (XXhfs, IKhfs with 25519+MLKEM768);
* tests/vectors/cacophony.json: every 25519 vector whose pattern sealwire supports (288);
  the rest must be X448 or deferred patterns (X1K, ...), so nothing is skipped by accident.

Both sides run in Python; every message is written by one side, must equal the vector's
ciphertext, and must be read back by the other side to the vector's payload.
"""

from __future__ import annotations

from itertools import takewhile
from typing import Any

import pytest

import sealwire
from conftest import load_noise_vectors

HFS = load_noise_vectors("noise-hfs.json")
CACOPHONY = load_noise_vectors("cacophony.json")


def pattern_of(name: str) -> str:
    return name.split("_")[1]


def psk_locations(name: str) -> list[int]:
    """psk numbers named by a protocol name: "NNpsk0+psk2" -> [0, 2]."""
    return sorted(
        int(part[part.index("psk") + 3 :]) for part in pattern_of(name).split("+") if "psk" in part
    )


def is_one_way(name: str) -> bool:
    return len("".join(takewhile(str.isupper, pattern_of(name)))) == 1


def side(v: dict[str, Any], prefix: str) -> sealwire.NoiseHandshake:
    def opt(key: str) -> bytes | None:
        value = v.get(prefix + key)
        return None if value is None else bytes.fromhex(value)

    name: str = v["protocol_name"]
    psks: dict[int, bytes] | None = None
    if prefix + "psks" in v:
        values = [bytes.fromhex(p) for p in v[prefix + "psks"]]
        locations = psk_locations(name)
        assert len(locations) == len(values), name
        psks = dict(zip(locations, values))
    return sealwire.NoiseHandshake._from_vector_inputs(
        name,
        initiator=prefix == "init_",
        static_secret=opt("static"),
        remote_static=opt("remote_static"),
        psks=psks,
        prologue=opt("prologue") or b"",
        ephemeral=opt("ephemeral"),
        kem_seed=opt("kem_seed"),
        kem_encaps_m=opt("kem_encaps_m"),
    )


def replay(v: dict[str, Any]) -> None:
    """Run vector `v`; raise AssertionError (or a sealwire error) on any difference."""
    name: str = v["protocol_name"]
    init, resp = side(v, "init_"), side(v, "resp_")
    messages = v["messages"]
    i = 0
    while not init.is_finished:
        assert i < len(messages), f"{name}: vector ends inside the handshake"
        writer, reader = (init, resp) if i % 2 == 0 else (resp, init)
        assert writer.is_my_turn and not reader.is_my_turn
        payload = bytes.fromhex(messages[i]["payload"])
        ct = writer.write_message(payload)
        assert ct.hex() == messages[i]["ciphertext"].lower(), f"{name}: handshake message {i}"
        assert reader.read_message(ct) == payload, f"{name}: payload {i}"
        i += 1
    assert resp.is_finished, name
    assert init.handshake_hash.hex() == v["handshake_hash"].lower(), f"{name}: handshake hash"
    assert resp.handshake_hash == init.handshake_hash
    ti, tr = init.into_transport(), resp.into_transport()
    one_way = is_one_way(name)
    for j in range(i, len(messages)):
        sender, receiver = (ti, tr) if one_way or j % 2 == 0 else (tr, ti)
        payload = bytes.fromhex(messages[j]["payload"])
        ct = sender.encrypt(payload)
        assert ct.hex() == messages[j]["ciphertext"].lower(), f"{name}: transport message {j}"
        assert receiver.decrypt(ct) == payload, f"{name}: transport payload {j}"
    assert ti.handshake_hash == tr.handshake_hash == bytes.fromhex(v["handshake_hash"])


@pytest.mark.parametrize("v", HFS, ids=[v["protocol_name"] for v in HFS])
def test_hfs_vector(v: dict[str, Any]) -> None:
    assert "hfs_25519+MLKEM768_" in v["protocol_name"]
    replay(v)


def test_hfs_vector_file_is_complete() -> None:
    names = {v["protocol_name"] for v in HFS}
    expected = {
        f"Noise_{pattern}_25519+MLKEM768_{cipher}_{hash_}"
        for pattern in ("XXhfs", "IKhfs")
        for cipher in ("ChaChaPoly", "AESGCM")
        for hash_ in ("SHA256", "SHA512", "BLAKE2s", "BLAKE2b")
    }
    assert expected <= names
    assert len(HFS) == 16


def test_hfs_vector_message_sizes() -> None:
    """Sizes from docs (empty payloads): XXhfs 1216, 1200, 64; IKhfs 1296, 1152."""
    for v in HFS:
        sizes = [
            len(bytes.fromhex(m["ciphertext"])) - len(bytes.fromhex(m["payload"]))
            for m in v["messages"]
        ]
        if "_XXhfs_" in v["protocol_name"]:
            assert sizes[:3] == [1216, 1200, 64]
        else:
            assert sizes[:2] == [1296, 1152]


def test_cacophony_vectors() -> None:
    passed = 0
    skipped = 0
    failures: list[str] = []
    for v in CACOPHONY:
        name: str = v["protocol_name"]
        try:
            side(v, "init_")
        except sealwire.DecodeError as e:
            assert e.code == "ERR_SEALWIRE_UNSUPPORTED_ALGORITHM", (name, e.code)
            base = "".join(takewhile(lambda c: c.isupper() or c.isdigit(), pattern_of(name)))
            deferred = any(c.isdigit() for c in base)  # X1K, I1N, ...
            assert "_448_" in name or deferred, f"unexpectedly unsupported: {name}"
            skipped += 1
            continue
        try:
            replay(v)
            passed += 1
        except (AssertionError, sealwire.SealwireError) as e:
            failures.append(f"{name}: {e!r}")
    assert not failures, f"{len(failures)} failures, first: {failures[:5]}"
    # 36 pattern/modifier combinations x 2 ciphers x 4 hashes, as in core's cargo test.
    assert passed == 288
    assert passed + skipped == len(CACOPHONY) == 944
