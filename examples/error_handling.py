"""Branching on ErrorInfo reasons and BadRequest field violations, never on
message text, with the helpers of ``ocpp_broker_protos.errors`` (base install).

    python examples/error_handling.py --target 127.0.0.1:50051   # against `make serve`
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import grpc

from ocpp_broker_protos import errors
from ocpp_broker_protos.central_system.v1 import central_system_pb2, central_system_pb2_grpc
from ocpp_broker_protos.mapping.v1 import mapping_pb2, mapping_pb2_grpc


def explain(error: grpc.RpcError) -> tuple[str, list[str]]:
    """The ErrorInfo reason and the bad fields of a failed call (sync or asyncio)."""
    fields = [f"{field} ({why})" for field, why in errors.field_violations(error).items()]
    return errors.reason(error), fields


def main(target: str) -> None:
    with grpc.insecure_channel(target) as channel:
        central_systems = central_system_pb2_grpc.CentralSystemServiceStub(channel)
        mappings = mapping_pb2_grpc.MappingServiceStub(channel)
        attempts: dict[str, Callable[[], object]] = {
            "a central system that does not exist": lambda: central_systems.GetCentralSystem(
                central_system_pb2.GetCentralSystemRequest(id=2_000_000_000), timeout=5
            ),
            "bad fields": lambda: central_systems.CreateCentralSystem(
                central_system_pb2.CreateCentralSystemRequest(name=" ", websocket_url="http://not-a-websocket"),
                timeout=5,
            ),
            "a mapping to nowhere": lambda: mappings.CreateMapping(
                mapping_pb2.CreateMappingRequest(station_id="CP-1", central_system_id=2_000_000_000), timeout=5
            ),
        }
        for what, attempt in attempts.items():
            try:
                attempt()
            except grpc.RpcError as error:
                reason, fields = explain(error)
                if reason == errors.CENTRAL_SYSTEM_NOT_FOUND:
                    advice = "create it first"
                elif reason == errors.INVALID_FIELD:
                    advice = "fix " + "; ".join(fields)
                elif reason == errors.UNKNOWN_CENTRAL_SYSTEM:
                    advice = "map stations only to existing central systems"
                else:
                    raise
                print(f"{what}: {reason} -> {advice}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="127.0.0.1:50051")
    main(parser.parse_args().target)
