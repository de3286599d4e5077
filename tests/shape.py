"""Which tests are integration tests, said in one place, and the check that keeps it true.

Unit tests run in-process in seconds: pure logic, in-process fakes, moto's in-process
mocks. Integration tests start what a user meets: a moto server over HTTP, a LocalStack or
TwoRegionStack (which run the real handlers in subprocesses), a layer build, or the real
voice engine. conftest.py marks them `integration` from the two sets below;
test_shape.py fails when a module starts a server or the engine without being covered.
"""

import ast
from dataclasses import dataclass
from pathlib import Path

# Every test in these modules is an integration test: the module's fixtures or its
# tests start servers, the local stack, the real handlers, the CLI on the real voice, or
# layer builds.
INTEGRATION_MODULES = frozenset(
    {
        "test_api_auth_cache",
        "test_api_buffered",
        "test_api_catalog",
        "test_api_clients",
        "test_api_hit",
        "test_api_local",
        "test_api_polly",
        "test_api_tasks",
        "test_api_sigv4",
        "test_api_stream_metrics",
        "test_api_stream_refused",
        "test_cache_isolation",
        "test_chunk_keys",
        "test_cli",
        "test_console_browser",
        "test_console_metrics",
        "test_console_site",
        "test_drill",
        "test_edge",
        "test_engine_golden",
        "test_engine_preload",
        "test_faults",
        "test_health",
        "test_identity_property",
        "test_job_texts",
        "test_lanes",
        "test_lexicons_e2e",
        "test_layer_size",
        "test_layers",
        "test_local_stack",
        "test_ops",
        "test_optimized_model",
        "test_pipeline_e2e",
        "test_ports",
        "test_rates_plan",
        "test_replicator",
        "test_reply_targets_e2e",
        "test_request_identity",
        "test_tenants_e2e",
        "test_voice_catalog",
        "test_voices_e2e",
        "test_voices_regions",
        "test_worker",
    }
)

# A test that uses one of these fixtures, directly or through another fixture, is an
# integration test (this covers the modules that mix unit and integration tests).
INTEGRATION_FIXTURES = frozenset(
    {
        "engine",  # conftest: the real voice
        "quiet_engine",  # conftest: the real voice, noise off
        "api",  # conftest: the HTTP API on a moto server
        "voiced_plan",  # conftest: plan on a moto server, with the real voice
        "local_stack",  # conftest: a LocalStack shared by a module
        "bus_tap",  # conftest: a queue on a LocalStack's bus
        "moto",  # a moto server
        "moto_clients",  # clients of a moto server
        "moto_store",  # an AudioStore on a moto server
        "stack",  # a LocalStack, or a stack deployed onto a moto server
        "governed",  # test_policy_audit: a LocalStack with a policy and an audit table
    }
)

# Calling one of these starts a server, a stack of subprocesses, or the real engine.
STARTS_SERVER = frozenset({"MotoServer", "LocalStack", "TwoRegionStack", "deploy_stack", "Engine"})


@dataclass(frozen=True)
class Uncovered:
    module: str
    function: str
    line: int

    def __str__(self) -> str:
        return f"{self.module}.py:{self.line} {self.function}"


def _called_names(node: ast.AST) -> set[str]:
    names = set()
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            func = call.func
            if isinstance(func, ast.Name):
                names.add(func.id)
            elif isinstance(func, ast.Attribute):
                names.add(func.attr)
    return names


def _is_fixture(node: ast.FunctionDef) -> bool:
    return any("fixture" in ast.unparse(decorator) for decorator in node.decorator_list)


def _marked_integration(node: ast.FunctionDef) -> bool:
    return any("mark.integration" in ast.unparse(decorator) for decorator in node.decorator_list)


def _module_marked_integration(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "pytestmark" for target in node.targets
        ):
            return "mark.integration" in ast.unparse(node.value)
    return False


def uncovered(path: Path) -> list[Uncovered]:
    """The fixtures and tests of the test module at ``path`` that start a server (directly
    or through a helper of the module) without being marked `integration` by conftest."""
    module = path.stem
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if module in INTEGRATION_MODULES or _module_marked_integration(tree):
        return []
    top = [node for node in tree.body if isinstance(node, ast.FunctionDef | ast.ClassDef)]
    calls = {node.name: _called_names(node) for node in top}
    starting = {name for name, called in calls.items() if called & STARTS_SERVER}
    while True:  # helpers that call helpers that start servers start servers too
        more = {name for name, called in calls.items() if called & starting} - starting
        if not more:
            break
        starting |= more
    fixtures = {
        node.name: {argument.arg for argument in node.args.args}
        for node in top
        if isinstance(node, ast.FunctionDef) and _is_fixture(node)
    }
    integration = set(INTEGRATION_FIXTURES)
    while True:  # a fixture that uses an integration fixture is one too
        more = {name for name, uses in fixtures.items() if uses & integration} - integration
        if not more:
            break
        integration |= more
    found = []
    for node in top:
        if node.name not in starting or not isinstance(node, ast.FunctionDef):
            continue
        if _is_fixture(node):
            covered = node.name in INTEGRATION_FIXTURES
        elif node.name.startswith("test_"):
            arguments = {argument.arg for argument in node.args.args}
            covered = _marked_integration(node) or bool(arguments & integration)
        else:
            continue  # a helper: whoever calls it is checked
        if not covered:
            found.append(Uncovered(module, node.name, node.lineno))
    return found
