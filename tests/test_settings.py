"""The one settings model (voxflow.config): the template sets what it declares, the docs
tables are generated from it, and each deployable's variables are checked at once.

Unit tests: no server. The template is read as SAM source (Globals still apart), with
samtranslator's YAML loader, which understands the CloudFormation short tags.
"""

import ast
import copy
import re
import subprocess
import sys
from collections.abc import Container
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from voxflow.config import FUNCTIONS, PLAN, VARIABLES, WORKER, Config, Var
from voxflow.config import variables as env
from voxflow.config.docs import COMMAND, render, stale
from voxflow.errors import SettingsError
from voxflow.regions import RegionConfig
from voxflow.service_settings import ServiceSettings
from voxflow.settings import EngineSettings
from voxflow.worker.settings import WorkerSettings

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
PRODUCT = ROOT / "layers" / "voxflow" / "voxflow"
HANDLERS = ROOT / "functions"
DECLARED = {variable.name: variable for variable in VARIABLES}
REQUIRED_ENV = {
    "VOXFLOW_BUS_NAME": "bus",
    "VOXFLOW_CHUNKS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/chunks",
    "VOXFLOW_BUCKET": "bucket",
    "VOXFLOW_CACHE_TABLE": "cache",
    "VOXFLOW_JOBS_TABLE": "jobs",
}


# ---------------------------------------------------------------------------------
# What template.yaml sets, for whom
# ---------------------------------------------------------------------------------


def load_template() -> dict[str, Any]:
    template: dict[str, Any] = yaml_parse(TEMPLATE.read_text(encoding="utf-8"))
    return template


def _is_conditional(value: Any) -> bool:
    """An ``Fn::If`` with an ``AWS::NoValue`` branch: set only under a condition."""
    return (
        isinstance(value, dict)
        and "Fn::If" in value
        and {"Ref": "AWS::NoValue"} in value["Fn::If"][1:]
    )


def environment(template: dict[str, Any]) -> dict[str, dict[str, bool]]:
    """Who the template sets variables for: 'Globals', each function's logical id and
    'worker' -> {name: set unconditionally}. A function's own entry holds only its own
    Environment (Globals apply to every function besides)."""
    found: dict[str, dict[str, bool]] = {}
    globals_ = template.get("Globals", {}).get("Function", {})
    found["Globals"] = {
        name: not _is_conditional(value)
        for name, value in globals_.get("Environment", {}).get("Variables", {}).items()
    }
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            variables = resource["Properties"].get("Environment", {}).get("Variables", {})
            found[logical_id] = {name: not _is_conditional(v) for name, v in variables.items()}
        elif resource["Type"] == "AWS::ECS::TaskDefinition":
            (container,) = resource["Properties"]["ContainerDefinitions"]
            worker: dict[str, bool] = {}
            for item in container.get("Environment", []):
                if _is_conditional(item):
                    worker[item["Fn::If"][1]["Name"]] = False
                else:
                    worker[item["Name"]] = True
            found[WORKER] = worker
    return found


def template_problems(template: dict[str, Any]) -> list[str]:
    """What is wrong between the template's environments and the declarations: a variable
    set that nothing (there) reads, or one a deployable requires that it is not given."""
    problems = []
    set_for = environment(template)
    functions = set(set_for) - {"Globals", WORKER}
    if functions != FUNCTIONS:
        problems.append(f"template functions {sorted(functions)} != model's {sorted(FUNCTIONS)}")
    for name in set_for["Globals"]:
        readers = DECLARED[name].readers if name in DECLARED else frozenset()
        if not readers & FUNCTIONS:
            problems.append(f"Globals sets {name}, which no function reads")
    for deployable in (*sorted(functions), WORKER):
        own = set_for.get(deployable, {})
        for name in own:
            if name not in DECLARED or deployable not in DECLARED[name].readers:
                problems.append(f"{deployable} sets {name}, which {deployable} does not read")
        given = own if deployable == WORKER else {**set_for["Globals"], **own}
        for variable in VARIABLES:
            if (
                variable.required
                and deployable in variable.readers
                and not given.get(variable.name)
            ):
                problems.append(f"{deployable} requires {variable.name}; the template sets none")
    return problems


def test_the_template_sets_what_the_model_declares_and_each_deployable_requires() -> None:
    assert template_problems(load_template()) == []


def test_a_globals_entry_removed_or_made_up_fails_the_check() -> None:
    template = load_template()
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    removed = copy.deepcopy(template)
    del removed["Globals"]["Function"]["Environment"]["Variables"]["VOXFLOW_BUS_NAME"]
    assert template_problems(removed) == [
        f"{function} requires VOXFLOW_BUS_NAME; the template sets none"
        for function in (
            "ApiFunction",
            "HealthFunction",
            "PlanFunction",
            "SweeperFunction",
            "SynthesizeFunction",
        )
    ]
    variables["VOXFLOW_BOGUS"] = "1"
    assert template_problems(template) == ["Globals sets VOXFLOW_BOGUS, which no function reads"]


