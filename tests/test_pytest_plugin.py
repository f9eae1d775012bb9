"""The pytest plugin as a downstream project uses it: installed, nothing to configure."""

from __future__ import annotations

import json
import re

import pytest

from tests import downstream_pytest

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
    result = pytester.runpytest_subprocess(*downstream_pytest.ARGS)
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


@pytest.mark.asyncio
async def test_the_aio_fixture_channel_presents_the_token_too(ocpp_server, ocpp_aio_central_system_stub):
    assert ocpp_server.credentials_required
    await ocpp_aio_central_system_stub.CreateCentralSystem(
        cs_pb.CreateCentralSystemRequest(name="B", websocket_url="ws://b"))


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
    result = pytester.runpytest_subprocess(*downstream_pytest.ARGS)
    result.assert_outcomes(passed=4)


AIO_TESTS = """
import asyncio

import grpc
import pytest

from ocpp_broker_protos.central_system.v1.central_system_pb2 import (
    CreateCentralSystemRequest, GetCentralSystemRequest, ListCentralSystemsRequest)
from ocpp_broker_protos.connection.v1.connection_pb2 import ListWorkersRequest
from ocpp_broker_protos.mapping.v1.mapping_pb2 import GetAllMappingsRequest
from ocpp_broker_protos.transaction.v1.transaction_pb2 import GetAllTransactionsRequest


@pytest.mark.asyncio
async def test_create_concurrently(ocpp_aio_central_system_stub):
    await asyncio.gather(*(
        ocpp_aio_central_system_stub.CreateCentralSystem(
            CreateCentralSystemRequest(name=f"cs{i}", websocket_url="ws://a"))
        for i in range(10)
    ))
    listed = await ocpp_aio_central_system_stub.ListCentralSystems(ListCentralSystemsRequest())
    assert len(listed.central_systems) == 10
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await ocpp_aio_central_system_stub.GetCentralSystem(GetCentralSystemRequest(id=999))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.asyncio
async def test_fresh_state_and_every_stub(
    ocpp_server, ocpp_aio_channel, ocpp_aio_central_system_stub, ocpp_aio_connection_stub,
    ocpp_aio_mapping_stub, ocpp_aio_transaction_stub,
):
    assert isinstance(ocpp_aio_channel, grpc.aio.Channel)
    listed = await ocpp_aio_central_system_stub.ListCentralSystems(ListCentralSystemsRequest())
    assert list(listed.central_systems) == []
    cs = ocpp_server.store.create_central_system("Seeded", "wss://s.example")
    ocpp_server.store.create_mapping("CP-1", cs.id, is_master=True)
    assert len((await ocpp_aio_mapping_stub.GetAllMappings(GetAllMappingsRequest())).mappings) == 1
    assert len((await ocpp_aio_connection_stub.ListWorkers(ListWorkersRequest())).workers) == 1
    assert (await ocpp_aio_transaction_stub.GetAllTransactions(GetAllTransactionsRequest())).total_count == 0


def test_sync_and_aio_fixtures_live_side_by_side(ocpp_central_system_stub):
    assert list(ocpp_central_system_stub.ListCentralSystems(ListCentralSystemsRequest()).central_systems) == []
"""


def test_asyncio_fixtures_under_pytest_asyncio_defaults(pytester):
    pytester.makepyfile(test_aio=AIO_TESTS)
    result = pytester.runpytest_subprocess(*downstream_pytest.ARGS)
    result.assert_outcomes(passed=3)


def test_without_pytest_asyncio_only_the_aio_fixtures_say_to_install_it(pytester):
    pytester.makepyfile(
        test_plain=USER_TESTS
        + """

import sys


def test_pytest_asyncio_was_never_imported():
    assert "pytest_asyncio" not in sys.modules


def test_aio(ocpp_aio_central_system_stub):
    pass
"""
    )
    result = pytester.runpytest_subprocess(*downstream_pytest.WITHOUT_ASYNCIO)
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(["*the ocpp_aio_* fixtures need pytest-asyncio: pip install pytest-asyncio*"])


