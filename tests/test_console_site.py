"""The console as a static site of its own origin: ``voxflow console publish``'s files
in a bucket on moto server are the package's own, laid out as the local site server
(CloudFront's stand-in) serves them with the site's content security policy; and the
local HTTP API answers CORS as API Gateway's CorsConfiguration does, for the site's
origin only. The page itself runs cross-origin in test_console_browser.py."""

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest

from voxflow.aws import AwsClients, AwsSettings
from voxflow.console.site import CORS_EXPOSE_HEADERS, publish, site_policy
from voxflow_local.console_site import ConsoleSite
from voxflow_local.http_api import Cors, HttpApiServer
from voxflow_local.moto_server import MotoServer

API = "https://abc123.execute-api.us-east-1.amazonaws.com"
STATIC = resources.files("voxflow.console").joinpath("static")


def fetch(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        return urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as error:
        return error


@pytest.fixture(scope="module")
def clients() -> Iterator[AwsClients]:
    with MotoServer() as moto:
        yield AwsClients(AwsSettings.local(moto.url))


def test_publish_puts_the_packages_files_and_the_config_that_names_the_api(
    clients: AwsClients,
) -> None:
    s3 = clients.s3
    bucket = f"console-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    keys = publish(s3, bucket, API + "/")
    assert keys == [
        "index.html",
        "console/console.js",
        "console/console.css",
        "console/config.json",
    ]
    listed = {item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert listed == set(keys)
    for key, name in (("index.html", "index.html"), ("console/console.js", "console.js")):
        stored = s3.get_object(Bucket=bucket, Key=key)
        assert stored["Body"].read() == STATIC.joinpath(name).read_bytes(), key
        assert stored["CacheControl"] == "no-cache"
    config = s3.get_object(Bucket=bucket, Key="console/config.json")
    assert config["ContentType"] == "application/json"
    assert json.loads(config["Body"].read()) == {"api": API}
    # The page at the root loads its script and style where they were put.
    page = STATIC.joinpath("index.html").read_text(encoding="utf-8")
    assert 'src="console/console.js"' in page
    assert 'href="console/console.css"' in page


def test_the_local_site_serves_the_same_layout_with_the_sites_policy() -> None:
    with ConsoleSite("http://127.0.0.1:9/") as site:
        root = fetch(f"{site.url}/")
        assert root.status == 200
        assert root.read() == STATIC.joinpath("index.html").read_bytes()
        assert root.headers["Content-Security-Policy"] == site_policy("http://127.0.0.1:9")
        assert "connect-src 'self' http://127.0.0.1:9 blob:" in site_policy("http://127.0.0.1:9")
        script = fetch(f"{site.url}/console/console.js")
        assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"
        assert json.loads(fetch(f"{site.url}/console/config.json").read()) == {
            "api": "http://127.0.0.1:9"
        }
        # Nothing else is there: S3 behind origin access control answers 403.
        assert fetch(f"{site.url}/console/assets.py").status == 403


def test_the_api_answers_cors_for_the_sites_origin_only() -> None:
    site = "http://127.0.0.1:8123"

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        return {"statusCode": 200, "headers": {"x-voxflow-cache": "hit"}, "body": "{}"}

    with HttpApiServer(invoke, cors=Cors((site,))) as api:
        preflight = fetch(
            f"{api.url}/v1/audio/speech",
            "OPTIONS",
            {
                "Origin": site,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert preflight.status == 204
        assert preflight.headers["Access-Control-Allow-Origin"] == site
        assert preflight.headers["Access-Control-Allow-Headers"] == "authorization,content-type"
        assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
        answer = fetch(f"{api.url}/v1/health", headers={"Origin": site})
        assert answer.headers["Access-Control-Allow-Origin"] == site
        assert answer.headers["Access-Control-Expose-Headers"] == ",".join(CORS_EXPOSE_HEADERS)
        # Another origin gets no CORS header: its browser refuses the answer to its page.
        for url, method, headers in (
            (f"{api.url}/v1/health", "GET", {"Origin": "http://127.0.0.1:9999"}),
            (
                f"{api.url}/v1/health",
                "OPTIONS",
                {"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"},
            ),
        ):
            refused = fetch(url, method, headers)
            assert "Access-Control-Allow-Origin" not in refused.headers, (method, headers)


def test_the_cli_publishes_to_the_stacks_bucket_for_the_stacks_api(
    clients: AwsClients, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from voxflow.cli import main as cli
    from voxflow.cli import ops

    bucket = f"console-{uuid.uuid4().hex[:8]}"
    clients.s3.create_bucket(Bucket=bucket)
    aws = AwsSettings.local(clients.settings.endpoint_url or "", "us-east-1")
    stack = {"ConsoleBucket": bucket, "SpeechApi": "abc123"}
    # The stack's resources as CloudFormation lists them (moto's has no such stack).
    monkeypatch.setattr(ops, "stack_resources", lambda _args: (aws, stack))
    assert cli(["console", "publish", "--aws", "--stack", "voxflow"]) == 0
    printed = capsys.readouterr().out
    assert f"s3://{bucket}/console/config.json" in printed
    config = clients.s3.get_object(Bucket=bucket, Key="console/config.json")["Body"].read()
    assert json.loads(config) == {"api": API}
    # A stack deployed without ConsoleSite has no bucket to publish to, and says so.
    monkeypatch.setattr(ops, "stack_resources", lambda _args: (aws, {"SpeechApi": "abc123"}))
    assert cli(["console", "publish", "--aws"]) == 1
    assert "ConsoleSite=cloudfront" in capsys.readouterr().out
