"""The conformance kit: complete, green on the reference server, red on broken ones."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import grpc
import pytest

from ocpp_broker_protos import conformance, errors
from ocpp_broker_protos.reference import ReferenceServer, Store
from ocpp_broker_protos.reference.demo import demo_store
from ocpp_broker_protos.testing.certificates import make_test_pki
from ocpp_broker_protos.transaction.v1.transaction_pb2 import GetAllTransactionsResponse
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


def _checking(method: str) -> set[str]:
    return {c.name for c in conformance.cases() if any(rpc.endswith(f".{method}") for rpc in c.rpcs)}


def test_a_glob_matches_the_bare_method_name_as_well_as_service_method_and_case_name():
    get_worker = _checking("GetWorker")
    assert get_worker
    # A glob must match one of the texts whole: the bare method name is one of them.
    assert {c.name for c in conformance.cases("GetWorker*")} == get_worker | _checking("GetWorkerConnections")
    assert {c.name for c in conformance.cases("getworker")} == get_worker | _checking("GetWorkerConnections")
    assert {c.name for c in conformance.cases("ConnectionService.GetWorker")} >= get_worker
    assert {c.name for c in conformance.cases("MappingService.*")} == {
        c.name for c in conformance.cases() if any(rpc.startswith("MappingService.") for rpc in c.rpcs)
    }
    # The case name still matches whole under a glob, and a glob that matches
    # nothing whole selects nothing, though it is a substring of names.
    assert [c.name for c in conformance.cases("transactions_active_onl?")] == ["transactions_active_only"]
    assert conformance.cases("GetWorker?") == []


def test_the_pattern_rules_are_in_the_cli_help_and_the_readme():
    help_text = " ".join(run_cli("conformance", "--help", timeout=60).stdout.split())
    readme = " ".join((Path(__file__).resolve().parent.parent / "README.md").read_text().split())
    for text in (help_text, readme):
        assert "bare method name" in text
        assert "'GetWorker*'" in text or "`GetWorker*`" in text
        assert "ignoring case" in text


def test_an_empty_target_skips_the_cases_it_cannot_exercise_and_is_not_ok(ocpp_server):
    before = ocpp_server.store.snapshot()
    report = conformance.run(ocpp_server.target)
    skipped = {r.case.name for r in report.skips()}
    # Only transaction cases need data on the target; the two that judge
    # answers to requests (validation, an offset past the end) need none.
    transaction_cases = {c.name for c in conformance.cases("TransactionService.*")}
    data_free = {"transactions_bad_paging_is_invalid", "transactions_offset_past_the_end"}
    assert skipped <= transaction_cases - data_free
    assert {
        "transactions_ordered_newest_first",
        "transactions_pages_are_consistent",
        "transactions_total_count_and_end",
        "transactions_limit_default_is_100",
        "transactions_limit_is_capped_at_1000",
        "transactions_filter_by_station",
        "transactions_filter_by_central_system",
        "transactions_active_only",
    } <= skipped
    assert all(r.reason.startswith("needs ") for r in report.skips())
    assert all(r.why == r.reason for r in report.skips())
    assert (report.passed, report.failed, report.skipped) == (len(report.results) - len(skipped), 0, len(skipped))
    assert not report.ok
    assert report.succeeded(allow_skipped=True)
    assert f"{len(skipped)} skipped" in report.summary()
    table = report.table()
    for name in skipped:
        (row,) = [line for line in table.splitlines() if line.startswith(f"{name} ")]
        assert "SKIPPED" in row
        assert "needs " in row
    after = ocpp_server.store.snapshot()
    for part in ("central_systems", "mappings", "connections", "transactions"):
        assert after[part] == before[part], part


def test_a_case_is_exercised_as_soon_as_the_data_allows(ocpp_server):
    # Two transactions, one open, at two stations of two central systems:
    # enough for order, paging and every filter; not for the page-size limits.
    from google.protobuf.timestamp_pb2 import Timestamp

    from ocpp_broker_protos.transaction.v1.transaction_pb2 import Transaction

    store = ocpp_server.store
    first = store.create_central_system("First", "wss://first.example")
    second = store.create_central_system("Second", "wss://second.example")
    for number, cs, ended in ((1, first, True), (2, second, False)):
        started = Timestamp(seconds=1_700_000_000 + 100 * number)
        transaction = Transaction(
            id=f"T-{number}", station_id=f"CP-{number}", connector_id="1", central_system_id=cs.id, started_at=started
        )
        if ended:
            transaction.ended_at.CopyFrom(Timestamp(seconds=started.seconds + 3600))
        store.add_transaction(transaction)
    report = conformance.run(ocpp_server.target, pattern="TransactionService.*")
    assert report.failed == 0, report.table()
    assert {r.case.name for r in report.skips()} == {
        "transactions_limit_default_is_100",
        "transactions_limit_is_capped_at_1000",
    }


class _ZeroTotalStore(Store):
    """Serves transactions but always reports total_count 0, as if it held none."""

    def transactions_page_encoded(self, *args: Any, **kwargs: Any) -> bytes:
        page = GetAllTransactionsResponse.FromString(super().transactions_page_encoded(*args, **kwargs))
        page.total_count = 0
        return page.SerializeToString()


def test_a_server_that_hides_its_transactions_behind_total_count_0_fails_rather_than_skips():
    with ReferenceServer(store=demo_store(store=_ZeroTotalStore())) as server:
        report = conformance.run(server.target, pattern="TransactionService.*")
    assert report.skips() == []
    failed = {r.case.name for r in report.failures()}
    assert {"transactions_total_count_and_end", "transactions_limit_default_is_100"} <= failed


def test_check_skips_only_a_skipped_case_and_can_refuse_skips(ocpp_server, monkeypatch):
    (ordered,) = conformance.cases("transactions_ordered_newest_first")
    with grpc.insecure_channel(ocpp_server.target) as channel:
        with pytest.raises(pytest.skip.Exception, match="needs at least 2 transactions"):
            ordered.check(channel)
        with pytest.raises(AssertionError, match="skipped, not exercised"):
            ordered.check(channel, allow_skipped=False)
        # Outside pytest the skip is the kit's own exception.
        monkeypatch.delitem(__import__("sys").modules, "pytest")
        with pytest.raises(conformance.CaseSkipped):
            ordered.check(channel)


def test_check_never_turns_a_failure_into_a_skip(monkeypatch):
    (case,) = conformance.cases("transactions_limit_default_is_100")
    with broken_server("wrong_default_limit", monkeypatch) as server, grpc.insecure_channel(server.target) as channel:
        failed = pytest.raises(AssertionError, match="expected items with limit 0")
        with failed:
            case.check(channel)


@conformance.parametrize()
def test_reference_server_passes_each_case_with_demo_data(conformance_case, demo_channel):
    # The demo data exercises every case: none may be skipped.
    conformance_case.check(demo_channel, allow_skipped=False)


def test_reference_server_passes_every_case_with_demo_data_and_cleans_up():
    with ReferenceServer(store=demo_store()) as server:
        before = server.store.snapshot()
        report = conformance.run(server.target)
        assert report.ok, report.table()
        assert report.passed == len(conformance.cases())
        after = server.store.snapshot()
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
def test_each_broken_variant_is_caught(variant, monkeypatch, figure):
    with broken_server(variant, monkeypatch) as server:
        report = conformance.run(server.target)
    failed = report.failures()
    assert CAUGHT_BY[variant] in {r.case.name for r in failed}, report.table()
    for result in failed:
        assert result.why.startswith("expected ")
    figure(f"{variant}: caught by {', '.join(r.case.name for r in failed)}")


def test_cli_passes_against_make_serve_style_server_and_writes_junit(tmp_path):
    junit = tmp_path / "results.xml"
    with serving("--demo") as (_, target):
        result = run_cli("conformance", "--target", target, "--junit-xml", str(junit))
    assert result.returncode == 0, result.stdout + result.stderr
    total = len(conformance.cases())
    assert f"[{total}/{total}] PASSED" in result.stdout
    assert f"{total} passed, 0 failed, 0 skipped" in result.stdout
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == (str(total), "0", "0")


def test_cli_against_an_empty_server_reports_skips_with_reasons_and_fails_unless_allowed(tmp_path):
    junit = tmp_path / "results.xml"
    with serving() as (_, target):
        result = run_cli("conformance", "--target", target, "-k", "Transaction*", "--junit-xml", str(junit))
        allowed = run_cli("conformance", "--target", target, "-k", "Transaction*", "--allow-skipped")
        expected = conformance.run(target, pattern="Transaction*")
    assert expected.skipped
    assert not expected.failed
    counts = f"{expected.passed} passed, 0 failed, {expected.skipped} skipped"
    assert result.returncode == 1, result.stdout + result.stderr
    assert "SKIPPED transactions_ordered_newest_first" in result.stdout
    (row,) = [line for line in result.stdout.splitlines() if line.startswith("transactions_ordered_newest_first ")]
    assert "SKIPPED" in row
    assert "needs at least 2 transactions on the target to judge, found 0" in row
    assert counts in result.stdout
    assert "--allow-skipped" in result.stdout
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    skipped = cases["transactions_ordered_newest_first"].find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "needs at least 2 transactions on the target to judge, found 0"
    assert cases["transactions_bad_paging_is_invalid"].find("skipped") is None
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("failures"), suite.get("skipped")) == ("0", str(expected.skipped))
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert counts in allowed.stdout


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


def test_an_unreachable_target_raises_before_any_case():
    seen: list[str] = []
    with pytest.raises(conformance.TargetUnreachable, match=r"cannot reach 127\.0\.0\.1:1 within 2s: UNAVAILABLE"):
        conformance.run("127.0.0.1:1", timeout=2, on_result=lambda _i, _n, r: seen.append(r.case.name))
    assert seen == []


def test_cli_against_an_unreachable_target_says_so_once_and_exits_2():
    result = run_cli("conformance", "--target", "127.0.0.1:1", "--timeout", "2", timeout=60)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("error: cannot reach 127.0.0.1:1 within 2s: UNAVAILABLE")
    assert "FAILED" not in result.stdout
    assert "Traceback" not in result.stderr


def test_a_target_without_the_health_service_is_reachable(tmp_path):
    # Reachability is any answer, UNIMPLEMENTED included: only the contract's services here.
    from concurrent import futures

    from ocpp_broker_protos.reference.servicers import add_all_to_server

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    add_all_to_server(demo_store(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        report = conformance.run(f"127.0.0.1:{port}", pattern="central_system_create_then_get")
    finally:
        server.stop(0).wait()
    assert report.ok, report.table()


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """The reference services behind TLS, with a throwaway certificate (and CA)."""
    from concurrent import futures

    from ocpp_broker_protos.reference.servicers import add_all_to_server

    pki = make_test_pki(tmp_path_factory.mktemp("tls"))
    key, cert = pki.server_key, pki.server_cert
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    add_all_to_server(demo_store(), server)
    port = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())]))
    server.start()
    yield f"localhost:{port}", pki.ca_cert
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
    assert result.returncode == 2
    assert f"error: cannot reach {target} within 3s: UNAVAILABLE" in result.stderr
    assert "Traceback" not in result.stderr


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