def test_a_variable_given_to_a_deployable_that_does_not_read_it_fails_the_check() -> None:
    template = load_template()
    resources = template["Resources"]
    resources[PLAN]["Properties"]["Environment"]["Variables"]["VOXFLOW_SWEEP_OLDER_THAN_S"] = "1"
    (container,) = resources["WorkerTaskDefinition"]["Properties"]["ContainerDefinitions"]
    container["Environment"].append({"Name": "VOXFLOW_CANARY_TIMEOUT_S", "Value": "5"})
    container["Environment"] = [
        item for item in container["Environment"] if item.get("Name") != "VOXFLOW_BUCKET"
    ]
    assert template_problems(template) == [
        "PlanFunction sets VOXFLOW_SWEEP_OLDER_THAN_S, which PlanFunction does not read",
        "worker sets VOXFLOW_CANARY_TIMEOUT_S, which worker does not read",
        "worker requires VOXFLOW_BUCKET; the template sets none",
    ]


def test_a_required_variable_set_only_under_a_condition_does_not_count() -> None:
    template = load_template()
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    variables["VOXFLOW_JOBS_TABLE"] = {"Fn::If": ["QuotasOn", "jobs", {"Ref": "AWS::NoValue"}]}
    assert "PlanFunction requires VOXFLOW_JOBS_TABLE; the template sets none" in (
        template_problems(template)
    )


# ---------------------------------------------------------------------------------
# The declarations themselves, and the one place they are read
# ---------------------------------------------------------------------------------


def test_each_declaration_says_what_it_means_and_who_reads_it() -> None:
    for variable in VARIABLES:
        assert variable.meaning, variable.name
        assert "\n" not in variable.meaning, variable.name
        assert variable.readers, variable.name
        assert variable.external or variable.name.startswith("VOXFLOW_"), variable.name
        if not variable.required:
            variable.parse(None)  # the default is what an unset variable gives


def _uses(path: Path) -> str:
    """The source that may read a declaration: all of a module, but of the declarations'
    module only its functions (aws_region, this_region)."""
    source = path.read_text(encoding="utf-8")
    if path != PRODUCT / "config" / "variables.py":
        return source
    tree = ast.parse(source)
    return "\n".join(ast.unparse(node) for node in tree.body if isinstance(node, ast.FunctionDef))


def test_every_declared_variable_is_read_by_product_code() -> None:
    """A declaration nothing uses is a setting nothing reads: each one's constant is used
    outside its declaration (the libraries' own, external ones, excepted)."""
    sources = "\n".join(
        _uses(path) for folder in (PRODUCT, HANDLERS) for path in folder.rglob("*.py")
    )
    constants = {name: value for name, value in vars(env).items() if isinstance(value, Var)}
    assert {value.name for value in constants.values()} == set(DECLARED)
    unused = [
        value.name
        for name, value in constants.items()
        if not value.external and not re.search(rf"\b{name}\b", sources)
    ]
    assert unused == []


def test_nothing_else_reads_the_environment() -> None:
    """os.environ and os.getenv appear only in voxflow.config.model: no second parser."""
    readers = set()
    for folder in (PRODUCT, HANDLERS):
        for path in folder.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "os"
                    and node.attr in ("environ", "getenv", "environb", "putenv")
                ):
                    readers.add(str(path.relative_to(ROOT)))
    assert readers == {"layers/voxflow/voxflow/config/model.py"}


