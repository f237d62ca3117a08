"""schemathesis hooks for scripts/schemathesis (loaded through SCHEMATHESIS_HOOKS).

The hub answers `POST /v1/sync` with 403 `forbidden` when the body's `replica` is not the device
the bearer credential was issued to (Docs/openapi.yaml says so). No schema can name that id, so
this hook puts the enrolled device's id (VIGIL_SCHEMATHESIS_REPLICA) in place of every well-formed
`replica` schemathesis generates. A malformed one is left alone: negative cases keep their defect.
"""

import os
import re

import schemathesis

REPLICA = os.environ["VIGIL_SCHEMATHESIS_REPLICA"]
REPLICA_ID = re.compile(r"[0-9a-fA-F]{32}")


@schemathesis.hook
def map_case(context, case):
    if case.operation.path == "/v1/sync" and isinstance(case.body, dict):
        replica = case.body.get("replica")
        if isinstance(replica, str) and REPLICA_ID.fullmatch(replica):
            case.body = {**case.body, "replica": REPLICA}
    return case
