"""template.yaml as CloudFormation creates it, one file per Role, for checkov.

checkov reads plain CloudFormation better than SAM: the functions' roles, event
source mappings and schedules only exist after the transform. Each Role's file
has its conditions applied (what that Role creates), with every optional part
switched on (worker image, peer replication), so that all of it is scanned.

    .venv/bin/python infra/ci/render_templates.py build/checkov
"""

import json
import sys
from pathlib import Path

from voxflow_local.intrinsics import Key, apply_conditions, evaluate_conditions
from voxflow_local.template import translate_template

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("standalone", "primary", "secondary")
PSEUDO = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "voxflow",
    "AWS::URLSuffix": "amazonaws.com",
}
# Everything optional on: each Role's largest shape.
SWITCHED_ON = {
    "WorkerImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/voxflow-worker:1",
    "PeerReady": "true",
    "FallbackAudio": "1",
    "PolicyFile": "/opt/python/voxflow/policy/sample_blocklist.txt",
    "EdgeDelivery": "cloudfront",
    # What a secondary is told of the primary's distribution (its outputs).
    "EdgeDistributionId": "E2EXAMPLE0ABCD",
    "EdgeDomainName": "d111111abcdef8.cloudfront.net",
    "EdgePublicKeyId": "K2JCJMDEHXQW5F",
    # One hostname for both regions' APIs (custom domain, Route 53 failover records).
    "ApiDomainName": "speech.example.com",
    "ApiHostedZoneId": "Z0123456789ABCDEFGHIJ",
    "ApiCertificateArn": (
        "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-0000-4000-8000-000000000000"
    ),
    "ConsoleSite": "cloudfront",
}


def render(
    role: str, template: Path = ROOT / "template.yaml", **overrides: str
) -> dict[str, object]:
    """``overrides``: parameters other than SWITCHED_ON's (tests)."""
    translated = translate_template(template, PSEUDO["AWS::Region"]).cfn
    values: dict[Key, str] = {(name, None): value for name, value in PSEUDO.items()}
    for name, spec in translated.get("Parameters", {}).items():
        if "Default" in spec:
            values[name, None] = str(spec["Default"])
    for name, value in {**SWITCHED_ON, **overrides, "Role": role}.items():
        values[name, None] = value
    conditions = evaluate_conditions(translated.get("Conditions", {}), values)
    rendered: dict[str, object] = apply_conditions(translated, conditions)
    return rendered


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    folder = Path(argv[0])
    folder.mkdir(parents=True, exist_ok=True)
    for role in ROLES:
        path = folder / f"template-{role}.json"
        path.write_text(json.dumps(render(role), indent=1), encoding="utf-8")
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
