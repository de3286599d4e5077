"""Model version: the sha256 of a voice's ONNX file.

Hashing 63 MB costs about 0.15 s, so the digest is remembered per process and
on disk, keyed by the file's path, size and modification time.
"""

import hashlib
import json
import threading
from pathlib import Path

_memo: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()
_READ_BLOCK = 1 << 20


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as model_file:
        while block := model_file.read(_READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def model_version(model_path: Path, cache_dir: Path | None = None) -> str:
    resolved = model_path.resolve()
    stat = resolved.stat()
    memo_key = (str(resolved), stat.st_size, stat.st_mtime_ns)
    with _lock:
        if memo_key in _memo:
            return _memo[memo_key]
    disk_key = f"{memo_key[0]}|{memo_key[1]}|{memo_key[2]}"
    cache_file = cache_dir / "model-versions.json" if cache_dir else None
    cached = _read_cache(cache_file)
    version = cached.get(disk_key) or _file_sha256(resolved)
    with _lock:
        _memo[memo_key] = version
    if cache_file is not None and disk_key not in cached:
        cached[disk_key] = version
        _write_cache(cache_file, cached)
    return version


def _read_cache(cache_file: Path | None) -> dict[str, str]:
    if cache_file is None:
        return {}
    try:
        loaded = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}


def _write_cache(cache_file: Path, entries: dict[str, str]) -> None:
    # A cache that cannot be written only costs a re-hash next time.
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(f".{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(entries, sort_keys=True), encoding="utf-8")
        tmp.replace(cache_file)
    except OSError:
        pass
