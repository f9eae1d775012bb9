"""Garbage at the door: every RPC gets a status, the server keeps serving,
and a rejected request leaves the state as it was."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocpp_broker_protos import errors
from ocpp_broker_protos.conformance.kit import error_parts
from ocpp_broker_protos.reference import FixtureError, ReferenceServer, Store, load_fixture_file, load_fixtures
from ocpp_broker_protos.transaction.v1.transaction_pb2 import Transaction
from tests.contract_modules import all_services
from tests.message_strategies import edge_instance, message_class

METHODS = [(f"/{s.full_name}/{m.name}", m) for s in all_services() for m in s.methods]
IDS = [path.rsplit("/", 2)[-2].rsplit(".", 1)[-1] + "." + path.rsplit("/", 1)[-1] for path, _ in METHODS]
FIGURES: Counter[str] = Counter()
LEAKS = ("Traceback", 'File "', ".py", "site-packages")
# What a well-behaved server may answer to garbage; INTERNAL or UNKNOWN would mean a crash inside.
ALLOWED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION,
}


def small_world(store: Store) -> Store:
    """A few of everything, quick to rebuild after an accepted write."""
    store.reset()
    a = store.create_central_system("Alpha", "wss://a.example").id
    b = store.create_central_system("Bravo", "ws://b.example:9000").id
    for n in range(1, 4):
        store.create_mapping(f"CP-{n}", a, weight=n, is_master=True, is_enabled=True)
        store.create_mapping(f"CP-{n}", b, is_enabled=n != 2)
        store.create_connection(a, f"CP-{n}")
    for n in range(20):
        t = Transaction(id=f"T-{n}", station_id=f"CP-{n % 3 + 1}", connector_id=str(n), central_system_id=a)
        t.started_at.FromSeconds(1_700_000_000 + n * 60)
        if n % 4:
            t.ended_at.FromSeconds(1_700_000_000 + n * 60 + 30)
        store.add_transaction(t)
    return store


@pytest.fixture(scope="module")
def hostile_server():
    with ReferenceServer(store=small_world(Store())) as server, grpc.insecure_channel(server.target) as channel:
        yield server, channel


def send(channel: grpc.Channel, path: str, payload: bytes) -> grpc.StatusCode:
    call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(path)
    FIGURES["payloads"] += 1
    FIGURES["bytes"] += len(payload)
    try:
        call(payload, timeout=10)
    except grpc.RpcError as error:
        assert isinstance(error, grpc.Call)
        details = error.details() or ""
        assert not any(leak in details for leak in LEAKS), details
        code = error.code()
    else:
        code = grpc.StatusCode.OK
    FIGURES[code.name] += 1
    assert code in ALLOWED, code
    return code


def mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.random()
        if kind < 0.4 and buf:
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        elif kind < 0.6 and buf:
            del buf[rng.randrange(len(buf)) :]
        elif kind < 0.8:
            at = rng.randrange(len(buf) + 1)
            buf[at:at] = rng.randbytes(rng.randint(1, 8))
        else:
            buf += bytes([0x80] * rng.randint(1, 12))  # an unterminated varint
    return bytes(buf)


@pytest.mark.parametrize(("path", "method"), METHODS, ids=IDS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=512), seed=st.integers(0, 2**32 - 1))
def test_random_and_mutated_bytes_get_a_status_and_change_nothing_when_rejected(
    hostile_server, path, method, raw, seed
):
    server, channel = hostile_server
    valid = edge_instance(method.input_type, high=bool(seed % 2)).SerializeToString()
    for payload in (raw, mutate(valid, random.Random(seed))):
        before = server.store.snapshot()
        code = send(channel, path, payload)
        if code != grpc.StatusCode.OK:
            assert server.store.snapshot() == before, (path, payload)
        else:
            FIGURES["accepted"] += 1
            small_world(server.store)  # an accepted write is legitimate; start over


def test_the_server_is_still_serving_after_the_garbage(hostile_server, figure):
    _, channel = hostile_server
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    codes = {k: v for k, v in FIGURES.items() if k.isupper()}
    figure(
        f"hostile bytes: {FIGURES['payloads']} payloads ({FIGURES['bytes']} bytes) over {len(METHODS)} RPCs, "
        f"answers {codes}, {FIGURES['accepted']} parsed into valid requests, 0 crashes, 0 hangs"
    )


def _int_fields(desc):
    return [f for f in desc.fields if f.type in (f.TYPE_INT32, f.TYPE_UINT32)]


EDGES = {5: (-(2**31), -1, 0, 1, 2**31 - 1), 13: (0, 1, 2**31, 2**32 - 1)}  # int32, uint32


@pytest.mark.parametrize(("path", "method"), METHODS, ids=IDS)
def test_integer_fields_at_their_edges(hostile_server, path, method):
    server, channel = hostile_server
    cls = message_class(method.input_type)
    for field in _int_fields(method.input_type):
        for value in EDGES[field.type]:
            request = edge_instance(method.input_type, high=False)
            setattr(request, field.name, value)
            before = server.store.snapshot()
            if send(channel, path, request.SerializeToString()) != grpc.StatusCode.OK:
                assert server.store.snapshot() == before
            else:
                small_world(server.store)
    assert cls is not None


@pytest.mark.parametrize(
    ("rpc", "field", "size"),
    [
        ("CentralSystemService/CreateCentralSystem", "name", 3_000_000),
        ("CentralSystemService/CreateCentralSystem", "description", 3_900_000),
        ("MappingService/CreateMapping", "station_id", 2_000_000),
        ("TransactionService/GetAllTransactions", "station_id", 1_000_000),
    ],
)
def test_megabyte_strings_are_invalid_arguments(hostile_server, rpc, field, size):
    server, channel = hostile_server
    path = next(p for p, _ in METHODS if p.endswith(rpc))
    method = next(m for p, m in METHODS if p.endswith(rpc))
    request = message_class(method.input_type)(**{field: "x" * size})
    before = server.store.snapshot()
    assert send(channel, path, request.SerializeToString()) == grpc.StatusCode.INVALID_ARGUMENT
    assert server.store.snapshot() == before


STRING_METHODS = [(p, m) for p, m in METHODS if any(f.type == f.TYPE_STRING for f in m.input_type.fields)]


@pytest.mark.parametrize(("path", "method"), STRING_METHODS, ids=[p.rsplit("/", 1)[-1] for p, _ in STRING_METHODS])
def test_invalid_utf8_in_a_string_field_is_a_malformed_request(hostile_server, path, method):
    server, channel = hostile_server
    field = next(f for f in method.input_type.fields if f.type == f.TYPE_STRING)
    # The field's tag (length-delimited), length 3, then bytes that are not UTF-8.
    payload = bytes([field.number << 3 | 2, 3, 0xFF, 0xFE, 0xFD])
    before = server.store.snapshot()
    with pytest.raises(grpc.RpcError) as raised:
        channel.unary_unary(path)(payload, timeout=10)
    assert error_parts(raised.value) == (grpc.StatusCode.INVALID_ARGUMENT, errors.MALFORMED_REQUEST, set())
    assert server.store.snapshot() == before


EXAMPLE = (Path(__file__).resolve().parent.parent / "examples" / "fixtures.json").read_text()


def test_every_truncation_of_a_fixture_file_is_a_clear_error_or_the_whole_file(tmp_path, figure):
    complete = load_fixtures(json.loads(EXAMPLE)).snapshot()
    outcomes: Counter[str] = Counter()
    path = tmp_path / "cut.json"
    for cut in range(len(EXAMPLE)):
        path.write_text(EXAMPLE[:cut])
        try:
            store = load_fixture_file(path)
        except FixtureError as error:
            assert str(error).startswith(f"{path}: ")
            outcomes["rejected"] += 1
        else:
            # Only cutting trailing white space leaves a loadable file: all of it.
            assert not EXAMPLE[cut:].strip()
            assert store.snapshot() == complete
            outcomes["complete"] += 1
    figure(f"fixture truncations: {len(EXAMPLE)} cuts, {dict(outcomes)}, never a partial load")


def _json_values():
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False), st.text(max_size=60)
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
        max_leaves=12,
    )


@settings(max_examples=300, deadline=None)
@given(
    section=st.sampled_from(["central_systems", "mappings", "connections", "transactions"]),
    key=st.text(max_size=20),
    value=_json_values(),
    index=st.integers(0, 4),
)
def test_mutated_fixture_records_load_or_fail_cleanly(section, key, value, index):
    data = json.loads(EXAMPLE)
    records = data[section]
    record = records[index % len(records)]
    record[key if key else next(iter(record))] = value
    try:
        store = load_fixtures(data, "mutated.json")
    except FixtureError as error:
        assert str(error).startswith("mutated.json: ")
        assert "Traceback" not in str(error)
    else:
        assert store.list_central_systems()  # a load that succeeds is complete