def _named_literally(path: Path, names: Container[str]) -> list[str]:
    """Where ``path`` writes one of ``names`` as a string or a keyword argument."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
            found.append(f"{path.name}:{node.lineno} {node.value}")
        if isinstance(node, ast.keyword) and node.arg in names:
            found.append(f"{path.name}:{node.value.lineno} {node.arg}")
    return found


def test_the_local_stack_and_benchmarks_name_the_products_settings_through_the_model() -> None:
    """The local stack and the benchmarks set the product's variables by their
    declarations (``variables.X.name``), never by a spelled-out name that a rename would
    leave behind; their own variables (voxflow_local's faults, hot paths, call tally)
    are their own."""
    # Lambda's and the libraries' own variables (AWS_LAMBDA_FUNCTION_NAME, ...) the
    # runner sets by AWS's names, as Lambda does.
    ours = {name for name, variable in DECLARED.items() if not variable.external}
    literal = [
        found
        for folder in (ROOT / "infra" / "local" / "voxflow_local", ROOT / "benchmarks")
        for path in sorted(folder.rglob("*.py"))
        for found in _named_literally(path, ours)
    ]
    assert literal == []


def test_a_spelled_out_setting_name_is_found(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text(
        'env = {"VOXFLOW_HEARTBEAT_S": "1", "VOXFLOW_OWN": "2"}\n'
        'env.update(VOXFLOW_READY_FILE="f")\n',
        encoding="utf-8",
    )
    assert _named_literally(module, DECLARED) == [
        "module.py:1 VOXFLOW_HEARTBEAT_S",
        "module.py:2 VOXFLOW_READY_FILE",
    ]


def _calls_at_import(node: ast.AST) -> list[str]:
    """The calls a module makes when imported: its statements, not its functions' bodies."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        return []
    calls = [ast.unparse(node.func)] if isinstance(node, ast.Call) else []
    for child in ast.iter_child_nodes(node):
        calls += _calls_at_import(child)
    return calls


def test_no_product_module_loads_settings_at_import() -> None:
    """Only the handlers (functions/*/app.py, whose import is the cold start) load the
    settings at module level; the product package receives them."""
    loaded_at_import = [
        str(path.relative_to(ROOT))
        for path in PRODUCT.rglob("*.py")
        if "Config.load" in _calls_at_import(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert loaded_at_import == []
    handlers = [
        path.parent.name
        for path in HANDLERS.glob("*/app.py")
        if "Config.load" in _calls_at_import(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert sorted(handlers) == ["api", "health", "plan", "sweeper", "synthesize"]


def test_a_cold_start_names_every_bad_variable_at_once() -> None:
    with pytest.raises(SettingsError) as raised:
        Config.load(
            {**REQUIRED_ENV, "VOXFLOW_BUCKET": " ", "VOXFLOW_MAX_CHARS": "many",
             "VOXFLOW_ROLE": "tertiary"},
            deployable=PLAN,
        )  # fmt: skip
    message = str(raised.value)
    for name in ("VOXFLOW_BUCKET", "VOXFLOW_MAX_CHARS", "VOXFLOW_ROLE"):
        assert name in message
    assert raised.value.code == "BAD_SETTINGS"
    # The worker does not read VOXFLOW_CANARY_TIMEOUT_S: a bad one does not stop it.
    Config.load({**REQUIRED_ENV, "VOXFLOW_CANARY_TIMEOUT_S": "soon"}, deployable=WORKER)
    with pytest.raises(SettingsError, match="VOXFLOW_CANARY_TIMEOUT_S"):
        Config.load(
            {**REQUIRED_ENV, "VOXFLOW_CANARY_TIMEOUT_S": "soon"}, deployable="HealthFunction"
        )


def test_the_views_defaults_are_the_declarations(tmp_path: Path) -> None:
    """Built from an environment that sets only what is required, each view equals the
    one built by hand from its dataclass defaults: one default per setting."""
    config = Config.load({**REQUIRED_ENV, "XDG_CACHE_HOME": str(tmp_path)})
    assert EngineSettings.of(config) == EngineSettings(cache_dir=tmp_path / "voxflow")
    assert RegionConfig.of(config) == RegionConfig()
    assert ServiceSettings.of(config) == ServiceSettings(
        bus_name="bus",
        chunks_queue_url=REQUIRED_ENV["VOXFLOW_CHUNKS_QUEUE_URL"],
        bucket="bucket",
        cache_table="cache",
        jobs_table="jobs",
        region_name=env.DEFAULT_REGION,
    )
    assert WorkerSettings.of(config) == WorkerSettings(REQUIRED_ENV["VOXFLOW_CHUNKS_QUEUE_URL"])


# ---------------------------------------------------------------------------------
# The docs tables
# ---------------------------------------------------------------------------------


def test_the_docs_settings_tables_are_up_to_date() -> None:
    out_of_date = [str(path.relative_to(ROOT)) for path in stale(ROOT)]
    assert out_of_date == [], f"settings tables out of date in {out_of_date}: run {COMMAND}"


def test_a_table_out_of_date_is_found(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    page = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    assert "<!-- settings: controls -->" in page
    edited = re.sub(r"^\| `VOXFLOW_AUDIT_TEXT` .*\n", "", page, flags=re.M)
    assert edited != page
    (tmp_path / "docs" / "operations.md").write_text(edited, encoding="utf-8")
    assert stale(tmp_path) == [tmp_path / "docs" / "operations.md"]
    assert render(edited) == page


def test_every_variable_is_in_the_settings_page() -> None:
    page = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert set(re.findall(r"^\| `(\w+)` \|", page, re.M)) == set(DECLARED)


def test_the_settings_model_needs_neither_boto3_nor_pydantic() -> None:
    """The synthesis core reads its settings through voxflow.config: standard library only."""
    code = (
        "import sys, voxflow.config, voxflow.settings; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'boto3', 'botocore', 'pydantic'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
