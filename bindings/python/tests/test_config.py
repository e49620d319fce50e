"""sealwire.SecurityConfig / check_config / ConfigReport: every example of
tests/vectors/config (cases.json lists each file under valid/ and invalid/ with the exact
findings it gives — the same replay as cli/tests/config.rs), both writers round-tripping,
mappings read as JSON, and the refusal raised with every finding."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pytest

import sealwire
from sealwire import ConfigReport, ParameterError, SecurityConfig, StorageError, check_config

CONFIG_DIR = Path(__file__).resolve().parents[3] / "tests" / "vectors" / "config"


def load_cases() -> list[dict[str, Any]]:
    with (CONFIG_DIR / "cases.json").open(encoding="utf-8") as f:
        cases: list[dict[str, Any]] = json.load(f)["cases"]
    return cases


CASES = load_cases()


def fmt(name: str) -> str:
    return "json" if name.endswith(".json") else "toml"


def finding_set(report: ConfigReport) -> set[tuple[str, str, str, str | None]]:
    return {(f.path, f.code, f.severity, f.allow) for f in report.findings}


def manifest_set(case: dict[str, Any]) -> set[tuple[str, str, str, str | None]]:
    return {(f["path"], f["code"], f["severity"], f.get("allow")) for f in case["findings"]}


def test_the_manifest_covers_every_example_file() -> None:
    listed = {c["file"] for c in CASES}
    on_disk = {
        f"{p.parent.name}/{p.name}"
        for sub in ("valid", "invalid")
        for p in (CONFIG_DIR / sub).iterdir()
        if p.suffix in (".toml", ".json")
    }
    assert listed == on_disk
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_check_config_replays_every_example(case: dict[str, Any]) -> None:
    path = CONFIG_DIR / case["file"]
    text = path.read_text(encoding="utf-8")
    report = check_config(text, fmt(path.name))
    assert report.ok is case["ok"]
    assert finding_set(report) == manifest_set(case)
    assert len(report) == len(case["findings"])
    # Detection by content gives the same report (JSON starts with "{").
    assert check_config(text) == report
    # The JSON form of the report: the CLI's `config check --json`.
    as_json = json.loads(report.to_json())
    assert as_json["ok"] is case["ok"]
    assert {(f["path"], f["code"], f["severity"], f["allow"]) for f in as_json["findings"]} == (
        manifest_set(case)
    )
    assert {(e.path, e.code) for e in report.errors} == {
        (f["path"], f["code"]) for f in case["findings"] if f["severity"] == "error"
    }
    for f in report.findings:
        assert f.message  # for people
        assert f"{f.severity}[{f.code}]" in str(f)


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_loading_accepts_exactly_the_ok_examples(case: dict[str, Any]) -> None:
    path = CONFIG_DIR / case["file"]
    text = path.read_text(encoding="utf-8")
    if case["ok"]:
        config = SecurityConfig.from_file(path)
        assert SecurityConfig.load(text, fmt(path.name)) == config
        # Warnings and overrides in force stay visible after loading.
        assert finding_set(config.validate()) == manifest_set(case)
        # Both writers round-trip.
        assert SecurityConfig.load(config.to_toml(), "toml") == config
        assert SecurityConfig.load(config.to_json(), "json") == config
        assert SecurityConfig.load(json.loads(config.to_json())) == config
    else:
        with pytest.raises(ParameterError) as info:
            SecurityConfig.from_file(path)
        e = info.value
        assert e.code == "ERR_SEALWIRE_INVALID_PARAMETER"
        message = str(e)
        assert message.startswith("security configuration refused")
        errors = [f for f in case["findings"] if f["severity"] == "error"]
        assert errors
        for f in errors:
            assert f"error[{f['code']}]" in message, message
        report = getattr(e, "report")
        assert isinstance(report, ConfigReport)
        assert finding_set(report) == manifest_set(case)
        with pytest.raises(ParameterError):
            SecurityConfig.load(text, fmt(path.name))


def test_full_toml_and_full_json_are_the_same_configuration() -> None:
    toml_form = SecurityConfig.from_file(CONFIG_DIR / "valid" / "full.toml")
    json_form = SecurityConfig.from_file(CONFIG_DIR / "valid" / "full.json")
    assert toml_form == json_form
    assert toml_form != SecurityConfig.default()


def test_default_and_minimal_configuration() -> None:
    default = SecurityConfig.default()
    assert SecurityConfig.load("version = 1") == default
    assert SecurityConfig.load('{"version": 1}') == default
    assert SecurityConfig.load({"version": 1}) == default
    assert default.validate().ok and len(default.validate()) == 0
    assert default.noise_protocol("online") == "Noise_IKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s"
    assert default.noise_protocol("first-contact") == (
        "Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s"
    )
    with pytest.raises(ParameterError):
        default.noise_protocol("offline")  # type: ignore[arg-type]
    assert "post_quantum=required" in repr(default)


def test_a_mapping_is_read_as_json() -> None:
    mapping: dict[str, Any] = {
        "version": 1,
        "ratchet": {"header_encryption": False},
        "overrides": {"allow_clear_ratchet_headers": True},
    }
    config = SecurityConfig.load(mapping)
    assert json.loads(config.to_json())["ratchet"]["header_encryption"] is False
    report = config.validate()
    assert [(f.code, f.severity, f.allow) for f in report.findings] == [
        ("ratchet-headers-clear", "allowed", "allow_clear_ratchet_headers")
    ]
    # The same checks as text: an unknown key anywhere, and a wrong type.
    r = check_config({"version": 1, "ratchet": {"header_encryption": True, "x": 1}})
    assert [(f.path, f.code) for f in r.findings] == [("ratchet.x", "unknown-key")]
    r = check_config({"version": 1, "prekeys": {"batch_size": "100"}})
    assert [(f.path, f.code) for f in r.findings] == [("prekeys.batch_size", "wrong-type")]
    # A mapping is JSON: another format is refused.
    with pytest.raises(ParameterError):
        SecurityConfig.load({"version": 1}, "toml")


def test_format_argument() -> None:
    toml_text = "version = 1\n[ratchet]\nheader_encryption = false\n"
    r = check_config(toml_text, "toml")
    assert [(f.path, f.code, f.severity) for f in r.findings] == [
        ("ratchet.header_encryption", "ratchet-headers-clear", "error")
    ]
    assert check_config(toml_text, "TOML") == r
    # TOML text read as JSON: a syntax finding, with no guessing.
    r = check_config(toml_text, "json")
    assert [(f.code, f.severity) for f in r.findings] == [("syntax", "error")]
    assert not r.ok
    with pytest.raises(ParameterError):
        check_config(toml_text, "yaml")
    with pytest.raises(TypeError):
        check_config(b"version = 1")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        SecurityConfig.load(1)  # type: ignore[arg-type]


def test_parse_findings_carry_the_line() -> None:
    r = check_config("version = 1\n[storage.kek]\nprovder = \"vault\"\n")
    [f] = r.findings
    assert (f.path, f.code, f.line) == ("storage.kek.provder", "unknown-key", 3)


def test_refusal_lists_every_blocking_finding() -> None:
    text = (
        "version = 1\n[ratchet]\nheader_encryption = false\n[prekeys]\nbatch_size = 0\n"
        "[metadata]\nscrub = false\n"
    )
    with pytest.raises(ParameterError) as info:
        SecurityConfig.load(text)
    message = str(info.value)
    assert "(3 errors)" in message
    for code, flag in [
        ("ratchet-headers-clear", "allow_clear_ratchet_headers"),
        ("no-one-time-prekeys", "allow_no_one_time_prekeys"),
        ("scrubbing-off", "allow_no_scrubbing"),
    ]:
        assert f"error[{code}]" in message
        assert f"overrides.{flag} = true" in message
    # Still a SealwireError and a ValueError, like every ParameterError.
    assert isinstance(info.value, sealwire.SealwireError)
    assert isinstance(info.value, ValueError)


def test_from_file_errors(tmp_path: Path) -> None:
    with pytest.raises(StorageError) as info:
        SecurityConfig.from_file(tmp_path / "missing.toml")
    assert info.value.code == "ERR_SEALWIRE_IO"
    assert getattr(info.value, "errno") == errno.ENOENT
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ParameterError, match="not UTF-8"):
        SecurityConfig.from_file(binary)
    # Format by extension: a JSON text in a .toml file is read as TOML (and refused).
    odd = tmp_path / "odd.toml"
    odd.write_text('{"version": 1}', encoding="utf-8")
    with pytest.raises(ParameterError, match=r"error\[syntax\]"):
        SecurityConfig.from_file(odd)
    # No extension: by content.
    plain = tmp_path / "agent.conf"
    plain.write_text('{"version": 1}', encoding="utf-8")
    assert SecurityConfig.from_file(plain) == SecurityConfig.default()
