"""Publishing through the EventBridge global endpoint (docs/regions.md, "Global endpoint").

PutEvents with ``EndpointId`` goes to ``<id>.endpoint.events.amazonaws.com``, which hands
the event to the primary's bus while the Route 53 health check is healthy, else to the
secondary's. The request is signed with SigV4a (one signature for every region, as
either region's bus may take it), and botocore signs SigV4a only through the AWS CRT:
the ``global-endpoint`` extra. Without it botocore would fail on the first publish, deep
in endpoint resolution; a client given an endpoint id checks at construction instead.
"""

import re
from typing import Any

from voxflow.errors import SettingsError

EXTRA = "voxflow[global-endpoint]"
# EventBridge's pattern for an endpoint id: two host labels, e.g. "abcde.veo".
_ENDPOINT_ID = re.compile(r"^[A-Za-z0-9-]+\.[A-Za-z0-9-]+$")


class GlobalEndpointUnavailable(SettingsError):
    """An endpoint id was given, but this install cannot sign SigV4a requests."""


def checked_endpoint_id(endpoint_id: str | None) -> str | None:
    """``endpoint_id`` if it is usable here; None for the regional path."""
    if endpoint_id is None:
        return None
    if not _ENDPOINT_ID.match(endpoint_id):
        raise SettingsError(
            f"{endpoint_id!r} is not a global endpoint id (the stack's GlobalEndpointId "
            "output, like 'abcde.veo')"
        )
    from botocore import compat  # read when asked: BOTO_DISABLE_CRT and tests can turn it off

    if not compat.HAS_CRT:
        raise GlobalEndpointUnavailable(
            f"publishing through the global endpoint {endpoint_id!r} needs SigV4a, which "
            f"botocore signs only with the AWS CRT: pip install '{EXTRA}' (the awscrt "
            "package), and leave BOTO_DISABLE_CRT unset"
        )
    return endpoint_id


def put_events_arguments(entry: dict[str, Any], endpoint_id: str | None) -> dict[str, Any]:
    """PutEvents' arguments for one entry: the same entry on either path."""
    if endpoint_id is None:
        return {"Entries": [entry]}
    return {"Entries": [entry], "EndpointId": endpoint_id}
