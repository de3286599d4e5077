"""Where a hit's time goes, step by step, and the floor under it (benchmarks/api.py).

The API function's own code in this process, built from the local stack's function
environment (the settings ApiFunction runs with), against the same moto server:
- auth: the SigV4 check alone (no I/O), and the check with the settings key's binding
  read from the tenant table (VOXFLOW_API_AUTH_CACHE_S 0) and kept (the default);
- admission (voxflow.api.speech_admission.admit, with the object read it starts): audit
  first half || quota read || index read; then quota charge || object read;
- after the answer: the audit record's terminal half || the hit count;
- the whole of SpeechService.speak (what the function does for a hit, minus HTTP).
The floor: the calls any hit must make under issue 14's rules (the index item, the
object, the quota charge, the audit record), each once, in the fewest rounds (index
read || quota charge write || audit record write, then the object read), made with the
stack's own tables straight from here.
"""

import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from voxflow.api import polly
from voxflow.api.routes import Api, api_of
from voxflow.api.sigv4 import SigV4Verifier
from voxflow.api.speech_admission import admit, finish_audit
from voxflow.audit import COMPLETED
from voxflow.config import Config, variables
from voxflow.ttl_cache import TtlCache
from voxflow_local.http_api import payload_v2_event
from voxflow_local.runner import lambda_environment
from voxflow_local.stack import LocalStack
from voxflow_local.state import read_state

Timed = Callable[[Callable[[], object], int], list[float]]


def function_api(stack: LocalStack) -> Api:
    """The API as ApiFunction builds it at cold start, in this process."""
    assert stack.state_file is not None, "the stack is up"
    state = read_state(stack.state_file)
    function = state.stack.function("ApiFunction")
    environment = lambda_environment(state.stack, function, os.environ, state.extra_env)
    environment[variables.API_SIGV4_CREDENTIALS.name] = "testing:testing"
    # PynamoDB's models find their credentials in the process's environment, as the
    # runner's function does.
    os.environ.update({k: v for k, v in environment.items() if k.startswith("AWS_")})
    return api_of(Config.load(environment))


def signed_event(api_url: str, region: str, text: str) -> tuple[dict[str, Any], bytes]:
    """A SynthesizeSpeech event as the local server makes it, signed as boto3 signs."""
    body = json.dumps({"Text": text, "VoiceId": "joe", "OutputFormat": "mp3"}).encode()
    request = AWSRequest("POST", f"{api_url}/v1/speech", data=body)
    request.headers["Content-Type"] = "application/json"
    SigV4Auth(Credentials("testing", "testing"), "polly", region).add_auth(request)
    host = api_url.split("://", 1)[1]
    headers = [("host", host), *((k, str(v)) for k, v in request.headers.items())]
    return payload_v2_event("POST", "/v1/speech", headers, body, "127.0.0.1"), body


def hit_steps(stack: LocalStack, text: str, repeats: int, timed: Timed) -> dict[str, list[float]]:
    assert stack.api_url is not None
    api = function_api(stack)
    event, body = signed_event(stack.api_url, stack.region, text)
    verifier = SigV4Verifier({"testing": "testing"})
    headers = event["headers"]
    pipeline, speech = api.speech.pipeline, api.speech
    request = polly.parse_synthesize(body, "default", api.contract, pipeline.registry)
    item, keyed = speech._keyed(request.request)
    assert keyed.key in pipeline.cache.lookup_many([keyed.key]), "the phrase is cached first"

    def check() -> None:
        verifier.verify("POST", "/v1/speech", "", headers, body)

    def admission() -> None:
        admitted = admit(item, keyed.billed_chars, [keyed.key], pipeline, fetch=(keyed.key,))
        admitted.audio(keyed.key)

    entry = pipeline.cache.lookup_many([keyed.key])[keyed.key]
    after_pool = ThreadPoolExecutor(2)

    def after() -> None:
        counted = after_pool.submit(pipeline.cache.count_hit, entry)
        finish_audit(pipeline, item, COMPLETED, time.perf_counter(), cache="hit")
        counted.result()

    steps = {"SigV4 check alone": timed(check, repeats)}
    api.auth = TtlCache(0)
    steps["SigV4 check + binding read (auth cache 0 s)"] = timed(
        lambda: api.polly_tenant(event, body), repeats
    )
    api.auth = TtlCache(5.0)
    steps["SigV4 check + binding kept (auth cache 5 s)"] = timed(
        lambda: api.polly_tenant(event, body), repeats
    )
    steps["admission rounds + object read"] = timed(admission, repeats)
    steps["audit end || hit count"] = timed(after, repeats)
    steps["SpeechService.speak, whole (no HTTP)"] = timed(
        lambda: speech.speak(request.request), repeats
    )
    steps["floor: index || quota charge || audit, then object"] = timed(
        floor(stack, keyed.key, entry.s3_key), repeats
    )
    steps[MISS_FLOOR] = timed(miss_floor(stack, keyed.key, entry.s3_key), repeats)
    return steps


