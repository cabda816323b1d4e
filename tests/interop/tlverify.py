"""Shared code of the interop scripts in tests/interop/: an independent verifier of a
traceledger server's ledger, written from the specs (DESIGN.md §3 and §7, the byte
contracts) and sharing nothing with traceledger, plus helpers to drive real
OpenTelemetry clients and to compare what they sent with what the ledger holds.

* the checkpoint's C2SP signed-note Ed25519 signature (``cryptography``), key hashes;
* every entry's bytes against an independent RFC 8785 implementation (``rfc8785``),
  the hash chain (``prev``), the RFC 6962 leaf hashes;
* every inclusion proof (RFC 9162 §2.1.3.2) and some consistency proofs (§2.1.4.2) with the
  few lines of verification below, and the tree root recomputed from all leaves (MTH);
* that no content text that was sent appears in the ledger entries;
* that each span / log record the client exported is in the ledger with the same ids,
  times, names and attributes (content attributes as commitments of the right length).

Before talking to the server the verification code checks itself against public vectors
(RFC 6962 / transparency-dev/merkle, Go sumdb/note) and after it, against tampered inputs,
so a verifier that accepts everything cannot pass.

A script built on this module (see ``run``) exits 0 only if everything verifies, 1 with a
clear message otherwise; its last stdout line is ``INTEROP_RESULT {json}`` for the calling
Rust test (tests/api/interop.rs).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import math
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence

import requests
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

HTTP_TIMEOUT = 30
PAGE = 1000  # server's documented maximum page of /v1/ledger/entries


class VerificationError(Exception):
    """Something did not verify; the message says what."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise VerificationError(message)


# ---------------------------------------------------------------------------------------
# RFC 6962 / RFC 9162 §2 hashing, written here from the RFC (no library).

