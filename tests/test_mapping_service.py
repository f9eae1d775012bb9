"""MappingService through a real channel against the reference server."""

from __future__ import annotations

import functools
import inspect

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from ocpp_broker_protos import errors
from ocpp_broker_protos.conformance.kit import Context
from ocpp_broker_protos.connection.v1.connection_pb2 import CreateConnectionRequest, GetWorkerConnectionsRequest
from ocpp_broker_protos.mapping.v1.mapping_pb2 import (
    CreateMappingRequest,
    DeleteMappingRequest,
    GetAllMappingsRequest,
    Mapping,
    UpdateMappingRequest,
)
from ocpp_broker_protos.reference import Store
from tests.rpc_checks import expect_error, violations

INVALID = grpc.StatusCode.INVALID_ARGUMENT
FAILED = grpc.StatusCode.FAILED_PRECONDITION


@pytest.fixture
def cs_ids(ocpp_server):
    return [ocpp_server.store.create_central_system(f"CS{i}", f"wss://cs{i}.example/ocpp").id for i in range(1, 4)]


def create(stub, station, cs, weight=0, master=False, enabled=True):
    request = CreateMappingRequest(
        station_id=station, central_system_id=cs, weight=weight, is_master=master, is_enabled=enabled
    )
    return stub.CreateMapping(request).mapping


def listed(stub, **filters):
    return [(m.station_id, m.central_system_id) for m in stub.GetAllMappings(GetAllMappingsRequest(**filters)).mappings]


def test_create_returns_the_stored_mapping(ocpp_mapping_stub, cs_ids):
    created = create(ocpp_mapping_stub, "CP-1", cs_ids[0], weight=7, master=True)
    assert created == Mapping(station_id="CP-1", central_system_id=cs_ids[0], weight=7, is_master=True, is_enabled=True)
    assert list(ocpp_mapping_stub.GetAllMappings(GetAllMappingsRequest()).mappings) == [created]


def test_list_is_ordered_by_station_then_central_system_and_filters_combine(ocpp_mapping_stub, cs_ids):
    a, b, c = cs_ids
    for station, cs in [("ZZ", a), ("AA", c), ("AA", a), ("MM", b), ("AA", b), ("ZZ", c)]:
        create(ocpp_mapping_stub, station, cs)
    assert listed(ocpp_mapping_stub) == [("AA", a), ("AA", b), ("AA", c), ("MM", b), ("ZZ", a), ("ZZ", c)]
    assert listed(ocpp_mapping_stub, station_id="AA") == [("AA", a), ("AA", b), ("AA", c)]
    assert listed(ocpp_mapping_stub, central_system_id=c) == [("AA", c), ("ZZ", c)]
    assert listed(ocpp_mapping_stub, station_id="ZZ", central_system_id=b) == []
    assert listed(ocpp_mapping_stub, station_id="NOPE") == []
    assert listed(ocpp_mapping_stub, central_system_id=999) == []


@pytest.mark.parametrize(
    ("station", "cs_offset", "weight", "fields"),
    [
        ("", 0, 0, {"station_id"}),
        ("x" * 49, 0, 0, {"station_id"}),
        ("CP 1", 0, 0, {"station_id"}),
        ("CP/1", 0, 0, {"station_id"}),
        ("CP-é", 0, 0, {"station_id"}),
        ("CP-1", None, 0, {"central_system_id"}),
        ("CP-1", 0, -1, {"weight"}),
        ("", None, -5, {"station_id", "central_system_id", "weight"}),
    ],
)
def test_create_rejects_bad_fields(ocpp_server, ocpp_mapping_stub, cs_ids, station, cs_offset, weight, fields):
    cs = cs_ids[0] if cs_offset == 0 else 0
    expect_error(
        lambda: create(ocpp_mapping_stub, station, cs, weight), INVALID, errors.INVALID_FIELD, fields, ocpp_server
    )


def test_station_id_accepts_the_whole_identifier_alphabet(ocpp_mapping_stub, cs_ids):
    station = "AZaz09*-_=+|@." + "x" * 34
    assert create(ocpp_mapping_stub, station, cs_ids[0]).station_id == station


def test_create_to_unknown_central_system_is_failed_precondition(ocpp_server, ocpp_mapping_stub, cs_ids):
    expect_error(
        lambda: create(ocpp_mapping_stub, "CP-1", 999), FAILED, errors.UNKNOWN_CENTRAL_SYSTEM, server=ocpp_server
    )


def test_create_of_an_existing_key_is_already_exists(ocpp_server, ocpp_mapping_stub, cs_ids):
    create(ocpp_mapping_stub, "CP-1", cs_ids[0])
    expect_error(
        lambda: create(ocpp_mapping_stub, "CP-1", cs_ids[0], weight=3),
        grpc.StatusCode.ALREADY_EXISTS,
        errors.MAPPING_ALREADY_EXISTS,
        server=ocpp_server,
    )


