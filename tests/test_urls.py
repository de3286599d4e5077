"""Audio URL signers (voxflow.store.urls): the CloudFront canned-policy signature verifies
with the public key as CloudFront verifies it, expiry is the configured lifetime, and the
settings choose the signer. Unit tests: no server; ``cryptography`` (a dev dependency) is
the independent implementation the product's integer RSA is checked against."""

import base64
import json
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.signers import CloudFrontSigner
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from voxflow.config import Config
from voxflow.errors import SettingsError
from voxflow.service_settings import ServiceSettings, UrlSigner
from voxflow.store.audio import AudioStore
from voxflow.store.urls import CloudFrontUrls, RsaPrivateKey, canned_policy

BASE = "https://d111111abcdef8.cloudfront.net"
REQUIRED = {
    "VOXFLOW_BUS_NAME": "bus",
    "VOXFLOW_CHUNKS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/chunks",
    "VOXFLOW_BUCKET": "bucket",
    "VOXFLOW_CACHE_TABLE": "cache",
    "VOXFLOW_JOBS_TABLE": "jobs",
}


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey, private_format: serialization.PrivateFormat) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, private_format, serialization.NoEncryption()
    ).decode()


def unb64(value: str) -> bytes:
    return base64.b64decode(value.translate(str.maketrans("-_~", "+=/")))


def verify(public: rsa.RSAPublicKey, url: str) -> int:
    """What CloudFront does with a canned-policy URL; returns its Expires."""
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    resource = f"{parts.scheme}://{parts.netloc}{parts.path}"
    expires = int(query["Expires"])
    public.verify(
        unb64(query["Signature"]),
        canned_policy(resource, expires),
        padding.PKCS1v15(),
        hashes.SHA1(),
    )
    return expires


@pytest.mark.parametrize(
    "private_format",
    [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL],
)
def test_a_signed_url_verifies_with_the_public_key_and_expires_after_the_lifetime(
    key: rsa.RSAPrivateKey, private_format: serialization.PrivateFormat
) -> None:
    urls = CloudFrontUrls(
        BASE, "K2JCJMDEHXQW5F", RsaPrivateKey.from_pem(pem(key, private_format)), 900
    )
    before = int(time.time())
    signed = urls.sign("audio/abc123.mp3", "audio/mpeg")
    expires = verify(key.public_key(), signed.url)
    assert before + 900 <= expires <= int(time.time()) + 900
    assert int(signed.expires_at.timestamp()) == expires
    assert signed.url.startswith(f"{BASE}/audio/abc123.mp3?")
    assert parse_qs(urlsplit(signed.url).query)["Key-Pair-Id"] == ["K2JCJMDEHXQW5F"]


def test_the_signature_is_the_one_botocore_and_cryptography_make(key: rsa.RSAPrivateKey) -> None:
    # PKCS#1 v1.5 is deterministic: the same policy gives the same bytes.
    urls = CloudFrontUrls(
        BASE, "KID", RsaPrivateKey.from_pem(pem(key, serialization.PrivateFormat.PKCS8)), 60
    )
    ours = urlsplit(urls.sign("audio/x.wav", "audio/wav").url)
    expires = int(parse_qs(ours.query)["Expires"][0])
    signer = CloudFrontSigner(
        "KID",
        lambda message: key.sign(message, padding.PKCS1v15(), hashes.SHA1()),
    )
    botocore_url = signer.generate_presigned_url(
        f"{BASE}/audio/x.wav", date_less_than=_utc(expires)
    )
    assert parse_qs(ours.query) == parse_qs(urlsplit(botocore_url).query)


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def test_a_tampered_path_or_a_later_expiry_fails_verification(key: rsa.RSAPrivateKey) -> None:
    urls = CloudFrontUrls(
        BASE, "KID", RsaPrivateKey.from_pem(pem(key, serialization.PrivateFormat.PKCS8)), 60
    )
    url = urls.sign("audio/mine.mp3", "audio/mpeg").url
    with pytest.raises(InvalidSignature):
        verify(key.public_key(), url.replace("/audio/mine.mp3", "/audio/yours.mp3"))
    expires = parse_qs(urlsplit(url).query)["Expires"][0]
    with pytest.raises(InvalidSignature):
        verify(key.public_key(), url.replace(f"Expires={expires}", f"Expires={int(expires) + 1}"))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(InvalidSignature):
        verify(other.public_key(), url)


