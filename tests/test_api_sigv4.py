"""Polly's routes signed by an unmodified boto3 polly client with a key `voxflow keys
create --sigv4` issues (voxflow.tenants.sigv4_keys): what the function itself checks on
AWS, where API Gateway's IAM authorizer cannot (docs/api.md). The API harness over moto
server (its Secrets Manager and tenant table) and the real voice."""

import datetime
import importlib
import re
from typing import Any

import botocore.auth
import pytest
from api_harness import SMALL_TENANT, ApiHarness, polly_client
from botocore.exceptions import ClientError, EndpointConnectionError

from voxflow.audio import decode

PHRASE = "Signed by a key of our own."


def issued_client(api: ApiHarness, tenant: str = "acme", **kwargs: Any) -> tuple[Any, str, str]:
    secret, key = api.sigv4_keys.create(tenant)
    return (
        polly_client(api.url, access_key_id=key.key_id, secret=secret, **kwargs),
        (key.key_id),
        secret,
    )


def refusal(error: ClientError) -> tuple[int, str]:
    return error.response["ResponseMetadata"]["HTTPStatusCode"], error.response["Error"]["Code"]


def test_an_unmodified_polly_client_signs_for_polly_which_api_gateway_iam_refuses(
    api: ApiHarness,
) -> None:
    # Why the function checks the signature: boto3's polly client, given only an
    # endpoint_url, scopes its credential to the service `polly`; API Gateway's IAM
    # authorizer accepts `execute-api` only.
    client, access_key_id, _ = issued_client(api)
    seen: list[str] = []
    client.meta.events.register(
        "before-send.polly",
        lambda request, **_: seen.append(str(request.headers["Authorization"], "ascii")),
    )
    client.describe_voices()
    (authorization,) = seen
    scope = re.search(r"Credential=([^,]+)", authorization)
    assert scope is not None
    assert scope.group(1).split("/")[0] == access_key_id
    assert scope.group(1).split("/")[2:] == ["us-east-1", "polly", "aws4_request"]


def test_an_issued_key_speaks_as_its_tenant(api: ApiHarness) -> None:
    client, _, _ = issued_client(api)
    answer = client.synthesize_speech(Text=PHRASE, VoiceId="joe", OutputFormat="mp3")
    pcm, rate = decode(answer["AudioStream"].read())
    assert rate == 22050
    assert len(pcm) > rate  # over a second of speech
    # The key's tenant is the one admitted: a tenant with a 40-character burst is
    # throttled by its own quota on a longer text, whoever else has tokens.
    tiny, _, _ = issued_client(api, tenant=SMALL_TENANT)
    with pytest.raises(ClientError) as throttled:
        tiny.synthesize_speech(Text=PHRASE * 3, VoiceId="joe", OutputFormat="mp3")
    assert refusal(throttled.value) == (400, "ThrottlingException")


def test_a_client_signing_for_another_region_is_accepted(api: ApiHarness) -> None:
    # After a failover one hostname answers from the other region: the scope's region
    # is the client's configuration, not the deployment's.
    client, _, _ = issued_client(api, region="eu-west-1")
    voices = client.describe_voices()["Voices"]
    assert "joe" in [voice["Id"] for voice in voices]


def test_a_wrong_secret_is_refused(api: ApiHarness) -> None:
    _, access_key_id, secret = issued_client(api)
    # Another last character: one secret in 64 or so already ends in "x", and was accepted.
    wrong = secret[:-1] + ("y" if secret.endswith("x") else "x")
    client = polly_client(api.url, access_key_id=access_key_id, secret=wrong)
    with pytest.raises(ClientError) as refused:
        client.synthesize_speech(Text=PHRASE, VoiceId="joe", OutputFormat="mp3")
    assert refusal(refused.value) == (403, "InvalidSignatureException")


def test_a_body_changed_after_signing_is_refused(api: ApiHarness) -> None:
    client, _, _ = issued_client(api)

    def tamper(request: Any, **_: Any) -> None:
        # Same length, another text: only the signature can tell.
        request.body = request.body.replace(b"Signed", b"Forged")

    client.meta.events.register("before-send.polly.SynthesizeSpeech", tamper)
    with pytest.raises(ClientError) as refused:
        client.synthesize_speech(Text=PHRASE, VoiceId="joe", OutputFormat="mp3")
    assert refusal(refused.value) == (403, "InvalidSignatureException")


