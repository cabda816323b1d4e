#!/usr/bin/env python3
"""Independent verifier of traceledger audit bundles (DESIGN.md §5, docs/formats.md).

Written from the public specs only and sharing no code with traceledger's own verifier
(src/bundle/verify/):

* DSSE v1 envelope, signature over PAE = "DSSEv1" SP len(type) SP type SP len(body) SP body
  (https://github.com/secure-systems-lab/dsse/blob/master/protocol.md), Ed25519 via
  pyca/cryptography;
* in-toto Statement v1 (``_type``, ``subject``, ``predicateType``, ``predicate``);
* RFC 8785 canonical JSON of the payload and of every entry, via the ``rfc8785`` package;
* C2SP signed-note / tlog-checkpoint, RFC 6962 leaf hashes and RFC 9162 §2.1.3.2 inclusion /
  §2.1.4.2 consistency proofs, with the from-the-RFC code of tlverify.py (self-tested
  against the transparency-dev/merkle and Go sumdb/note vectors before every run).

Usage::

    verify_bundle.py BUNDLE_FILE --key VERIFIER_KEY [--expect-subjects N]

Checks, in this order, stopping at the first failure:

 1. envelope shape; ``payloadType`` is ``application/vnd.in-toto+json``;
 2. the given verifier key parses (key hash) and an envelope signature has it as ``keyid``;
 3. the Ed25519 DSSE signature over PAE(payloadType, payload);
 4. the payload is RFC 8785 canonical JSON, an in-toto Statement v1 with predicate type
    ``https://traceledger.dev/audit-bundle/v1``, predicate version 1, and
    ``predicate.log.verifier_key`` is the given key;
 5. the checkpoint note is signed by the key (key hash, em-dash signature line) and its
    origin is ``predicate.log.origin`` (= the key name);
 6. every entry: sorted by index and unique, entry bytes RFC 8785 canonical, ``v``/``log``/
    ``index``/``prev``/``type``/``time``/``body`` fields, below the tree size, inclusion
    proof against the checkpoint root, and its C2SP ``tlog_proof`` text if present;
 7. ``prev`` links between entries with consecutive indexes (entry 0: 64 zeros);
 8. every revealed content opens its commitment: SHA-256(salt || utf8 content) == sha256,
    and ``{"sha256": .., "len": <utf8 length>}`` appears in some included entry's body;
 9. every span entry's parent is a span entry of the same trace in the bundle, or is listed
    in ``outside_selection``;
10. every ``outputs`` item: sha256(text) == sha256, its ``commitment`` is a revealed content
    containing the text and is committed in entry ``entry_index``, which is in the bundle;
    every subject digest is the sha256 of such an item, except the ``entries`` subject of a
    bundle with no output in question, whose digest is SHA-256 of
    ``traceledger/audit-bundle/entries/v1\\n`` and the entries' leaf hashes in order;
    ``--expect-subjects``;
11. the optional ``consistency``: the newer note is signed by the same key for the same
    origin, and the RFC 9162 consistency proof leads from the bundle's checkpoint to it.

Exit 0 and a last stdout line ``BUNDLE_RESULT {json}`` (counts) when everything verifies;
exit 1 with ``BUNDLE_INVALID {"check": .., "message": ..}`` on stdout (and the message on
stderr) naming the first failure; exit 2 when the file cannot be read or the arguments are
wrong.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

import tlverify

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://traceledger.dev/audit-bundle/v1"
BUNDLE_VERSION = 1
ENTRY_VERSION = 1
TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
ZERO_HASH_HEX = "0" * 64
# A tree has at most 2^64 leaves: no valid inclusion proof is longer than 64 hashes, no
# consistency proof longer than 65.
MAX_INCLUSION_PROOF = 64
MAX_CONSISTENCY_PROOF = 65
PIPELINE_TYPES = ("pipeline_version", "proof_bundle", "deployment")


class BundleInvalid(Exception):
    """The first check that failed: a short machine-readable name and a message."""

    def __init__(self, check: str, message: str) -> None:
        super().__init__(message)
        self.check = check
        self.message = message


def require(condition: bool, check: str, message: str) -> None:
    if not condition:
        raise BundleInvalid(check, message)


def is_hex(value: object, length: int) -> bool:
    return isinstance(value, str) and re.fullmatch(f"[0-9a-f]{{{length}}}", value) is not None


def is_uint(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def b64decode(value: object, check: str, what: str) -> bytes:
    require(isinstance(value, str), check, f"{what} is not a string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise BundleInvalid(check, f"{what} is not standard base64: {error}") from None


def strict_json(data: bytes, check: str, what: str) -> object:
    """JSON from UTF-8 bytes; duplicate object members and NaN/Infinity are errors."""

    def no_duplicates(pairs: list[tuple[str, object]]) -> dict:
        out: dict = {}
        for key, value in pairs:
            if key in out:
                raise ValueError(f"duplicate member {key!r}")
            out[key] = value
        return out

    def no_constants(name: str) -> object:
        raise ValueError(f"{name} is not JSON")

    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicates, parse_constant=no_constants)
    except (UnicodeDecodeError, ValueError) as error:
        raise BundleInvalid(check, f"{what} is not JSON: {error}") from None


def is_canonical(data: bytes) -> bool:
    """RFC 8785: the bytes are exactly the JCS encoding of the JSON value they hold."""
    try:
        value = json.loads(data.decode("utf-8"))
        return rfc8785.dumps(value) == data
    except (UnicodeDecodeError, ValueError, rfc8785.CanonicalizationError):
        return False


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding; lengths are decimal byte counts."""
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(type_bytes), type_bytes, len(payload), payload)