FIXTURE_FILE = {
    "central_systems": [{"id": 7, "name": "From file", "websocket_url": "wss://file.example/ocpp"}],
    "mappings": [{"station_id": "CP-9", "central_system_id": 7, "is_master": True, "is_enabled": True}],
}

LOAD_TESTS = """
import pathlib

import pytest

from ocpp_broker_protos.central_system.v1.central_system_pb2 import ListCentralSystemsRequest
from ocpp_broker_protos.mapping.v1.mapping_pb2 import GetAllMappingsRequest
from ocpp_broker_protos.reference import FixtureError

HERE = pathlib.Path(__file__).parent


def test_1_loads_into_the_running_server(ocpp_server, ocpp_central_system_stub, ocpp_mapping_stub):
    ocpp_server.store.create_central_system("Replaced", "wss://gone.example")
    ocpp_server.load_fixtures(HERE / "fixtures.json")
    listed = ocpp_central_system_stub.ListCentralSystems(ListCentralSystemsRequest()).central_systems
    assert [(cs.id, cs.name) for cs in listed] == [(7, "From file")]
    assert [m.station_id for m in ocpp_mapping_stub.GetAllMappings(GetAllMappingsRequest()).mappings] == ["CP-9"]
    # Ids go on after the file's, as after serve --fixtures.
    assert ocpp_server.store.create_central_system("Next", "wss://n.example").id == 8


def test_2_the_next_test_starts_empty(ocpp_central_system_stub):
    assert not ocpp_central_system_stub.ListCentralSystems(ListCentralSystemsRequest()).central_systems


def test_3_a_bad_file_changes_nothing(ocpp_server):
    ocpp_server.store.create_central_system("Kept", "wss://k.example")
    before = ocpp_server.store.snapshot()
    with pytest.raises(FixtureError, match=r"bad.json: central_systems\\[0\\].websocket_url"):
        ocpp_server.load_fixtures(HERE / "bad.json")
    assert ocpp_server.store.snapshot() == before
"""


def test_ocpp_server_load_fixtures_loads_a_file_into_the_session_server(pytester):
    pytester.makefile(".json", fixtures=json.dumps(FIXTURE_FILE))
    pytester.makefile(
        ".json", bad=json.dumps({"central_systems": [{"id": 1, "name": "A", "websocket_url": "http://a"}]})
    )
    pytester.makepyfile(test_load=LOAD_TESTS)
    result = pytester.runpytest_subprocess(*downstream_pytest.ARGS)
    result.assert_outcomes(passed=3)


OUR_FIXTURES = [
    "ocpp_reference_server",
    "ocpp_server",
    "ocpp_channel",
    *(f"ocpp_{service}_stub" for service in ("central_system", "connection", "mapping", "transaction")),
    "ocpp_aio_channel",
    *(f"ocpp_aio_{service}_stub" for service in ("central_system", "connection", "mapping", "transaction")),
]


@pytest.mark.parametrize("args", [downstream_pytest.ARGS, downstream_pytest.WITHOUT_ASYNCIO], ids=["aio", "no-aio"])
def test_every_fixture_is_documented_in_pytest_fixtures(pytester, args):
    result = pytester.runpytest_subprocess(*args, "--fixtures")
    lines = result.stdout.lines
    for name in OUR_FIXTURES:
        (index,) = [i for i, line in enumerate(lines) if re.match(rf"{name}( \[session scope\])? -- ", line)]
        docstring = lines[index + 1].strip()
        assert docstring, name
        assert "no docstring available" not in docstring, name


def test_ocpp_server_without_the_server_extra_says_to_install_it(pytester):
    # As without the extra: the health-checking package has no grpc_health.v1.
    pytester.mkpydir("grpc_health")
    pytester.makepyfile(
        test_needs_server="""
def test_uses_the_server(ocpp_server):
    pass


def test_needs_nothing():
    pass
"""
    )
    result = pytester.runpytest_subprocess(*downstream_pytest.ARGS)
    result.assert_outcomes(passed=1, errors=1)
    output = result.stdout.str()
    assert (
        "the ocpp_server fixture needs the [server] extra: pip install 'ocpp-broker-protos[server]' "
        "(No module named 'grpc_health.v1')"
    ) in output
    assert "Traceback" not in output
    assert "ModuleNotFoundError" not in output
