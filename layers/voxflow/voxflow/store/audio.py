"""Audio objects in S3 and presigned URLs to them."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

CHUNK_PREFIX = "chunks/"
AUDIO_PREFIX = "audio/"


@dataclass(frozen=True)
class PresignedUrl:
    url: str
    expires_at: datetime


class AudioStore:
    def __init__(self, s3: Any, bucket: str, url_expiry_s: int) -> None:
        self._s3 = s3
        self.bucket = bucket
        self.url_expiry_s = url_expiry_s

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
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def presign(self, s3_key: str, content_type: str) -> PresignedUrl:
        url = self._s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": s3_key, "ResponseContentType": content_type},
            ExpiresIn=self.url_expiry_s,
        )
        expires_at = datetime.now(UTC) + timedelta(seconds=self.url_expiry_s)
        return PresignedUrl(str(url), expires_at.replace(microsecond=0))