def member(obj: dict, name: str, kind: type, check: str, where: str) -> object:
    """obj[name], which must be a `kind` (str, list or dict)."""
    value = obj.get(name)
    require(isinstance(value, kind), check, f"{where}.{name} is missing or not a {kind.__name__}")
    return value


def open_checkpoint(note: object, key_name: str, public_key: bytes, what: str) -> tuple[str, int, bytes]:
    """Verifies a C2SP signed checkpoint note; returns (origin, tree size, root hash)."""
    require(isinstance(note, str), "checkpoint_malformed", f"{what} is not a string")
    try:
        text = tlverify.open_note(note, key_name, public_key)
    except tlverify.VerificationError as error:
        raise BundleInvalid("checkpoint_signature", f"{what}: {error}") from None
    except (ValueError, binascii.Error) as error:
        raise BundleInvalid("checkpoint_malformed", f"{what}: {error}") from None
    # c2sp.org/tlog-checkpoint: origin, decimal size, base64 root, then optional extension lines.
    lines = text[:-1].split("\n")
    require(len(lines) >= 3, "checkpoint_malformed", f"{what} has fewer than three lines: {text!r}")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    require(origin != "", "checkpoint_malformed", f"{what} has an empty origin")
    require(re.fullmatch(r"0|[1-9][0-9]{0,19}", size_text) is not None, "checkpoint_malformed", f"{what}: tree size {size_text!r} is not a decimal")
    size = int(size_text)
    require(size < 2**64, "checkpoint_malformed", f"{what}: tree size {size} is not a 64-bit number")
    root = b64decode(root_text, "checkpoint_malformed", f"{what} root hash")
    require(len(root) == 32, "checkpoint_malformed", f"{what}: root hash is {len(root)} bytes, want 32")
    return origin, size, root


def render_tlog_proof(index: int, proof: list[bytes], note: str) -> str:
    """c2sp.org/tlog-proof v1 without extra data: header, index line, base64 hashes, blank
    line, checkpoint note."""
    lines = [TLOG_PROOF_HEADER, f"index {index}"] + [base64.b64encode(h).decode() for h in proof]
    return "\n".join(lines) + "\n\n" + note


