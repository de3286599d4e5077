"""Model version: the sha256 of a voice's ONNX file.

Hashing 63 MB costs about 0.15 s, so the digest is remembered per process and
on disk, keyed by the file's path, size and modification time.

A voice's optimized forms (voxflow.engine.optimized) lie beside its model, named by
the model's sha256 and the onnxruntime version that wrote them. Lambda's VoiceLayer
ships such a form instead of the model (two 63 MB files do not fit its 250 MB): the
version is then read from the name. Naming lives here, without onnxruntime, so plan
(which never loads a session) reads it too.
"""

import hashlib
import json
import re
import threading
from dataclasses import dataclass
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


@dataclass(frozen=True)
class OptimizedForm:
    """An optimized form of a model: its file, the model's sha256, the runtime's version."""

    path: Path
    version: str
    runtime: str


def optimized_name(model_path: Path, version: str, runtime: str) -> str:
    return f"{model_path.stem}.{version}.ort-{runtime}.onnx"


def optimized_forms(model_path: Path) -> list[OptimizedForm]:
    """The optimized forms of ``model_path`` that lie beside it, by name."""
    pattern = re.compile(rf"{re.escape(model_path.stem)}\.([0-9a-f]{{64}})\.ort-(.+)\.onnx")
    forms = []
    for path in sorted(model_path.parent.glob(f"{model_path.stem}.*.ort-*.onnx")):
        named = pattern.fullmatch(path.name)
        if named is not None and path.is_file():
            forms.append(OptimizedForm(path, named[1], named[2]))
    return forms


def shipped_version(model_path: Path) -> str | None:
    """The version of a model shipped as its optimized form alone (``model_path``
    absent, every form beside it of one version), else None."""
    if model_path.exists():
        return None
    versions = {form.version for form in optimized_forms(model_path)}
    return versions.pop() if len(versions) == 1 else None


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
