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


SECURED_CONFTEST = """
import pytest

from ocpp_broker_protos import credentials
from ocpp_broker_protos.reference.auth import Tokens

TOKEN = "downstream-admin-0123456789"


@pytest.fixture(scope="session")
def ocpp_server_options(ocpp_test_pki):
    return {"tls_cert": ocpp_test_pki.server_cert, "tls_key": ocpp_test_pki.server_key,
            "tokens": Tokens(admin=[TOKEN])}


@pytest.fixture(scope="session")
def ocpp_channel_credentials(ocpp_test_pki):
    return credentials.channel_credentials(TOKEN, root_certificates=ocpp_test_pki.read("ca_cert"))
"""

SECURED_TESTS = """
import grpc
import pytest

from ocpp_broker_protos import credentials, errors
from ocpp_broker_protos.central_system.v1 import central_system_pb2 as cs_pb
from ocpp_broker_protos.central_system.v1 import central_system_pb2_grpc as cs_grpc
from ocpp_broker_protos.reference.auth import Tokens


def test_the_fixture_channel_presents_the_token(ocpp_server, ocpp_central_system_stub):
    assert ocpp_server.tls and ocpp_server.credentials_required
    ocpp_central_system_stub.CreateCentralSystem(cs_pb.CreateCentralSystemRequest(name="A", websocket_url="ws://a"))


def test_a_client_without_the_token_is_refused(ocpp_server, ocpp_test_pki):
    creds = grpc.ssl_channel_credentials(ocpp_test_pki.read("ca_cert"))
    with grpc.secure_channel(ocpp_server.target, creds) as channel:
        with pytest.raises(grpc.RpcError) as caught:
            cs_grpc.CentralSystemServiceStub(channel).ListCentralSystems(cs_pb.ListCentralSystemsRequest())
    assert errors.reason(caught.value) == errors.CREDENTIALS_MISSING


def test_a_factory_server_with_mutual_tls_and_a_reader(ocpp_server_factory, ocpp_test_pki):
    pki = ocpp_test_pki
    server = ocpp_server_factory(tls_cert=pki.server_cert, tls_key=pki.server_key, client_ca=pki.ca_cert,
                                 tokens=Tokens(admin=["a" * 16], reader=["r" * 16]))
    creds = credentials.channel_credentials("r" * 16, root_certificates=pki.read("ca_cert"),
                                            private_key=pki.read("client_key"),
                                            certificate_chain=pki.read("client_cert"))
    with grpc.secure_channel(server.target, creds) as channel:
        stub = cs_grpc.CentralSystemServiceStub(channel)
        stub.ListCentralSystems(cs_pb.ListCentralSystemsRequest())
        with pytest.raises(grpc.RpcError) as caught:
            stub.DeleteCentralSystem(cs_pb.DeleteCentralSystemRequest(id=1))
    assert errors.reason(caught.value) == errors.READ_ONLY_CREDENTIALS
"""


def test_the_session_server_runs_with_tls_and_tokens_when_a_conftest_says_so(pytester):
    pytester.makeconftest(SECURED_CONFTEST)
    pytester.makepyfile(test_secured=SECURED_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
