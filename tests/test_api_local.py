"""The HTTP API on the local stack: the API function served on its own port by the
runner (payload 2.0 events from real requests), SigV4 checked against the documented
dummy credentials, keys made with `voxflow keys`, and one cache with the event path."""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import openai
import pytest
from api_harness import polly_client
from botocore.exceptions import ClientError
from conftest import StartStack

from voxflow.audio import decode
from voxflow.aws import AwsClients, AwsSettings
from voxflow.client import StackTarget, VoxflowClient
from voxflow.config.variables import API_AUTH_CACHE_S
from voxflow.events import SynthesisCompleted
from voxflow_local.__main__ import _print_summary
from voxflow_local.stack import LocalStack

PHRASE = "One cache for every door."


@pytest.fixture(scope="module")
def stack(local_stack: StartStack) -> LocalStack:
    return local_stack(functions=["PlanFunction", "SynthesizeFunction", "ApiFunction"])


def polly(stack: LocalStack, secret: str = "testing") -> object:
    assert stack.api_url is not None
    return polly_client(stack.api_url, region=stack.region, secret=secret)


def voxflow_cli(stack: LocalStack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VOXFLOW_LOCAL_STATE": str(stack.state_file)}
    return subprocess.run(
        [sys.executable, "-m", "voxflow", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_up_prints_the_api_url_on_a_line_of_its_own(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    _print_summary(stack.stack, Path("state.json"), stack.api_url, stack.console_site)
    lines = capsys.readouterr().out.splitlines()
    assert f"api: {stack.api_url}" in lines
    assert f"console: {stack.api_url}/console" in lines
    assert stack.console_site is not None
    assert f"console site: {stack.console_site.url}/" in lines
    assert stack.api_url is not None
    assert stack.api_url.startswith("http://127.0.0.1:")


def test_the_api_answers_as_soon_as_the_stack_is_up(stack: LocalStack) -> None:
    # Right after start: the URL is printed when start returns, and must answer then (the
    # runner listens only after the handler loaded, which takes seconds).
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{stack.api_url}/v1/models", timeout=30)
    assert refused.value.code == 401


def test_a_phrase_made_by_events_is_an_index_hit_through_polly(stack: LocalStack) -> None:
    clients = AwsClients(AwsSettings.local(stack.url, stack.region))
    with VoxflowClient(clients, StackTarget.from_resources(stack.stack.resources)) as client:
        outcome = client.synthesize(PHRASE, format="pcm", timeout_s=120)
    completed = outcome.terminal
    assert isinstance(completed, SynthesisCompleted), completed
    table = stack.stack.resources["CacheTable"]

    def hits() -> int:
        item = clients.dynamodb.get_item(
            TableName=table, Key={"key": {"S": completed.key}}, ConsistentRead=True
        )["Item"]
        return int(item.get("hits", {"N": "0"})["N"])

    before = hits()
    answer = polly(stack).synthesize_speech(  # type: ignore[attr-defined]
        Text=PHRASE, VoiceId="joe", OutputFormat="pcm", SampleRate="22050"
    )
    s3_key = clients.dynamodb.get_item(TableName=table, Key={"key": {"S": completed.key}})["Item"][
        "s3_key"
    ]["S"]
    stored = clients.s3.get_object(Bucket=stack.stack.resources["AudioBucket"], Key=s3_key)
    assert answer["AudioStream"].read() == stored["Body"].read()
    assert hits() == before + 1


def test_the_console_and_its_health_are_served_by_the_api_function(stack: LocalStack) -> None:
    # The handler itself (functions/api/app.py, its settings from the stack's template) in
    # the local API server: the page, its policy, and the health route under a key.
    with urllib.request.urlopen(f"{stack.api_url}/console", timeout=30) as page:
        assert page.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        assert b'src="console/console.js"' in page.read()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{stack.api_url}/v1/health", timeout=30)
    assert refused.value.code == 401
    created = voxflow_cli(stack, "keys", "create", "--tenant", "console")
    assert created.returncode == 0, created.stderr
    # One request through the handler: its EMF line reaches moto's CloudWatch through the
    # runner (voxflow_local.emf) before the next request is served.
    polly(stack).synthesize_speech(  # type: ignore[attr-defined]
        Text=PHRASE, VoiceId="joe", OutputFormat="pcm", SampleRate="22050"
    )
    request = urllib.request.Request(
        f"{stack.api_url}/v1/health",
        headers={"Authorization": f"Bearer {created.stdout.splitlines()[-1]}"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        health = json.loads(answer.read())
    (region,) = health["regions"]  # one standalone stack: one region, serving
    assert (region["region"], region["serving"]) == (stack.region, True)
    # The stack's nine queues from the template's VOXFLOW_API_WATCHED_QUEUES, each read
    # from moto's SQS (an unreadable one would carry "error" instead of its counts).
    queues = {queue["queue"]: queue for queue in health["queues"]}
    assert set(queues) == {
        "requests",
        "requests-dlq",
        "requests-rule-dlq",
        "chunks",
        "chunks-dlq",
        "long-chunks",
        "long-chunks-dlq",
        "standby",
        "recovery-chunks",
    }
    for name, queue in queues.items():
        assert queue["dead_letter"] == name.endswith("-dlq")
        assert {"waiting", "in_flight", "delayed", "oldest_age_s"} <= set(queue), queue
    # The hit ratio from the functions' metrics in CloudWatch, as on AWS.
    assert "metrics_error" not in health, health
    cache = health["cache"]
    assert cache["hits"] + cache["misses"] >= 1, cache
    # The console's static site, and the API's CORS for that origin (the real runner).
    site = stack.console_site
    assert site is not None
    with urllib.request.urlopen(f"{site.url}/console/config.json", timeout=30) as config:
        assert json.loads(config.read()) == {"api": stack.api_url}
    preflight = urllib.request.Request(
        f"{stack.api_url}/v1/health",
        method="OPTIONS",
        headers={"Origin": site.origin, "Access-Control-Request-Method": "GET"},
    )
    with urllib.request.urlopen(preflight, timeout=30) as answer:
        assert answer.status == 204
        assert answer.headers["Access-Control-Allow-Origin"] == site.origin


def test_a_wrong_secret_is_refused(stack: LocalStack) -> None:
    with pytest.raises(ClientError) as refused:
        polly(stack, secret="wrong").describe_voices()  # type: ignore[attr-defined]
    assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_keys_made_listed_and_revoked_by_the_cli(stack: LocalStack) -> None:
    created = voxflow_cli(stack, "keys", "create", "--tenant", "acme")
    assert created.returncode == 0, created.stderr
    key = created.stdout.splitlines()[-1]
    assert key.startswith("vfk_")
    client = openai.OpenAI(api_key=key, base_url=f"{stack.api_url}/v1", max_retries=0)
    audio = client.audio.speech.create(model="tts-1", voice="alloy", input=PHRASE).content
    pcm, rate = decode(audio)  # an MP3, the default format
    assert (rate, len(pcm) > rate // 2) == (22050, True)
    listed = voxflow_cli(stack, "keys", "list").stdout.splitlines()
    (line,) = [row for row in listed if "\tacme\t" in row]
    key_id = line.split("\t")[0]
    assert key not in "\n".join(listed)
    assert voxflow_cli(stack, "keys", "revoke", key_id).returncode == 0
    time.sleep(API_AUTH_CACHE_S.default)  # the warm function's bound on revocation
    with pytest.raises(openai.PermissionDeniedError):
        client.audio.speech.create(model="tts-1", voice="alloy", input=PHRASE)
    assert voxflow_cli(stack, "keys", "revoke", "0" * 12).returncode == 1


def test_sigv4_keys_made_by_the_cli_sign_for_an_unmodified_polly_client(
    stack: LocalStack,
) -> None:
    # The AWS path end to end: the CLI puts the secret in Secrets Manager under the
    # prefix the template gives the function, which reads it to check the signature.
    created = voxflow_cli(stack, "keys", "create", "--tenant", "signer", "--sigv4")
    assert created.returncode == 0, created.stderr
    access_key_id, secret = created.stdout.splitlines()[-2:]
    assert access_key_id.startswith("VFXA")
    assert stack.api_url is not None
    client = polly_client(
        stack.api_url, region=stack.region, access_key_id=access_key_id, secret=secret
    )
    answer = client.synthesize_speech(Text=PHRASE, VoiceId="joe", OutputFormat="mp3")
    pcm, rate = decode(answer["AudioStream"].read())
    assert (rate, len(pcm) > rate // 2) == (22050, True)
    # LexiconArn names the stack's account, from the template's AWS::AccountId.
    account = AwsClients(AwsSettings.local(stack.url, stack.region)).client("sts")
    lexicon = (
        '<?xml version="1.0" encoding="UTF-8"?><lexicon version="1.0" '
        'xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="ipa" '
        'xml:lang="en-US"><lexeme><grapheme>W3C</grapheme><alias>World Wide Web'
        "</alias></lexeme></lexicon>"
    )
    client.put_lexicon(Name="signed", Content=lexicon)
    arn = client.get_lexicon(Name="signed")["LexiconAttributes"]["LexiconArn"]
    caller = account.get_caller_identity()["Account"]
    assert arn == f"arn:aws:polly:{stack.region}:{caller}:lexicon/signed"
    listed = voxflow_cli(stack, "keys", "list").stdout
    assert f"{access_key_id}\tsigner\t" in listed
    assert secret not in listed
    assert voxflow_cli(stack, "keys", "revoke", access_key_id).returncode == 0
    time.sleep(API_AUTH_CACHE_S.default)  # the warm function's bound on revocation
    with pytest.raises(ClientError) as refused:
        client.describe_voices()
    assert refused.value.response["Error"]["Code"] == "UnrecognizedClientException"
