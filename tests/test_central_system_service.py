"""CentralSystemService through a real channel against the reference server."""

from __future__ import annotations

import functools

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from ocpp_broker_protos import errors
from ocpp_broker_protos.central_system.v1.central_system_pb2 import (
    CentralSystem,
    CreateCentralSystemRequest,
    DeleteCentralSystemRequest,
    GetCentralSystemRequest,
    ListCentralSystemsRequest,
    UpdateCentralSystemRequest,
)
from ocpp_broker_protos.connection.v1.connection_pb2 import GetWorkerRequest, ListWorkersRequest
from ocpp_broker_protos.mapping.v1.mapping_pb2 import GetAllMappingsRequest
from ocpp_broker_protos.transaction.v1.transaction_pb2 import GetAllTransactionsRequest, Transaction
from tests.rpc_checks import expect_error, violations

INVALID = grpc.StatusCode.INVALID_ARGUMENT
URL = "wss://csms.example/ocpp"


def create(stub, name="Main", url=URL, description=""):
    request = CreateCentralSystemRequest(name=name, websocket_url=url, description=description)
    return stub.CreateCentralSystem(request).central_system


def test_create_assigns_increasing_ids_and_get_returns_the_stored_copy(ocpp_central_system_stub):
    first = create(ocpp_central_system_stub, "A", description="first")
    second = create(ocpp_central_system_stub, "B", "ws://10.0.0.1:9000/path?x=1")
    assert first == CentralSystem(id=first.id, name="A", websocket_url=URL, description="first")
    assert second.id > first.id > 0
    got = ocpp_central_system_stub.GetCentralSystem(GetCentralSystemRequest(id=second.id))
    assert got.central_system == second


def test_list_is_ordered_by_id(ocpp_central_system_stub):
    created = [create(ocpp_central_system_stub, name) for name in ("zulu", "alpha", "mike")]
    listed = ocpp_central_system_stub.ListCentralSystems(ListCentralSystemsRequest()).central_systems
    assert list(listed) == sorted(created, key=lambda cs: cs.id)


def test_ids_are_never_reused(ocpp_central_system_stub):
    first = create(ocpp_central_system_stub, "A")
    ocpp_central_system_stub.DeleteCentralSystem(DeleteCentralSystemRequest(id=first.id))
    assert create(ocpp_central_system_stub, "A").id > first.id


@pytest.mark.parametrize(
    ("name", "url", "description", "fields"),
    [
        ("", URL, "", {"name"}),
        ("   ", URL, "", {"name"}),
        ("x" * 129, URL, "", {"name"}),
        ("ok", "", "", {"websocket_url"}),
        ("ok", "http://csms.example/ocpp", "", {"websocket_url"}),
        ("ok", "wss:///no-host", "", {"websocket_url"}),
        ("ok", "csms.example/ocpp", "", {"websocket_url"}),
        ("ok", "wss://user:secret@csms.example/ocpp", "", {"websocket_url"}),
        ("ok", "wss://csms.example/ocpp#frag", "", {"websocket_url"}),
        ("ok", "wss://csms.example:99999/", "", {"websocket_url"}),
        ("ok", "wss://csms.example/" + "a" * 500, "", {"websocket_url"}),
        ("ok", "wss://csms.example/a b", "", {"websocket_url"}),
        ("ok", URL, "d" * 1025, {"description"}),
        ("", "ftp://x", "d" * 1025, {"name", "websocket_url", "description"}),
    ],
)
def test_create_rejects_bad_fields(ocpp_server, ocpp_central_system_stub, name, url, description, fields):
    expect_error(
        lambda: create(ocpp_central_system_stub, name, url, description),
        INVALID,
        errors.INVALID_FIELD,
        fields,
        ocpp_server,
    )


def test_limits_are_inclusive(ocpp_central_system_stub):
    url = "wss://csms.example/" + "a" * (512 - len("wss://csms.example/"))
    created = create(ocpp_central_system_stub, "n" * 128, url, "d" * 1024)
    assert (len(created.name), len(created.websocket_url), len(created.description)) == (128, 512, 1024)
    assert create(ocpp_central_system_stub, "Ünïcødé 🚗", "WSS://Host.Example").name == "Ünïcødé 🚗"


def test_duplicate_name_is_already_exists(ocpp_server, ocpp_central_system_stub):
    create(ocpp_central_system_stub, "Main")
    expect_error(
        lambda: create(ocpp_central_system_stub, "Main"),
        grpc.StatusCode.ALREADY_EXISTS,
        errors.CENTRAL_SYSTEM_ALREADY_EXISTS,
        server=ocpp_server,
    )
    assert create(ocpp_central_system_stub, "main").name == "main"  # names compare case-sensitively