def test_keys_that_are_not_unencrypted_rsa_pem_fail_with_a_settings_error(
    key: rsa.RSAPrivateKey,
) -> None:
    with pytest.raises(SettingsError, match="PEM"):
        RsaPrivateKey.from_pem("not a key")
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    ).decode()
    with pytest.raises(SettingsError):
        RsaPrivateKey.from_pem(encrypted)
    truncated = pem(key, serialization.PrivateFormat.PKCS8).replace("\n", "")[:200]
    with pytest.raises(SettingsError):
        RsaPrivateKey.from_pem(truncated + "\n-----END PRIVATE KEY-----")


class _Secrets:
    def __init__(self, pem_text: str) -> None:
        self.pem = pem_text
        self.asked: list[str] = []

    def get_secret_value(self, SecretId: str) -> dict[str, str]:  # noqa: N803 (boto3's name)
        self.asked.append(SecretId)
        return {"SecretString": self.pem}


class _Clients:
    def __init__(self, secrets: _Secrets) -> None:
        self._secrets = secrets
        self.s3 = object()

    def client(self, service: str) -> Any:
        assert service == "secretsmanager"
        return self._secrets


def test_the_setting_chooses_cloudfront_and_reads_the_key_from_its_secret(
    key: rsa.RSAPrivateKey,
) -> None:
    service = ServiceSettings.of(
        Config.load(
            {
                **REQUIRED,
                "VOXFLOW_URL_SIGNER": "cloudfront",
                "VOXFLOW_EDGE_URL": BASE,
                "VOXFLOW_EDGE_KEY_ID": "KID",
                "VOXFLOW_EDGE_KEY_SECRET": "edge-key",
                "VOXFLOW_URL_EXPIRY_S": "120",
            }
        )
    )
    assert service.url_signer is UrlSigner.CLOUDFRONT
    secrets = _Secrets(pem(key, serialization.PrivateFormat.PKCS8))
    store = AudioStore.of(service, _Clients(secrets))  # type: ignore[arg-type]
    assert secrets.asked == ["edge-key"]
    url = store.presign("audio/a.mp3", "audio/mpeg").url
    assert url.startswith(f"{BASE}/audio/a.mp3?")
    assert verify(key.public_key(), url) <= int(time.time()) + 120


def test_cloudfront_without_its_url_key_or_secret_fails_at_cold_start() -> None:
    with pytest.raises(SettingsError, match="VOXFLOW_EDGE_KEY_ID, VOXFLOW_EDGE_KEY_SECRET"):
        ServiceSettings.of(
            Config.load({**REQUIRED, "VOXFLOW_URL_SIGNER": "cloudfront", "VOXFLOW_EDGE_URL": BASE})
        )
    assert ServiceSettings.of(Config.load(REQUIRED)).url_signer is UrlSigner.S3
    with pytest.raises(SettingsError, match="VOXFLOW_URL_SIGNER"):
        ServiceSettings.of(Config.load({**REQUIRED, "VOXFLOW_URL_SIGNER": "akamai"}))


def test_policy_is_compact_json_as_cloudfront_compares_it() -> None:
    policy = canned_policy(f"{BASE}/audio/a.mp3", 1_700_000_000)
    assert b" " not in policy
    assert json.loads(policy)["Statement"][0]["Condition"]["DateLessThan"] == {
        "AWS:EpochTime": 1_700_000_000
    }
