"""moto server with S3 requests authorized as a private bucket on AWS authorizes them.

moto serves a presigned GET whatever its signature and however old it is, and
lists a bucket and stores new objects for requests that carry no signature at all,
so a test of "the URL expires", "a tampered URL is refused" or "nobody reads the
bucket without a URL" would pass against it without proving anything, and an
unsigned PUT could poison the cache. ``python -m voxflow_local.moto_app`` runs
moto's own WSGI application (what ``python -m moto.server`` runs) behind
``S3RequestGuard``:

- a request whose query carries ``X-Amz-Signature`` has its SigV4 query signature
  computed again with the local stack's dummy credentials (botocore's own signer)
  and its ``X-Amz-Date`` + ``X-Amz-Expires`` compared with the clock; a mismatch or
  an expired URL gets S3's 403 XML error;
- a request that moto would hand to S3 with neither that nor an ``Authorization``
  header is anonymous: 403 ``AccessDenied``, as S3 answers for a bucket with Block
  Public Access and no public policy (GET, HEAD, PUT, DELETE, LIST alike);
- SQS's ApproximateAgeOfOldestMessage metric is put in moto's CloudWatch from the
  queues' messages, as SQS does (voxflow_local.sqs_metrics);
- everything else (SigV4-signed API calls, other services, moto's own
  ``/moto-api``) goes to moto untouched, in the same process. A signed header is not
  verified: boto3 and the local functions sign with the dummy credentials anyway.

DynamoDB transactions cost their own items, not copies of whole tables
(``voxflow_local.moto_transactions``), the objects S3 stored are served as a log
(``voxflow_local.s3_writes``), and the replicator's copies of items are applied here,
last writer wins, as a global table's replica applies them (``voxflow_local.global_tables``).
"""

import argparse
import atexit
import hmac
import os
import signal
import sys
import time
import uuid
from calendar import timegm
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qsl, quote
from xml.sax.saxutils import escape

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from voxflow.aws.settings import LOCAL_KEY
from voxflow_local.call_tally import CALLS_FILE_ENV, CallTally
from voxflow_local.stream_heads import StreamHeads