def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf_hash(entry_bytes: bytes) -> bytes:
    return sha256(b"\x00" + entry_bytes)


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def mth(leaves: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH over leaf hashes: split at the largest power of two < n."""
    n = len(leaves)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def verify_inclusion(index: int, tree_size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2."""
    if index >= tree_size:
        return False
    fn, sn, r = index, tree_size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2."""
    if first > second:
        return False
    if first == second:
        return len(proof) == 0 and first_root == second_root
    if first == 0:
        return len(proof) == 0  # the empty tree is consistent with every tree
    if len(proof) == 0:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # first is an exact power of two
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


# ---------------------------------------------------------------------------------------
# C2SP signed note (Ed25519), written here from the spec (no note library).

EM_DASH = "\u2014"


def key_hash(name: str, public_key: bytes) -> bytes:
    return sha256(name.encode() + b"\n" + b"\x01" + public_key)[:4]


def parse_verifier_key(vkey: str) -> tuple[str, bytes]:
    """`<name>+<hex8>+<base64(0x01 || pubkey)>` -> (name, pubkey); checks the key hash."""
    # Key names never contain '+' (C2SP signed-note); base64 may, so split from the left.
    parts = vkey.split("+", 2)
    check(len(parts) == 3, f"verifier key {vkey!r} is not name+hash+key")
    name, hash_hex, key_b64 = parts
    check(name != "" and re.search(r"\s", name) is None, f"verifier key {vkey!r}: bad key name {name!r}")
    check(re.fullmatch(r"[0-9a-f]{8}", hash_hex) is not None, f"verifier key {vkey!r}: bad key hash {hash_hex!r}")
    raw = base64.b64decode(key_b64, validate=True)
    check(len(raw) == 33 and raw[0] == 0x01, f"verifier key {vkey!r}: not 0x01 || 32-byte Ed25519 key")
    public_key = raw[1:]
    check(
        key_hash(name, public_key).hex() == hash_hex,
        f"verifier key {vkey!r}: key hash {hash_hex} != SHA-256(name\\n0x01 key)[:4] = {key_hash(name, public_key).hex()}",
    )
    return name, public_key


def open_note(note: str, name: str, public_key: bytes) -> str:
    """Verifies a signed note with one key; returns the signed text. Raises on failure."""
    check(note.endswith("\n"), "note does not end with a newline")
    split = note.rfind("\n\n")
    check(split >= 0, "note has no blank line before its signatures")
    text, signature_block = note[: split + 1], note[split + 2 :]
    check(signature_block != "", "note has no signature lines")
    want_hash = key_hash(name, public_key)
    matched = 0
    for line in signature_block[:-1].split("\n"):
        m = re.fullmatch(EM_DASH + r" (\S+) (\S+)", line)
        check(m is not None, f"malformed signature line {line!r}")
        sig_name, sig_b64 = m.group(1), m.group(2)
        sig = base64.b64decode(sig_b64, validate=True)
        check(len(sig) == 4 + 64, f"signature of {sig_name!r} is {len(sig)} bytes, want 4 + 64")
        if sig_name != name or sig[:4] != want_hash:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(sig[4:], text.encode("utf-8"))
        except InvalidSignature:
            raise VerificationError(f"Ed25519 signature of {name!r} does not verify over the note text") from None
        matched += 1
    check(matched > 0, f"no signature line by key {name!r} with key hash {want_hash.hex()}")
    return text


def signature_rejected(note: str, name: str, public_key: bytes) -> bool:
    try:
        open_note(note, name, public_key)
    except (VerificationError, ValueError):
        return True
    return False


# ---------------------------------------------------------------------------------------
# Known-answer self-tests of the code above, against public vectors.

def b64(s: str) -> bytes:
    return base64.b64decode(s)


def self_test() -> None:
    # RFC 6962 test leaves (certificate-transparency merkle_tree_test, also the inputs of
    # transparency-dev/merkle testdata); roots of the trees of size 1..8.
    leaves = [leaf_hash(bytes.fromhex(h)) for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]]
    roots = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
    check(mth([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "self-test: empty MTH")
    for n in range(1, 9):
        check(mth(leaves[:n]).hex() == roots[n - 1], f"self-test: MTH of {n} RFC 6962 leaves")
    # transparency-dev/merkle testdata/inclusion/1/happy-path.json
    proof = [b64("lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c="), b64("Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4="), b64("a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ=")]
    root8 = bytes.fromhex(roots[7])
    check(verify_inclusion(0, 8, leaves[0], proof, root8), "self-test: inclusion vector rejected")
    check(not verify_inclusion(0, 8, leaves[1], proof, root8), "self-test: inclusion of a wrong leaf accepted")
    check(not verify_inclusion(1, 8, leaves[0], proof, root8), "self-test: inclusion at a wrong index accepted")
    check(not verify_inclusion(0, 8, leaves[0], proof[:2], root8), "self-test: truncated inclusion proof accepted")
    # ... and every inclusion proof of the trees of 1..8 leaves, built by RFC 9162 PATH().
    for n in range(1, 9):
        for i in range(n):
            check(verify_inclusion(i, n, leaves[i], audit_path(i, leaves[:n]), mth(leaves[:n])), f"self-test: inclusion {i}/{n}")
    # transparency-dev/merkle testdata/consistency/1 and /3 happy-path.json
    check(verify_consistency(1, 8, bytes.fromhex(roots[0]), root8, proof), "self-test: consistency 1->8 rejected")
    proof25 = [b64("Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4="), b64("vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=")]
    check(verify_consistency(2, 5, bytes.fromhex(roots[1]), bytes.fromhex(roots[4]), proof25), "self-test: consistency 2->5 rejected")
    check(not verify_consistency(2, 5, bytes.fromhex(roots[2]), bytes.fromhex(roots[4]), proof25), "self-test: consistency with a wrong old root accepted")
    # golang.org/x/mod/sumdb/note note_test.go (TestOpen): C2SP signed-note vector.
    name, key = parse_verifier_key("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    plus_key = bytes(2) + bytes.fromhex("fbefbe" * 10)  # base64 of 0x01 || key contains '+'
    plus_vkey = "a.example/log+" + key_hash("a.example/log", plus_key).hex() + "+" + base64.b64encode(b"\x01" + plus_key).decode()
    check("+" in plus_vkey.split("+", 2)[2], "self-test: the '+' key vector has no '+' in its base64")
    check(parse_verifier_key(plus_vkey) == ("a.example/log", plus_key), "self-test: verifier key with '+' in base64")
    text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
    note = text + "\n" + EM_DASH + " PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
    check(open_note(note, name, key) == text, "self-test: Go sumdb/note vector rejected")
    check(signature_rejected(note.replace("problem,", "problem;"), name, key), "self-test: modified Go note accepted")


def audit_path(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n]) (used only by the self-test)."""
    n = len(leaves)
    if n <= 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if index < k:
        return audit_path(index, leaves[:k]) + [mth(leaves[k:])]
    return audit_path(index - k, leaves[k:]) + [mth(leaves[:k])]


# ---------------------------------------------------------------------------------------
# Talking to the server.

class Client:
    def __init__(self, endpoint: str, api_key: str) -> None:
        self.endpoint = endpoint
        self.session = requests.Session()
        self.auth = {"Authorization": f"Bearer {api_key}"}

    def get(self, path: str, *, auth: bool = True, params: dict | None = None) -> requests.Response:
        url = f"{self.endpoint}{path}"
        response = self.session.get(url, headers=self.auth if auth else {}, params=params, timeout=HTTP_TIMEOUT)
        check(
            response.status_code == 200,
            f"GET {response.url} -> HTTP {response.status_code}: {response.text[:500]}",
        )
        return response

    def get_json(self, path: str, **kwargs) -> dict:
        response = self.get(path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise VerificationError(f"GET {response.url}: body is not JSON: {response.text[:500]}") from None


def unhex32(value: object, what: str) -> bytes:
    check(isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value) is not None, f"{what} is not 64 lowercase hex: {value!r}")
    return bytes.fromhex(value)


def flip_bit(h: bytes) -> bytes:
    return bytes([h[0] ^ 0x01]) + h[1:]


def verify_ledger(client: Client) -> dict:
    """Verifies the whole log of the caller's tenant: keys, signed checkpoint, every entry
    (JCS bytes, chain, leaf hashes, MTH == signed root), every inclusion proof, consistency
    proofs, and negative self-checks. Returns the verified ledger."""
    # b. Published verifier keys (public: no Authorization header).
    keys = client.get_json("/v1/keys", auth=False).get("keys")
    check(isinstance(keys, list) and keys, f"/v1/keys returned no keys: {keys!r}")

    # c. Checkpoint.
    response = client.get("/v1/ledger/checkpoint")
    check(
        response.headers.get("Content-Type", "").startswith("text/plain"),
        f"checkpoint Content-Type is {response.headers.get('Content-Type')!r}, want text/plain",
    )
    note = response.content.decode("utf-8")
    lines = note.split("\n")
    check(len(lines) >= 3, f"checkpoint too short: {note!r}")
    origin = lines[0]
    active = []
    for key in keys:
        name, public_key = parse_verifier_key(key.get("verifier_key", ""))
        if key.get("active") is True and name == origin:
            check(key.get("origin") == origin, f"key {key!r} names origin {origin!r} but says origin {key.get('origin')!r}")
            active.append((name, public_key))
    check(active, f"no active verifier key named {origin!r} in /v1/keys: {keys!r}")
    errors = []
    text = None
    for name, public_key in active:
        try:
            text = open_note(note, name, public_key)
            signer = (name, public_key)
            break
        except VerificationError as error:
            errors.append(str(error))
    check(text is not None, f"checkpoint signature does not verify with any active key: {errors}; note: {note!r}")
    body = text.split("\n")
    check(len(body) >= 4 and body[-1] == "", f"checkpoint text malformed: {text!r}")
    check(re.fullmatch(r"0|[1-9][0-9]*", body[1]) is not None, f"checkpoint size {body[1]!r} is not a decimal")
    size = int(body[1])
    root = base64.b64decode(body[2], validate=True)
    check(len(root) == 32, f"checkpoint root {body[2]!r} is not 32 bytes")

    # d. Entries: JCS, leaf hashes, chain.
    records = []
    raw_pages = []
    start = 0
    while start < size:
        end = min(size, start + PAGE)
        response = client.get("/v1/ledger/entries", params={"start": start, "end": end})
        raw_pages.append(response.content)
        page = response.json().get("entries")
        check(isinstance(page, list) and page, f"entries?start={start}&end={end} returned no entries")
        check(len(page) <= end - start, f"entries?start={start}&end={end} returned {len(page)} entries")
        for item in page:
            check(item.get("index") == start, f"expected entry {start}, got index {item.get('index')!r}")
            entry_bytes = base64.b64decode(item["entry_bytes"], validate=True)
            entry = item["entry"]
            check(rfc8785.dumps(entry) == entry_bytes, f"entry {start}: entry_bytes != RFC 8785 JCS(entry)")
            reparsed = json.loads(entry_bytes)
            check(reparsed == entry, f"entry {start}: entry_bytes parse to a different object than 'entry'")
            check(rfc8785.dumps(reparsed) == entry_bytes, f"entry {start}: entry_bytes are not canonical")
            check(entry.get("v") == 1, f"entry {start}: v is {entry.get('v')!r}")
            check(entry.get("index") == start, f"entry {start}: entry.index is {entry.get('index')!r}")
            check(entry.get("log") == origin, f"entry {start}: log {entry.get('log')!r} != origin {origin!r}")
            want_prev = records[-1]["leaf"].hex() if records else "0" * 64
            check(entry.get("prev") == want_prev, f"entry {start}: prev {entry.get('prev')!r} != leaf of entry {start - 1} {want_prev}")
            for field in ("type", "time", "body"):
                check(field in entry, f"entry {start}: missing {field!r}")
            check(isinstance(entry["body"], dict), f"entry {start}: body is not an object")
            records.append({"index": start, "entry": entry, "bytes": entry_bytes, "leaf": leaf_hash(entry_bytes)})
            start += 1
    check(len(records) == size, f"got {len(records)} entries for tree size {size}")
    leaves = [r["leaf"] for r in records]
    check(mth(leaves) == root, f"MTH of the {size} entries {mth(leaves).hex()} != checkpoint root {root.hex()}")

    # e. Inclusion proofs of every entry against the signed root.
    checked_negative = False
    for r in records:
        n = r["index"]
        proof_json = client.get_json("/v1/ledger/proofs/inclusion", params={"index": n, "tree_size": size})
        check(proof_json.get("index") == n and proof_json.get("tree_size") == size, f"inclusion {n}: echoed {proof_json!r}")
        check(unhex32(proof_json.get("leaf_hash"), f"inclusion {n} leaf_hash") == r["leaf"], f"inclusion {n}: leaf_hash {proof_json.get('leaf_hash')} != own leaf {r['leaf'].hex()}")
        proof = [unhex32(p, f"inclusion {n} proof element") for p in proof_json.get("proof", [])]
        check(verify_inclusion(n, size, r["leaf"], proof, root), f"inclusion proof of entry {n} in tree {size} does not verify against the checkpoint root: {proof_json!r}")
        # g. Negative checks: tampering must break it.
        check(not verify_inclusion(n, size, flip_bit(r["leaf"]), proof, root), f"self-check: inclusion {n} accepted a modified leaf")
        if proof:
            for i in range(len(proof)):
                bad = proof[:i] + [flip_bit(proof[i])] + proof[i + 1 :]
                check(not verify_inclusion(n, size, r["leaf"], bad, root), f"self-check: inclusion {n} accepted a flipped bit in proof[{i}]")
            check(not verify_inclusion(n, size, r["leaf"], proof[:-1], root), f"self-check: inclusion {n} accepted a truncated proof")
            checked_negative = True
    check(size < 2 or checked_negative, "self-check: no non-empty inclusion proof was tampered with")

    # f. Consistency proofs against roots computed here from the leaf prefixes.
    consistency_checked = []
    if size >= 2:
        for first in sorted({1, size // 2, size - 1}):
            cons = client.get_json("/v1/ledger/proofs/consistency", params={"first": first, "second": size})
            check(cons.get("first") == first and cons.get("second") == size, f"consistency {first}->{size}: echoed {cons!r}")
            proof = [unhex32(p, f"consistency {first}->{size} proof element") for p in cons.get("proof", [])]
            first_root = mth(leaves[:first])
            check(verify_consistency(first, size, first_root, root, proof), f"consistency proof {first}->{size} does not verify: {cons!r}")
            check(not verify_consistency(first, size, flip_bit(first_root), root, proof), f"self-check: consistency {first}->{size} accepted a wrong old root")
            check(not verify_consistency(first, size, first_root, flip_bit(root), proof), f"self-check: consistency {first}->{size} accepted a wrong new root")
            for i in range(len(proof)):
                bad = proof[:i] + [flip_bit(proof[i])] + proof[i + 1 :]
                check(not verify_consistency(first, size, first_root, root, bad), f"self-check: consistency {first}->{size} accepted a flipped bit in proof[{i}]")
            consistency_checked.append(first)

    # g. Negative checks on the signature.
    name, public_key = signer
    tampered_size = note.replace(f"\n{size}\n", f"\n{size + 1}\n", 1)
    check(tampered_size != note and signature_rejected(tampered_size, name, public_key), "self-check: a checkpoint with a modified size verified")
    tampered_root = note.replace(body[2], base64.b64encode(flip_bit(root)).decode(), 1)
    check(tampered_root != note and signature_rejected(tampered_root, name, public_key), "self-check: a checkpoint with a modified root verified")
    tampered_origin = "x" + note
    check(signature_rejected(tampered_origin, name, public_key), "self-check: a checkpoint with a modified origin verified")
    other_key = bytes(32 - 1) + b"\x01"
    check(signature_rejected(note, name, other_key), "self-check: the checkpoint verified with another key")

    return {
        "origin": origin,
        "tree_size": size,
        "root": root.hex(),
        "records": records,
        "raw_pages": raw_pages,
        "consistency_from": consistency_checked,
    }


def print_ledger_summary(ledger: dict) -> None:
    print(f"checkpoint: origin {ledger['origin']}, size {ledger['tree_size']}, root {ledger['root']}: Ed25519 signature OK")
    print(f"entries: {len(ledger['records'])} verified (RFC 8785 bytes, leaf hashes, prev chain, MTH == signed root)")
    print(f"inclusion proofs: {len(ledger['records'])} verified; consistency proofs from {ledger['consistency_from']} to {ledger['tree_size']} verified")
    print("negative self-checks: tampered proofs, roots and notes rejected")


def check_no_clear_text(ledger: dict, texts: Sequence[str]) -> None:
    """None of `texts` appears in the bytes of any entry or any /v1/ledger/entries page."""
    for secret in texts:
        check(secret != "", "an empty string cannot be checked for")
        for r in ledger["records"]:
            check(secret.encode() not in r["bytes"], f"content text {secret!r} appears in the bytes of entry {r['index']}")
        for page in ledger["raw_pages"]:
            check(secret.encode() not in page, f"content text {secret!r} appears in a /v1/ledger/entries response")


def entries_of_trace(ledger: dict, trace_id: str, entry_type: str | None = None) -> list[dict]:
    return [
        r
        for r in ledger["records"]
        if r["entry"]["body"].get("trace_id") == trace_id and (entry_type is None or r["entry"].get("type") == entry_type)
    ]


def is_commitment(value: object) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == {"sha256", "len"}
        and isinstance(value["len"], int)
        and isinstance(value["sha256"], str)
        and re.fullmatch(r"[0-9a-f]{64}", value["sha256"]) is not None
    )


def commitment_lens(value: object) -> list[int]:
    """The `len` of every {"sha256": hex64, "len": int} content commitment inside `value`."""
    if is_commitment(value):
        return [value["len"]]
    if isinstance(value, dict):
        return [n for v in value.values() for n in commitment_lens(v)]
    if isinstance(value, list):
        return [n for v in value for n in commitment_lens(v)]
    return []


def count_commitments(value: object) -> int:
    return len(commitment_lens(value))


# ---------------------------------------------------------------------------------------
# What the client sent vs. what the ledger holds (docs/formats.md §3).

def encode_attribute(value: object) -> dict:
    """An OpenTelemetry SDK attribute value as the ledger encodes it (OTLP/JSON AnyValue)."""
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        if math.isnan(value):
            return {"doubleValue": "NaN"}
        if math.isinf(value):
            return {"doubleValue": "Infinity" if value > 0 else "-Infinity"}
        return {"doubleValue": value}
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode()}
    if isinstance(value, Sequence):
        return {"arrayValue": {"values": [encode_attribute(v) for v in value]}}
    raise VerificationError(f"unexpected attribute value type {type(value).__name__}: {value!r}")


def check_attributes(where: str, stored: object, sent: Mapping[str, object] | None) -> int:
    """Every sent attribute is in the ledger, in clear exactly as sent or as a commitment
    of the sent text's length; nothing else is. Returns the number of commitments."""
    sent = dict(sent or {})
    check(isinstance(stored, dict), f"{where}: attributes are not an object: {stored!r}")
    check(set(stored) == set(sent), f"{where}: attribute keys {sorted(stored)} != sent {sorted(sent)}")
    commitments = 0
    for key, value in sent.items():
        got = stored[key]
        if is_commitment(got):
            text = value if isinstance(value, str) else rfc8785.dumps(encode_attribute(value)).decode()
            check(got["len"] == len(text.encode()), f"{where}: {key}: commitment len {got['len']} != {len(text.encode())} bytes sent")
            commitments += 1
        else:
            want = encode_attribute(value)
            empty_array = want == {"arrayValue": {"values": []}} and got in ({"arrayValue": {}}, want)
            check(got == want or empty_array, f"{where}: {key}: ledger has {got!r}, the client sent {want!r}")
    return commitments


def check_resource_and_scope(where: str, body: dict, resource, scope) -> None:
    if resource is not None and resource.attributes:
        check(isinstance(body.get("resource"), dict), f"{where}: no resource in the body")
        check_attributes(f"{where} resource", body["resource"].get("attributes"), resource.attributes)
    if scope is not None and scope.name:
        stored = body.get("scope") or {}
        check(stored.get("name") == scope.name, f"{where}: scope name {stored.get('name')!r} != sent {scope.name!r}")
        if scope.version:
            check(stored.get("version") == scope.version, f"{where}: scope version {stored.get('version')!r} != sent {scope.version!r}")


def check_span_entry(record: dict, span) -> int:
    """The ledger entry of one exported `ReadableSpan` holds exactly that span."""
    where = f"entry {record['index']} (span {span.name!r})"
    entry, body = record["entry"], record["entry"]["body"]
    context = span.get_span_context()
    check(entry.get("type") == "span", f"{where}: type {entry.get('type')!r}, want 'span'")
    check(body.get("trace_id") == f"{context.trace_id:032x}", f"{where}: trace_id {body.get('trace_id')!r}")
    check(body.get("span_id") == f"{context.span_id:016x}", f"{where}: span_id {body.get('span_id')!r}")
    check(body.get("name") == span.name, f"{where}: name {body.get('name')!r}")
    if span.parent is None:
        check("parent_span_id" not in body, f"{where}: a root span has parent_span_id {body.get('parent_span_id')!r}")
    else:
        check(body.get("parent_span_id") == f"{span.parent.span_id:016x}", f"{where}: parent_span_id {body.get('parent_span_id')!r} != {span.parent.span_id:016x}")
    check(body.get("start_time_unix_nano") == str(span.start_time), f"{where}: start_time_unix_nano {body.get('start_time_unix_nano')!r} != sent {span.start_time}")
    check(body.get("end_time_unix_nano") == str(span.end_time), f"{where}: end_time_unix_nano {body.get('end_time_unix_nano')!r} != sent {span.end_time}")
    check(body.get("otel_kind") == span.kind.value + 1, f"{where}: otel_kind {body.get('otel_kind')!r}, sent SDK kind {span.kind}")
    status = body.get("status") or {}
    check(status.get("code") == span.status.status_code.value, f"{where}: status {status!r}, sent {span.status.status_code}")
    check(len(body.get("events", [])) == len(span.events), f"{where}: {len(body.get('events', []))} events, sent {len(span.events)}")
    check(isinstance(body.get("genai"), dict) and "kind_source" in body["genai"], f"{where}: no genai summary")
    check_resource_and_scope(where, body, span.resource, span.instrumentation_scope)
    return check_attributes(where, body.get("attributes"), span.attributes)


# ---------------------------------------------------------------------------------------
# Real OpenTelemetry exporters, recorded.

class RecordingSpanExporter(SpanExporter):
    """Delegates to a real span exporter; records each export's spans and outcome."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.results: list[tuple[int, object]] = []
        self.spans: list = []

    def export(self, spans):
        result = self.inner.export(spans)
        self.results.append((len(spans), result))
        self.spans.extend(spans)
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)

    def check_success(self, created: int | None = None) -> None:
        check(self.results != [], f"the span exporter {type(self.inner).__name__} was never called")
        failed = [r for _, r in self.results if r is not SpanExportResult.SUCCESS]
        check(not failed, f"{type(self.inner).__name__}.export returned {failed} (see the exporter's log above)")
        exported = sum(n for n, _ in self.results)
        check(exported == len(self.spans), "recorded spans do not add up")
        if created is not None:
            check(exported == created, f"exported {exported} spans, created {created}")


class RecordingLogExporter(LogRecordExporter):
    """Delegates to a real log record exporter; records each export's records and outcome."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.results: list[tuple[int, object]] = []
        self.records: list = []

    def export(self, batch):
        result = self.inner.export(batch)
        self.results.append((len(batch), result))
        self.records.extend(batch)
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)

    def check_success(self, created: int) -> None:
        check(self.results != [], f"the log exporter {type(self.inner).__name__} was never called")
        failed = [r for _, r in self.results if r is not LogRecordExportResult.SUCCESS]
        check(not failed, f"{type(self.inner).__name__}.export returned {failed} (see the exporter's log above)")
        exported = sum(n for n, _ in self.results)
        check(exported == created, f"exported {exported} log records, emitted {created}")


