"""The cold-start floor: what any process that speaks a phrase with this voice must do,
and no voxflow code. benchmarks/engine.py times it beside `voxflow synth --raw`.

Python, numpy, onnxruntime and piper's espeak phonemizer imported; the session built
from the voice's optimized form as voxflow's engine builds its first one (graph
optimizations off, parallel executor, no arena), on a thread while piper imports and
espeak phonemizes, as voxflow.engine.preload does; one inference; the audio to stdout.

Usage: python benchmarks/cold_floor.py OPTIMIZED_MODEL VOICE_CONFIG_JSON TEXT
"""

import json
import sys
import threading

import numpy as np
import onnxruntime as ort

_session: list[ort.InferenceSession] = []


def _build(model: str) -> None:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_PARALLEL
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    _session.append(ort.InferenceSession(model, options, providers=["CPUExecutionProvider"]))


def main(model: str, config_path: str, text: str) -> None:
    builder = threading.Thread(target=_build, args=(model,))
    builder.start()
    from piper.phoneme_ids import phonemes_to_ids
    from piper.phonemize_espeak import EspeakPhonemizer

    with open(config_path, encoding="utf-8") as file:
        config = json.load(file)
    sentence = EspeakPhonemizer().phonemize(config["espeak"]["voice"], text)[0]
    ids = np.array([phonemes_to_ids(sentence, config["phoneme_id_map"])], dtype=np.int64)
    inference = config["inference"]
    scales = [inference["noise_scale"], inference["length_scale"], inference["noise_w"]]
    builder.join()
    audio = _session[0].run(
        None,
        {
            "input": ids,
            "input_lengths": np.array([ids.shape[1]], dtype=np.int64),
            "scales": np.array(scales, dtype=np.float32),
        },
    )[0]
    pcm = (np.clip(audio.squeeze(), -1.0, 1.0) * 32767).astype("<i2")
    sys.stdout.buffer.write(pcm.tobytes())


if __name__ == "__main__":
    main(*sys.argv[1:4])
