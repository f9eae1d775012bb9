"""The conformance kit: complete, green on the reference server, red on broken ones."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET

import grpc
import pytest

from ocpp_broker_protos import conformance, errors
from ocpp_broker_protos.reference import ReferenceServer
from ocpp_broker_protos.reference.demo import demo_store
from tests.broken_variants import CAUGHT_BY, VARIANTS, broken_server
from tests.cli_process import run_cli, serving
from tests.contract_modules import all_services


@pytest.fixture(scope="module")
def demo_server():
    with ReferenceServer(store=demo_store()) as server:
        yield server


@pytest.fixture(scope="module")
def demo_channel(demo_server):
    with grpc.insecure_channel(demo_server.target) as channel:
        yield channel


def test_every_rpc_is_covered_by_a_case():
    declared = {f"{s.name}.{m.name}" for s in all_services() for m in s.methods}
    covered = {rpc for case in conformance.cases() for rpc in case.rpcs}
    assert covered <= declared, covered - declared  # no case names an RPC that does not exist
    assert declared - covered == set()


def test_cases_have_unique_names_and_documentation():
    names = [case.name for case in conformance.cases()]
    assert len(names) == len(set(names))
    assert all(case.doc for case in conformance.cases())


def test_selection_by_substring_and_glob():
    assert {c.name for c in conformance.cases("UpdateMapping")} >= {"one_enabled_master_on_update"}
    assert all(c.name.startswith("transactions_") for c in conformance.cases("transactions_*"))
    assert conformance.cases("no-such-case") == []


@conformance.parametrize()
def test_reference_server_passes_each_case_with_demo_data(conformance_case, demo_channel):
    conformance_case.check(demo_channel)


def test_reference_server_passes_every_case_when_empty_and_cleans_up(ocpp_server):
    before = ocpp_server.store.snapshot()
    report = conformance.run(ocpp_server.target)
    assert report.ok, report.table()
    assert report.passed == len(conformance.cases())
    after = ocpp_server.store.snapshot()
    for part in ("central_systems", "mappings", "connections", "transactions"):
        assert after[part] == before[part], part


def test_cases_are_safe_on_a_shared_server(demo_server):
    # Two kits at once against one server, with its demo data in place.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda _: conformance.run(demo_server.target), range(2)))
    for report in reports:
        assert report.ok, report.table()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_each_broken_variant_is_caught(variant, monkeypatch, capsys):
    with broken_server(variant, monkeypatch) as server:
        report = conformance.run(server.target)
    failed = report.failures()
    assert CAUGHT_BY[variant] in {r.case.name for r in failed}, report.table()
    for result in failed:
        assert result.why.startswith("expected ")
    with capsys.disabled():
        print(f"\n  {variant}: caught by {', '.join(r.case.name for r in failed)}", end="")


def test_cli_passes_against_make_serve_style_server_and_writes_junit(tmp_path):
    junit = tmp_path / "results.xml"
    with serving("--demo") as (_, target):
        result = run_cli("conformance", "--target", target, "--junit-xml", str(junit))
    assert result.returncode == 0, result.stdout + result.stderr
    total = len(conformance.cases())
    assert f"[{total}/{total}] PASSED" in result.stdout
    assert f"{total} passed, 0 failed" in result.stdout
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == (str(total), "0")


def test_cli_fails_and_says_why_against_a_broken_server(monkeypatch):
    with broken_server("allows_second_enabled_master", monkeypatch) as server:
        result = run_cli("conformance", "--target", server.target, "-k", "master", timeout=300)
    assert result.returncode == 1
    assert "FAILED" in result.stdout
    assert f"expected FAILED_PRECONDITION reason={errors.SECOND_ENABLED_MASTER}, got OK" in result.stdout


def test_cli_rejects_a_pattern_that_matches_nothing():
    result = run_cli("conformance", "--target", "127.0.0.1:1", "-k", "zzz-none", timeout=60)
    assert result.returncode == 2
    assert "no case matches 'zzz-none'" in result.stderr


def test_an_unreachable_target_fails_every_case_quickly():
    report = conformance.run("127.0.0.1:1", pattern="central_system_create_then_get", timeout=2)
    assert not report.ok
    assert "UNAVAILABLE" in report.failures()[0].got


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """The reference services behind TLS, with a throwaway self-signed certificate."""
    from concurrent import futures

    from ocpp_broker_protos.reference.servicers import add_all_to_server

    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    add_all_to_server(demo_store(), server)
    port = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())]))
    server.start()
    yield f"localhost:{port}", cert
    server.stop(0).wait()


def test_cli_checks_a_tls_target_with_a_given_ca(tls_server):
    target, cert = tls_server
    result = run_cli("conformance", "--target", target, "--ca-cert", str(cert), "-k", "central_system")
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 failed" in result.stdout


def test_cli_with_tls_refuses_an_untrusted_certificate(tls_server):
    target, _ = tls_server
    result = run_cli(
        "conformance", "--target", target, "--tls", "--timeout", "3", "-k", "central_system_create_then_get"
    )
    assert result.returncode == 1
    assert "UNAVAILABLE" in result.stdout


def _fake_list(pages: list[tuple[list[int], str]]):
    """A ListCentralSystems stand-in that answers the given (ids, next_page_token) pages in turn."""
    from ocpp_broker_protos.central_system.v1 import central_system_pb2 as cs_pb

    answers = iter(pages)
    asked = []

    def call(request):
        asked.append((request.page_size, request.page_token))
        ids, token = next(answers)
        return cs_pb.ListCentralSystemsResponse(
            central_systems=[cs_pb.CentralSystem(id=i) for i in ids], next_page_token=token
        )

    return call, asked


@pytest.fixture
def walk_context():
    with grpc.insecure_channel("127.0.0.1:1") as channel:  # never used: the calls are fakes
        yield conformance.Context(channel)


def test_a_walk_passes_tokens_back_and_may_change_the_page_size(walk_context):
    from ocpp_broker_protos.central_system.v1 import central_system_pb2 as cs_pb

    call, asked = _fake_list([([1, 2], "t1"), ([3], "t2"), ([4, 5, 6], "")])
    walk = walk_context.walk(call, cs_pb.ListCentralSystemsRequest(), lambda read: read + 2)
    assert [cs.id for cs in walk.items] == [1, 2, 3, 4, 5, 6]
    assert walk.complete
    assert len(walk.pages) == 3
    assert asked == [(2, ""), (4, "t1"), (5, "t2")]


def test_a_walk_stops_at_max_items_and_says_it_is_incomplete(walk_context):
    from ocpp_broker_protos.central_system.v1 import central_system_pb2 as cs_pb

    call, asked = _fake_list([([1, 2], "t1"), ([3, 4], "t2"), ([5], "")])
    walk = walk_context.walk(call, cs_pb.ListCentralSystemsRequest(), 2, max_items=3)
    assert ([cs.id for cs in walk.items], walk.complete, len(asked)) == ([1, 2, 3, 4], False, 2)


@pytest.mark.parametrize(
    ("pages", "expected"),
    [
        ([([1, 2, 3], "t1")], "at most 2 items on page 1"),
        ([([1], "t1"), ([2], "t1")], "a new next_page_token after page 2"),
        ([([], f"t{n}") for n in range(20)], "items within 10 pages"),
    ],
    ids=["page_too_big", "token_repeats", "empty_pages_forever"],
)
def test_a_walk_fails_the_case_when_the_target_pages_wrongly(walk_context, pages, expected):
    from ocpp_broker_protos.central_system.v1 import central_system_pb2 as cs_pb

    call, _ = _fake_list(pages)
    with pytest.raises(conformance.CaseFailure) as failure:
        walk_context.walk(call, cs_pb.ListCentralSystemsRequest(), 2)
    assert failure.value.expected.startswith(expected)