@pytest.mark.parametrize("rpc", ["get", "update", "delete"])
def test_unknown_id_is_not_found_and_non_positive_is_invalid(ocpp_server, ocpp_central_system_stub, rpc):
    calls = {
        "get": lambda i: ocpp_central_system_stub.GetCentralSystem(GetCentralSystemRequest(id=i)),
        "update": lambda i: ocpp_central_system_stub.UpdateCentralSystem(
            UpdateCentralSystemRequest(id=i, name="n", websocket_url=URL)
        ),
        "delete": lambda i: ocpp_central_system_stub.DeleteCentralSystem(DeleteCentralSystemRequest(id=i)),
    }
    create(ocpp_central_system_stub, "exists")
    expect_error(
        lambda: calls[rpc](404), grpc.StatusCode.NOT_FOUND, errors.CENTRAL_SYSTEM_NOT_FOUND, server=ocpp_server
    )
    for bad in (0, -1, -(2**31)):
        expect_error(functools.partial(calls[rpc], bad), INVALID, errors.INVALID_FIELD, {"id"}, ocpp_server)


def test_update_without_mask_replaces_all_three_fields(ocpp_central_system_stub):
    cs = create(ocpp_central_system_stub, "Old", description="old")
    request = UpdateCentralSystemRequest(id=cs.id, name="New", websocket_url="ws://new.example")
    updated = ocpp_central_system_stub.UpdateCentralSystem(request).central_system
    assert updated == CentralSystem(id=cs.id, name="New", websocket_url="ws://new.example", description="")
    got = ocpp_central_system_stub.GetCentralSystem(GetCentralSystemRequest(id=cs.id)).central_system
    assert got == updated


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        (["description"], ("Old", URL, "new")),
        (["name"], ("New", URL, "old")),
        (["websocket_url", "name"], ("New", "ws://new.example", "old")),
        (["*"], ("New", "ws://new.example", "new")),
        ([], ("New", "ws://new.example", "new")),
    ],
)
def test_update_with_mask_replaces_only_the_listed_paths(ocpp_central_system_stub, paths, expected):
    cs = create(ocpp_central_system_stub, "Old", description="old")
    request = UpdateCentralSystemRequest(
        id=cs.id, name="New", websocket_url="ws://new.example", description="new", update_mask=FieldMask(paths=paths)
    )
    updated = ocpp_central_system_stub.UpdateCentralSystem(request).central_system
    assert (updated.name, updated.websocket_url, updated.description) == expected


def test_update_with_mask_ignores_and_does_not_validate_unlisted_fields(ocpp_central_system_stub):
    cs = create(ocpp_central_system_stub, "Keep")
    request = UpdateCentralSystemRequest(
        id=cs.id, description="only this", update_mask=FieldMask(paths=["description"])
    )
    updated = ocpp_central_system_stub.UpdateCentralSystem(request).central_system
    assert (updated.name, updated.websocket_url, updated.description) == ("Keep", URL, "only this")


@pytest.mark.parametrize("path", ["id", "unknown", "central_system.name", "Name", ""])
def test_update_with_a_bad_mask_path_is_invalid(ocpp_server, ocpp_central_system_stub, path):
    cs = create(ocpp_central_system_stub, "Main")
    request = UpdateCentralSystemRequest(id=cs.id, name="x", update_mask=FieldMask(paths=["name", path]))
    expect_error(
        lambda: ocpp_central_system_stub.UpdateCentralSystem(request),
        INVALID,
        errors.INVALID_UPDATE_MASK,
        {"update_mask"},
        ocpp_server,
    )


@pytest.mark.parametrize(
    ("paths", "problems"),
    [
        (["*", "name"], ["'*' means every mutable field, so it must be the only path"]),
        (["id"], ["'id' names a field that cannot be changed"]),
        (["nope"], ["'nope' is not a field of the request"]),
        (
            ["id", "name", "nope", "*"],
            ["'id' names a field that cannot be changed", "'nope' is not a field", "'*' means every mutable field"],
        ),
    ],
)
def test_a_bad_mask_says_what_is_wrong_with_each_path(ocpp_server, ocpp_central_system_stub, paths, problems):
    cs = create(ocpp_central_system_stub, "Main")
    request = UpdateCentralSystemRequest(id=cs.id, name="x", update_mask=FieldMask(paths=paths))
    error = expect_error(
        lambda: ocpp_central_system_stub.UpdateCentralSystem(request),
        INVALID,
        errors.INVALID_UPDATE_MASK,
        {"update_mask"},
        ocpp_server,
    )
    found = violations(error)
    assert len(found) == len(problems), found
    for (field, description), problem in zip(found, problems, strict=True):
        assert field == "update_mask"
        assert problem in description, description
        assert "unknown path '*'" not in description
        assert description.endswith("name, websocket_url, description"), description