def commitments_in(value: object, found: list[tuple[str, int]]) -> None:
    """Every content commitment {"sha256": S, "len": N} inside a JSON value."""
    if isinstance(value, dict):
        if set(value) == {"sha256", "len"} and isinstance(value["sha256"], str) and is_uint(value["len"]):
            found.append((value["sha256"], value["len"]))
            return
        for item in value.values():
            commitments_in(item, found)
    elif isinstance(value, list):
        for item in value:
            commitments_in(item, found)


def verify_bundle(data: bytes, verifier_key: str, expect_subjects: int | None = None) -> dict:
    # 1. Envelope shape and payload type.
    envelope = strict_json(data, "envelope", "the bundle")
    require(isinstance(envelope, dict), "envelope", "the bundle is not a JSON object")
    payload_type = member(envelope, "payloadType", str, "envelope", "envelope")
    payload_b64 = member(envelope, "payload", str, "envelope", "envelope")
    signatures = member(envelope, "signatures", list, "envelope", "envelope")
    require(len(signatures) > 0, "envelope", "envelope has no signatures")
    for position, signature in enumerate(signatures):
        require(isinstance(signature, dict), "envelope", f"signatures[{position}] is not an object")
        member(signature, "keyid", str, "envelope", f"signatures[{position}]")
        member(signature, "sig", str, "envelope", f"signatures[{position}]")
    require(payload_type == PAYLOAD_TYPE, "payload_type", f"payloadType is {payload_type!r}, want {PAYLOAD_TYPE!r}")

    # 2. The trusted key and the envelope signature made with it.
    try:
        key_name, public_key = tlverify.parse_verifier_key(verifier_key)
    except (tlverify.VerificationError, ValueError, binascii.Error) as error:
        raise BundleInvalid("bad_key", f"--key is not a C2SP Ed25519 verifier key: {error}") from None
    ours = [s for s in signatures if s["keyid"] == verifier_key]
    require(
        len(ours) > 0,
        "untrusted_key",
        f"no envelope signature has keyid {verifier_key!r} (keyids: {[s['keyid'] for s in signatures]})",
    )

    # 3. DSSE signature over PAE, before anything inside the payload is read.
    payload = b64decode(payload_b64, "envelope", "payload")
    sig = b64decode(ours[0]["sig"], "envelope_signature", "signature")
    require(len(sig) == 64, "envelope_signature", f"signature is {len(sig)} bytes, want 64")
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(sig, pae(payload_type, payload))
    except InvalidSignature:
        raise BundleInvalid("envelope_signature", "Ed25519 signature does not verify over PAE(payloadType, payload)") from None

    # 4. Canonical payload, statement, predicate, the key it names.
    statement = strict_json(payload, "statement", "payload")
    require(is_canonical(payload), "payload_canonical", "payload is not RFC 8785 canonical JSON")
    require(isinstance(statement, dict), "statement", "payload is not a JSON object")
    statement_type = statement.get("_type")
    require(statement_type == STATEMENT_TYPE, "statement_type", f"_type is {statement_type!r}, want {STATEMENT_TYPE!r}")
    predicate_type = statement.get("predicateType")
    require(predicate_type == PREDICATE_TYPE, "predicate_type", f"predicateType is {predicate_type!r}, want {PREDICATE_TYPE!r}")
    subjects = member(statement, "subject", list, "statement", "statement")
    predicate = member(statement, "predicate", dict, "statement", "statement")
    version = predicate.get("version")
    require(is_uint(version) and version == BUNDLE_VERSION, "predicate_version", f"predicate.version is {version!r}, want {BUNDLE_VERSION}")
    log = member(predicate, "log", dict, "statement", "predicate")
    origin = member(log, "origin", str, "statement", "predicate.log")
    named_key = member(log, "verifier_key", str, "statement", "predicate.log")
    require(named_key == verifier_key, "untrusted_key", f"predicate.log.verifier_key is {named_key!r}, not the given key")
    for name in ("entries", "contents", "outputs", "outside_selection"):
        member(predicate, name, list, "statement", "predicate")
    member(predicate, "checkpoint", str, "statement", "predicate")
    member(predicate, "exported_at", str, "statement", "predicate")

    # 5. The checkpoint.
    cp_origin, size, root = open_checkpoint(predicate["checkpoint"], key_name, public_key, "checkpoint")
    require(cp_origin == origin, "origin", f"checkpoint origin {cp_origin!r} != predicate.log.origin {origin!r}")
    require(cp_origin == key_name, "origin", f"checkpoint origin {cp_origin!r} != key name {key_name!r}")

    # 6. Every entry.
    entries: list[dict] = []  # {"index", "entry", "leaf"}
    for position, item in enumerate(predicate["entries"]):
        where = f"entries[{position}]"
        require(isinstance(item, dict), "entry_malformed", f"{where} is not an object")
        index = item.get("index")
        require(is_uint(index), "entry_malformed", f"{where}.index is not a non-negative integer")
        require(not entries or index > entries[-1]["index"], "entries_order", f"entry {index} is duplicated or out of order")
        entry_bytes = b64decode(item.get("entry_bytes"), "entry_malformed", f"{where}.entry_bytes")
        entry = strict_json(entry_bytes, "entry_malformed", f"entry {index}")
        require(is_canonical(entry_bytes), "entry_canonical", f"entry {index} bytes are not RFC 8785 canonical")
        require(isinstance(entry, dict), "entry_malformed", f"entry {index} is not a JSON object")
        require(entry.get("v") == ENTRY_VERSION and is_uint(entry.get("v")), "entry_malformed", f"entry {index}: v is {entry.get('v')!r}")
        require(entry.get("log") == origin, "entry_log", f"entry {index} belongs to log {entry.get('log')!r}, not {origin!r}")
        require(is_uint(entry.get("index")) and entry["index"] == index, "entry_index", f"entry listed as {index} says index {entry.get('index')!r}")
        require(is_hex(entry.get("prev"), 64), "entry_malformed", f"entry {index}: prev {entry.get('prev')!r} is not 64 lowercase hex")
        require(isinstance(entry.get("type"), str), "entry_malformed", f"entry {index}: type is not a string")
        require(isinstance(entry.get("time"), str), "entry_malformed", f"entry {index}: time is not a string")
        require(isinstance(entry.get("body"), dict), "entry_malformed", f"entry {index}: body is not an object")
        require(index < size, "entry_beyond_checkpoint", f"entry {index} is beyond the checkpoint (tree size {size})")
        proof_hex = item.get("inclusion_proof")
        require(isinstance(proof_hex, list) and len(proof_hex) <= MAX_INCLUSION_PROOF, "inclusion_proof", f"entry {index}: inclusion_proof is not a list of at most {MAX_INCLUSION_PROOF} hashes")
        for n, h in enumerate(proof_hex):
            require(is_hex(h, 64), "inclusion_proof", f"entry {index}: inclusion_proof[{n}] is not 64 lowercase hex")
        proof = [bytes.fromhex(h) for h in proof_hex]
        leaf = tlverify.leaf_hash(entry_bytes)
        require(
            tlverify.verify_inclusion(index, size, leaf, proof, root),
            "inclusion_proof",
            f"inclusion proof of entry {index} (leaf {leaf.hex()}) does not lead to the checkpoint root {root.hex()} of size {size}",
        )
        tlog_proof = item.get("tlog_proof")
        if tlog_proof is not None:
            require(
                tlog_proof == render_tlog_proof(index, proof, predicate["checkpoint"]),
                "tlog_proof",
                f"entry {index}: tlog_proof is not the C2SP rendering of its inclusion proof and checkpoint",
            )
        entries.append({"index": index, "entry": entry, "leaf": leaf})
    by_index = {e["index"]: e for e in entries}

    # 7. Hash chain between neighbours.
    if entries and entries[0]["index"] == 0:
        require(entries[0]["entry"]["prev"] == ZERO_HASH_HEX, "chain", "entry 0: prev is not 64 zeros")
    for earlier, later in zip(entries, entries[1:]):
        if later["index"] == earlier["index"] + 1:
            require(
                later["entry"]["prev"] == earlier["leaf"].hex(),
                "chain",
                f"entry {later['index']}: prev {later['entry']['prev']} is not the leaf hash {earlier['leaf'].hex()} of entry {earlier['index']}",
            )

    # 8. Revealed contents.
    committed: dict[str, list[tuple[int, int]]] = {}  # digest -> [(entry index, len)]
    for e in entries:
        found: list[tuple[str, int]] = []
        commitments_in(e["entry"]["body"], found)
        for digest, length in found:
            committed.setdefault(digest, []).append((e["index"], length))
    revealed: dict[str, str] = {}
    for position, content in enumerate(predicate["contents"]):
        where = f"contents[{position}]"
        require(isinstance(content, dict), "content_malformed", f"{where} is not an object")
        digest = content.get("sha256")
        require(is_hex(digest, 64), "content_malformed", f"{where}.sha256 is not 64 lowercase hex")
        salt = b64decode(content.get("salt"), "content_malformed", f"{where}.salt")
        text = content.get("content")
        require(isinstance(text, str), "content_malformed", f"{where}.content is not a string")
        try:
            text_bytes = text.encode("utf-8")
        except UnicodeEncodeError:
            raise BundleInvalid("content_malformed", f"{where}.content is not valid Unicode") from None
        opened = hashlib.sha256(salt + text_bytes).hexdigest()
        require(opened == digest, "content_mismatch", f"revealed content {digest}: SHA-256(salt || content) is {opened}")
        require(
            any(length == len(text_bytes) for _, length in committed.get(digest, [])),
            "content_not_committed",
            f"revealed content {digest} ({len(text_bytes)} bytes) is not committed as {{sha256, len}} in any entry of the bundle",
        )
        revealed[digest] = text

    # 9. Whole trace trees.
    outside: set[tuple[str, str]] = set()
    for position, span in enumerate(predicate["outside_selection"]):
        where = f"outside_selection[{position}]"
        require(isinstance(span, dict), "outside_malformed", f"{where} is not an object")
        require(is_hex(span.get("trace_id"), 32), "outside_malformed", f"{where}.trace_id is not 32 lowercase hex")
        require(is_hex(span.get("span_id"), 16), "outside_malformed", f"{where}.span_id is not 16 lowercase hex")
        outside.add((span["trace_id"], span["span_id"]))
    spans = []
    for e in entries:
        if e["entry"]["type"] != "span":
            continue
        body = e["entry"]["body"]
        for name in ("trace_id", "span_id"):
            require(isinstance(body.get(name), str), "entry_malformed", f"span entry {e['index']}: body.{name} is missing or not a string")
        parent = body.get("parent_span_id")
        require(parent is None and "parent_span_id" not in body or isinstance(parent, str), "entry_malformed", f"span entry {e['index']}: parent_span_id is not a string")
        spans.append((e["index"], body["trace_id"], body["span_id"], parent))
    present = {(trace, span) for _, trace, span, _ in spans}
    for index, trace, span, parent in spans:
        if parent is None:
            continue
        require(
            (trace, parent) in present or (trace, parent) in outside,
            "incomplete_tree",
            f"trace {trace} is incomplete: span {span} (entry {index}) has parent {parent}, which is neither a span entry of the bundle nor in outside_selection",
        )

    # 9b. Every pipeline link a span claims is backed by its governance entry.
    governance = {
        (e["entry"]["type"], e["entry"]["body"].get("id"))
        for e in entries
        if isinstance(e["entry"]["body"], dict) and isinstance(e["entry"]["body"].get("id"), str)
    }
    for e in entries:
        if e["entry"]["type"] != "span":
            continue
        link = e["entry"]["body"].get("link")
        if not isinstance(link, dict):
            continue
        for field, kind in (("pipeline_version_id", "pipeline_version"), ("deployment_id", "deployment")):
            linked = link.get(field)
            if isinstance(linked, str):
                require(
                    (kind, linked) in governance,
                    "missing_pipeline_context",
                    f"span entry {e['index']} is linked to {kind} {linked}, which is not in the bundle",
                )

    # 10. Outputs and subjects.
    output_digests = set()
    for position, output in enumerate(predicate["outputs"]):
        where = f"outputs[{position}]"
        require(isinstance(output, dict), "output_malformed", f"{where} is not an object")
        text = output.get("text")
        digest = output.get("sha256")
        commitment = output.get("commitment")
        entry_index = output.get("entry_index")
        require(isinstance(text, str) and is_hex(digest, 64) and isinstance(commitment, str) and is_uint(entry_index), "output_malformed", f"{where} lacks text, sha256, commitment or entry_index")
        require(hashlib.sha256(text.encode("utf-8")).hexdigest() == digest, "output_not_committed", f"{where}: sha256 {digest} is not the SHA-256 of its text")
        require(commitment in revealed, "output_not_committed", f"{where}: commitment {commitment} is not a revealed content")
        require(text in revealed[commitment], "output_not_committed", f"{where}: revealed content {commitment} does not contain the text")
        require(entry_index in by_index, "output_not_committed", f"{where}: entry {entry_index} is not in the bundle")
        length = len(revealed[commitment].encode("utf-8"))
        require(
            (entry_index, length) in committed.get(commitment, []),
            "output_not_committed",
            f"{where}: entry {entry_index} does not commit to {commitment}",
        )
        output_digests.add(digest)
    for position, subject in enumerate(subjects):
        where = f"subject[{position}]"
        require(isinstance(subject, dict) and isinstance(subject.get("digest"), dict), "subject_malformed", f"{where} has no digest object")
        digest = subject["digest"].get("sha256")
        require(is_hex(digest, 64), "subject_malformed", f"{where}.digest.sha256 is not 64 lowercase hex")
        if subject.get("name") == "entries":
            selection = hashlib.sha256(b"traceledger/audit-bundle/entries/v1\n" + b"".join(e["leaf"] for e in entries)).hexdigest()
            require(digest == selection, "entries_subject_mismatch", f"{where}: the entries subject digest {digest} is not the digest of the bundle's entries ({selection})")
            continue
        require(digest in output_digests, "subject_not_committed", f"subject digest {digest} is not backed by any output of the bundle")
    if expect_subjects is not None:
        require(len(subjects) == expect_subjects, "subject_count", f"the bundle has {len(subjects)} subjects, expected {expect_subjects}")

    # 11. Optional consistency with a newer checkpoint.
    consistent_with = None
    consistency = predicate.get("consistency")
    if consistency is not None:
        require(isinstance(consistency, dict), "consistency", "consistency is not an object")
        try:
            new_origin, new_size, new_root = open_checkpoint(consistency.get("checkpoint"), key_name, public_key, "consistency checkpoint")
        except BundleInvalid as error:
            raise BundleInvalid("consistency_checkpoint", error.message) from None
        require(new_origin == origin, "origin", f"consistency checkpoint origin {new_origin!r} != {origin!r}")
        proof_hex = consistency.get("proof")
        require(isinstance(proof_hex, list) and len(proof_hex) <= MAX_CONSISTENCY_PROOF, "consistency", f"consistency.proof is not a list of at most {MAX_CONSISTENCY_PROOF} hashes")
        for n, h in enumerate(proof_hex):
            require(is_hex(h, 64), "consistency", f"consistency.proof[{n}] is not 64 lowercase hex")
        proof = [bytes.fromhex(h) for h in proof_hex]
        require(new_size >= size, "consistency", f"the newer checkpoint (size {new_size}) is smaller than the bundle's ({size})")
        require(
            tlverify.verify_consistency(size, new_size, root, new_root, proof),
            "consistency",
            f"consistency proof from size {size} to {new_size} does not verify",
        )
        consistent_with = new_size

    types = Counter(e["entry"]["type"] for e in entries)
    return {
        "origin": origin,
        "checkpoint_size": size,
        "checkpoint_root": root.hex(),
        "entries": len(entries),
        "entry_types": dict(sorted(types.items())),
        "span_entries": len(spans),
        "traces": len({trace for _, trace, _, _ in spans}),
        "contents": len(revealed),
        "outputs": len(predicate["outputs"]),
        "subjects": len(subjects),
        "outside_selection": len(outside),
        "consistent_with_size": consistent_with,
        "pipeline_entries": [
            {"index": e["index"], "type": e["entry"]["type"], "id": e["entry"]["body"].get("id")}
            for e in entries
            if e["entry"]["type"] in PIPELINE_TYPES
        ],
    }


