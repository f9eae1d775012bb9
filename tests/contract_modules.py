"""The generated modules of the four contract files, found from the package.

Tests discover messages and services from these descriptors, never from a
hand-kept list of names.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from types import ModuleType

from google.protobuf import descriptor

import ocpp_broker_protos

AREAS = ("central_system", "connection", "mapping", "transaction")


def message_modules() -> list[ModuleType]:
    return [importlib.import_module(f"ocpp_broker_protos.{a}.v1.{a}_pb2") for a in AREAS]


def grpc_modules() -> list[ModuleType]:
    return [importlib.import_module(f"ocpp_broker_protos.{a}.v1.{a}_pb2_grpc") for a in AREAS]


def _walk(messages: list[descriptor.Descriptor]) -> Iterator[descriptor.Descriptor]:
    for message in messages:
        yield message
        yield from _walk(list(message.nested_types))


def all_messages() -> list[descriptor.Descriptor]:
    """Every message (nested ones too) of the four files, in file order."""
    found: list[descriptor.Descriptor] = []
    for module in message_modules():
        found.extend(_walk(list(module.DESCRIPTOR.message_types_by_name.values())))
    return found


def all_enums() -> list[descriptor.EnumDescriptor]:
    """Every top-level enum of the four files, in file order."""
    return [e for m in message_modules() for e in m.DESCRIPTOR.enum_types_by_name.values()]


def all_services() -> list[descriptor.ServiceDescriptor]:
    return [s for m in message_modules() for s in m.DESCRIPTOR.services_by_name.values()]


def proto_file_names() -> tuple[str, ...]:
    return ocpp_broker_protos.PROTO_FILES
