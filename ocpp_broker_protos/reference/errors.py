"""Domain errors of the admin API and their google.rpc.Status form.

The store raises :class:`ApiError`; the servicers turn it into a status with
an ``ErrorInfo`` detail (and, for INVALID_ARGUMENT, a ``BadRequest`` detail)
in one place, :func:`to_grpc_status`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import grpc

# The reasons and the domain have one home, the public module; they are
# re-exported here for the store, the servicers and older imports.
from ocpp_broker_protos.errors import *  # noqa: F403
from ocpp_broker_protos.errors import DOMAIN, INVALID_FIELD


@dataclass(frozen=True)
class FieldViolation:
    """One bad field: its path in the request and what is wrong with it."""

    field: str
    description: str


@dataclass
class ApiError(Exception):
    """A request the contract rejects, with everything its status carries."""

    code: grpc.StatusCode
    reason: str
    message: str
    violations: tuple[FieldViolation, ...] = field(default=())
    metadata: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


def invalid(violations: Iterable[FieldViolation], reason: str = INVALID_FIELD) -> ApiError:
    found = tuple(violations)
    detail = "; ".join(f"{v.field}: {v.description}" for v in found)
    return ApiError(grpc.StatusCode.INVALID_ARGUMENT, reason, f"invalid request: {detail}", found)


def not_found(reason: str, message: str, **metadata: str) -> ApiError:
    return ApiError(grpc.StatusCode.NOT_FOUND, reason, message, metadata=metadata)


def already_exists(reason: str, message: str, **metadata: str) -> ApiError:
    return ApiError(grpc.StatusCode.ALREADY_EXISTS, reason, message, metadata=metadata)


def failed_precondition(reason: str, message: str, **metadata: str) -> ApiError:
    return ApiError(grpc.StatusCode.FAILED_PRECONDITION, reason, message, metadata=metadata)


def to_grpc_status(error: ApiError) -> grpc.Status:
    """The status to abort an RPC with: ErrorInfo always, BadRequest for bad fields."""
    # Imported here so that the bare bindings never need grpcio-status.
    from google.protobuf import any_pb2
    from google.rpc import code_pb2, error_details_pb2, status_pb2
    from grpc_status import rpc_status

    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=error.reason, domain=DOMAIN, metadata=error.metadata))
    details = [info]
    if error.violations:
        bad = any_pb2.Any()
        bad.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                    for v in error.violations
                ]
            )
        )
        details.append(bad)
    code = code_pb2.Code.Value(error.code.name)
    status: grpc.Status = rpc_status.to_status(status_pb2.Status(code=code, message=error.message, details=details))
    return status
