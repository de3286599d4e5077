"""Who called, in the API function's access line (voxflow.api.principal): API Gateway's
own access log cannot name the principal (no IAM authorizer fills $context.identity),
so the function logs it under the request id, and never the key or the text."""

import json
from typing import Any

import pytest
from handler_module import import_handler

from voxflow.api.principal import principal_of
from voxflow.tenants.api_keys import key_id_of
from voxflow_local.http_api import payload_v2_event

KEY = "vfk_a-secret-the-log-must-not-hold"
TEXT = "Words the log must not hold"


class Context:
    function_name = "api"
    memory_limit_in_mb = 3008
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:api"
    aws_request_id = "req-1"


def access_lines(output: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("message") == "access"]


def test_the_functions_access_line_names_the_bearer_key_by_its_id(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    module = import_handler("api", monkeypatch)
    body = json.dumps({"model": "tts-1", "voice": "alloy", "input": TEXT}).encode()
    headers = [("host", "api.local"), ("authorization", f"Bearer {KEY}")]
    event = payload_v2_event("POST", "/v1/audio/speech", headers, body, "127.0.0.1")
    capsys.readouterr()
    answer = module.handler(event, Context())
    output = capsys.readouterr().out
    assert answer["statusCode"] == 401  # no key table offline: an unknown key
    (line,) = access_lines(output)
    assert line["principal"] == f"apikey:{key_id_of(KEY)}"
    assert line["status"] == 401
    assert line["correlation_id"] == event["requestContext"]["requestId"]
    assert KEY not in output
    assert TEXT not in output


def test_principal_of_a_sigv4_signature_is_its_access_key_id_only() -> None:
    authorization = (
        "AWS4-HMAC-SHA256 Credential=VFXAEXAMPLE123/20261203/us-east-1/polly/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64
    )
    assert principal_of({"Authorization": authorization}) == "sigv4:VFXAEXAMPLE123"
    assert principal_of({"authorization": f"Bearer {KEY}"}) == f"apikey:{key_id_of(KEY)}"
    assert principal_of({}) == principal_of({"authorization": "Basic eDp5"}) == ""