SIGNATURE = "X-Amz-Signature"
ALGORITHM = "AWS4-HMAC-SHA256"
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
# S3 refuses presigned URLs that live longer than 7 days.
MAX_EXPIRES_S = 7 * 86400

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class PresignedUrlError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_presigned(
    method: str,
    host: str,
    raw_path: str,
    raw_query: str,
    headers: dict[str, str],
    *,
    secret_key: str = LOCAL_KEY,
    access_key: str = LOCAL_KEY,
    now: float | None = None,
) -> None:
    """Raises PresignedUrlError unless the query-signed request is valid right now.

    ``raw_path`` and ``raw_query`` as they came over the wire (still percent-encoded):
    the signature covers those bytes, not their decoded form.
    """
    pairs = [pair.partition("=") for pair in raw_query.split("&") if pair]
    query = {key: value for key, _, value in pairs}
    decoded = dict(parse_qsl(raw_query, keep_blank_values=True))
    if decoded.get("X-Amz-Algorithm") != ALGORITHM:
        raise PresignedUrlError("AuthorizationQueryParametersError", "only SigV4 is accepted")
    credential = decoded.get("X-Amz-Credential", "").split("/")
    if len(credential) != 5 or credential[3] != "s3" or credential[4] != "aws4_request":
        raise PresignedUrlError("AuthorizationQueryParametersError", "bad X-Amz-Credential")
    key_id, day, region = credential[0], credential[1], credential[2]
    if key_id != access_key:
        raise PresignedUrlError(
            "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist"
        )
    try:
        signed_at = timegm(time.strptime(decoded["X-Amz-Date"], _DATE_FORMAT))
        expires_s = int(decoded["X-Amz-Expires"])
    except (KeyError, ValueError) as error:
        raise PresignedUrlError(
            "AuthorizationQueryParametersError", "bad X-Amz-Date or X-Amz-Expires"
        ) from error
    if not 1 <= expires_s <= MAX_EXPIRES_S or not decoded["X-Amz-Date"].startswith(day):
        raise PresignedUrlError("AuthorizationQueryParametersError", "bad X-Amz-Expires")

    # The same request, signature left out, signed again the way botocore presigns it.
    unsigned_query = "&".join(f"{key}{sep}{value}" for key, sep, value in pairs if key != SIGNATURE)
    signed_headers = decoded.get("X-Amz-SignedHeaders", "host").split(";")
    request = AWSRequest(
        method=method,
        url=f"http://{host}{raw_path}?{unsigned_query}",
        headers={name: headers.get(name, "") for name in signed_headers if name != "host"},
    )
    request.context["timestamp"] = decoded["X-Amz-Date"]
    signer = S3SigV4QueryAuth(Credentials(access_key, secret_key), "s3", region, expires_s)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, query.get(SIGNATURE, "")):
        raise PresignedUrlError(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    if (time.time() if now is None else now) > signed_at + expires_s:
        raise PresignedUrlError("AccessDenied", "Request has expired")


# moto's own endpoints, which moto answers itself (DomainDispatcherApplication).
MOTO_OWN_PATHS = ("/moto-api", "/favicon.ico", "/latest/meta-data/", "/latest/api/")
ANONYMOUS = PresignedUrlError("AccessDenied", "Access Denied")


class S3RequestGuard:
    """WSGI middleware: presigned S3 requests are checked, anonymous S3 requests are
    refused, the rest pass straight on."""

    def __init__(
        self,
        app: WsgiApp,
        *,
        secret_key: str = LOCAL_KEY,
        route: Callable[[Environ, str], str | None] | None = None,
    ) -> None:
        """``route``: the host moto dispatches a request to, from its environ and path
        (DomainDispatcherApplication.infer_service_region_host); None, or a host
        starting with ``s3``, means S3. Without it, every request is S3's."""
        self.app = app
        self.secret_key = secret_key
        self.route = route

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        raw_query: str = environ.get("QUERY_STRING", "")
        if SIGNATURE not in raw_query:
            if not environ.get("HTTP_AUTHORIZATION") and self._for_s3(environ):
                return _s3_error(start_response, ANONYMOUS, environ)
            return self.app(environ, start_response)
        try:
            check_presigned(
                environ["REQUEST_METHOD"],
                environ.get("HTTP_HOST", ""),
                _raw_path(environ),
                raw_query,
                _headers(environ),
                secret_key=self.secret_key,
            )
        except PresignedUrlError as error:
            return _s3_error(start_response, error, environ)
        return self.app(environ, start_response)

    def _for_s3(self, environ: Environ) -> bool:
        path = str(environ.get("PATH_INFO", ""))
        if path.startswith(MOTO_OWN_PATHS):
            return False
        host = None if self.route is None else self.route(environ, path)
        return host is None or host.startswith("s3")


def _raw_path(environ: Environ) -> str:
    """The path as sent: werkzeug keeps it in RAW_URI (PATH_INFO is decoded)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return str(raw).split("?", 1)[0]
    return quote(environ.get("PATH_INFO", "/"), safe="/~")


def _headers(environ: Environ) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    return headers


def _s3_error(
    start_response: StartResponse, error: PresignedUrlError, environ: Environ
) -> list[bytes]:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
        f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
    ).encode()
    start_response(
        "403 Forbidden",
        [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
    )
    # A HEAD answer has the status and headers only.
    return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]


def _stop(_signum: int, _frame: FrameType | None) -> None:
    sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    """``python -m moto.server``'s options that voxflow uses: host and port."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=int(os.environ.get("MOTO_PORT", "5000")))
    parser.add_argument(
        "--fd",
        type=int,
        help="a socket bound to the port, inherited from the parent (voxflow_local.ports)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))

    # Imported here: moto's backends take seconds to import, and only the server needs them.
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    from voxflow_local import (
        global_tables,
        keep_alive,
        moto_hot_paths,
        moto_transactions,
        ports,
        s3_writes,
    )

    hot_paths = moto_hot_paths.enabled()
    # Routing and action lookup computed once, SQS's clock without datetimes.
    if hot_paths:
        moto_hot_paths.install()
    # Transactions at the cost of their own items, not of whole tables (as on AWS).
    moto_transactions.install()
    # Each streamed item's last write time: replicated copies are applied last writer wins.
    global_tables.install()
    # Stored objects as a log: the replicator reads it instead of listing the buckets.
    s3_writes.install()
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    from voxflow_local import sqs_metrics

    sqs_metrics.start()  # AWS/SQS ApproximateAgeOfOldestMessage, as SQS publishes it
    dispatcher = DomainDispatcherApplication(create_backend_app)
    guarded = S3RequestGuard(dispatcher, route=dispatcher.infer_service_region_host)
    # Each operation's calls and CPU (voxflow_local.call_tally): where this moto's time goes.
    app = CallTally(global_tables.ReplicaWrites(s3_writes.WriteLog(StreamHeads(guarded))))
    calls_file = os.environ.get(CALLS_FILE_ENV)
    if calls_file:
        app.write_every(Path(calls_file))
        atexit.register(app.write, Path(calls_file))
    handler = MotoRequestHandler
    if hot_paths:
        # Connections kept open between calls, as AWS's endpoints keep them.
        handler = keep_alive.keep_alive_handler(handler)
        handler = moto_hot_paths.quiet_request_handler(handler)
        moto_hot_paths.no_full_collections()
    # What werkzeug's run_simple does, on the parent's socket when it passed one.
    listener = ports.listen_on(args.fd) if args.fd is not None else None
    server = make_server(
        args.host,
        args.port,
        app,
        threaded=True,
        request_handler=handler,
        fd=listener.fileno() if listener is not None else None,
    )
    server.log_startup()
    server.serve_forever()


if __name__ == "__main__":
    main()
