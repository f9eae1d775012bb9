"""Assertions on gRPC error statuses, decoded the way clients decode them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from ocpp_broker_protos import errors
from ocpp_broker_protos.reference import ReferenceServer

DOMAIN = "ocpp-broker"


_D = TypeVar("_D", bound=Message)


def _details(status: Any, detail_type: type[_D]) -> list[_D]:
    found = []
    for packed in status.details:
        if packed.Is(detail_type.DESCRIPTOR):
            detail = detail_type()
            packed.Unpack(detail)
            found.append(detail)
    return found


def expect_error(
    call: Callable[[], Any],
    code: grpc.StatusCode,
    reason: str,
    fields: set[str] | None = None,
    server: ReferenceServer | None = None,
) -> grpc.RpcError:
    """Run call, expecting it to fail with code and reason.

    fields: the exact set of fields the BadRequest detail must name (required
    for INVALID_ARGUMENT). server: when given, the store must be unchanged.
    """
    before = server.store.snapshot() if server is not None else None
    try:
        call()
    except grpc.RpcError as error:
        failure = error
    else:
        raise AssertionError(f"expected {code.name} {reason}, but the call succeeded")
    assert isinstance(failure, grpc.Call)
    assert failure.code() == code, (failure.code(), failure.details())
    status = rpc_status.from_call(failure)
    assert status is not None, "no google.rpc.Status in the trailers"
    assert status.code == code.value[0]
    assert status.message == failure.details()
    assert "Traceback" not in status.message
    assert ".py" not in status.message
    infos = _details(status, error_details_pb2.ErrorInfo)
    assert len(infos) == 1, status
    assert (infos[0].reason, infos[0].domain) == (reason, DOMAIN)
    bad_requests = _details(status, error_details_pb2.BadRequest)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        assert fields, "say which fields an INVALID_ARGUMENT must name"
        assert len(bad_requests) == 1
        violations = bad_requests[0].field_violations
        assert {v.field for v in violations} == fields, violations
        assert all(v.description for v in violations)
    else:
        assert not bad_requests
    if before is not None and server is not None:
        assert server.store.snapshot() == before, "a rejected request changed the state"
    return failure


def expect_bad_page_token(call: Callable[[], Any], server: ReferenceServer | None = None) -> grpc.RpcError:
    """Run call, expecting INVALID_ARGUMENT, reason INVALID_PAGE_TOKEN, a violation on page_token."""
    return expect_error(call, grpc.StatusCode.INVALID_ARGUMENT, errors.INVALID_PAGE_TOKEN, {"page_token"}, server)
