"""The API function's streamed answers publish their metrics as the body ends
(functions/api/app.py ``stream``), not at the next call's flush: the handler module,
imported as Lambda would, its API swapped for the harness's (moto server, the real voice)."""

import json
from typing import Any

import pytest
from api_harness import ApiHarness
from handler_module import import_handler

from voxflow.pipeline.powertools import PowertoolsMeter


@pytest.fixture
def app(api: ApiHarness, monkeypatch: pytest.MonkeyPatch) -> Any:
    module = import_handler("api", monkeypatch)
    # The harness's stores behind the module's own Metrics, as its cold start wires them.
    monkeypatch.setattr(api.pipeline, "meter", PowertoolsMeter(module.metrics))
    monkeypatch.setattr(module, "api", api.api)
    module.metrics.clear_metrics()
    return module


def speech_event(key: str, text: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "rawPath": "/v1/audio/speech",
        "rawQueryString": "",
        "requestContext": {"http": {"method": "POST", "path": "/v1/audio/speech"}},
        "headers": {"authorization": f"Bearer {key}", "content-type": "application/json"},
        "body": json.dumps(
            {"model": "tts-1", "voice": "alloy", "input": text, "response_format": "pcm"}
        ),
        "isBase64Encoded": False,
    }


def emitted(out: str) -> set[str]:
    names: set[str] = set()
    for line in out.splitlines():
        if line.startswith("{") and "_aws" in line:
            for directive in json.loads(line)["_aws"]["CloudWatchMetrics"]:
                names |= {metric["Name"] for metric in directive["Metrics"]}
    return names


def test_a_streamed_miss_publishes_its_metrics_when_its_body_ends(
    api: ApiHarness, app: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    key, _ = api.keys.create("metered")
    response = app.stream(speech_event(key, "Counted as it ends. Not at the next call."))
    assert response is not None
    assert response.status == 200
    pieces = list(response.body)
    assert sum(len(piece) for piece in pieces) > 24_000  # over half a second of pcm
    # Published, and nothing left over for the next call to publish late.
    assert "ApiCacheMisses" in emitted(capsys.readouterr().out)
    assert not app.metrics.metric_set


def test_an_abandoned_stream_still_publishes(
    api: ApiHarness, app: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    key, _ = api.keys.create("hung-up")
    response = app.stream(speech_event(key, "The client hangs up. After the first piece."))
    assert response is not None
    next(response.body)  # one piece, then the client is gone
    response.body.close()
    assert "ApiCacheMisses" in emitted(capsys.readouterr().out)
    assert not app.metrics.metric_set
