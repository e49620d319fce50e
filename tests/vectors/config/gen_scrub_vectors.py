#!/usr/bin/env python3
"""Writes scrub.json: the scrubbing rules of docs/CONFIG.md ("Scrubbing rules") re-implemented
independently of the Rust core (standard library only), applied to fixed cases. The Rust test
core/tests/config_vectors.rs replays the file against `sealwire::hygiene`; the Python and Node
scrubbers replay it too. Run: python3 tests/vectors/config/gen_scrub_vectors.py"""
import hashlib
import hmac
import json
import os

SCRUB_FIELDS = ["peer_id", "peer", "routing_hint", "message_type", "did", "fingerprint", "mailbox",
                "mailbox_id", "mailbox_address", "identity", "public_key", "key_id", "session_id",
                "message_id", "prekey_id", "recipient", "recipient_id", "sender", "sender_id",
                "agent_id", "user_id", "remote_static", "handshake_hash", "signature", "ip",
                "ip_address", "remote_addr", "email", "email_address"]
SECRET_FIELDS = ["secret", "secrets", "secret_key", "private_key", "password", "passwords", "passphrase", "token", "api_key",
                 "psk", "dek", "kek", "root_key", "storage_key", "seed", "authorization",
                 "credential", "credentials", "cookie"]
SIZE_FIELDS = ["size", "len", "length", "bytes"]
KEY = bytes(range(32))


def is_alnum(c):
    return c.isascii() and c.isalnum()


def tokens(name):
    out, word = [], ""
    words = []
    for c in name + "\0":
        if is_alnum(c):
            word += c
        elif word:
            words.append(word)
            word = ""
    for w in words:
        start = 0
        for i in range(1, len(w)):
            prev, cur = w[i - 1], w[i]
            nxt_lower = i + 1 < len(w) and w[i + 1].islower()
            if (cur.isupper() and (prev.islower() or prev.isdigit())) or (cur.isupper() and prev.isupper() and nxt_lower):
                out.append(w[start:i].lower())
                start = i
        out.append(w[start:].lower())
    return out


def ends_with(toks, entry):
    e = tokens(entry)
    return bool(e) and len(toks) >= len(e) and toks[len(toks) - len(e):] == e


def ends_with_or_plural(toks, entry, single_token_plural=True):
    """Also with the last token in the plural (+s, +es); secret entries only when they have
    several tokens (a one-word secret in the plural is usually a count: prompt_tokens)."""
    if ends_with(toks, entry):
        return True
    e = tokens(entry)
    if not toks or not e or (not single_token_plural and len(e) < 2):
        return False
    last = toks[-1]
    plural = (last.endswith("s") and last[:-1] == e[-1]) or (last.endswith("es") and last[:-2] == e[-1])
    return plural and (len(e) == 1 or ends_with(toks[:-1], " ".join(e[:-1])))


def classify(name, extra=()):
    t = tokens(name)
    if any(ends_with_or_plural(t, e, False) for e in SECRET_FIELDS):
        return "secret"
    if any(ends_with_or_plural(t, e) for e in list(SCRUB_FIELDS) + list(extra)):
        return "identifying"
    if any(ends_with_or_plural(t, e) for e in SIZE_FIELDS):
        return "size"
    return "other"


def token(value: bytes):
    return "h:" + hmac.new(KEY, value, hashlib.sha256).hexdigest()[:16]


BUCKETS = [(0, "0"), (64, "<=64"), (256, "<=256"), (1 << 10, "<=1KiB"), (4 << 10, "<=4KiB"),
           (16 << 10, "<=16KiB"), (64 << 10, "<=64KiB"), (256 << 10, "<=256KiB"), (1 << 20, "<=1MiB"),
           (16 << 20, "<=16MiB")]


def bucket(n):
    for m, name in BUCKETS:
        if n <= m:
            return name
    return ">16MiB"


def run_byte(c):
    return is_alnum(c) or c in "+/_-"


def did_at(t, i):
    if not t.startswith("did:", i):
        return None
    m = i + 4
    j = m
    while j < len(t) and t[j].isascii() and (t[j].islower() or t[j].isdigit()):
        j += 1
    if j == m or j >= len(t) or t[j] != ":":
        return None
    k = j + 1
    while k < len(t) and (is_alnum(t[k]) or t[k] in "._:%-"):
        k += 1
    while k > j + 1 and t[k - 1] == ":":
        k -= 1
    return k if k > j + 1 else None


def fingerprint_at(t, i):
    def group(p):
        return (p + 5 <= len(t) and all(c.isascii() and c.isdigit() for c in t[p:p + 5])
                and (p + 5 == len(t) or not is_alnum(t[p + 5])))
    groups, p, end = 0, i, i
    while group(p):
        groups += 1
        end = p + 5
        if end < len(t) and t[end] == " ":
            p = end + 1
        else:
            break
    return end if groups >= 4 else None


