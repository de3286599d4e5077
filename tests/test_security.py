"""Security: presigned URLs hold as S3 holds them, no secrets in code, no text in logs.

The presigned URL tests run over HTTP against the local stack's moto server
(voxflow_local.moto_app checks signatures and expiry, which moto alone does not),
with the template deployed into it, so the bucket is the stack's own (SSE-KMS)
and the URL lifetime is the stack's VOXFLOW_URL_EXPIRY_S.
"""

import ast
import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from handler_module import import_handler

from voxflow.aws import AwsClients, AwsSettings
from voxflow.store.audio import AudioStore
from voxflow_local.deploy import deploy_stack
from voxflow_local.model import DeployedStack
from voxflow_local.moto_app import PresignedUrlError, check_presigned
from voxflow_local.moto_server import MotoServer

ROOT = Path(__file__).resolve().parent.parent
URL_EXPIRY_S = 900  # the stack's UrlExpirySeconds here: not the default, so it is read


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MotoServer, DeployedStack]]:
    logs = tmp_path_factory.mktemp("security")
    with MotoServer(log_path=logs / "moto.log") as moto:
        deployed = deploy_stack(
            moto.url, moto.region, parameters={"UrlExpirySeconds": str(URL_EXPIRY_S)}
        )
        yield moto, deployed


@pytest.fixture(scope="module")
def store(stack: tuple[MotoServer, DeployedStack]) -> AudioStore:
    """The bucket and URL lifetime as the stack's functions see them."""
    moto, deployed = stack
    (plan,) = [f for f in deployed.functions if f.logical_id == "PlanFunction"]
    s3 = AwsClients(AwsSettings.local(moto.url, moto.region)).s3
    return AudioStore(
        s3, plan.environment["VOXFLOW_BUCKET"], int(plan.environment["VOXFLOW_URL_EXPIRY_S"])
    )


def fetch(url: str, method: str = "GET", data: bytes | None = None) -> tuple[int, bytes]:
    """A plain HTTP request, as a browser or curl would send it: no AWS credentials."""
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def error_code(body: bytes) -> str:
    match = re.search(rb"<Code>(\w+)</Code>", body)
    assert match, body
    return match.group(1).decode()


# ---------------------------------------------------------------------------------
# Presigned URLs, over HTTP
# ---------------------------------------------------------------------------------


def test_fresh_url_downloads_the_stored_bytes_encrypted_at_rest(store: AudioStore) -> None:
    store.put("audio/security/fresh.mp3", b"stored bytes", "audio/mpeg")
    status, body = fetch(store.presign("audio/security/fresh.mp3", "audio/mpeg").url)
    assert (status, body) == (200, b"stored bytes")
    # The bucket's default encryption is the stack's KMS key (SSE-KMS, bucket key on).
    head = store._s3.head_object(Bucket=store.bucket, Key="audio/security/fresh.mp3")
    assert head["ServerSideEncryption"] == "aws:kms"


def test_url_expiry_is_the_stacks(store: AudioStore) -> None:
    store.put("audio/security/expiry.mp3", b"x", "audio/mpeg")
    before = datetime.now(UTC)
    presigned = store.presign("audio/security/expiry.mp3", "audio/mpeg")
    query = parse_qs(urlsplit(presigned.url).query)
    assert query["X-Amz-Expires"] == [str(URL_EXPIRY_S)]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    lifetime = (presigned.expires_at - before).total_seconds()
    assert URL_EXPIRY_S - 2 <= lifetime <= URL_EXPIRY_S + 1


def test_tampered_signature_is_refused(store: AudioStore) -> None:
    store.put("audio/security/tampered.mp3", b"secret audio", "audio/mpeg")
    url = store.presign("audio/security/tampered.mp3", "audio/mpeg").url
    signature = parse_qs(urlsplit(url).query)["X-Amz-Signature"][0]
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    status, body = fetch(url.replace(signature, flipped))
    assert status == 403
    assert error_code(body) == "SignatureDoesNotMatch"
    assert b"secret audio" not in body
    assert fetch(url) == (200, b"secret audio")  # the untouched URL still works


