"""Where the pipeline keeps things: audio in S3, the cache index and jobs in DynamoDB."""

from voxflow.store.audio import AudioStore
from voxflow.store.cache import CacheIndex
from voxflow.store.jobs import ChunkProgress, JobStore
from voxflow.store.models import CacheEntry, Job
from voxflow.store.urls import PresignedUrl

__all__ = [
    "AudioStore",
    "CacheEntry",
    "CacheIndex",
    "ChunkProgress",
    "Job",
    "JobStore",
    "PresignedUrl",
]
