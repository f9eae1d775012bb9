"""Which ErrorInfo reasons, with which metadata keys, each RPC of the
reference server can return: read off its source, not off a list kept by hand.

An RPC's servicer method calls store methods (``self._store.x(...)``); from
there every ``self.y(...)``, ``self._transactions.z(...)`` and module-level
helper called is followed. A reason is raised where ``errors.REASON`` appears;
``errors.invalid(...)`` without a ``reason=`` raises INVALID_FIELD. The
metadata keys of a raise are the keyword arguments of the call that names the
reason (``central_system_id=...``), or the keys of its ``metadata={...}``.
"""

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


def _functions(path: Path) -> dict[str, ast.FunctionDef]:
    """Module functions by name and class methods by ``Class.name``."""
    tree = ast.parse(path.read_text())
    found: dict[str, ast.FunctionDef] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    found[f"{node.name}.{item.name}"] = item
    return found


STORE = _functions(REFERENCE / "store.py")
LOG = _functions(REFERENCE / "transactions.py")
PAGING = _functions(REFERENCE / "paging.py")
SERVICERS = _functions(REFERENCE / "servicers.py")


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


def _module_callee(callee: ast.expr) -> ast.FunctionDef | None:
    """``paging.f(...)`` or ``paging.OBJECT.method(...)``: a helper of the paging module."""
    if isinstance(callee, ast.Attribute) and isinstance(callee.value, ast.Name) and callee.value.id == "paging":
        return PAGING.get(callee.attr)
    if (
        isinstance(callee, ast.Attribute)
        and isinstance(callee.value, ast.Attribute)
        and isinstance(callee.value.value, ast.Name)
        and callee.value.value.id == "paging"
    ):
        methods = [f for name, f in PAGING.items() if name.endswith(f".{callee.attr}")]
        return methods[0] if len(methods) == 1 else None
    return None


def _home(function: ast.FunctionDef) -> tuple[dict[str, ast.FunctionDef], str]:
    """The functions of function's module and the name of its class ("" for a module function)."""
    for functions in (STORE, LOG, PAGING):
        for name, candidate in functions.items():
            if candidate is function:
                return functions, name.rpartition(".")[0]
    raise LookupError(function.name)


def _callees(function: ast.FunctionDef) -> Iterator[ast.FunctionDef]:
    owner, cls = _home(function)
    for node in ast.walk(function):
        if not isinstance(node, ast.Call):
            continue
        callee = node.func
        helper = _module_callee(callee)
        if helper is not None:
            yield helper
        elif isinstance(callee, ast.Name) and callee.id in owner:
            yield owner[callee.id]
        elif isinstance(callee, ast.Attribute) and isinstance(callee.value, ast.Name) and callee.value.id == "self":
            if f"{cls}.{callee.attr}" in owner:
                yield owner[f"{cls}.{callee.attr}"]
        elif (
            isinstance(callee, ast.Attribute)
            and isinstance(callee.value, ast.Attribute)
            and callee.value.attr == "_transactions"
            and f"TransactionLog.{callee.attr}" in LOG
        ):
            yield LOG[f"TransactionLog.{callee.attr}"]


def _reachable(start: ast.FunctionDef) -> Raised:
    found: Raised = {}
    seen: set[int] = set()
    todo = [start]
    while todo:
        function = todo.pop()
        if id(function) in seen:
            continue
        seen.add(id(function))
        for reason, keys in _raises(function).items():
            found.setdefault(reason, set()).update(keys)
        todo.extend(_callees(function))
    return found


def wrapper_reasons() -> Raised:
    """What the servicers' one wrapper adds to every RPC (unparsable request, internal error)."""
    return _raises(SERVICERS["_rpc"])


def rpc_reasons() -> dict[tuple[str, str], Raised]:
    """(service, method) -> the reasons the reference server's store raises for it."""
    found: dict[tuple[str, str], Raised] = {}
    for qualified, method in SERVICERS.items():
        if "." not in qualified or not any(isinstance(d, ast.Name) and d.id == "_rpc" for d in method.decorator_list):
            continue
        cls, name = qualified.split(".")
        raised: Raised = {}
        for node in ast.walk(method):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "_store"
            ):
                for reason, keys in _reachable(STORE[f"Store.{node.func.attr}"]).items():
                    raised.setdefault(reason, set()).update(keys)
        found[(cls.removesuffix("Servicer") + "Service", name)] = raised
    return found
