"""A catalog voice's files as objects in the service's bucket, under ``voices/``.

Keys hold the model's sha256 (CatalogEntry.model_key), so a replaced model is a new
object and replication, like the audio's, never has to overwrite one.
"""

from pathlib import Path
from typing import Any, Protocol

from voxflow.voices.catalog import CatalogEntry

_MODEL_TYPE = "application/octet-stream"
_CONFIG_TYPE = "application/json"


class VoiceFiles(Protocol):
    def upload(self, entry: CatalogEntry, model: Path, config: Path) -> None: ...

    def download(self, key: str, destination: Path) -> None: ...

    def delete(self, entry: CatalogEntry) -> None: ...


class VoiceObjects:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def upload(self, entry: CatalogEntry, model: Path, config: Path) -> None:
        # The config last: a voice whose config is there has its model there too.
        self._s3.upload_file(
            str(model), self.bucket, entry.model_key, ExtraArgs={"ContentType": _MODEL_TYPE}
        )
        self._s3.upload_file(
            str(config), self.bucket, entry.config_key, ExtraArgs={"ContentType": _CONFIG_TYPE}
        )

    def download(self, key: str, destination: Path) -> None:
        self._s3.download_file(self.bucket, key, str(destination))

    def delete(self, entry: CatalogEntry) -> None:
        for key in (entry.config_key, entry.model_key):
            self._s3.delete_object(Bucket=self.bucket, Key=key)
