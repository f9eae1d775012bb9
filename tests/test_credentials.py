"""Who may call the reference server: tokens, roles, mutual TLS, hostile headers, the access log."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from ocpp_broker_protos import credentials, errors
from ocpp_broker_protos.central_system.v1 import central_system_pb2 as cs_pb
from ocpp_broker_protos.central_system.v1 import central_system_pb2_grpc as cs_grpc
from ocpp_broker_protos.conformance import Credentials
from ocpp_broker_protos.conformance.cases.credentials import Scene, call, request_for, requests, set_scene
from ocpp_broker_protos.conformance.kit import Context
from ocpp_broker_protos.reference import ReferenceServer
from ocpp_broker_protos.reference.auth import Tokens
from ocpp_broker_protos.testing.certificates import TestPki, make_test_pki
from tests.raw_http2 import raw_unary_call
from tests.rpc_checks import expect_error

ADMIN = "admin-3f9c0e6b1d2a4c5e8f7a9b0c"
READER = "reader-0a1b2c3d4e5f60718293a4b5"
WRONG = "wrong-0000000000000000000000000"
SECRETS = (ADMIN, READER, WRONG)
METHODS = credentials.admin_methods()
IDS = [m.name for m in METHODS]


@pytest.fixture(scope="module")
def access_log() -> io.StringIO:
    return io.StringIO()


@pytest.fixture(scope="module")
def guarded(access_log: io.StringIO) -> Iterator[ReferenceServer]:
    with ReferenceServer(tokens=Tokens([ADMIN], [READER]), access_log=access_log) as server:
        yield server


@pytest.fixture(scope="module")
def channel(guarded: ReferenceServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(guarded.target) as opened:
        yield opened


@pytest.fixture
def scene(channel: grpc.Channel) -> Iterator[tuple[Scene, Context]]:
    """Objects every write below would change, made with the admin token and removed afterwards."""
    context = Context(channel, credentials=Credentials(token=ADMIN))
    try:
        yield set_scene(context), context
    finally:
        context.cleanup()


def _no_secret_in(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def _refused(server, channel, method, request, metadata, code, reason):
    stub = channel.unary_unary(
        f"/{method.containing_service.full_name}/{method.name}",
        request_serializer=type(request).SerializeToString,
    )
    error = expect_error(lambda: stub(request, metadata=metadata, timeout=10), code, reason, server=server)
    _no_secret_in(error.details() or "")
    _no_secret_in(repr(error.trailing_metadata()))


def test_reads_are_the_get_list_and_getall_rpcs_of_the_descriptors():
    reads = {m.name for m in METHODS if credentials.is_read(m.name)}
    assert reads == {
        "GetCentralSystem",
        "ListCentralSystems",
        "ListWorkers",
        "GetWorker",
        "GetWorkerConnections",
        "GetAllMappings",
        "GetAllTransactions",
    }
    assert len(METHODS) == 16
    assert credentials.is_read("/ocpp_broker_protos.mapping.v1.MappingService/GetAllMappings")
    assert not credentials.is_read("/ocpp_broker_protos.mapping.v1.MappingService/DeleteMapping")


def test_the_sample_requests_cover_every_rpc():
    assert set(requests(Scene(1, 2, "A", "B", "n", "C"))) == set(IDS)


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_every_rpc_without_credentials_is_refused_and_changes_nothing(method, guarded, channel, scene):
    request = request_for(requests(scene[0]), method)
    _refused(guarded, channel, method, request, (), grpc.StatusCode.UNAUTHENTICATED, errors.CREDENTIALS_MISSING)


WRONG_HEADERS = {
    "unknown token": f"Bearer {WRONG}",
    "admin token one character off": f"Bearer {ADMIN[:-1]}x",
    "admin token prefix": f"Bearer {ADMIN[:-1]}",
    "another scheme": f"Basic {ADMIN}",
    "scheme alone": "Bearer",
    "token without scheme": ADMIN,
    "empty": "",
}


@pytest.mark.parametrize("method", METHODS, ids=IDS)
@pytest.mark.parametrize("header", sorted(WRONG_HEADERS))
def test_every_rpc_with_wrong_credentials_is_refused_and_changes_nothing(method, header, guarded, channel, scene):
    request = request_for(requests(scene[0]), method)
    metadata = ((credentials.AUTHORIZATION, WRONG_HEADERS[header]),)
    _refused(guarded, channel, method, request, metadata, grpc.StatusCode.UNAUTHENTICATED, errors.CREDENTIALS_INVALID)


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_reader_reads_and_every_write_is_permission_denied(method, guarded, channel, scene):
    request = request_for(requests(scene[0]), method)
    metadata = credentials.bearer_metadata(READER)
    if credentials.is_read(method.name):
        stub = channel.unary_unary(
            f"/{method.containing_service.full_name}/{method.name}", request_serializer=type(request).SerializeToString
        )
        stub(request, metadata=metadata, timeout=10)
    else:
        _refused(
            guarded,
            channel,
            method,
            request,
            metadata,
            grpc.StatusCode.PERMISSION_DENIED,
            errors.READ_ONLY_CREDENTIALS,
        )


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_admin_may_call_every_rpc(method, channel, scene):
    admin = Context(channel, credentials=Credentials(token=ADMIN)).channel_as(ADMIN)
    before = scene[1].central_systems.ListCentralSystems(cs_pb.ListCentralSystemsRequest())
    call(admin, method, request_for(requests(scene[0]), method))
    after = scene[1].central_systems.ListCentralSystems(cs_pb.ListCentralSystemsRequest())
    if method.name in {"CreateCentralSystem", "DeleteCentralSystem"}:
        assert after != before  # the write went through


def test_scheme_is_case_insensitive(channel):
    stub = cs_grpc.CentralSystemServiceStub(channel)
    for scheme in ("bearer", "BEARER", "Bearer  "):
        stub.ListCentralSystems(
            cs_pb.ListCentralSystemsRequest(), metadata=(("authorization", f"{scheme} {ADMIN}"),), timeout=10
        )


def test_refusal_comes_before_validation_and_parsing(guarded, channel):
    stub = cs_grpc.CentralSystemServiceStub(channel)
    invalid = cs_pb.CreateCentralSystemRequest(name="", websocket_url="http://not-ws")
    expect_error(
        lambda: stub.CreateCentralSystem(invalid, timeout=10),
        grpc.StatusCode.UNAUTHENTICATED,
        errors.CREDENTIALS_MISSING,
        server=guarded,
    )
    garbage = channel.unary_unary("/ocpp_broker_protos.central_system.v1.CentralSystemService/CreateCentralSystem")
    expect_error(
        lambda: garbage(b"\xff\xff\xff", timeout=10),
        grpc.StatusCode.UNAUTHENTICATED,
        errors.CREDENTIALS_MISSING,
        server=guarded,
    )


def test_health_and_reflection_need_no_credentials(guarded, channel):
    health = health_pb2_grpc.HealthStub(channel)
    assert health.Check(health_pb2.HealthCheckRequest(), timeout=10).status == health_pb2.HealthCheckResponse.SERVING
    service = "ocpp_broker_protos.central_system.v1.CentralSystemService"
    assert health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10).status == 1
    reflect = reflection_pb2_grpc.ServerReflectionStub(channel)
    answers = list(reflect.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
    names = {s.name for s in answers[0].list_services_response.service}
    assert service in names


# -- hostile authorization headers ------------------------------------------------

LIST = "/ocpp_broker_protos.central_system.v1.CentralSystemService/ListCentralSystems"
DELETE = "/ocpp_broker_protos.central_system.v1.CentralSystemService/DeleteCentralSystem"

HOSTILE = {
    "huge": [(b"authorization", b"Bearer " + b"x" * 8000)],
    "huge, the admin token at its end": [(b"authorization", b"Bearer " + b"x" * 8000 + ADMIN.encode())],
    "binary": [(b"authorization", bytes(range(256)))],
    "non-ASCII after the scheme": [(b"authorization", b"Bearer \xc3\xa9" + ADMIN.encode())],
    "control characters": [(b"authorization", b"Bearer " + ADMIN.encode() + b"\r\n\x00")],
    "two values, one of them valid": [(b"authorization", b"Bearer " + ADMIN.encode()), (b"authorization", b"x")],
    "the admin token twice": [(b"authorization", b"Bearer " + ADMIN.encode())] * 2,
    "many values": [(b"authorization", b"Bearer " + str(n).encode() * 20) for n in range(200)],
    "scheme and a space only": [(b"authorization", b"Bearer ")],
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_authorization_header_is_unauthenticated_never_internal(name, guarded):
    before = guarded.store.snapshot()
    answer = raw_unary_call(
        guarded.target, DELETE, HOSTILE[name], cs_pb.DeleteCentralSystemRequest(id=1).SerializeToString()
    )
    assert answer.get("grpc-status") == b"16", answer  # UNAUTHENTICATED
    encoded = answer["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(base64.b64decode(encoded + b"=" * (-len(encoded) % 4)))
    assert status.code == grpc.StatusCode.UNAUTHENTICATED.value[0]
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert (info.domain, info.reason) == (errors.DOMAIN, errors.CREDENTIALS_INVALID)
    assert guarded.store.snapshot() == before
    for secret in SECRETS:
        assert secret.encode() not in b"".join(answer.values())


def test_a_binary_authorization_key_is_no_credential(guarded):
    answer = raw_unary_call(guarded.target, LIST, [(b"authorization-bin", b"AAEC")])
    assert answer.get("grpc-status") == b"16", answer


def test_a_header_past_grpcs_metadata_limit_is_refused_by_the_transport(guarded, channel):
    # gRPC refuses the call before the server's code sees it: RESOURCE_EXHAUSTED, not INTERNAL.
    stub = cs_grpc.CentralSystemServiceStub(channel)
    before = guarded.store.snapshot()
    with pytest.raises(grpc.RpcError) as caught:
        stub.DeleteCentralSystem(
            cs_pb.DeleteCentralSystemRequest(id=1), metadata=(("authorization", "Bearer " + "x" * 100_000),), timeout=10
        )
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert guarded.store.snapshot() == before


# -- tokens -------------------------------------------------------------------------


def test_every_known_token_is_compared_whatever_matches(monkeypatch):
    import hmac

    tokens = Tokens([ADMIN, "a" * 16, "b" * 16], [READER])
    compared = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append(1)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    for presented in (ADMIN, READER, WRONG, "b" * 16):
        compared.clear()
        tokens.role_of(presented)
        assert len(compared) == 4
    assert (tokens.role_of(ADMIN), tokens.role_of(READER), tokens.role_of(WRONG)) == ("admin", "reader", None)


def test_tokens_never_show_in_a_repr():
    tokens = Tokens([ADMIN], [READER])
    assert repr(tokens) == "Tokens(1 admin, 1 reader)"
    _no_secret_in(repr(Credentials(ADMIN, READER)))


GOOD_FILE = f"""
# operators
admin {ADMIN}   # trailing comment
   reader\t{READER}

