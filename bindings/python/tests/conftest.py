from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

# bindings/python/tests/conftest.py -> repository root -> tests/vectors/identity.json
VECTORS_DIR = Path(__file__).resolve().parents[3] / "tests" / "vectors"
VECTORS_PATH = VECTORS_DIR / "identity.json"

# The cheapest Argon2id parameters core accepts (19 MiB, 2 passes, 1 lane): keeps tests fast.
FAST_KDF = {"memory_kib": 19 * 1024, "iterations": 2, "lanes": 1}


def load_vectors() -> dict[str, Any]:
    with VECTORS_PATH.open(encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


VECTORS = load_vectors()


def load_noise_vectors(file_name: str) -> list[dict[str, Any]]:
    """The ``vectors`` of a cacophony-format file in tests/vectors (see its README.md)."""
    with (VECTORS_DIR / file_name).open(encoding="utf-8") as f:
        vectors: list[dict[str, Any]] = json.load(f)["vectors"]
    return vectors


def load_envelope_vectors() -> dict[str, Any]:
    """tests/vectors/envelope.json (see its ``description``)."""
    with (VECTORS_DIR / "envelope.json").open(encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    return VECTORS


@pytest.fixture(scope="session")
def alice_vector() -> dict[str, Any]:
    v: dict[str, Any] = VECTORS["identities"][0]
    return v