def test_update_validates_the_replaced_fields(ocpp_server, ocpp_central_system_stub):
    cs = create(ocpp_central_system_stub, "Main")
    request = UpdateCentralSystemRequest(id=cs.id, name="ok", websocket_url="http://x")
    expect_error(
        lambda: ocpp_central_system_stub.UpdateCentralSystem(request),
        INVALID,
        errors.INVALID_FIELD,
        {"websocket_url"},
        ocpp_server,
    )


def test_rename_to_a_taken_name_is_already_exists_and_to_its_own_name_is_fine(
    ocpp_server, ocpp_central_system_stub, ocpp_connection_stub
):
    a = create(ocpp_central_system_stub, "A")
    create(ocpp_central_system_stub, "B")
    rename = UpdateCentralSystemRequest(id=a.id, name="B", update_mask=FieldMask(paths=["name"]))
    expect_error(
        lambda: ocpp_central_system_stub.UpdateCentralSystem(rename),
        grpc.StatusCode.ALREADY_EXISTS,
        errors.CENTRAL_SYSTEM_ALREADY_EXISTS,
        server=ocpp_server,
    )
    same = UpdateCentralSystemRequest(id=a.id, name="A", websocket_url="ws://other.example")
    assert ocpp_central_system_stub.UpdateCentralSystem(same).central_system.websocket_url == "ws://other.example"
    # The old name is free again after a rename, and the worker follows it.
    renamed = UpdateCentralSystemRequest(id=a.id, name="A2", update_mask=FieldMask(paths=["name"]))
    ocpp_central_system_stub.UpdateCentralSystem(renamed)
    assert ocpp_connection_stub.GetWorker(GetWorkerRequest(central_system_id=a.id)).worker.central_system_name == "A2"
    assert create(ocpp_central_system_stub, "A").name == "A"


def test_delete_refuses_while_referenced_unless_forced(
    ocpp_server, ocpp_central_system_stub, ocpp_mapping_stub, ocpp_connection_stub, ocpp_transaction_stub
):
    cs = create(ocpp_central_system_stub, "Main")
    other = create(ocpp_central_system_stub, "Other")
    store = ocpp_server.store
    store.create_mapping("CP-1", cs.id, is_master=True, is_enabled=True)
    store.create_mapping("CP-2", cs.id, is_enabled=True)
    store.create_mapping("CP-1", other.id, is_enabled=True)
    store.create_connection(cs.id, "CP-1")
    started = Transaction(id="T1", station_id="CP-1", connector_id="1", central_system_id=cs.id)
    started.started_at.FromSeconds(1_700_000_000)
    store.add_transaction(started)

    expect_error(
        lambda: ocpp_central_system_stub.DeleteCentralSystem(DeleteCentralSystemRequest(id=cs.id)),
        grpc.StatusCode.FAILED_PRECONDITION,
        errors.CENTRAL_SYSTEM_IN_USE,
        server=ocpp_server,
    )
    ocpp_central_system_stub.DeleteCentralSystem(DeleteCentralSystemRequest(id=cs.id, force=True))

    remaining = ocpp_mapping_stub.GetAllMappings(GetAllMappingsRequest()).mappings
    assert [(m.station_id, m.central_system_id) for m in remaining] == [("CP-1", other.id)]
    workers = ocpp_connection_stub.ListWorkers(ListWorkersRequest()).workers
    assert [w.central_system_id for w in workers] == [other.id]
    page = ocpp_transaction_stub.GetAllTransactions(GetAllTransactionsRequest())
    assert [t.id for t in page.transactions] == ["T1"]  # history stays
    expect_error(
        lambda: ocpp_central_system_stub.GetCentralSystem(GetCentralSystemRequest(id=cs.id)),
        grpc.StatusCode.NOT_FOUND,
        errors.CENTRAL_SYSTEM_NOT_FOUND,
    )


def test_unreferenced_delete_needs_no_force(ocpp_central_system_stub):
    cs = create(ocpp_central_system_stub, "Main")
    ocpp_central_system_stub.DeleteCentralSystem(DeleteCentralSystemRequest(id=cs.id))
    assert not ocpp_central_system_stub.ListCentralSystems(ListCentralSystemsRequest()).central_systems