def test_url_for_one_key_does_not_open_another(store: AudioStore) -> None:
    store.put("audio/security/mine.mp3", b"mine", "audio/mpeg")
    store.put("audio/security/theirs.mp3", b"theirs", "audio/mpeg")
    url = store.presign("audio/security/mine.mp3", "audio/mpeg").url
    status, body = fetch(url.replace("/mine.mp3?", "/theirs.mp3?"))
    assert status == 403
    assert error_code(body) == "SignatureDoesNotMatch"
    # Nor another response type than the one signed.
    status, _ = fetch(url.replace("audio%2Fmpeg", "text%2Fhtml"))
    assert status == 403


def test_expired_url_is_refused(store: AudioStore) -> None:
    store.put("audio/security/expired.mp3", b"soon gone", "audio/mpeg")
    short = AudioStore(store._s3, store.bucket, 1)
    url = short.presign("audio/security/expired.mp3", "audio/mpeg").url
    time.sleep(2.1)
    status, body = fetch(url)
    assert status == 403
    assert error_code(body) == "AccessDenied"
    assert b"expired" in body


def test_signature_check_needs_the_local_secret() -> None:
    """The check recomputes the signature: a URL signed with another secret fails."""
    import boto3
    from botocore.config import Config

    s3 = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:1",
        aws_access_key_id="testing",
        aws_secret_access_key="not-the-local-secret",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    url = urlsplit(s3.generate_presigned_url("get_object", {"Bucket": "b", "Key": "k"}, 60))
    with pytest.raises(PresignedUrlError) as refused:
        check_presigned("GET", url.netloc, url.path, url.query, {})
    assert refused.value.code == "SignatureDoesNotMatch"
    check_presigned(  # the same URL with the secret it was signed with passes
        "GET", url.netloc, url.path, url.query, {}, secret_key="not-the-local-secret"
    )


# ---------------------------------------------------------------------------------
# Anonymous requests, over HTTP: the bucket is private, as with Block Public Access
# ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("GET", "audio/security/anonymous.mp3", None),  # read an object
        ("HEAD", "audio/security/anonymous.mp3", None),
        ("PUT", "audio/security/anonymous.mp3", b"poisoned"),  # overwrite it
        ("PUT", "audio/security/planted.mp3", b"poisoned"),  # plant a new one
        ("DELETE", "audio/security/anonymous.mp3", None),
        ("GET", "", None),  # list the bucket
        ("GET", "?list-type=2&prefix=audio/", None),
    ],
)
def test_unsigned_requests_are_refused(
    stack: tuple[MotoServer, DeployedStack],
    store: AudioStore,
    method: str,
    path: str,
    data: bytes | None,
) -> None:
    moto, _ = stack
    store.put("audio/security/anonymous.mp3", b"private audio", "audio/mpeg")
    separator = "" if path.startswith("?") else "/"
    status, body = fetch(f"{moto.url}/{store.bucket}{separator}{path}", method, data)
    assert status == 403
    if method != "HEAD":  # a HEAD answer has no body
        assert error_code(body) == "AccessDenied"
        assert b"private audio" not in body
        assert b"anonymous.mp3" not in body
    # Nothing changed, as boto3 (signed) sees it; its calls still work.
    assert store.get("audio/security/anonymous.mp3") == b"private audio"
    listed = store._s3.list_objects_v2(Bucket=store.bucket, Prefix="audio/security/")
    assert "audio/security/planted.mp3" not in {item["Key"] for item in listed["Contents"]}
    # The presigned URL still opens the object.
    url = store.presign("audio/security/anonymous.mp3", "audio/mpeg").url
    assert fetch(url) == (200, b"private audio")


def test_unsigned_listing_of_buckets_is_refused(stack: tuple[MotoServer, DeployedStack]) -> None:
    moto, _ = stack
    status, body = fetch(f"{moto.url}/")
    assert status == 403
    assert error_code(body) == "AccessDenied"
    assert fetch(f"{moto.url}/moto-api/")[0] == 200  # moto's own page is not S3


# ---------------------------------------------------------------------------------
# No secrets in code
# ---------------------------------------------------------------------------------

# AWS access key ids, and a secret access key's shape (40 base64 characters) next to
# a name that says what it is.
KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA)[A-Z0-9]{16}\b")
SECRET = re.compile(
    r"(?i)(?:secret|password|passwd|token|aws_secret_access_key)[\w-]*[\"']?\s*[:=]\s*"
    r"[\"']([^\"'\s]{8,})[\"']"
)
# The dummy credentials of the local stack and tests (docs: infra/local/README.md).
ALLOWED_VALUES = {"testing", "not-the-local-secret"}
PRIVATE_KEY = re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH )?PRIVATE KEY-----")


