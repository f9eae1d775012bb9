"""The pytest plugin as a downstream project uses it: installed, nothing to configure."""

from __future__ import annotations

USER_TESTS = """
from ocpp_broker_protos.central_system.v1.central_system_pb2 import (
    CreateCentralSystemRequest, ListCentralSystemsRequest)
from ocpp_broker_protos.mapping.v1.mapping_pb2 import GetAllMappingsRequest
from ocpp_broker_protos.transaction.v1.transaction_pb2 import GetAllTransactionsRequest
from ocpp_broker_protos.connection.v1.connection_pb2 import ListWorkersRequest


def test_create(ocpp_central_system_stub):
    ocpp_central_system_stub.CreateCentralSystem(CreateCentralSystemRequest(name="A", websocket_url="ws://a"))
    assert len(ocpp_central_system_stub.ListCentralSystems(ListCentralSystemsRequest()).central_systems) == 1


def test_state_is_fresh_for_every_test(ocpp_central_system_stub, ocpp_connection_stub):
    assert list(ocpp_central_system_stub.ListCentralSystems(ListCentralSystemsRequest()).central_systems) == []
    assert list(ocpp_connection_stub.ListWorkers(ListWorkersRequest()).workers) == []


def test_all_stubs_and_the_store(ocpp_server, ocpp_mapping_stub, ocpp_transaction_stub):
    cs = ocpp_server.store.create_central_system("Seeded", "wss://s.example")
    ocpp_server.store.create_mapping("CP-1", cs.id, is_master=True, is_enabled=True)
    assert len(ocpp_mapping_stub.GetAllMappings(GetAllMappingsRequest()).mappings) == 1
    assert ocpp_transaction_stub.GetAllTransactions(GetAllTransactionsRequest()).total_count == 0
"""


def test_a_downstream_suite_gets_a_fresh_server_per_test(pytester):
    pytester.makepyfile(test_downstream=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