def run_at(t, i):
    j = i
    while j < len(t) and run_byte(t[j]):
        j += 1
    run = t[i:j]
    padded = j
    while padded < len(t) and padded < j + 2 and t[padded] == "=":
        padded += 1
    if len(run) >= 32 and all(c in "0123456789abcdefABCDEF" for c in run):
        return padded
    mixed = any(c.isupper() for c in run) and any(c.islower() for c in run) and any(c.isdigit() for c in run)
    return padded if len(run) >= 40 and mixed else None


def redact(t, mode):
    out, last, i = [], 0, 0
    while i < len(t):
        at_start = i == 0 or not run_byte(t[i - 1])
        end = None
        if at_start:
            end = did_at(t, i) or fingerprint_at(t, i) or run_at(t, i)
        if end is not None:
            out.append(t[last:i])
            out.append(token(t[i:end].encode()) if mode == "hash" else "[redacted]")
            last = i = end
        elif run_byte(t[i]):
            while i < len(t) and run_byte(t[i]):
                i += 1
        else:
            i += 1
    out.append(t[last:])
    return "".join(out)


def scrub(name, value, mode, extra=()):
    c = classify(name, extra)
    if c == "secret":
        return None
    if c == "identifying":
        return token(value.encode()) if mode == "hash" else None
    if c == "size":
        try:
            return bucket(int(value.strip()))
        except ValueError:
            return None
    return redact(value, mode)


DID = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
FPR = "05873 91624 38810 72265 00931 44718 92406 11573 66280 40915 27734 81952"
HEX64 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
B64 = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="

names = ["peer_id", "remote_peer_id", "peerId", "peerID", "PeerId", "routing-hint", "x.routing_hint",
         "messageType", "message_type", "did", "peer_did", "candid", "fingerprint", "mailbox",
         "mailboxId", "target_mailbox", "api_key", "apiKey", "accessToken", "token_count",
         "prompt_tokens", "passphrase", "payload_size", "contentLength", "len", "message",
         "messaging.message.id", "sealwire.peer_id", "HTTPServer", "ip", "zip", "user_email",
         "email_address", "signature", "handshakeHash", "", "___", "Size2Bytes",
         "peer_ids", "peerIds", "recipients", "peers", "mailbox_addresses", "sizes", "payload_lengths",
         "message_types", "api_keys", "privateKeys", "completion_tokens", "tokens", "passwords", "secrets",
         "idss", "species"]
texts = ["plain text, nothing to hide", f"delivered to {DID} ok", f"fingerprint {FPR}",
         f"hash {HEX64}", f"key={B64} end", "short hex deadbeef and a uuid 123e4567-e89b-12d3-a456-426614174000",
         "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6/and/more/path", f"did:web:example.com:alice and {DID}:",
         "1234 12345 67890 12345", "12345 67890 12345 67890", "did:", "did:key:", "naïve café → did:key:zABC"]

cases = {
    "comment": "Generated by gen_scrub_vectors.py, an independent re-implementation of the rules in docs/CONFIG.md. key = bytes 0..31; token = 'h:' + first 16 hex digits of HMAC-SHA-256(key, value).",
    "key_hex": KEY.hex(),
    "scrub_fields": SCRUB_FIELDS,
    "secret_fields": SECRET_FIELDS,
    "size_fields": SIZE_FIELDS,
    "tokens": [{"name": n, "tokens": tokens(n)} for n in names],
    "classify": [{"name": n, "class": classify(n)} for n in names]
    + [{"name": "tenant", "extra": ["tenant"], "class": classify("tenant", ["tenant"])},
       {"name": "orgTenant", "extra": ["tenant"], "class": classify("orgTenant", ["tenant"])}],
    "hash": [{"value": v, "token": token(v.encode())} for v in ["", "alice", DID, "ü"]],
    "size_buckets": [{"len": n, "bucket": bucket(n)} for n in
                     [0, 1, 64, 65, 256, 257, 1024, 1025, 4096, 16384, 65536, 65537, 262144, 1 << 20, (1 << 20) + 1, 16 << 20, (16 << 20) + 1]],
    "redact": [{"text": t, "mode": m, "out": redact(t, m)} for t in texts for m in ["hash", "drop"]],
    "scrub": [{"name": n, "value": v, "mode": m, "out": scrub(n, v, m)}
              for (n, v) in [("peer_id", DID), ("api_key", "sk-123"), ("size", "1234"), ("payload_size", "x"),
                             ("message", f"from {DID}"), ("count", "1234"), ("messageType", "invoice")]
              for m in ["hash", "drop"]],
}
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "scrub.json"), "w", encoding="utf-8") as f:
    json.dump(cases, f, indent=1, ensure_ascii=False)
    f.write("\n")
