"""A downstream module written against the typed bindings.

`make test` type-checks it with `mypy --strict`, with the checkout's tools
(tests/test_tooling.py) and, in the installed-wheel environments, with only
what the README's Typing section says to install (tests/test_typing.py): the
messages, the sync and asyncio stubs and the errors helpers must all be fully
typed.
"""

from __future__ import annotations

import grpc
import grpc.aio
from google.protobuf.field_mask_pb2 import FieldMask
from google.rpc import error_details_pb2

from ocpp_broker_protos import errors
from ocpp_broker_protos.central_system.v1 import central_system_pb2, central_system_pb2_grpc
from ocpp_broker_protos.transaction.v1 import transaction_pb2, transaction_pb2_grpc


def rename(channel: grpc.Channel, central_system_id: int, name: str) -> str:
    stub = central_system_pb2_grpc.CentralSystemServiceStub(channel)
    request = central_system_pb2.UpdateCentralSystemRequest(
        id=central_system_id, name=name, update_mask=FieldMask(paths=["name"])
    )
    response: central_system_pb2.UpdateCentralSystemResponse = stub.UpdateCentralSystem(request)
    stored: central_system_pb2.CentralSystem = response.central_system
    return stored.name


async def open_transactions(channel: grpc.aio.Channel, station_id: str) -> list[str]:
    stub = transaction_pb2_grpc.TransactionServiceStub(channel)
    response = await stub.GetAllTransactions(
        transaction_pb2.GetAllTransactionsRequest(station_id=station_id, active_only=True)
    )
    total: int = response.total_count
    ids = [t.id for t in response.transactions if not t.HasField("ended_at")]
    assert total >= len(ids)
    return ids


def failover_target(error: grpc.RpcError) -> int | None:
    """The current master a refused CreateMapping names, for failover."""
    if errors.reason(error) != errors.SECOND_ENABLED_MASTER:
        return None
    info: error_details_pb2.ErrorInfo | None = errors.error_info(error)
    return None if info is None else int(info.metadata["master_central_system_id"])


def bad_fields(error: grpc.RpcError) -> list[str]:
    return sorted(errors.field_violations(error))
