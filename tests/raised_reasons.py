"""Which ErrorInfo reasons, with which metadata keys and codes, each RPC of
the reference server can return: read off its source, not off a list kept by
hand.

From an RPC's servicer method every call is followed through the modules of
``ocpp_broker_protos.reference``: module functions (``_mask(...)``,
``validation.name(...)``), the methods of the same class (``self.y(...)``)
and the methods of attributes (``self._store.x(...)``, resolved to the class
named like the attribute, else to every class that has such a method). A
reason is raised where ``errors.REASON`` appears; ``errors.invalid(...)``
without a ``reason=`` raises INVALID_FIELD. The metadata keys of a raise are
the keyword arguments of the call that names the reason
(``central_system_id=...``), or the keys of its ``metadata={...}``."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from ocpp_broker_protos import errors
from ocpp_broker_protos.reference import servicers

REFERENCE = Path(servicers.__file__).resolve().parent
# Arguments of the error constructors that are not metadata.
NOT_METADATA = {"reason", "message", "violations", "metadata", "code"}

Raised = dict[str, set[str]]  # reason -> metadata keys; the codes are kept apart
CONSTRUCTOR_CODES = {
    "invalid": "INVALID_ARGUMENT",
    "not_found": "NOT_FOUND",
    "already_exists": "ALREADY_EXISTS",
    "failed_precondition": "FAILED_PRECONDITION",
}


class Function:
    """A function or method of the reference server, where it lives."""

    def __init__(self, node: ast.FunctionDef, module: str, cls: str | None) -> None:
        self.node, self.module, self.cls = node, module, cls


def _load() -> tuple[dict[str, dict[str, Function]], dict[str, dict[str, str]]]:
    """Per module: its functions and methods (``name`` / ``Class.name``), and
    its imports from the reference package (local name -> ``module`` or
    ``module.name``)."""
    functions: dict[str, dict[str, Function]] = {}
    imports: dict[str, dict[str, str]] = {}
    for path in sorted(REFERENCE.glob("*.py")):
        module = path.stem
        tree = ast.parse(path.read_text())
        table = functions.setdefault(module, {})
        names = imports.setdefault(module, {})
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                table[node.name] = Function(node, module, None)
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef):
                        table[f"{node.name}.{item.name}"] = Function(item, module, node.name)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE):
                source = (node.module or "").removeprefix(PACKAGE).lstrip(".")
                for alias in node.names:
                    local = alias.asname or alias.name
                    names[local] = f"{source}.{alias.name}" if source else alias.name
    return functions, imports


PACKAGE = "ocpp_broker_protos.reference"
FUNCTIONS, IMPORTS = _load()
METHODS = [f for table in FUNCTIONS.values() for f in table.values() if f.cls is not None]


def _reason_of(node: ast.AST) -> str | None:
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "errors"
        and node.attr in errors.REASONS
    ):
        return getattr(errors, node.attr)  # type: ignore[no-any-return]
    return None


CODE = "code:"


def _code_of(call: ast.Call) -> str | None:
    """The status code of an error constructor call: errors.not_found(...) or ApiError(grpc.StatusCode.X, ...)."""
    callee = call.func
    name = callee.attr if isinstance(callee, ast.Attribute) else callee.id if isinstance(callee, ast.Name) else ""
    if name in CONSTRUCTOR_CODES:
        return CONSTRUCTOR_CODES[name]
    first = call.args[0] if call.args else None
    if isinstance(first, ast.Attribute) and isinstance(first.value, ast.Attribute) and first.value.attr == "StatusCode":
        return first.attr
    return None


def split(raised: Raised) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(reason -> metadata keys, reason -> status code names)."""
    keys = {reason: {k for k in found if not k.startswith(CODE)} for reason, found in raised.items()}
    codes = {reason: {k.removeprefix(CODE) for k in found if k.startswith(CODE)} for reason, found in raised.items()}
    return keys, codes