# A miss's calls beside its synthesis: the lookup round as a hit's, then the audio stored
# and indexed (object first: an index item never names an object not yet there).
MISS_FLOOR = "miss floor: index || quota || audit, object put, index put"


def miss_floor(stack: LocalStack, key: str, s3_key: str) -> Callable[[], None]:
    """The calls any miss must make besides synthesis, each once, in three rounds."""
    settings = function_api(stack).speech.pipeline.settings
    dummy = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    raw = boto3.client("dynamodb", endpoint_url=stack.url, region_name=stack.region, **dummy)
    s3 = boto3.client("s3", endpoint_url=stack.url, region_name=stack.region, **dummy)
    audio = s3.get_object(Bucket=settings.bucket, Key=s3_key)["Body"].read()
    lookup = floor(stack, key, s3_key, with_object=False)
    counter = iter(range(10**9))

    def call() -> None:
        lookup()
        name = f"floor/miss-{next(counter)}"
        s3.put_object(Bucket=settings.bucket, Key=name, Body=audio)
        raw.put_item(
            TableName=settings.cache_table,
            Item={"key": {"S": name}, "s3_key": {"S": name}},
        )

    return call


def floor(
    stack: LocalStack, key: str, s3_key: str, *, with_object: bool = True
) -> Callable[[], None]:
    """The calls any hit must make, each once, in two rounds (see the module's doc);
    ``with_object`` False: the first round alone (a miss's lookup)."""
    settings = function_api(stack).speech.pipeline.settings
    resources = stack.stack.resources
    # Raw clients: no product code between the call and moto.
    dummy = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    raw = boto3.client("dynamodb", endpoint_url=stack.url, region_name=stack.region, **dummy)
    s3 = boto3.client("s3", endpoint_url=stack.url, region_name=stack.region, **dummy)
    pool = ThreadPoolExecutor(3)
    quotas, audit = resources["QuotasTable"], resources["AuditTable"]
    counter = iter(range(10**9))

    def charge() -> None:
        raw.update_item(
            TableName=quotas,
            Key={"tenant": {"S": "floor"}},
            UpdateExpression="SET tokens = if_not_exists(tokens, :full) - :n",
            ConditionExpression="attribute_not_exists(tokens) OR tokens >= :n",
            ExpressionAttributeValues={":full": {"N": "1000000000"}, ":n": {"N": "23"}},
        )

    def record() -> None:
        raw.put_item(
            TableName=audit,
            Item={"request_id": {"S": f"floor-{next(counter)}"}, "tenant": {"S": "floor"}},
        )

    def call() -> None:
        index = pool.submit(
            raw.get_item,
            TableName=settings.cache_table,
            Key={"key": {"S": key}},
            ConsistentRead=True,
        )
        charged, recorded = pool.submit(charge), pool.submit(record)
        index.result()
        if with_object:
            s3.get_object(Bucket=settings.bucket, Key=s3_key)["Body"].read()
        charged.result()
        recorded.result()

    return call
