"""Audio URLs: who signs them (docs/regions.md, "URLs that survive a failover").

``s3``: a presigned GET of this region's bucket, valid only while this region is up.
``cloudfront``: a CloudFront signed URL (canned policy, RSA-SHA1 as CloudFront requires)
of the distribution whose origin group is the primary's bucket with the secondary's as
failover, so a URL handed out before an outage still plays during it. Locally the edge
proxy (voxflow_local.edge) checks the same signature.

The RSA signature is computed here with integers only: the functions' layer does not
ship ``cryptography``, and PKCS#1 v1.5 over SHA-1 is a few lines (tests verify it with
``cryptography``).
"""

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote

from voxflow.config.choices import UrlSigner
from voxflow.errors import SettingsError

__all__ = [
    "CloudFrontUrls",
    "PresignedUrl",
    "RsaPrivateKey",
    "S3PresignedUrls",
    "UrlSigner",
    "canned_policy",
]


@dataclass(frozen=True)
class PresignedUrl:
    url: str
    expires_at: datetime


class AudioUrls(Protocol):
    def sign(self, s3_key: str, content_type: str) -> PresignedUrl: ...


def _expiry(lifetime_s: int) -> datetime:
    return (datetime.now(UTC) + timedelta(seconds=lifetime_s)).replace(microsecond=0)


class S3PresignedUrls:
    """Presigned GETs of one bucket: the local stack's and the fallback mode."""

    def __init__(self, s3: Any, bucket: str, lifetime_s: int) -> None:
        self._s3 = s3
        self._bucket = bucket
        self.lifetime_s = lifetime_s

    def sign(self, s3_key: str, content_type: str) -> PresignedUrl:
        expires_at = _expiry(self.lifetime_s)
        url = self._s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self._bucket, "Key": s3_key, "ResponseContentType": content_type},
            ExpiresIn=self.lifetime_s,
        )
        return PresignedUrl(str(url), expires_at)


def canned_policy(resource: str, expires: int) -> bytes:
    """The canned policy CloudFront signs and checks: this exact JSON, no whitespace."""
    statement = {"Resource": resource, "Condition": {"DateLessThan": {"AWS:EpochTime": expires}}}
    return json.dumps({"Statement": [statement]}, separators=(",", ":")).encode()


def cloudfront_b64(data: bytes) -> str:
    """CloudFront's URL-safe base64: + - , = _ , / ~ (not the RFC 4648 alphabet)."""
    return base64.b64encode(data).decode().translate(str.maketrans("+=/", "-_~"))


class CloudFrontUrls:
    """Signed URLs of the edge distribution: ``base_url`` is ``https://<domain>``."""

    def __init__(self, base_url: str, key_id: str, key: "RsaPrivateKey", lifetime_s: int) -> None:
        self._base_url = base_url.rstrip("/")
        self._key_id = key_id
        self._key = key
        self.lifetime_s = lifetime_s

    def sign(self, s3_key: str, content_type: str) -> PresignedUrl:
        # The object's stored Content-Type is what S3 returns through CloudFront.
        del content_type
        expires_at = _expiry(self.lifetime_s)
        expires = int(expires_at.timestamp())
        resource = f"{self._base_url}/{quote(s3_key, safe='/')}"
        signature = cloudfront_b64(self._key.sign_sha1(canned_policy(resource, expires)))
        query = f"Expires={expires}&Signature={signature}&Key-Pair-Id={self._key_id}"
        return PresignedUrl(f"{resource}?{query}", expires_at)


# ------------------------------------------------------------------ RSA, PKCS#1 v1.5
_PEM = re.compile(r"-----BEGIN (RSA )?PRIVATE KEY-----(.+?)-----END \1?PRIVATE KEY-----", re.S)
# DigestInfo prefix of SHA-1 (RFC 8017, section 9.2, note 1).
_SHA1_DIGEST_INFO = bytes.fromhex("3021300906052b0e03021a05000414")


def _der_item(data: bytes, at: int) -> tuple[int, bytes, int]:
    """(tag, contents, offset after it) of the DER item at ``at``."""
    tag, length = data[at], data[at + 1]
    at += 2
    if length & 0x80:
        size = length & 0x7F
        length = int.from_bytes(data[at : at + size], "big")
        at += size
    return tag, data[at : at + length], at + length


def _der_sequence(data: bytes) -> list[tuple[int, bytes]]:
    items, at = [], 0
    while at < len(data):
        tag, contents, at = _der_item(data, at)
        items.append((tag, contents))
    return items


@dataclass(frozen=True)
class RsaPrivateKey:
    n: int
    d: int
    p: int
    q: int

    @classmethod
    def from_pem(cls, pem: str) -> "RsaPrivateKey":
        """An unencrypted PKCS#1 (``RSA PRIVATE KEY``) or PKCS#8 (``PRIVATE KEY``) key."""
        match = _PEM.search(pem)
        if match is None:
            raise SettingsError("the edge signing key is not an unencrypted PEM RSA private key")
        try:
            der = base64.b64decode("".join(match.group(2).split()), validate=True)
            tag, body, _ = _der_item(der, 0)
            fields = _der_sequence(body)
            if match.group(1) is None:  # PKCS#8: version, algorithm, OCTET STRING(PKCS#1)
                tag, body, _ = _der_item(fields[2][1], 0)
                fields = _der_sequence(body)
            n, _e, d, p, q = (int.from_bytes(value, "big") for _, value in fields[1:6])
        except (ValueError, IndexError) as error:
            raise SettingsError(f"the edge signing key cannot be read: {error}") from None
        if tag != 0x30 or p * q != n:
            raise SettingsError("the edge signing key is not an RSA private key")
        return cls(n=n, d=d, p=p, q=q)

    def sign_sha1(self, message: bytes) -> bytes:
        """RSASSA-PKCS1-v1_5 with SHA-1, the signature CloudFront verifies."""
        size = (self.n.bit_length() + 7) // 8
        digest_info = _SHA1_DIGEST_INFO + hashlib.sha1(message, usedforsecurity=True).digest()
        padded = b"\x00\x01" + b"\xff" * (size - len(digest_info) - 3) + b"\x00" + digest_info
        m = int.from_bytes(padded, "big")
        # Chinese remainder theorem: two half-size exponentiations.
        s1 = pow(m, self.d % (self.p - 1), self.p)
        s2 = pow(m, self.d % (self.q - 1), self.q)
        h = (pow(self.q, -1, self.p) * (s1 - s2)) % self.p
        return (s2 + h * self.q).to_bytes(size, "big")


def edge_signing_key(secrets: Any, secret_id: str) -> RsaPrivateKey:
    """The private key, a PEM SecretString in Secrets Manager (replicated to both regions
    under the same name, docs/deploy.md)."""
    secret = secrets.get_secret_value(SecretId=secret_id)
    return RsaPrivateKey.from_pem(str(secret["SecretString"]))
