"""template.yaml → plain CloudFormation, offline, with samtranslator.

SAM refuses local ``CodeUri``/``ContentUri`` paths (``sam build``/``sam package``
upload them and substitute S3 URIs before the transform runs). The same is done
here with placeholder URIs, and the local folders are remembered so the local
stack can run each function's code from where it lives.
"""

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
SERVERLESS_LAYER = "AWS::Serverless::LayerVersion"
# Never fetched: these URIs only have to satisfy the translator.
PLACEHOLDER_BUCKET = "voxflow-local-code"


class TemplateError(ValueError):
    pass


@dataclass(frozen=True)
class TranslatedTemplate:
    path: Path
    sam: dict[str, Any]  # as written, parsed
    cfn: dict[str, Any]  # after the transform
    code_dirs: dict[str, Path]  # SAM function logical id → its CodeUri folder


def load_sam_template(path: Path) -> dict[str, Any]:
    # samtranslator's loader knows the short forms (!Ref, !Sub, !GetAtt...).
    from samtranslator.yaml_helper import yaml_parse  # type: ignore[import-untyped, unused-ignore]

    parsed = yaml_parse(path.read_text(encoding="utf-8"))
    if not isinstance(parsed, dict) or not isinstance(parsed.get("Resources"), dict):
        raise TemplateError(f"{path} is not a template with Resources")
    return parsed


def translate_template(
    path: Path, region: str, parameters: dict[str, str] | None = None
) -> TranslatedTemplate:
    sam = load_sam_template(path)
    packaged = copy.deepcopy(sam)
    code_dirs = _package_locally(packaged, path.parent)
    return TranslatedTemplate(
        path=path,
        sam=sam,
        cfn=_transform(packaged, region, dict(parameters or {})),
        code_dirs=code_dirs,
    )


def _transform(template: dict[str, Any], region: str, parameters: dict[str, Any]) -> dict[str, Any]:
    import boto3  # type: ignore[import-untyped, unused-ignore]
    from samtranslator.metrics.metrics import (  # type: ignore[import-untyped, unused-ignore]
        DummyMetricsPublisher,
        Metrics,
    )
    from samtranslator.parser.parser import Parser  # type: ignore[import-untyped, unused-ignore]
    from samtranslator.translator.translator import (  # type: ignore[import-untyped, unused-ignore]
        Translator,
    )
    from samtranslator.utils.py27hash_fix import (  # type: ignore[import-untyped, unused-ignore]
        to_py27_compatible_template,
        undo_mark_unicode_str_in_template,
    )

    # samtranslator.translator.transform.transform does exactly this, except that it
    # takes the region from the environment; a session pins it to the stack's region.
    # No managed-policy lookups: they need IAM, and policy ARNs do not matter locally.
    to_py27_compatible_template(template, parameters)
    # Metrics are published to nowhere, but unpublished ones print a warning at exit.
    metrics = Metrics("ServerlessTransform", DummyMetricsPublisher())
    session = boto3.session.Session(region_name=region)
    translator = Translator(None, Parser(), metrics=metrics, boto_session=session)
    translated = translator.translate(
        template, parameter_values=parameters, get_managed_policy_map=lambda: {}
    )
    metrics.publish()
    result: dict[str, Any] = undo_mark_unicode_str_in_template(translated)
    return result


def _package_locally(template: dict[str, Any], base: Path) -> dict[str, Path]:
    """Swaps local code folders for placeholder S3 URIs, as ``sam package`` would."""
    function_globals = template.get("Globals", {}).get("Function", {})
    global_code_uri = function_globals.get("CodeUri")
    code_dirs: dict[str, Path] = {}
    for logical_id, resource in template["Resources"].items():
        properties = resource.setdefault("Properties", {})
        if resource.get("Type") == SERVERLESS_FUNCTION:
            code_uri = properties.get("CodeUri", global_code_uri)
            if not _is_local(code_uri):
                raise TemplateError(
                    f"{logical_id}: the local stack runs only functions whose CodeUri is a "
                    f"local folder, not {code_uri!r}"
                )
            code_dirs[logical_id] = (base / code_uri).resolve()
            properties["CodeUri"] = f"s3://{PLACEHOLDER_BUCKET}/{logical_id}.zip"
        elif resource.get("Type") == SERVERLESS_LAYER and _is_local(properties.get("ContentUri")):
            # Layers are not deployed locally: the venv already holds what they ship.
            properties["ContentUri"] = f"s3://{PLACEHOLDER_BUCKET}/{logical_id}.zip"
    if _is_local(global_code_uri):
        function_globals.pop("CodeUri")
    return code_dirs


def _is_local(uri: object) -> bool:
    return isinstance(uri, str) and bool(uri) and not uri.startswith("s3://")