def self_test() -> None:
    """Known answers of the pieces this file adds to tlverify's (which tests its own)."""
    tlverify.self_test()
    # DSSE protocol.md worked example.
    want = b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    require(pae("http://example.com/HelloWorld", b"hello world") == want, "self_test", "DSSE PAE example")
    require(is_canonical(b'{"a":1,"b":[true,null,"\xc3\xa9"]}'), "self_test", "RFC 8785: canonical input rejected")
    require(not is_canonical(b'{"b":1,"a":2}'), "self_test", "RFC 8785: unsorted keys accepted")
    require(not is_canonical(b'{"a": 1}'), "self_test", "RFC 8785: whitespace accepted")
    found: list[tuple[str, int]] = []
    commitments_in({"x": [{"len": 3, "sha256": "ab"}], "y": {"len": 1, "sha256": "cd", "z": 0}}, found)
    require(found == [("ab", 3)], "self_test", f"commitment walk found {found}")


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(description="Verify a traceledger audit bundle offline, independently of traceledger.")
    parser.add_argument("bundle", help="the bundle file (DSSE envelope JSON), as returned by POST /v1/exports")
    parser.add_argument("--key", required=True, help="the log's verifier key <origin>+<hex8>+<base64>, obtained out of band (GET /v1/keys)")
    parser.add_argument("--expect-subjects", type=int, default=None, help="fail unless the statement has exactly N subjects")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        with open(args.bundle, "rb") as handle:
            data = handle.read()
    except OSError as error:
        print(f"verify_bundle: cannot read {args.bundle}: {error}", file=sys.stderr)
        return 2
    try:
        self_test()
        result = verify_bundle(data, args.key, args.expect_subjects)
    except BundleInvalid as error:
        out("BUNDLE_INVALID " + json.dumps({"check": error.check, "message": error.message}, sort_keys=True))
        print(f"bundle INVALID [{error.check}]: {error.message}", file=sys.stderr)
        return 1
    except tlverify.VerificationError as error:  # the self-test
        out("BUNDLE_INVALID " + json.dumps({"check": "self_test", "message": str(error)}, sort_keys=True))
        print(f"verify_bundle self-test FAILED: {error}", file=sys.stderr)
        return 1
    out(
        f"bundle OK: {result['entries']} entries ({result['span_entries']} spans in {result['traces']} traces), "
        f"{result['contents']} revealed contents, {result['subjects']} subjects, checkpoint size {result['checkpoint_size']} "
        f"of {result['origin']} ({time.monotonic() - started:.3f} s)"
    )
    out("BUNDLE_RESULT " + json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