def export_rag_trace(span_exporter, nonce: str, service_name: str) -> dict:
    """Creates a RAG-shaped trace with the real OpenTelemetry SDK (root `invoke_workflow
    rag_qa`, `retrieval docs`, `chat gpt-4o-mini`) and exports it with `span_exporter`
    through a BatchSpanProcessor. Returns what was sent."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import SpanKind

    question = f"interop-question-{nonce}: how long is the warranty of the X100 pump?"
    query = f"interop-query-{nonce}: X100 pump warranty period"
    answer = f"interop-answer-{nonce}: The X100 pump has a 24 month warranty."
    documents = [
        {"id": "kb-17", "score": 0.92, "content": f"interop-doc-{nonce}-a: X100 pumps carry a 24 month warranty."},
        {"id": "kb-4", "score": 0.61, "content": f"interop-doc-{nonce}-b: Warranty claims need the serial number."},
    ]
    resource = Resource.create(
        {
            "service.name": service_name,
            "service.version": "1.0.0",
            "deployment.environment.name": "test",
        }
    )
    provider = TracerProvider(resource=resource)
    exporter = RecordingSpanExporter(span_exporter)
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000))
    tracer = provider.get_tracer("traceledger.interop", "1.0.0")

    span_ids = []
    with tracer.start_as_current_span(
        "invoke_workflow rag_qa",
        kind=SpanKind.INTERNAL,
        attributes={"gen_ai.operation.name": "invoke_workflow", "gen_ai.workflow.name": "rag_qa", "interop.cached": False},
    ) as root:
        with tracer.start_as_current_span(
            "retrieval docs",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "retrieval",
                "gen_ai.data_source.id": "docs",
                "gen_ai.request.top_k": 2,
                "gen_ai.retrieval.query.text": query,
                "gen_ai.retrieval.documents": json.dumps(documents),
            },
        ) as retrieval:
            span_ids.append(retrieval.get_span_context().span_id)
        with tracer.start_as_current_span(
            "chat gpt-4o-mini",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.request.temperature": 0.2,
                "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                "gen_ai.response.finish_reasons": ("stop",),
                "gen_ai.usage.input_tokens": 57,
                "gen_ai.usage.output_tokens": 14,
                "gen_ai.input.messages": json.dumps(
                    [{"role": "user", "parts": [{"type": "text", "content": question}]}]
                ),
                "gen_ai.output.messages": json.dumps(
                    [{"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}]
                ),
            },
        ) as chat:
            span_ids.append(chat.get_span_context().span_id)
        span_ids.append(root.get_span_context().span_id)
        trace_id = root.get_span_context().trace_id

    flushed = provider.force_flush(timeout_millis=60_000)
    provider.shutdown()
    check(flushed, "TracerProvider.force_flush() returned False (export did not finish)")
    exporter.check_success(created=len(span_ids))
    return {
        "trace_id": f"{trace_id:032x}",
        "span_ids": {f"{s:016x}" for s in span_ids},
        "spans": len(span_ids),
        "exports": len(exporter.results),
        "sent_spans": list(exporter.spans),
        "query": query,
        "documents": documents,
        "secrets": [nonce, question, query, answer] + [d["content"] for d in documents],
    }


def check_rag_trace(ledger: dict, sent: dict) -> dict:
    """The trace of `export_rag_trace` is in the ledger exactly, with its GenAI facts, and no
    content in the clear."""
    ours = entries_of_trace(ledger, sent["trace_id"])
    check(len(ours) == sent["spans"], f"{len(ours)} entries have body.trace_id {sent['trace_id']}, want {sent['spans']} spans")
    for r in ours:
        check(r["entry"].get("type") == "span", f"entry {r['index']} of our trace has type {r['entry'].get('type')!r}")
    got_span_ids = {r["entry"]["body"].get("span_id") for r in ours}
    check(got_span_ids == sent["span_ids"], f"span ids in the ledger {sorted(map(str, got_span_ids))} != sent {sorted(sent['span_ids'])}")
    by_id = {r["entry"]["body"]["span_id"]: r for r in ours}
    for span in sent["sent_spans"]:
        check_span_entry(by_id[f"{span.get_span_context().span_id:016x}"], span)
    check_no_clear_text(ledger, sent["secrets"])
    commitments = count_commitments([r["entry"]["body"] for r in ours])

    by_name = {r["entry"]["body"].get("name"): r for r in ours}
    root = by_name.get("invoke_workflow rag_qa")
    retrieval = by_name.get("retrieval docs")
    chat = by_name.get("chat gpt-4o-mini")
    check(root is not None and retrieval is not None and chat is not None, f"span names in the ledger: {sorted(map(str, by_name))}")
    kinds = {name: r["entry"]["body"].get("kind") for name, r in by_name.items()}
    check(
        kinds == {"invoke_workflow rag_qa": "chain", "retrieval docs": "retrieval", "chat gpt-4o-mini": "generation"},
        f"span kinds in the ledger: {kinds}",
    )
    check(root["entry"]["body"]["genai"].get("workflow_name") == "rag_qa", f"entry {root['index']}: genai {root['entry']['body']['genai']!r}")

    r_genai = retrieval["entry"]["body"]["genai"].get("retrieval") or {}
    query_len = len(sent["query"].encode())
    check(
        is_commitment(r_genai.get("query")) and r_genai["query"]["len"] == query_len,
        f"entry {retrieval['index']}: genai.retrieval.query is {r_genai.get('query')!r}, want a commitment of {query_len} bytes",
    )
    check(r_genai.get("data_source_id") == "docs" and r_genai.get("top_k") == "2", f"entry {retrieval['index']}: genai.retrieval {r_genai!r}")
    documents = r_genai.get("documents") or []
    check(
        [d.get("id") for d in documents] == [d["id"] for d in sent["documents"]],
        f"entry {retrieval['index']}: genai.retrieval.documents {documents!r}",
    )
    for got, want in zip(documents, sent["documents"]):
        check(got.get("score") == want["score"], f"entry {retrieval['index']}: document {want['id']} score {got.get('score')!r}")
        check(
            is_commitment(got.get("content")) and got["content"]["len"] == len(want["content"].encode()),
            f"entry {retrieval['index']}: document {want['id']} content {got.get('content')!r}",
        )

    c_genai = chat["entry"]["body"]["genai"]
    want = {
        "operation": "chat",
        "provider": "openai",
        "request_model": "gpt-4o-mini",
        "response_model": "gpt-4o-mini-2024-07-18",
        "finish_reasons": ["stop"],
        "usage": {"input_tokens": "57", "output_tokens": "14"},
    }
    for key, value in want.items():
        check(c_genai.get(key) == value, f"entry {chat['index']}: genai.{key} is {c_genai.get(key)!r}, want {value!r}")
    temperature = (c_genai.get("parameters") or {}).get("temperature")
    check(temperature == {"doubleValue": 0.2}, f"entry {chat['index']}: genai.parameters.temperature is {temperature!r}")
    check(commitment_lens(chat["entry"]["body"]), f"entry {chat['index']}: the chat span has no content commitment")
    print(f"trace entries {[r['index'] for r in ours]}: span ids, times, attributes and GenAI facts match; no content in the clear ({commitments} commitments)")
    return {"trace_entries": [r["index"] for r in ours], "commitments": commitments}


# ---------------------------------------------------------------------------------------
# A loopback TCP relay that records what a client sends, to check the wire format.

class Relay:
    """Listens on 127.0.0.1:<ephemeral>, forwards every connection to `upstream` and keeps
    the bytes each client sent (per connection)."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.connections: list[bytearray] = []
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, name="relay-accept", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=HTTP_TIMEOUT)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            recorded = bytearray()
            with self.lock:
                self.connections.append(recorded)
                self.sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, recorded), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, None), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, recorded: bytearray | None) -> None:
        try:
            while data := source.recv(65536):
                if recorded is not None:
                    with self.lock:
                        recorded.extend(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            try:
                sink.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def sent(self) -> list[bytes]:
        with self.lock:
            return [bytes(c) for c in self.connections]

    def close(self) -> None:
        self.listener.close()
        with self.lock:
            for s in self.sockets:
                try:
                    s.close()
                except OSError:
                    pass


def http1_requests(raw: bytes) -> list[tuple[str, dict[str, str], bytes]]:
    """(request line, lower-cased headers, body) of the HTTP/1.1 requests in `raw`."""
    out = []
    pos = 0
    while pos < len(raw):
        end = raw.find(b"\r\n\r\n", pos)
        check(end >= 0, f"incomplete HTTP/1.1 request head: {raw[pos:pos + 200]!r}")
        head = raw[pos:end].decode("latin-1").split("\r\n")
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        pos = end + 4
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = bytearray()
            while True:
                line_end = raw.index(b"\r\n", pos)
                size = int(raw[pos:line_end].split(b";")[0], 16)
                pos = line_end + 2
                body += raw[pos : pos + size]
                pos += size + 2
                if size == 0:
                    break
            out.append((head[0], headers, bytes(body)))
        else:
            length = int(headers.get("content-length", "0"))
            out.append((head[0], headers, raw[pos : pos + length]))
            pos += length
    return out


H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def grpc_messages(raw: bytes) -> list[tuple[int, int, bytes]]:
    """(stream id, compressed flag, message bytes) of the gRPC messages a client sent on one
    HTTP/2 (h2c, prior knowledge) connection: the DATA frames (RFC 9113 §6.1) of each stream,
    split into length-prefixed messages (gRPC over HTTP/2: flag byte, 4-byte length)."""
    check(raw.startswith(H2_PREFACE), f"not an HTTP/2 client connection: {raw[:40]!r}")
    pos = len(H2_PREFACE)
    streams: dict[int, bytearray] = {}
    while pos + 9 <= len(raw):
        length = int.from_bytes(raw[pos : pos + 3], "big")
        frame_type, flags = raw[pos + 3], raw[pos + 4]
        stream_id = int.from_bytes(raw[pos + 5 : pos + 9], "big") & 0x7FFFFFFF
        payload = raw[pos + 9 : pos + 9 + length]
        check(len(payload) == length, "truncated HTTP/2 frame")
        pos += 9 + length
        if frame_type == 0x0:  # DATA
            if flags & 0x8:  # PADDED
                payload = payload[1 : len(payload) - payload[0]]
            streams.setdefault(stream_id, bytearray()).extend(payload)
    messages = []
    for stream_id, data in sorted(streams.items()):
        i = 0
        while i < len(data):
            check(i + 5 <= len(data), f"stream {stream_id}: truncated gRPC message prefix")
            size = int.from_bytes(data[i + 1 : i + 5], "big")
            check(i + 5 + size <= len(data), f"stream {stream_id}: truncated gRPC message")
            messages.append((stream_id, data[i], bytes(data[i + 5 : i + 5 + size])))
            i += 5 + size
    return messages


# ---------------------------------------------------------------------------------------
# The command line shared by the scripts.

def run(doc: str, scenario: Callable[[argparse.Namespace, Client], dict], add_arguments: Callable[[argparse.ArgumentParser], None] | None = None) -> int:
    """Parses `--endpoint URL --api-key KEY` (+ the script's own arguments), runs the
    self-test, then `scenario(args, client)`, which exports, verifies and returns the
    result printed as the last line, `INTEROP_RESULT {json}`."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True, help="server base URL (OTLP/HTTP and ledger API), e.g. http://127.0.0.1:4318")
    parser.add_argument("--api-key", required=True, help="API key with scopes ingest and audit:read")
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args()
    args.endpoint = args.endpoint.rstrip("/")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    started = time.monotonic()
    try:
        self_test()
        print("self-test: RFC 6962 / transparency-dev merkle and Go sumdb/note vectors OK")
        result = scenario(args, Client(args.endpoint, args.api_key))
    except VerificationError as error:
        print(f"INTEROP FAILED: {error}", file=sys.stderr)
        return 1
    except (requests.RequestException, ValueError, KeyError, TypeError) as error:
        print(f"INTEROP FAILED: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(f"done in {time.monotonic() - started:.2f} s")
    print("INTEROP_RESULT " + json.dumps(result, sort_keys=True))
    return 0
