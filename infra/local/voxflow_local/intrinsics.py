"""CloudFormation intrinsic functions, resolved against known values.

moto resolves the template it deploys; the local stack also needs values moto
never sees (function environments, resources moto cannot create). Those are
resolved here from a table of ``(logical id, attribute)`` → value, where the
attribute is None for a ``Ref``. The table itself comes from moto (see deploy).
"""

import base64
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

Key = tuple[str, str | None]

# ${Name}, ${Name.Attr}; ${!Literal} is an escape and stays as text.
_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")
NO_VALUE = "AWS::NoValue"


class IntrinsicError(ValueError):
    pass


def _get_att_key(argument: Any) -> Key:
    if isinstance(argument, str):
        name, _, attribute = argument.partition(".")
        return name, attribute
    name, attribute = argument
    return str(name), str(attribute)


def _sub_parts(argument: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(argument, str):
        return argument, {}
    text, variables = argument
    return str(text), dict(variables)


def _sub_key(variable: str) -> Key:
    name, dot, attribute = variable.strip().partition(".")
    return (name, attribute) if dot else (name, None)


def references(node: Any) -> set[Key]:
    """Every Ref, GetAtt and Sub variable in ``node``, pseudo parameters included."""
    return set(_walk_references(node))


def _walk_references(node: Any) -> Iterator[Key]:
    if isinstance(node, list):
        for item in node:
            yield from _walk_references(item)
    elif isinstance(node, dict):
        if len(node) == 1:
            (function, argument), *_ = node.items()
            if function == "Ref" and isinstance(argument, str):
                yield argument, None
                return
            if function == "Fn::GetAtt":
                yield _get_att_key(argument)
                return
            if function == "Fn::Sub":
                text, variables = _sub_parts(argument)
                for match in _SUB_VARIABLE.finditer(text):
                    key = _sub_key(match.group(1))
                    if key[0] not in variables:
                        yield key
                yield from _walk_references(list(variables.values()))
                return
        for value in node.values():
            yield from _walk_references(value)


def replace_references(node: Any, values: Mapping[Key, Any]) -> Any:
    """A copy of ``node`` with the references found in ``values`` replaced.

    A replacement is a literal string or another intrinsic (a ``Fn::GetAtt``
    only, inside ``Fn::Sub``). Everything else is left as it is, for moto.
    """
    if isinstance(node, list):
        return [replace_references(item, values) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        (function, argument), *_ = node.items()
        if function == "Ref" and isinstance(argument, str) and (argument, None) in values:
            return values[argument, None]
        if function == "Fn::GetAtt" and _get_att_key(argument) in values:
            return values[_get_att_key(argument)]
        if function == "Fn::Sub":
            return _replace_in_sub(argument, values)
    return {key: replace_references(value, values) for key, value in node.items()}


def _replace_in_sub(argument: Any, values: Mapping[Key, Any]) -> dict[str, Any]:
    text, variables = _sub_parts(argument)

    def replaced(match: re.Match[str]) -> str:
        key = _sub_key(match.group(1))
        text = None if key[0] in variables else _as_sub_text(values.get(key))
        return match.group(0) if text is None else text

    text = _SUB_VARIABLE.sub(replaced, text)
    if not variables:
        return {"Fn::Sub": text}
    return {"Fn::Sub": [text, replace_references(variables, values)]}


def _as_sub_text(replacement: Any) -> str | None:
    if isinstance(replacement, str):
        return replacement
    if isinstance(replacement, dict) and set(replacement) == {"Fn::GetAtt"}:
        name, attribute = _get_att_key(replacement["Fn::GetAtt"])
        return "${" + f"{name}.{attribute}" + "}"
    return None


class Resolver:
    """Evaluates the intrinsics a local value can contain, from a table of known values."""

    def __init__(self, values: Mapping[Key, str]) -> None:
        self.values = values
        self._functions: dict[str, Callable[[Any], Any]] = {
            "Ref": self._ref,
            "Fn::GetAtt": lambda argument: self._lookup(_get_att_key(argument)),
            "Fn::Sub": self._sub,
            "Fn::Join": self._join,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::Base64": lambda argument: base64.b64encode(
                str(self.resolve(argument)).encode()
            ).decode(),
        }

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self.resolve(item) for item in node]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (function, argument), *_ = node.items()
            if function in self._functions:
                return self._functions[function](argument)
            if function.startswith("Fn::") or function == "Condition":
                raise IntrinsicError(f"{function} is not supported by the local stack")
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not _NO_VALUE}

    def _lookup(self, key: Key) -> str:
        if key not in self.values:
            name = key[0] if key[1] is None else f"{key[0]}.{key[1]}"
            raise IntrinsicError(f"no local value for {name}")
        return self.values[key]

    def _ref(self, name: Any) -> Any:
        return _NO_VALUE if name == NO_VALUE else self._lookup((str(name), None))

    def _sub(self, argument: Any) -> str:
        text, variables = _sub_parts(argument)
        local = {name: str(self.resolve(value)) for name, value in variables.items()}

        def value(match: re.Match[str]) -> str:
            variable = match.group(1).strip()
            return local[variable] if variable in local else self._lookup(_sub_key(variable))

        return _SUB_VARIABLE.sub(value, text).replace("${!", "${")

    def _join(self, argument: Any) -> str:
        delimiter, items = argument
        return str(delimiter).join(str(item) for item in self.resolve(items))

    def _select(self, argument: Any) -> Any:
        index, items = argument
        return self.resolve(items)[int(self.resolve(index))]

    def _split(self, argument: Any) -> list[str]:
        delimiter, text = argument
        return str(self.resolve(text)).split(str(delimiter))


