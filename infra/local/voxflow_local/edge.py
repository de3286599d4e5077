"""The edge: a small origin-failover proxy standing in for CloudFront on this machine.

On AWS (EdgeDelivery cloudfront, docs/regions.md) audio URLs are CloudFront signed URLs,
and the distribution's origin group reads the primary's bucket first and the
secondary's when that fails. Here the proxy does the same for the two regions' moto
servers: it checks the canned-policy signature (RSA-SHA1, the Key-Pair-Id its key's)
and the expiry as CloudFront would, answers 403 otherwise, then fetches the object
from the primary's bucket, and from the secondary's when the primary answers 403, 404
or 5xx or does not answer within ``origin_timeout_s`` (a frozen region).

Unlike CloudFront it caches nothing: every play goes to the origins, so what the drill
counts is the failover, not an edge cache. ``EdgeKeys`` is the operator's key pair:
the private key goes into each region's Secrets Manager (moto's), under one name.
"""

import base64
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from voxflow.aws import AwsClients, AwsSettings
from voxflow.store.urls import canned_policy

logger = logging.getLogger("voxflow_local.edge")

EDGE_KEY_ID = "KLOCALEDGE0001"
EDGE_SIGNING_KEY_NAME = "voxflow-edge-signing-key"
# CloudFront's origin failover criteria (template.yaml, EdgeDistribution).
FAILOVER_STATUS = frozenset({403, 404, 500, 502, 503, 504})


@dataclass(frozen=True)
class EdgeKeys:
    private_key: rsa.RSAPrivateKey
    key_id: str = EDGE_KEY_ID

    @classmethod
    def generate(cls) -> "EdgeKeys":
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @property
    def private_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def store(self, secretsmanager: Any, name: str = EDGE_SIGNING_KEY_NAME) -> None:
        """What the operator does in each region (docs/deploy.md, "Edge delivery")."""
        secretsmanager.create_secret(Name=name, SecretString=self.private_pem)


@dataclass(frozen=True)
class Origin:
    region: str
    endpoint_url: str
    bucket: str


@dataclass
class EdgeCounts:
    """What the proxy served, by origin region, and what it refused."""

    served: dict[str, int] = field(default_factory=dict)
    failovers: int = 0
    refused: int = 0
    unavailable: int = 0


class EdgeProxy:
    def __init__(self, keys: EdgeKeys, *, port: int = 0, origin_timeout_s: float = 2.0) -> None:
        """Origins are set once the stacks exist (``set_origins``): primary first."""
        self.keys = keys
        self.origin_timeout_s = origin_timeout_s
        self.counts = EdgeCounts()
        self._origins: tuple[tuple[Origin, Any], ...] = ()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def set_origins(self, origins: Sequence[Origin]) -> None:
        # One attempt (botocore's max_attempts counts retries only), short timeouts:
        # CloudFront's ConnectionAttempts/ConnectionTimeout, smaller for a local drill.
        config = Config(
            connect_timeout=self.origin_timeout_s,
            read_timeout=self.origin_timeout_s,
            retries={"mode": "standard", "total_max_attempts": 1},
        )
        self._origins = tuple(
            (
                origin,
                AwsClients(AwsSettings.local(origin.endpoint_url, origin.region), config=config).s3,
            )
            for origin in origins
        )

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="edge-proxy", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- what CloudFront does -----------------------------------------------------

    def authorize(self, host: str, target: str) -> str | None:
        """The object key a signed URL names, or None: a bad or expired signature."""
        parts = urlsplit(target)
        query = {name: values[0] for name, values in parse_qs(parts.query).items()}
        try:
            expires = int(query["Expires"])
            signature = base64.b64decode(
                query["Signature"].translate(str.maketrans("-_~", "+=/")), validate=True
            )
        except (KeyError, ValueError):
            return None
        if query.get("Key-Pair-Id") != self.keys.key_id or time.time() >= expires:
            return None
        policy = canned_policy(f"http://{host}{parts.path}", expires)
        try:
            self.keys.private_key.public_key().verify(
                signature, policy, padding.PKCS1v15(), hashes.SHA1()
            )
        except InvalidSignature:
            return None
        return unquote(parts.path.lstrip("/"))

    def fetch(self, key: str) -> tuple[bytes, str, str] | None:
        """(body, content type, origin region) from the first origin that serves it."""
        for index, (origin, s3) in enumerate(self._origins):
            try:
                response = s3.get_object(Bucket=origin.bucket, Key=key)
                body = bytes(response["Body"].read())
            except ClientError as error:
                status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
                if status not in FAILOVER_STATUS:
                    return None
                logger.info("edge: %s answered %s for %s", origin.region, status, key)
            except BotoCoreError as error:  # unreachable or frozen: CloudFront's timeout
                logger.info("edge: %s unreachable for %s: %s", origin.region, key, error)
            else:
                with self._lock:
                    self.counts.served[origin.region] = self.counts.served.get(origin.region, 0) + 1
                    self.counts.failovers += index > 0
                return (
                    body,
                    str(response.get("ContentType", "application/octet-stream")),
                    origin.region,
                )
        return None


def _handler(proxy: EdgeProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve(body=True)

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def _serve(self, *, body: bool) -> None:
            key = proxy.authorize(self.headers.get("Host", ""), self.path)
            if key is None:
                with proxy._lock:
                    proxy.counts.refused += 1
                self._answer(403, b"AccessDenied", "text/plain", body=body)
                return
            found = proxy.fetch(key)
            if found is None:
                with proxy._lock:
                    proxy.counts.unavailable += 1
                self._answer(502, b"no origin served the object", "text/plain", body=body)
                return
            data, content_type, region = found
            self._answer(200, data, content_type, body=body, origin=region)

        def _answer(
            self, status: int, data: bytes, content_type: str, *, body: bool, origin: str = ""
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            if origin:
                self.send_header("X-Voxflow-Origin", origin)
            self.end_headers()
            if body:
                self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug(format, *args)

    return Handler
