"""Validates traceledger audit bundles with the in-toto maintainers' own Python package.

    intoto_validate.py BUNDLE_FILE...

For each file: the DSSE envelope's payload is parsed into the in-toto Statement v1
protobuf (``in_toto_attestation.v1.statement_pb2.Statement``, from its JSON form) and
checked with ``Statement.validate()`` — the check third-party in-toto tooling applies
(``_type``, at least one subject, each subject a valid ResourceDescriptor with a digest,
a predicate type and a non-empty predicate). Prints one line
``INTOTO {"file": .., "valid": true|false, "error": .., "subjects": [names]}`` per file and
exits 1 if any file is invalid. Signatures and the traceledger predicate are not checked
here (verify_bundle.py does that).
"""

import base64
import json
import sys

from google.protobuf import json_format
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement


def validate(path: str) -> dict:
    with open(path, "rb") as handle:
        envelope = json.load(handle)
    if envelope.get("payloadType") != "application/vnd.in-toto+json":
        return {"file": path, "valid": False, "error": f"payloadType {envelope.get('payloadType')!r}", "subjects": []}
    payload = base64.b64decode(envelope["payload"], validate=True)
    proto = statement_pb2.Statement()
    try:
        json_format.Parse(payload, proto, ignore_unknown_fields=False)
        Statement.copy_from_pb(proto).validate()
    except Exception as error:  # the validator raises ValueError; Parse raises ParseError
        return {"file": path, "valid": False, "error": f"{type(error).__name__}: {error}", "subjects": [s.name for s in proto.subject]}
    return {"file": path, "valid": True, "error": None, "subjects": [s.name for s in proto.subject]}


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    results = [validate(path) for path in sys.argv[1:]]
    for result in results:
        print("INTOTO " + json.dumps(result))
    return 0 if all(result["valid"] for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