"""

BAD_FILES = {
    "owner TOKEN": "tokens.txt:1: the role must be 'admin' or 'reader', not 'owner'",
    "# fine\nadmin": "tokens.txt:2: no token after the role",
    f"admin {ADMIN} extra": "tokens.txt:1: more than one token on the line",
    "admin short": "tokens.txt:1: a token is 16 to 512 characters long, this one 5",
    f"admin {'x' * 513}": "tokens.txt:1: a token is 16 to 512 characters long, this one 513",
    f"admin {ADMIN}\nreader {ADMIN}": "tokens.txt:2: the same token as on line 1",
    "admin tökentökentökentöken": "tokens.txt:1: a token is visible ASCII characters without spaces",
    "# nothing\n\n": "tokens.txt: no token in the file",
}


def test_a_token_file_with_comments_and_blank_lines(tmp_path):
    path = tmp_path / "tokens.txt"
    path.write_text(GOOD_FILE)
    tokens = Tokens.from_file(path)
    assert (tokens.role_of(ADMIN), tokens.role_of(READER), len(tokens)) == ("admin", "reader", 2)


@pytest.mark.parametrize("text", sorted(BAD_FILES))
def test_a_malformed_token_file_is_named_with_line_and_problem(text, tmp_path):
    from ocpp_broker_protos.reference.auth import TokenFileError

    path = tmp_path / "tokens.txt"
    path.write_text(text)
    with pytest.raises(TokenFileError) as caught:
        Tokens.from_file(path)
    message = str(caught.value)
    assert message.startswith(str(tmp_path))
    assert message.endswith(BAD_FILES[text]) or BAD_FILES[text] in message
    _no_secret_in(message)


def test_an_unreadable_or_binary_token_file(tmp_path):
    from ocpp_broker_protos.reference.auth import TokenFileError

    with pytest.raises(TokenFileError, match="cannot read"):
        Tokens.from_file(tmp_path / "missing")
    (tmp_path / "binary").write_bytes(b"\xff\xfe")
    with pytest.raises(TokenFileError, match="not UTF-8"):
        Tokens.from_file(tmp_path / "binary")


# -- the access log --------------------------------------------------------------


def test_the_access_log_has_one_json_line_per_call_and_no_secret(access_log):
    server_log = io.StringIO()
    with (
        ReferenceServer(tokens=Tokens([ADMIN], [READER]), access_log=server_log) as server,
        grpc.insecure_channel(server.target) as opened,
    ):
        stub = cs_grpc.CentralSystemServiceStub(opened)
        stub.CreateCentralSystem(
            cs_pb.CreateCentralSystemRequest(name="Main", websocket_url="wss://a.example"),
            metadata=credentials.bearer_metadata(ADMIN),
        )
        for token in (None, WRONG, READER):
            with pytest.raises(grpc.RpcError):
                stub.DeleteCentralSystem(
                    cs_pb.DeleteCentralSystemRequest(id=1),
                    metadata=credentials.bearer_metadata(token) if token else None,
                )
        with pytest.raises(grpc.RpcError):
            stub.GetCentralSystem(cs_pb.GetCentralSystemRequest(id=9), metadata=credentials.bearer_metadata(ADMIN))
        health_pb2_grpc.HealthStub(opened).Check(health_pb2.HealthCheckRequest())
    lines = [json.loads(line) for line in server_log.getvalue().splitlines()]
    assert [(line["method"].rsplit("/", 1)[-1], line["code"], line["reason"]) for line in lines] == [
        ("CreateCentralSystem", "OK", ""),
        ("DeleteCentralSystem", "UNAUTHENTICATED", errors.CREDENTIALS_MISSING),
        ("DeleteCentralSystem", "UNAUTHENTICATED", errors.CREDENTIALS_INVALID),
        ("DeleteCentralSystem", "PERMISSION_DENIED", errors.READ_ONLY_CREDENTIALS),
        ("GetCentralSystem", "NOT_FOUND", errors.CENTRAL_SYSTEM_NOT_FOUND),
        ("Check", "OK", ""),
    ]
    create = cs_pb.CreateCentralSystemRequest(name="Main", websocket_url="wss://a.example")
    assert lines[0]["request_bytes"] == create.ByteSize()
    assert lines[1]["request_bytes"] == 2
    for line in lines:
        assert set(line) == {"time", "peer", "method", "code", "reason", "duration_ms", "request_bytes"}
        assert line["time"].endswith("Z")
        assert line["peer"].startswith("ipv4:127.0.0.1:")
        assert line["duration_ms"] >= 0
    _no_secret_in(server_log.getvalue())
    assert "Main" not in server_log.getvalue()  # no request body
    # The module's server logged every call of the tests above, without a secret either.
    assert access_log.getvalue().count("\n") > 100
    _no_secret_in(access_log.getvalue())


# -- TLS and mutual TLS ---------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return make_test_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def rogue_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return make_test_pki(tmp_path_factory.mktemp("rogue"), name="rogue")


def _list(target: str, creds: grpc.ChannelCredentials, metadata=None) -> None:
    with grpc.secure_channel(target, creds) as opened:
        cs_grpc.CentralSystemServiceStub(opened).ListCentralSystems(
            cs_pb.ListCentralSystemsRequest(), metadata=metadata, timeout=5
        )


def test_tls_serves_with_the_given_certificate(pki):
    with ReferenceServer(tls_cert=pki.server_cert, tls_key=pki.read("server_key")) as server:
        assert server.tls
        assert not server.credentials_required
        _list(server.target, grpc.ssl_channel_credentials(pki.read("ca_cert")))
        with grpc.insecure_channel(server.target) as plain, pytest.raises(grpc.RpcError):
            cs_grpc.CentralSystemServiceStub(plain).ListCentralSystems(cs_pb.ListCentralSystemsRequest(), timeout=5)


def test_mutual_tls_refuses_a_client_without_a_certificate_of_the_ca(pki, rogue_pki):
    with ReferenceServer(tls_cert=pki.server_cert, tls_key=pki.server_key, client_ca=pki.ca_cert) as server:
        before = server.store.snapshot()
        ca = pki.read("ca_cert")
        for creds in (
            grpc.ssl_channel_credentials(ca),
            grpc.ssl_channel_credentials(ca, rogue_pki.read("client_key"), rogue_pki.read("client_cert")),
        ):
            with grpc.secure_channel(server.target, creds) as opened, pytest.raises(grpc.RpcError) as caught:
                cs_grpc.CentralSystemServiceStub(opened).DeleteCentralSystem(
                    cs_pb.DeleteCentralSystemRequest(id=1), timeout=5
                )
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert server.store.snapshot() == before
        # A certificate of the CA, and no token file: an admin.
        good = grpc.ssl_channel_credentials(ca, pki.read("client_key"), pki.read("client_cert"))
        with grpc.secure_channel(server.target, good) as opened:
            stub = cs_grpc.CentralSystemServiceStub(opened)
            created = stub.CreateCentralSystem(
                cs_pb.CreateCentralSystemRequest(name="Main", websocket_url="wss://a.example"), timeout=5
            ).central_system
            assert created.id == 1


def test_mutual_tls_with_tokens_needs_both(pki):
    tokens = Tokens([ADMIN], [READER])
    with ReferenceServer(
        tls_cert=pki.server_cert, tls_key=pki.server_key, client_ca=pki.ca_cert, tokens=tokens
    ) as server:
        ca, key, cert = pki.read("ca_cert"), pki.read("client_key"), pki.read("client_cert")
        _list(server.target, credentials.channel_credentials(ADMIN, root_certificates=ca, private_key=key,
                                                             certificate_chain=cert))  # fmt: skip
        with pytest.raises(grpc.RpcError) as caught:
            _list(server.target, grpc.ssl_channel_credentials(ca, key, cert))
        assert errors.reason(caught.value) == errors.CREDENTIALS_MISSING
        with pytest.raises(grpc.RpcError) as caught:
            _list(server.target, credentials.channel_credentials(ADMIN, root_certificates=ca))
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_reference_server_checks_its_credential_arguments(pki):
    with pytest.raises(ValueError, match="go together"):
        ReferenceServer(tls_cert=pki.server_cert)
    with pytest.raises(ValueError, match="client_ca needs"):
        ReferenceServer(client_ca=pki.ca_cert)
    with pytest.raises(ValueError, match="16 to 512"):
        Tokens(["short"])
    with pytest.raises(ValueError, match="more than once"):
        Tokens([ADMIN], [ADMIN])


def test_interceptors_pass_every_other_call_detail_on_unchanged():
    from ocpp_broker_protos._call_details import replaced

    class Details(grpc.ClientCallDetails):
        method = "/s/M"
        timeout = None
        metadata = (("a", "1"),)
        credentials = None
        wait_for_ready = True
        compression = grpc.Compression.Gzip

    changed = replaced(Details(), timeout=2.5)
    assert (changed.method, changed.timeout, changed.metadata, changed.wait_for_ready, changed.compression) == (
        "/s/M",
        2.5,
        (("a", "1"),),
        True,
        grpc.Compression.Gzip,
    )

    class Old(grpc.ClientCallDetails):  # grpc releases before wait_for_ready and compression
        method, timeout, metadata, credentials = "/s/M", 1.0, None, None

    assert replaced(Old(), metadata=(("b", "2"),)).wait_for_ready is None
