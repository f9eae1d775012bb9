"""Running the cases against a target and reporting the results."""

from __future__ import annotations

import fnmatch
import platform
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc

from ocpp_broker_protos.conformance import cases as _cases  # noqa: F401  (registers the cases)
from ocpp_broker_protos.conformance.credentials import Credentials, provided
from ocpp_broker_protos.conformance.kit import DEFAULT_TIMEOUT, REGISTRY, Case, CaseResult


def select(pattern: str | None = None, credentials: Credentials | None = None) -> list[Case]:
    """The cases pattern selects (see ``matching``), leaving out those that need
    tokens the credentials do not hold."""
    return provided(matching(pattern), credentials)[0]


def matching(pattern: str | None) -> list[Case]:
    """The cases pattern selects, whatever they need; all of them without one.

    The pattern is compared, ignoring case, with each case's name, each RPC it
    checks as ``Service.Method`` and each bare method name. Without ``* ? [``
    it selects the cases where it is a substring of one of these; with them it
    is a glob that must match one of them whole: ``GetWorker*``,
    ``MappingService.*``, ``*_master_*``.
    """
    if not pattern:
        return list(REGISTRY)
    needle = pattern.lower()
    glob = any(c in needle for c in "*?[")

    def matches(case: Case) -> bool:
        methods = [rpc.rsplit(".", 1)[-1] for rpc in case.rpcs]
        for text in (case.name, *case.rpcs, *methods):
            text = text.lower()
            if (glob and fnmatch.fnmatchcase(text, needle)) or (not glob and needle in text):
                return True
        return False

    return [case for case in REGISTRY if matches(case)]


@dataclass(frozen=True)
class Report:
    target: str
    results: tuple[CaseResult, ...]
    seconds: float
    #: Selected cases left out because they need a token (or a reader token) that was not given.
    not_run: tuple[Case, ...] = ()

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> int:
        return sum(r.failed for r in self.results)

    @property
    def skipped(self) -> int:
        return sum(r.skipped for r in self.results)

    @property
    def ok(self) -> bool:
        """Every selected case ran, exercised its rule and passed (none failed, none skipped)."""
        return self.succeeded()

    def succeeded(self, allow_skipped: bool = False) -> bool:
        """No case failed; skipped cases count against success unless allow_skipped."""
        return bool(self.results) and self.failed == 0 and (allow_skipped or self.skipped == 0)

    def failures(self) -> list[CaseResult]:
        return [r for r in self.results if r.failed]

    def skips(self) -> list[CaseResult]:
        return [r for r in self.results if r.skipped]

    def table(self, width: int = 100) -> str:
        rows = [("case", "rpc", "result", "why")]
        for r in self.results:
            # Method names alone: each is unique across the four services.
            rpcs = ", ".join(rpc.split(".")[-1] for rpc in r.case.rpcs)
            rows.append((r.case.name, rpcs, r.outcome.upper(), r.why))
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        lines = []
        for index, (name, rpcs, outcome, why) in enumerate(rows):
            lines.append(f"{name:<{widths[0]}}  {rpcs:<{widths[1]}}  {outcome:<{widths[2]}}  {why}".rstrip())
            if index == 0:
                lines.append("-" * min(width, sum(widths) + 6 + 3))
        return "\n".join(lines)

    def summary(self) -> str:
        text = (
            f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped "
            f"in {self.seconds:.1f}s against {self.target}"
        )
        if self.not_run:
            names = ", ".join(c.name for c in self.not_run)
            text += f"; not run, for want of a token or reader token: {names}"
        return text

    def write_junit(self, path: str | Path) -> None:
        suite = ET.Element(
            "testsuite",
            name="ocpp-broker-conformance",
            tests=str(len(self.results)),
            failures=str(self.failed),
            errors="0",
            skipped=str(self.skipped),
            time=f"{self.seconds:.3f}",
            hostname=platform.node(),
        )
        for r in self.results:
            test = ET.SubElement(
                suite, "testcase", classname=r.case.rpcs[0].split(".")[0], name=r.case.name, time=f"{r.seconds:.3f}"
            )
            if r.skipped:
                ET.SubElement(test, "skipped", message=r.reason)
            elif r.failed:
                failure = ET.SubElement(test, "failure", message=r.why)
                failure.text = f"{r.case.doc}\nRPCs: {', '.join(r.case.rpcs)}\n{r.why}"
        root = ET.Element("testsuites")
        root.append(suite)
        tree = ET.ElementTree(root)
        ET.indent(tree)
        tree.write(path, encoding="utf-8", xml_declaration=True)