def test_master_rule_on_create(ocpp_server, ocpp_mapping_stub, cs_ids):
    a, b, c = cs_ids
    create(ocpp_mapping_stub, "CP-1", a, master=True)
    expect_error(
        lambda: create(ocpp_mapping_stub, "CP-1", b, master=True),
        FAILED,
        errors.SECOND_ENABLED_MASTER,
        server=ocpp_server,
    )
    # A disabled master does not count; other stations are independent.
    create(ocpp_mapping_stub, "CP-1", b, master=True, enabled=False)
    create(ocpp_mapping_stub, "CP-2", c, master=True)
    create(ocpp_mapping_stub, "CP-1", c, master=False)


def test_master_rule_on_update(ocpp_server, ocpp_mapping_stub, cs_ids):
    a, b, _ = cs_ids
    create(ocpp_mapping_stub, "CP-1", a, master=True)
    create(ocpp_mapping_stub, "CP-1", b, master=True, enabled=False)
    enable = UpdateMappingRequest(
        station_id="CP-1", central_system_id=b, is_enabled=True, update_mask=FieldMask(paths=["is_enabled"])
    )
    expect_error(
        lambda: ocpp_mapping_stub.UpdateMapping(enable), FAILED, errors.SECOND_ENABLED_MASTER, server=ocpp_server
    )
    # Moving the master: demote the first, then enabling the second works.
    demote = UpdateMappingRequest(station_id="CP-1", central_system_id=a, is_master=False, is_enabled=True)
    ocpp_mapping_stub.UpdateMapping(demote)
    assert ocpp_mapping_stub.UpdateMapping(enable).mapping.is_master
    # Updating the master itself never trips the rule.
    keep = UpdateMappingRequest(
        station_id="CP-1", central_system_id=b, weight=9, update_mask=FieldMask(paths=["weight"])
    )
    assert ocpp_mapping_stub.UpdateMapping(keep).mapping.weight == 9


def test_update_without_mask_replaces_all_three(ocpp_mapping_stub, cs_ids):
    create(ocpp_mapping_stub, "CP-1", cs_ids[0], weight=5, master=True)
    request = UpdateMappingRequest(station_id="CP-1", central_system_id=cs_ids[0])
    updated = ocpp_mapping_stub.UpdateMapping(request).mapping
    assert (updated.weight, updated.is_master, updated.is_enabled) == (0, False, False)


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        (["weight"], (9, True, True)),
        (["is_master"], (5, False, True)),
        (["is_enabled", "weight"], (9, True, False)),
        (["*"], (9, False, False)),
    ],
)
def test_update_with_mask(ocpp_mapping_stub, cs_ids, paths, expected):
    create(ocpp_mapping_stub, "CP-1", cs_ids[0], weight=5, master=True)
    request = UpdateMappingRequest(
        station_id="CP-1", central_system_id=cs_ids[0], weight=9, update_mask=FieldMask(paths=paths)
    )
    updated = ocpp_mapping_stub.UpdateMapping(request).mapping
    assert (updated.weight, updated.is_master, updated.is_enabled) == expected
    assert (updated.station_id, updated.central_system_id) == ("CP-1", cs_ids[0])


@pytest.mark.parametrize(
    ("paths", "problem"),
    [
        (["station_id"], "'station_id' names a field that cannot be changed"),
        (["central_system_id"], "'central_system_id' names a field that cannot be changed"),
        (["isMaster"], "'isMaster' is not a field of the request"),
        (["nope"], "'nope' is not a field of the request"),
        (["is_master", "*"], "'*' means every mutable field, so it must be the only path"),
    ],
)
def test_update_with_a_bad_mask_path(ocpp_server, ocpp_mapping_stub, cs_ids, paths, problem):
    create(ocpp_mapping_stub, "CP-1", cs_ids[0])
    request = UpdateMappingRequest(station_id="CP-1", central_system_id=cs_ids[0], update_mask=FieldMask(paths=paths))
    call = functools.partial(ocpp_mapping_stub.UpdateMapping, request)
    error = expect_error(call, INVALID, errors.INVALID_UPDATE_MASK, {"update_mask"}, ocpp_server)
    ((field, description),) = violations(error)
    assert field == "update_mask"
    assert problem in description
    assert description.endswith("weight, is_master, is_enabled"), description


