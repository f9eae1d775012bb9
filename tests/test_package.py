"""The installed package: modules, shipped contract files and helpers."""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

from google.protobuf import descriptor_pb2

import ocpp_broker_protos
from ocpp_broker_protos import errors
from tests.contract_modules import AREAS, all_services, grpc_modules, message_modules


def test_all_eight_generated_modules_import() -> None:
    modules = message_modules() + grpc_modules()
    assert len(modules) == 8
    for area, module in zip(AREAS, message_modules(), strict=True):
        assert module.DESCRIPTOR.package == f"ocpp_broker_protos.{area}.v1"
        assert module.DESCRIPTOR.name == f"ocpp_broker_protos/{area}/v1/{area}.proto"


def test_every_service_has_sync_stub_servicer_and_registration() -> None:
    by_package = {m.__name__.rsplit(".", 1)[0]: m for m in grpc_modules()}
    services = all_services()
    assert [s.name for s in services] == [
        "CentralSystemService",
        "ConnectionService",
        "MappingService",
        "TransactionService",
    ]
    for service in services:
        module = by_package[service.file.package]
        assert hasattr(module, f"{service.name}Stub")
        assert hasattr(module, f"{service.name}Servicer")
        assert hasattr(module, f"add_{service.name}Servicer_to_server")


def test_py_typed_and_stub_files_ship_beside_the_modules() -> None:
    root = Path(ocpp_broker_protos.__file__).parent
    assert (root / "py.typed").is_file()
    for area in AREAS:
        for suffix in ("_pb2.pyi", "_pb2_grpc.pyi"):
            assert (root / area / "v1" / f"{area}{suffix}").is_file()


def test_proto_include_dir_holds_the_four_contract_files() -> None:
    include = ocpp_broker_protos.proto_include_dir()
    for name in ocpp_broker_protos.PROTO_FILES:
        text = (include / name).read_text(encoding="utf-8")
        assert text.startswith("//")
        assert "\npackage ocpp_broker_protos." in text


def test_descriptor_set_matches_the_generated_modules() -> None:
    shipped = descriptor_pb2.FileDescriptorSet.FromString(ocpp_broker_protos.descriptor_set_bytes())
    files = {f.name: f for f in shipped.file}
    # Self-contained: the imports of the contract files ship too.
    assert "google/protobuf/timestamp.proto" in files
    assert "google/protobuf/field_mask.proto" in files
    assert set(ocpp_broker_protos.PROTO_FILES) <= files.keys()
    assert {f for f in files if not f.startswith("google/")} == set(ocpp_broker_protos.PROTO_FILES)
    for module in message_modules():
        generated = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(generated)
        from_set = files[module.DESCRIPTOR.name]
        # Source info (comments) is only in the shipped set; the rest is identical.
        from_set.ClearField("source_code_info")
        assert from_set == generated


def test_descriptor_set_carries_the_comments() -> None:
    shipped = descriptor_pb2.FileDescriptorSet.FromString(ocpp_broker_protos.descriptor_set_bytes())
    contract = [f for f in shipped.file if f.name in ocpp_broker_protos.PROTO_FILES]
    assert all(f.source_code_info.location for f in contract)
    comments = [loc.leading_comments for f in contract for loc in f.source_code_info.location]
    assert any(errors.CENTRAL_SYSTEM_NOT_FOUND in c for c in comments)


def test_the_copy_under_test_is_the_intended_one() -> None:
    # scripts/compat.py sets this when it runs the suite against the built
    # wheel: there the package must come from site-packages, not a checkout.
    here = Path(ocpp_broker_protos.__file__).resolve().parent
    if os.environ.get("OCPP_BROKER_PROTOS_EXPECT_INSTALLED") == "1":
        site = Path(sysconfig.get_paths()["purelib"]).resolve()
        assert here.is_relative_to(site), sys.path
        assert (here / "proto").is_dir()
    else:
        assert (here.parent / "pyproject.toml").is_file()