def tracked_text_files() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    files = []
    for name in names:
        path = ROOT / name.decode()
        if name and path.is_file() and path.suffix not in {".wav", ".onnx", ".mp3", ".flac"}:
            files.append(path)
    return files


def test_no_aws_keys_or_secrets_in_the_repository() -> None:
    files = tracked_text_files()
    assert len(files) > 50
    found = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        found += [f"{path}: key id {m.group(0)}" for m in KEY_ID.finditer(text)]
        found += [f"{path}: private key" for m in PRIVATE_KEY.finditer(text)]
        for match in SECRET.finditer(text):
            value = match.group(1)
            # References and placeholders are not secrets: ${X}, env lookups, names.
            if value in ALLOWED_VALUES or value.startswith(("$", "{", "<", "os.")):
                continue
            if re.fullmatch(r"[A-Za-z0-9/+]{40}", value) or len(value) >= 16:
                found.append(f"{path}: {match.group(0)[:60]}")
    assert found == []


def test_secret_pattern_finds_what_it_should() -> None:
    """The scanner above is not vacuous: it catches a planted key and secret."""
    # Put together here, so that this file itself holds no key-shaped literal.
    planted = 'aws_secret_access_key = "' + "wJalrXUtnFEMI/K7MDENG" + '/bPxRfiCYzEXAMPLEKEY"'
    assert SECRET.search(planted)
    assert KEY_ID.search("AKIA" + "IOSFODNN7EXAMPLE")


# ---------------------------------------------------------------------------------
# No request text in logs
# ---------------------------------------------------------------------------------

HANDLERS = sorted((ROOT / "functions").glob("*/app.py"))


def test_handlers_never_log_the_event() -> None:
    """Powertools logs the whole event (texts included) only with log_event on."""
    assert len(HANDLERS) >= 4
    for handler in HANDLERS:
        tree = ast.parse(handler.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "log_event":
                pytest.fail(f"{handler}: log_event")
            # Logging calls carry ids and counts: never a body, a record or an event.
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "logger"
            ):
                assert node.func.attr != "exception", f"{handler}: tracebacks quote inputs"
                # record["messageId"] is an id; anything else of an event is content.
                ids = {
                    id(n.value)
                    for n in ast.walk(node)
                    if isinstance(n, ast.Subscript)
                    and isinstance(n.slice, ast.Constant)
                    and n.slice.value == "messageId"
                }
                names = {
                    n.id for n in ast.walk(node) if isinstance(n, ast.Name) and id(n) not in ids
                }
                strings = {n.value for n in ast.walk(node) if isinstance(n, ast.Constant)}
                assert not names & {"event", "record", "body", "text"}, handler
                assert not {"body", "text"} & strings, handler
    template = (ROOT / "template.yaml").read_text(encoding="utf-8")
    assert "POWERTOOLS_LOGGER_LOG_EVENT" not in template


def test_malformed_chunk_task_is_logged_without_its_text(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The synthesize handler on a malformed task: the log says where, never the text."""
    module = import_handler("synthesize", monkeypatch)

    marker = "Private words the log must not hold"
    # The invalid field holds the text: pydantic quotes the input of the field it refuses.
    body = json.dumps({"request_id": "r-1", "index": 0, "text": [marker]})
    record: dict[str, Any] = {
        "messageId": "m-1",
        "receiptHandle": "h",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:chunks",
    }

    class Context:
        function_name = "synthesize"
        memory_limit_in_mb = 3008
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:synthesize"
        aws_request_id = "req-1"

    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    capsys.readouterr()
    # Every record of the batch failed: powertools raises (Lambda then retries them all).
    with pytest.raises(BatchProcessingError) as raised:
        module.handler({"Records": [record]}, Context())
    logged = capsys.readouterr()
    assert "malformed chunk task" in logged.out
    assert "m-1" in logged.out
    # The failed record is named with its error's type: why it went back to the queue.
    failures = [json.loads(line) for line in logged.out.splitlines() if "record failed" in line]
    assert [(f["message_id"], f["error"]) for f in failures] == [("m-1", "MalformedChunkTask")]
    assert marker not in logged.out + logged.err
    # Lambda logs the uncaught error with its message and its causes' tracebacks.
    import traceback

    printed = "".join(traceback.format_exception(raised.value))
    assert "m-1" in printed or "ValidationError" in printed or "Malformed" in printed
    assert marker not in printed