def test_update_rejects_bad_fields_and_unknown_mappings(ocpp_server, ocpp_mapping_stub, cs_ids):
    create(ocpp_mapping_stub, "CP-1", cs_ids[0])
    bad_weight = UpdateMappingRequest(station_id="CP-1", central_system_id=cs_ids[0], weight=-1)
    expect_error(
        lambda: ocpp_mapping_stub.UpdateMapping(bad_weight), INVALID, errors.INVALID_FIELD, {"weight"}, ocpp_server
    )
    # A negative weight outside the mask is ignored, not validated.
    masked = UpdateMappingRequest(
        station_id="CP-1",
        central_system_id=cs_ids[0],
        weight=-1,
        is_master=True,
        update_mask=FieldMask(paths=["is_master"]),
    )
    assert ocpp_mapping_stub.UpdateMapping(masked).mapping.weight == 0
    bad_key = UpdateMappingRequest(station_id="bad id", central_system_id=0)
    expect_error(
        lambda: ocpp_mapping_stub.UpdateMapping(bad_key),
        INVALID,
        errors.INVALID_FIELD,
        {"station_id", "central_system_id"},
        ocpp_server,
    )
    missing = UpdateMappingRequest(station_id="CP-2", central_system_id=cs_ids[0])
    expect_error(
        lambda: ocpp_mapping_stub.UpdateMapping(missing),
        grpc.StatusCode.NOT_FOUND,
        errors.MAPPING_NOT_FOUND,
        server=ocpp_server,
    )


def test_disabling_disconnects_and_deleting_removes_the_connection(
    ocpp_server, ocpp_mapping_stub, ocpp_connection_stub, cs_ids
):
    a = cs_ids[0]
    create(ocpp_mapping_stub, "CP-1", a, master=True)
    create(ocpp_mapping_stub, "CP-2", a)
    ocpp_server.store.create_connection(a, "CP-1")
    ocpp_server.store.create_connection(a, "CP-2")

    def connections():
        found = ocpp_connection_stub.GetWorkerConnections(GetWorkerConnectionsRequest(central_system_id=a)).connections
        return [(c.station_id, c.connected) for c in found]

    disable = UpdateMappingRequest(
        station_id="CP-1", central_system_id=a, is_enabled=False, update_mask=FieldMask(paths=["is_enabled"])
    )
    ocpp_mapping_stub.UpdateMapping(disable)
    assert connections() == [("CP-1", False), ("CP-2", True)]
    ocpp_mapping_stub.DeleteMapping(DeleteMappingRequest(station_id="CP-2", central_system_id=a))
    assert connections() == [("CP-1", False)]
    assert listed(ocpp_mapping_stub) == [("CP-1", a)]


def test_delete_errors(ocpp_server, ocpp_mapping_stub, cs_ids):
    expect_error(
        lambda: ocpp_mapping_stub.DeleteMapping(DeleteMappingRequest(station_id="CP-1", central_system_id=cs_ids[0])),
        grpc.StatusCode.NOT_FOUND,
        errors.MAPPING_NOT_FOUND,
        server=ocpp_server,
    )
    expect_error(
        lambda: ocpp_mapping_stub.DeleteMapping(DeleteMappingRequest(station_id="", central_system_id=-3)),
        INVALID,
        errors.INVALID_FIELD,
        {"station_id", "central_system_id"},
        ocpp_server,
    )


@pytest.mark.parametrize(
    ("filters", "fields"),
    [({"station_id": "bad id"}, {"station_id"}), ({"central_system_id": -1}, {"central_system_id"})],
)
def test_list_rejects_bad_filters(ocpp_server, ocpp_mapping_stub, filters, fields):
    expect_error(
        lambda: ocpp_mapping_stub.GetAllMappings(GetAllMappingsRequest(**filters)),
        INVALID,
        errors.INVALID_FIELD,
        fields,
    )


def test_a_mapping_created_without_is_enabled_is_disabled_over_the_wire_and_in_python(
    ocpp_server, ocpp_mapping_stub, ocpp_connection_stub, cs_ids
):
    a = cs_ids[0]
    request = CreateMappingRequest(station_id="CP-1", central_system_id=a)
    over_the_wire = ocpp_mapping_stub.CreateMapping(request).mapping
    in_python = ocpp_server.store.create_mapping("CP-2", a)
    for created in (over_the_wire, in_python):
        assert (created.weight, created.is_master, created.is_enabled) == (0, False, False)
    # Every default of the Python API is the wire's default for the field it sets.
    wire = CreateMappingRequest()
    for function in (Store.create_mapping, Context.new_mapping):
        parameters = inspect.signature(function).parameters
        for name in ("weight", "is_master", "is_enabled"):
            assert parameters[name].default == getattr(wire, name), (function.__qualname__, name)
    # So a station seeded either way is refused a connection alike.
    for station in ("CP-1", "CP-2"):
        connect = CreateConnectionRequest(central_system_id=a, station_id=station)
        expect_error(
            functools.partial(ocpp_connection_stub.CreateConnection, connect),
            FAILED,
            errors.NO_ENABLED_MAPPING,
            server=ocpp_server,
        )
