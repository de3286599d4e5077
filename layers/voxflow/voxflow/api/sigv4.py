"""SigV4 signatures checked in the function, as Polly checks them: botocore's own signer
recomputes the signature over the request as received, and the two are compared in
constant time. Polly's routes have no IAM authorizer in front (API Gateway's takes only
``execute-api`` signatures, an unmodified Polly client signs for ``polly``), so this is
the check on AWS, against the keys ``voxflow keys create --sigv4`` issues
(voxflow.tenants.sigv4_keys), and locally against the documented dummy credentials too.

The credential scope's region is not checked: keys are the deployment's, and after a
failover one hostname answers from the other region to clients that signed for the first.
"""

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SIGNING_NAME = "polly"
MAX_SKEW_S = 300.0  # what AWS allows: 5 minutes either way
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/\s]+)/(?P<date>\d{8})/(?P<region>[^/\s]+)/"
    r"(?P<service>[^/\s]+)/aws4_request,\s*SignedHeaders=(?P<signed>[a-z0-9;-]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)
_AMZ_DATE = "%Y%m%dT%H%M%SZ"


class SignatureRejected(Exception):
    """Refused: ``code`` is the AWS error type a client expects for it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class SigV4Verifier:
    def __init__(
        self,
        secrets: Mapping[str, str] | Callable[[str], str | None],
        *,
        service: str = SIGNING_NAME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``secrets``: the secret access key of an access key id (None: no such key)."""
        self._secret_of = dict(secrets).get if isinstance(secrets, Mapping) else secrets
        self._service = service
        self._clock = clock

    def verify(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> str:
        """The access key id that signed the request; raises SignatureRejected."""
        lowered = {name.lower(): value for name, value in headers.items()}
        authorization = lowered.get("authorization")
        if not authorization:
            raise SignatureRejected(
                "MissingAuthenticationTokenException", "Missing Authentication Token"
            )
        parts = _AUTHORIZATION.match(authorization.strip())
        if parts is None:
            raise SignatureRejected(
                "IncompleteSignatureException", "the Authorization header is not SigV4"
            )
        if parts["service"] != self._service:
            raise SignatureRejected(
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{self._service}'",
            )
        # The date first: a stale or replayed request costs no key lookup.
        amz_date = self._checked_date(lowered.get("x-amz-date", ""), parts["date"])
        secret = self._secret_of(parts["key"])
        if secret is None:
            raise SignatureRejected(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        signed = parts["signed"].split(";")
        if "host" not in signed or any(name not in lowered for name in signed):
            raise SignatureRejected(
                "IncompleteSignatureException", "a signed header is missing, or host is unsigned"
            )
        claimed = lowered.get("x-amz-content-sha256")
        if claimed is not None and claimed != hashlib.sha256(body).hexdigest():
            raise SignatureRejected(
                "InvalidSignatureException", "the body does not match x-amz-content-sha256"
            )
        request = AWSRequest(
            method=method,
            url=f"http://{lowered['host']}{path}" + (f"?{query}" if query else ""),
            data=body,
            headers={name: lowered[name] for name in signed},
        )
        request.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(parts["key"], secret), self._service, parts["region"])
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if not hmac.compare_digest(expected, parts["signature"]):
            raise SignatureRejected(
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you "
                "provided. Check your AWS Secret Access Key and signing method.",
            )
        return parts["key"]

    def _checked_date(self, amz_date: str, scope_date: str) -> str:
        try:
            signed_at = datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC)
        except ValueError:
            raise SignatureRejected(
                "IncompleteSignatureException", "x-amz-date is missing or malformed"
            ) from None
        if not amz_date.startswith(scope_date):
            raise SignatureRejected(
                "InvalidSignatureException", "the credential scope's date is not x-amz-date's"
            )
        if abs(self._clock() - signed_at.timestamp()) > MAX_SKEW_S:
            raise SignatureRejected("InvalidSignatureException", "Signature expired")
        return amz_date


def parse_credentials(value: str) -> dict[str, str]:
    """``VOXFLOW_API_SIGV4_CREDENTIALS``: ``key:secret`` pairs, comma-separated."""
    pairs = [pair.strip() for pair in value.split(",") if pair.strip()]
    credentials = dict(pair.split(":", 1) for pair in pairs if ":" in pair)
    if len(credentials) != len(pairs):
        raise ValueError("VOXFLOW_API_SIGV4_CREDENTIALS: expected key:secret pairs")
    return credentials
