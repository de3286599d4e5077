"""Who a request says it is, for the access log: the key's id as `voxflow keys list`
names it, read from the Authorization header with no I/O and never a secret.

``apikey:<key id>`` (the first 12 hex digits of a bearer key's sha256), ``sigv4:<access
key id>`` (the Credential of a SigV4 signature), or "" without either. It is the key the
request presented, checked or not: the access line of a refused request names it too.
API Gateway cannot log it (its `$context.identity.*` fields are filled by an IAM
authorizer, which Polly's signatures cannot use: docs/api.md), so the function's own
access line carries it, under the same request id.
"""

import re
from collections.abc import Mapping

from voxflow.tenants.api_keys import key_id_of

_CREDENTIAL = re.compile(r"Credential=([A-Za-z0-9]{1,128})/")


def principal_of(headers: Mapping[str, str]) -> str:
    authorization = next(
        (value for name, value in headers.items() if name.lower() == "authorization"), ""
    ).strip()
    scheme, _, rest = authorization.partition(" ")
    if scheme.lower() == "bearer" and rest.strip():
        return f"apikey:{key_id_of(rest.strip())}"
    if scheme == "AWS4-HMAC-SHA256" and (found := _CREDENTIAL.search(rest)):
        return f"sigv4:{found[1]}"
    return ""