def _raises(function: ast.FunctionDef) -> Raised:
    """The reasons raised in function's own body, with their metadata keys."""
    found: Raised = {}
    for node in ast.walk(function):
        if not isinstance(node, ast.Call):
            continue
        arguments = [*node.args, *(k.value for k in node.keywords)]
        named = [reason for reason in map(_reason_of, arguments) if reason]
        callee = node.func
        if (
            not named
            and isinstance(callee, ast.Attribute)
            and isinstance(callee.value, ast.Name)
            and (callee.value.id, callee.attr) == ("errors", "invalid")
        ):
            named = [errors.INVALID_FIELD]
        for reason in named:
            keys = found.setdefault(reason, set())
            code = _code_of(node)
            if code:
                keys.add(f"{CODE}{code}")
            for keyword in node.keywords:
                if keyword.arg == "metadata" and isinstance(keyword.value, ast.Dict):
                    keys.update(str(k.value) for k in keyword.value.keys if isinstance(k, ast.Constant))
                elif keyword.arg is not None and keyword.arg not in NOT_METADATA:
                    keys.add(keyword.arg)
    return found


def _methods_for(attribute: str, name: str) -> list[Function]:
    """The methods ``self.<attribute>.<name>(...)`` can call."""
    candidates = [f for f in METHODS if f.node.name == name]
    named = [f for f in candidates if (f.cls or "").lower() == attribute.strip("_").lower()]
    return named or candidates


def _callees(function: Function) -> Iterator[Function]:
    table, names = FUNCTIONS[function.module], IMPORTS[function.module]
    for node in ast.walk(function.node):
        if not isinstance(node, ast.Call):
            continue
        callee = node.func
        if isinstance(callee, ast.Name):
            if callee.id in table:
                yield table[callee.id]
            elif "." in names.get(callee.id, ""):
                module, name = names[callee.id].rsplit(".", 1)
                if name in FUNCTIONS.get(module, {}):
                    yield FUNCTIONS[module][name]
        elif isinstance(callee, ast.Attribute) and isinstance(callee.value, ast.Name):
            owner = callee.value.id
            if owner == "self" and f"{function.cls}.{callee.attr}" in table:
                yield table[f"{function.cls}.{callee.attr}"]
            elif owner in names and callee.attr in FUNCTIONS.get(names[owner], {}):
                yield FUNCTIONS[names[owner]][callee.attr]
        elif (
            isinstance(callee, ast.Attribute)
            and isinstance(callee.value, ast.Attribute)
            and isinstance(callee.value.value, ast.Name)
            and callee.value.value.id == "self"
        ):
            yield from _methods_for(callee.value.attr, callee.attr)
        elif (
            isinstance(callee, ast.Attribute)
            and isinstance(callee.value, ast.Attribute)
            and isinstance(callee.value.value, ast.Name)
            and callee.value.value.id in names
        ):
            # ``module.OBJECT.method(...)``, like ``paging.MAPPINGS.cursor(...)``:
            # a method of a class of that module.
            module = names[callee.value.value.id]
            yield from (f for f in METHODS if f.module == module and f.node.name == callee.attr)


def _reachable(start: Function) -> Raised:
    found: Raised = {}
    seen: set[int] = set()
    todo = [start]
    while todo:
        function = todo.pop()
        if id(function) in seen:
            continue
        seen.add(id(function))
        for reason, keys in _raises(function.node).items():
            found.setdefault(reason, set()).update(keys)
        todo.extend(_callees(function))
    return found


def wrapper_reasons() -> Raised:
    """What the servicers' one wrapper adds to every RPC (unparsable request, internal error)."""
    return _raises(FUNCTIONS["servicers"]["_rpc"].node)


def rpc_reasons() -> dict[tuple[str, str], Raised]:
    """(service, method) -> the reasons the reference server can return for it."""
    found: dict[tuple[str, str], Raised] = {}
    for function in FUNCTIONS["servicers"].values():
        decorators = function.node.decorator_list
        if function.cls is None or not any(isinstance(d, ast.Name) and d.id == "_rpc" for d in decorators):
            continue
        service = function.cls.removesuffix("Servicer") + "Service"
        # The wrapper's own reasons are checked apart, against the service comment.
        found[(service, function.node.name)] = {
            reason: keys for reason, keys in _reachable(function).items() if reason not in wrapper_reasons()
        }
    return found
