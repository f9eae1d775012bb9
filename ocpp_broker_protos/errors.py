"""The admin API's error reasons, and how a client reads them off a failed call.

Every error status of the four services carries a ``google.rpc.ErrorInfo``
detail with domain :data:`DOMAIN` and one of the reasons below; an
INVALID_ARGUMENT status also carries a ``google.rpc.BadRequest`` detail with
one field violation per bad field. Branch on these constants, never on the
message text::

    from ocpp_broker_protos import errors

    try:
        stub.CreateMapping(request)
    except grpc.RpcError as error:
        if errors.reason(error) == errors.SECOND_ENABLED_MASTER:
            master = errors.error_info(error).metadata["master_central_system_id"]

The helpers accept the errors of sync stubs (``grpc.RpcError``) and of
asyncio stubs (``grpc.aio.AioRpcError``) alike, and need nothing beyond the
package's base install. This module is the one place a reason is spelled:
the reference server, the conformance kit and the tests import it from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2

__all__ = [
    "CENTRAL_SYSTEM_ALREADY_EXISTS",
    "CENTRAL_SYSTEM_IDS_EXHAUSTED",
    "CENTRAL_SYSTEM_IN_USE",
    "CENTRAL_SYSTEM_NOT_FOUND",
    "CONNECTION_ALREADY_EXISTS",
    "CONNECTION_NOT_FOUND",
    "CONNECTOR_BUSY",
    "CREDENTIALS_INVALID",
    "CREDENTIALS_MISSING",
    "DOMAIN",
    "INTERNAL",
    "INVALID_FIELD",
    "INVALID_PAGE_TOKEN",
    "INVALID_UPDATE_MASK",
    "MALFORMED_REQUEST",
    "MAPPING_ALREADY_EXISTS",
    "MAPPING_NOT_FOUND",
    "NO_ENABLED_MAPPING",
    "READ_ONLY_CREDENTIALS",
    "REASONS",
    "SECOND_ENABLED_MASTER",
    "STATUS_DETAILS_KEY",
    "TRANSACTION_ALREADY_ENDED",
    "TRANSACTION_ALREADY_EXISTS",
    "TRANSACTION_NOT_FOUND",
    "UNKNOWN_CENTRAL_SYSTEM",
    "error_info",
    "field_violations",
    "reason",
    "status",
]

#: The ``ErrorInfo.domain`` of every error of the admin API.
DOMAIN = "ocpp-broker"

# -- reasons a client of the four services can see --------------------------
#: A field is malformed or out of range (INVALID_ARGUMENT, with violations).
INVALID_FIELD = "INVALID_FIELD"
#: An update mask names a path that is unknown, immutable or mixed with `*`.
INVALID_UPDATE_MASK = "INVALID_UPDATE_MASK"
#: A page token does not decode, or is replayed with other filters or view.
INVALID_PAGE_TOKEN = "INVALID_PAGE_TOKEN"
#: The request's bytes do not parse as the request message.
MALFORMED_REQUEST = "MALFORMED_REQUEST"
CENTRAL_SYSTEM_NOT_FOUND = "CENTRAL_SYSTEM_NOT_FOUND"
CENTRAL_SYSTEM_ALREADY_EXISTS = "CENTRAL_SYSTEM_ALREADY_EXISTS"
#: Every int32 id has been handed out (RESOURCE_EXHAUSTED).
CENTRAL_SYSTEM_IDS_EXHAUSTED = "CENTRAL_SYSTEM_IDS_EXHAUSTED"
#: Metadata: ``central_system_id``.
CENTRAL_SYSTEM_IN_USE = "CENTRAL_SYSTEM_IN_USE"
UNKNOWN_CENTRAL_SYSTEM = "UNKNOWN_CENTRAL_SYSTEM"
MAPPING_NOT_FOUND = "MAPPING_NOT_FOUND"
MAPPING_ALREADY_EXISTS = "MAPPING_ALREADY_EXISTS"
#: Metadata: ``station_id`` and ``master_central_system_id`` (the current master).
SECOND_ENABLED_MASTER = "SECOND_ENABLED_MASTER"
CONNECTION_NOT_FOUND = "CONNECTION_NOT_FOUND"
CONNECTION_ALREADY_EXISTS = "CONNECTION_ALREADY_EXISTS"
NO_ENABLED_MAPPING = "NO_ENABLED_MAPPING"
#: UNAUTHENTICATED: the call carries no credentials.
CREDENTIALS_MISSING = "CREDENTIALS_MISSING"
#: UNAUTHENTICATED: the call's credentials are not accepted.
CREDENTIALS_INVALID = "CREDENTIALS_INVALID"
#: PERMISSION_DENIED: a read-only credential was used for a write.
READ_ONLY_CREDENTIALS = "READ_ONLY_CREDENTIALS"
#: An unexpected failure inside the server (INTERNAL).
INTERNAL = "INTERNAL"

# -- reasons of the reference server's Python API and fixture files ---------
TRANSACTION_ALREADY_EXISTS = "TRANSACTION_ALREADY_EXISTS"
TRANSACTION_NOT_FOUND = "TRANSACTION_NOT_FOUND"
TRANSACTION_ALREADY_ENDED = "TRANSACTION_ALREADY_ENDED"
CONNECTOR_BUSY = "CONNECTOR_BUSY"

#: Every reason above (each constant is spelled as its own value).
REASONS = frozenset(value for name, value in dict(globals()).items() if name.isupper() and name == value)

#: The trailing metadata key that carries the serialized ``google.rpc.Status``.
STATUS_DETAILS_KEY = "grpc-status-details-bin"


def _trailing_details(error: Any) -> bytes | None:
    trailing = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    if not trailing:
        return None
    # Sync calls give a tuple of (key, value) pairs; asyncio calls give a
    # grpc.aio.Metadata. Iterating either yields (key, value) pairs on every
    # grpcio release; Metadata's keys() does not (on 1.63 it yields pairs).
    items: Iterable[Any] = trailing
    for item in items:
        if isinstance(item, tuple) and len(item) == 2 and item[0] == STATUS_DETAILS_KEY:
            value = item[1]
            return value if isinstance(value, bytes) else str(value).encode("latin-1")
    return None


def status(error: grpc.RpcError) -> status_pb2.Status | None:
    """The ``google.rpc.Status`` a failed call carries, or None when it carries none.

    A status whose code is not the call's is ignored, as ``grpcio-status``
    does: something between client and server changed the outcome, so the
    details no longer describe it.
    """
    raw = _trailing_details(error)
    if raw is None:
        return None
    try:
        found = status_pb2.Status.FromString(raw)
    except Exception:  # a garbled trailer is no status, not a client crash
        return None
    code = error.code() if hasattr(error, "code") else None
    if isinstance(code, grpc.StatusCode) and found.code != code.value[0]:
        return None
    return found


def error_info(error: grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    """The ``ErrorInfo`` detail of domain :data:`DOMAIN`, or None."""
    found = status(error)
    for packed in found.details if found is not None else ():
        info = error_details_pb2.ErrorInfo()
        # Unpack answers False for a detail of another type.
        if packed.Unpack(info) and info.domain == DOMAIN:
            return info
    return None


def reason(error: grpc.RpcError) -> str:
    """The ErrorInfo reason of the failed call, or "" when it has none."""
    info = error_info(error)
    return info.reason if info is not None else ""


def field_violations(error: grpc.RpcError) -> dict[str, str]:
    """Field path -> description, from the ``BadRequest`` detail (empty when there is none).

    A path named more than once keeps its descriptions joined with "; ".
    """
    found = status(error)
    violations: dict[str, str] = {}
    for packed in found.details if found is not None else ():
        bad = error_details_pb2.BadRequest()
        if packed.Unpack(bad):
            for violation in bad.field_violations:
                known = violations.get(violation.field)
                violations[violation.field] = (
                    violation.description if known is None else f"{known}; {violation.description}"
                )
    return violations