def test_an_expired_signature_is_refused(api: ApiHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    client, _, _ = issued_client(api)
    signed_at = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=6)

    def six_minutes_ago(remove_tzinfo: bool = True) -> datetime.datetime:
        return signed_at.replace(tzinfo=None) if remove_tzinfo else signed_at

    # The client's own signer (botocore's, or the CRT's where awscrt is installed), told
    # the time is 6 minutes ago: AWS allows 5.
    monkeypatch.setattr(botocore.auth, "get_current_datetime", six_minutes_ago)
    if botocore.auth.HAS_CRT:
        crt_auth = importlib.import_module("botocore.crt.auth")
        monkeypatch.setattr(crt_auth, "get_current_datetime", six_minutes_ago)
    with pytest.raises(ClientError) as refused:
        client.describe_voices()
    assert refusal(refused.value) == (403, "InvalidSignatureException")
    assert "expired" in refused.value.response["Error"]["Message"]


def test_a_revoked_or_unknown_key_is_refused(api: ApiHarness) -> None:
    client, access_key_id, secret = issued_client(api)
    client.describe_voices()
    revoked = api.sigv4_keys.revoke(access_key_id)
    assert revoked is not None
    assert revoked.revoked_at is not None
    with pytest.raises(ClientError) as refused:
        client.describe_voices()
    assert refusal(refused.value) == (403, "UnrecognizedClientException")
    # Its secret is gone from Secrets Manager, not only marked.
    secrets = api.clients.client("secretsmanager")
    with pytest.raises(secrets.exceptions.ResourceNotFoundException):
        secrets.get_secret_value(SecretId=api.sigv4_keys.secret_prefix + access_key_id)
    unknown = polly_client(api.url, access_key_id="VFXA" + "A" * 16, secret=secret)
    with pytest.raises(ClientError) as refused:
        unknown.describe_voices()
    assert refusal(refused.value) == (403, "UnrecognizedClientException")
    assert api.sigv4_keys.revoke("VFXA" + "B" * 16) is None


def test_keys_are_listed_without_their_secrets(api: ApiHarness) -> None:
    secret, key = api.sigv4_keys.create("lister")
    listed = [record for record in api.sigv4_keys.records() if record.tenant == "lister"]
    assert [record.key_id for record in listed] == [key.key_id]
    assert secret not in repr(listed)
    # The tenant table's items hold no secret either: only Secrets Manager does.
    items = api.clients.dynamodb.scan(TableName=api.sigv4_keys.table)["Items"]
    assert secret not in repr(items)


def test_the_signed_host_is_the_one_the_client_called(api: ApiHarness) -> None:
    # A custom domain (ApiDomainName) works because the function checks the signature
    # against the Host the request arrived with: here another name of the same server.
    secret, key = api.sigv4_keys.create("acme")
    other_name = api.url.replace("127.0.0.1", "localhost")
    client = polly_client(other_name, access_key_id=key.key_id, secret=secret)
    assert client.describe_voices()["Voices"]
    # A Host changed after signing (a proxy that rewrites it) is refused.
    rewritten = polly_client(api.url, access_key_id=key.key_id, secret=secret)

    def rehost(request: Any, **_: Any) -> None:
        request.headers["Host"] = "speech.example.com"

    rewritten.meta.events.register("before-send.polly", rehost)
    with pytest.raises(ClientError) as refused:
        rewritten.describe_voices()
    assert refusal(refused.value) == (403, "InvalidSignatureException")


def test_a_secret_is_read_from_secrets_manager_once_per_key(api: ApiHarness) -> None:
    # The secret is kept by the warm function (it never changes); the tenant table is
    # read on every call, which is what makes a revocation immediate (test above).
    reads: list[str] = []
    secrets = api.clients.client("secretsmanager")
    secrets.meta.events.register(
        "provide-client-params.secrets-manager.GetSecretValue",
        lambda params, **_: reads.append(params["SecretId"]),
    )
    try:
        client, access_key_id, _ = issued_client(api)
        for _ in range(3):
            client.describe_voices()
    finally:
        secrets.meta.events.unregister("provide-client-params.secrets-manager.GetSecretValue")
    assert reads == [api.sigv4_keys.secret_prefix + access_key_id]


def test_a_key_store_that_cannot_be_read_is_pollys_service_failure(api: ApiHarness) -> None:
    client, access_key_id, _ = issued_client(api)
    secrets = api.clients.client("secretsmanager")

    def unreachable(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://secretsmanager.example")

    secrets.meta.events.register("before-call.secrets-manager.GetSecretValue", unreachable)
    try:
        with pytest.raises(ClientError) as failed:
            client.describe_voices()
    finally:
        secrets.meta.events.unregister("before-call.secrets-manager.GetSecretValue", unreachable)
    assert refusal(failed.value) == (500, "ServiceFailureException")
    # A key whose secret is missing in this region (made without its replica) is
    # unknown here, not a failure.
    secrets.delete_secret(
        SecretId=api.sigv4_keys.secret_prefix + access_key_id, ForceDeleteWithoutRecovery=True
    )
    with pytest.raises(ClientError) as refused:
        client.describe_voices()
    assert refusal(refused.value) == (403, "UnrecognizedClientException")
