"""The audio bucket's objects, and signed URLs to its audio (voxflow.store.urls)."""

import json
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from voxflow.aws.clients import AwsClients
from voxflow.service_settings import ServiceSettings, UrlSigner
from voxflow.store.urls import (
    AudioUrls,
    CloudFrontUrls,
    PresignedUrl,
    S3PresignedUrls,
    edge_signing_key,
)

CHUNK_PREFIX = "chunks/"
AUDIO_PREFIX = "audio/"
# A long job's chunk texts, for the sweeper (voxflow.store.job_texts); never replicated,
# expired by the bucket's lifecycle (template.yaml, ExpireJobTexts).
JOB_TEXTS_PREFIX = "jobs/"


class AudioStore:
    def __init__(
        self, s3: Any, bucket: str, url_expiry_s: int, urls: AudioUrls | None = None
    ) -> None:
        """``urls`` signs the URLs handed out; None: presigned GETs of ``bucket``."""
        self._s3 = s3
        self.bucket = bucket
        self.url_expiry_s = url_expiry_s
        self._urls = urls or S3PresignedUrls(s3, bucket, url_expiry_s)

    @classmethod
    def of(cls, service: ServiceSettings, clients: AwsClients) -> "AudioStore":
        """The deployment's store; with ``cloudfront`` the signing key is read here, once
        per cold start."""
        urls: AudioUrls | None = None
        if service.url_signer is UrlSigner.CLOUDFRONT:
            edge_url, key_id, secret = service.edge_signing()
            key = edge_signing_key(clients.client("secretsmanager"), secret)
            urls = CloudFrontUrls(edge_url, key_id, key, service.url_expiry_s)
        return cls(clients.s3, service.bucket, service.url_expiry_s, urls)

    @staticmethod
    def chunk_object(chunk_key: str) -> str:
        return f"{CHUNK_PREFIX}{chunk_key}.wav"

    @staticmethod
    def audio_object(request_key: str, extension: str) -> str:
        return f"{AUDIO_PREFIX}{request_key}{extension}"

    @staticmethod
    def marks_object(marks_key: str) -> str:
        return f"{AUDIO_PREFIX}{marks_key}.marks.json"

    def put(self, s3_key: str, data: bytes, content_type: str) -> None:
        # Keys are content hashes: a second put of the same key writes the same bytes.
        self._s3.put_object(Bucket=self.bucket, Key=s3_key, Body=data, ContentType=content_type)

    def get(self, s3_key: str) -> bytes:
        response = self._s3.get_object(Bucket=self.bucket, Key=s3_key)
        return bytes(response["Body"].read())

    def exists(self, s3_key: str) -> bool:
        try:
            self._s3.head_object(Bucket=self.bucket, Key=s3_key)
        except ClientError as error:
            if missing_key(error):
                return False
            raise
        return True

    @staticmethod
    def job_texts_object(request_id: str) -> str:
        return f"{JOB_TEXTS_PREFIX}{request_id}.json"

    def put_job_texts(self, request_id: str, texts: Sequence[str]) -> None:
        """A job's chunk texts, kept beside its item rather than in it (job_texts)."""
        body = json.dumps({"chunk_texts": list(texts)}, ensure_ascii=False).encode()
        self.put(self.job_texts_object(request_id), body, "application/json")

    def job_texts(self, request_id: str) -> list[str] | None:
        """The texts ``put_job_texts`` kept; None where there are none."""
        try:
            body = self.get(self.job_texts_object(request_id))
        except ClientError as error:
            if missing_key(error):
                return None
            raise
        texts = json.loads(body)["chunk_texts"]
        return [str(text) for text in texts]

    def presign(self, s3_key: str, content_type: str) -> PresignedUrl:
        return self._urls.sign(s3_key, content_type)


def missing_key(error: ClientError) -> bool:
    """S3's answer for a key that is not there (404 to HEAD, NoSuchKey to GET)."""
    return error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")