class TargetUnreachable(ConnectionError):
    """The target did not answer at all, so no case was run; the message says what gRPC saw."""


#: Any answer to it, even UNIMPLEMENTED, shows that the target is there.
_PROBE_METHOD = "/grpc.health.v1.Health/Check"
_UNREACHABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def check_reachable(channel: grpc.Channel, timeout: float = DEFAULT_TIMEOUT, target: str = "the target") -> None:
    """Raise TargetUnreachable unless target answers one call within timeout.

    The call is a health check with an empty request, sent as raw bytes: the
    kit needs no health stubs, and a target without the health service
    answers UNIMPLEMENTED, which proves it is reachable just as well.
    """
    probe: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(_PROBE_METHOD)
    try:
        probe(b"", timeout=timeout)
    except grpc.RpcError as error:
        code = error.code() if isinstance(error, grpc.Call) else None
        if code is not None and code in _UNREACHABLE:
            details = error.details() if isinstance(error, grpc.Call) else ""
            raise TargetUnreachable(f"cannot reach {target} within {timeout:g}s: {code.name}: {details}") from None


def open_channel(
    target: str,
    tls: bool = False,
    root_certificates: bytes | None = None,
    private_key: bytes | None = None,
    certificate_chain: bytes | None = None,
) -> grpc.Channel:
    """A channel to target; a client certificate (mutual TLS) implies TLS."""
    if tls or certificate_chain is not None:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=root_certificates, private_key=private_key, certificate_chain=certificate_chain
        )
        return grpc.secure_channel(target, credentials)
    return grpc.insecure_channel(target)


def run(
    target: str | None = None,
    *,
    channel: grpc.Channel | None = None,
    pattern: str | None = None,
    tls: bool = False,
    root_certificates: bytes | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    on_result: Callable[[int, int, CaseResult], None] | None = None,
    selected: Sequence[Case] | None = None,
    credentials: Credentials | None = None,
    private_key: bytes | None = None,
    certificate_chain: bytes | None = None,
    on_start: Callable[[int], None] | None = None,
) -> Report:
    """Run the selected cases against target (HOST:PORT) or an open channel.

    With credentials, every call presents the token and the authentication
    cases run; private_key and certificate_chain are a client certificate
    for mutual TLS. Raises TargetUnreachable, before running any case, when
    the target does not answer within timeout. on_start gets the number of
    cases to run once the channel is open, before the target is first called;
    on_result gets each case's result as it ends.
    """
    if (target is None) == (channel is None):
        raise ValueError("give exactly one of target and channel")
    chosen, not_run = provided(list(selected) if selected is not None else matching(pattern), credentials)
    own = channel is None
    live = (
        open_channel(target, tls, root_certificates, private_key, certificate_chain) if target is not None else channel
    )
    assert live is not None
    started = time.perf_counter()
    results = []
    try:
        if on_start is not None:
            on_start(len(chosen))
        check_reachable(live, timeout, target or "the given channel")
        for index, chosen_case in enumerate(chosen, 1):
            result = chosen_case.run(live, timeout, credentials)
            results.append(result)
            if on_result is not None:
                on_result(index, len(chosen), result)
    finally:
        if own:
            live.close()
    return Report(target or "the given channel", tuple(results), time.perf_counter() - started, tuple(not_run))