class _NoValue:
    """AWS::NoValue: removes the property or list item that holds it."""


_NO_VALUE = _NoValue()


# ---- Conditions: what a stack of one Role contains ----


def evaluate_conditions(
    conditions: Mapping[str, Any], values: Mapping[Key, str]
) -> dict[str, bool]:
    """Each condition of the template's ``Conditions``, from parameter and pseudo values."""
    resolver = Resolver(values)
    evaluated: dict[str, bool] = {}

    def condition(name: str, seen: tuple[str, ...]) -> bool:
        if name in seen:
            raise IntrinsicError(f"condition {name} refers to itself")
        if name not in evaluated:
            if name not in conditions:
                raise IntrinsicError(f"no condition {name}")
            evaluated[name] = evaluate(conditions[name], (*seen, name))
        return evaluated[name]

    def evaluate(node: Any, seen: tuple[str, ...]) -> bool:
        if not isinstance(node, dict) or len(node) != 1:
            raise IntrinsicError(f"not a condition: {node!r}")
        (function, argument), *_ = node.items()
        if function == "Condition":
            return condition(str(argument), seen)
        if function == "Fn::Equals":
            left, right = (str(resolver.resolve(side)) for side in argument)
            return left == right
        if function == "Fn::Not":
            return not evaluate(argument[0], seen)
        if function == "Fn::And":
            return all(evaluate(item, seen) for item in argument)
        if function == "Fn::Or":
            return any(evaluate(item, seen) for item in argument)
        raise IntrinsicError(f"{function} is not a condition function")

    for name in conditions:
        condition(name, ())
    return evaluated


# ---- Rules: the parameter checks CloudFormation makes before it creates anything ----


def failed_rules(rules: Mapping[str, Any], values: Mapping[Key, str]) -> list[str]:
    """The AssertDescription (or the rule's name) of each assertion that fails, for the
    rules whose RuleCondition holds. Rule functions: Equals, Not, And, Or."""
    resolver = Resolver(values)

    def holds(node: Any) -> bool:
        if not isinstance(node, dict) or len(node) != 1:
            raise IntrinsicError(f"not a rule function: {node!r}")
        (function, argument), *_ = node.items()
        if function == "Fn::Equals":
            left, right = (str(resolver.resolve(side)) for side in argument)
            return left == right
        if function == "Fn::Not":
            return not holds(argument[0])
        if function == "Fn::And":
            return all(holds(item) for item in argument)
        if function == "Fn::Or":
            return any(holds(item) for item in argument)
        raise IntrinsicError(f"{function} is not a rule function this emulation knows")

    failed: list[str] = []
    for name, rule in rules.items():
        if "RuleCondition" in rule and not holds(rule["RuleCondition"]):
            continue
        failed.extend(
            " ".join(str(assertion.get("AssertDescription", name)).split())
            for assertion in rule["Assertions"]
            if not holds(assertion["Assert"])
        )
    return failed


def apply_conditions(template: Mapping[str, Any], conditions: Mapping[str, bool]) -> dict[str, Any]:
    """The template as CloudFormation creates it for these condition values.

    Resources and outputs whose condition is false go, ``Fn::If`` becomes the
    branch taken, ``AWS::NoValue`` removes what holds it, and ``Conditions`` (and
    ``Rules``, checked before: failed_rules) go: what is left needs no condition to be
    understood.
    """
    applied = {key: value for key, value in template.items() if key not in ("Conditions", "Rules")}
    for section in ("Resources", "Outputs"):
        kept = {
            name: {key: value for key, value in entry.items() if key != "Condition"}
            for name, entry in template.get(section, {}).items()
            if conditions.get(entry.get("Condition", ""), True)
        }
        applied[section] = kept
    resolved: dict[str, Any] = _choose_branches(applied, conditions)
    return resolved


def _choose_branches(node: Any, conditions: Mapping[str, bool]) -> Any:
    if isinstance(node, list):
        items = [_choose_branches(item, conditions) for item in node]
        return [item for item in items if item is not _NO_VALUE]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        (function, argument), *_ = node.items()
        if function == "Fn::If":
            name, if_true, if_false = argument
            if name not in conditions:
                raise IntrinsicError(f"Fn::If on an unknown condition {name}")
            return _choose_branches(if_true if conditions[name] else if_false, conditions)
        if function == "Ref" and argument == NO_VALUE:
            return _NO_VALUE
    chosen = {key: _choose_branches(value, conditions) for key, value in node.items()}
    return {key: value for key, value in chosen.items() if value is not _NO_VALUE}
