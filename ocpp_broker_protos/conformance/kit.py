"""The machinery of the conformance kit: cases, the context they run in, and
the checks that turn a wrong answer into "expected ..., got ...".

A case is a function of a :class:`Context`. It talks to the target only
through the context's stubs, creates what it needs under unique names,
registers how to remove it, and raises :class:`CaseFailure` when the target
breaks the rule the case is about. A case that finds nothing on the target to
exercise its rule on (transaction cases against a target without
transactions) calls :meth:`Context.skip` with the reason: it is reported as
skipped, never as passed.
"""

from __future__ import annotations

import contextlib
import itertools
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar, cast

import grpc
from google.protobuf.message import Message

from ocpp_broker_protos import errors
from ocpp_broker_protos._call_details import replaced
from ocpp_broker_protos.central_system.v1 import central_system_pb2 as cs_pb
from ocpp_broker_protos.central_system.v1 import central_system_pb2_grpc as cs_grpc
from ocpp_broker_protos.connection.v1 import connection_pb2_grpc as conn_grpc
from ocpp_broker_protos.credentials import with_token
from ocpp_broker_protos.mapping.v1 import mapping_pb2 as map_pb
from ocpp_broker_protos.mapping.v1 import mapping_pb2_grpc as map_grpc
from ocpp_broker_protos.transaction.v1 import transaction_pb2_grpc as tx_grpc

if TYPE_CHECKING:
    from ocpp_broker_protos.conformance.credentials import Credentials

DOMAIN = errors.DOMAIN
DEFAULT_TIMEOUT = 10.0
#: The largest page any list serves: a larger page_size (or limit) means this.
MAX_PAGE_SIZE = 1000
#: Empty pages in a row, each with a next_page_token, after which a walk is judged stuck.
MAX_EMPTY_PAGES = 10


class CaseSkipped(Exception):
    """The case could not exercise its rule on this target; the message says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CaseFailure(AssertionError):
    """The target broke the rule a case checks."""

    def __init__(self, expected: str, got: str) -> None:
        super().__init__(f"expected {expected}, got {got}")
        self.expected = expected
        self.got = got


@dataclass(frozen=True)
class Case:
    """One rule of the contract, checked through a channel."""

    name: str
    rpcs: tuple[str, ...]
    doc: str
    func: Callable[[Context], None] = field(repr=False, compare=False)
    #: What the case needs beyond a channel: "token" and/or "reader_token".
    needs: frozenset[str] = frozenset()

    def run(
        self, channel: grpc.Channel, timeout: float = DEFAULT_TIMEOUT, credentials: Credentials | None = None
    ) -> CaseResult:
        context = Context(channel, timeout, credentials)
        started = time.perf_counter()
        outcome, expected, got, reason = "passed", "", "", ""
        try:
            self.func(context)
        except CaseSkipped as skipped:
            outcome, reason = "skipped", skipped.reason
        except CaseFailure as failure:
            outcome, expected, got = "failed", failure.expected, failure.got
        except grpc.RpcError as error:
            outcome, expected, got = "failed", "a successful call", describe_error(error)
        except Exception as error:  # a broken target must never stop the kit
            outcome, expected, got = "failed", "a well-formed answer", f"{type(error).__name__}: {error}"
        finally:
            context.cleanup()
        return CaseResult(self, outcome, expected, got, time.perf_counter() - started, reason)

    def check(
        self,
        channel: grpc.Channel,
        timeout: float = DEFAULT_TIMEOUT,
        credentials: Credentials | None = None,
        allow_skipped: bool = True,
    ) -> None:
        """Run the case for a test: AssertionError when it fails, a skip when it was skipped.

        A skip only ever comes from a case that raised :class:`CaseSkipped`
        (it found nothing to exercise its rule on); a failure is always an
        AssertionError. Under pytest the skip is ``pytest.skip`` with the
        reason, so it shows in the summary; elsewhere it is ``CaseSkipped``.
        With ``allow_skipped=False`` a skipped case fails instead, for suites
        that must exercise every rule.
        """
        result = self.run(channel, timeout, credentials)
        if result.outcome == "skipped":
            if not allow_skipped:
                raise AssertionError(f"{self.name}: skipped, not exercised: {result.reason}")
            _skip(f"{self.name}: {result.reason}")
        if not result.passed:
            raise AssertionError(f"{self.name}: {result.why}")

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class CaseResult:
    case: Case
    outcome: str
    expected: str
    got: str
    seconds: float
    #: Why the case was skipped ("" unless outcome is "skipped").
    reason: str = ""

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    @property
    def skipped(self) -> bool:
        return self.outcome == "skipped"

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"

    @property
    def why(self) -> str:
        """Empty when passed, the reason when skipped, "expected ..., got ..." when failed."""
        if self.failed:
            return f"expected {self.expected}, got {self.got}"
        return self.reason


def _skip(reason: str) -> NoReturn:
    # Under pytest (already imported), its own skip; never import it here.
    pytest = sys.modules.get("pytest")
    if pytest is not None:
        pytest.skip(reason)
    raise CaseSkipped(reason)


REGISTRY: list[Case] = []


def case(*rpcs: str, needs: Iterable[str] = ()) -> Callable[[Callable[[Context], None]], Callable[[Context], None]]:
    """Register a case; rpcs are `Service.Method` names it exercises, needs the credentials it needs."""

    def register(func: Callable[[Context], None]) -> Callable[[Context], None]:
        doc = " ".join((func.__doc__ or "").split())
        REGISTRY.append(Case(func.__name__, rpcs, doc, func, frozenset(needs)))
        return func

    return register


class _DefaultTimeout(grpc.UnaryUnaryClientInterceptor):
    """Give every call a deadline, so a hanging target fails a case instead of hanging the kit."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        if details.timeout is None:
            details = replaced(details, timeout=self._timeout)
        return continuation(details, request)


_M = TypeVar("_M", bound=Message)
_Req = TypeVar("_Req", bound=Message)
_Resp = TypeVar("_Resp", bound=Message)


def page_items(response: Message) -> list[Any]:
    """The items of one page of any list: every list response holds them in field 1."""
    return list(getattr(response, response.DESCRIPTOR.fields_by_number[1].name))


@dataclass(frozen=True)
class Walk(Generic[_Resp]):
    """What a walk through a list by page tokens read."""

    #: The items of every page, in the order they came.
    items: list[Any]
    #: Every response, in order.
    pages: list[_Resp]
    #: True when the last page had no next_page_token: the walk saw the end.
    complete: bool


def describe_error(error: grpc.RpcError) -> str:
    """`CODE reason=R fields=[...]: message` as read from the status."""
    code, reason, fields = error_parts(error)
    text = code.name if code else "no status"
    text += f" reason={reason or '(none)'}"
    if fields:
        text += f" fields={sorted(fields)}"
    details = error.details() if isinstance(error, grpc.Call) else ""
    return f"{text}: {details}"


def error_parts(error: grpc.RpcError) -> tuple[grpc.StatusCode | None, str, set[str]]:
    """(code, ErrorInfo reason in our domain or "", BadRequest field paths)."""
    if not isinstance(error, grpc.Call):
        return None, "", set()
    return error.code(), errors.reason(error), set(errors.field_violations(error))


class Context:
    """What a case gets: stubs, unique names, and clean-up that always runs."""

    def __init__(
        self, channel: grpc.Channel, timeout: float = DEFAULT_TIMEOUT, credentials: Credentials | None = None
    ) -> None:
        self.credentials = credentials
        self._bare = grpc.intercept_channel(channel, _DefaultTimeout(timeout))
        channel = self.channel_as(credentials.token if credentials is not None else None)
        self.central_systems = cs_grpc.CentralSystemServiceStub(channel)
        self.connections = conn_grpc.ConnectionServiceStub(channel)
        self.mappings = map_grpc.MappingServiceStub(channel)
        self.transactions = tx_grpc.TransactionServiceStub(channel)
        self._run = uuid.uuid4().hex[:10]
        self._counter = itertools.count(1)
        self._cleanups: list[Callable[[], object]] = []

    def channel_as(self, token: str | None) -> grpc.Channel:
        """The case's channel presenting token (None: no credentials at all)."""
        return self._bare if token is None else with_token(self._bare, token)

    # -- objects of one's own ---------------------------------------------

    def name(self, label: str = "cs") -> str:
        return f"conformance-{self._run}-{label}-{next(self._counter)}"

    def station(self) -> str:
        """A station id no one else uses (valid: letters, digits and '-')."""
        return f"CONF-{self._run}-{next(self._counter)}"

    def new_central_system(self, description: str = "") -> cs_pb.CentralSystem:
        """Create a central system that is force-deleted after the case."""
        created = self.central_systems.CreateCentralSystem(
            cs_pb.CreateCentralSystemRequest(
                name=self.name(), websocket_url="wss://conformance.example/ocpp", description=description
            )
        ).central_system
        self.on_cleanup(
            lambda: self.central_systems.DeleteCentralSystem(
                cs_pb.DeleteCentralSystemRequest(id=created.id, force=True)
            )
        )
        return created

    def new_mapping(
        self,
        station_id: str,
        central_system_id: int,
        weight: int = 0,
        is_master: bool = False,
        is_enabled: bool = False,
    ) -> map_pb.Mapping:
        # The defaults are the wire's: what CreateMapping does with a field left out.
        return self.mappings.CreateMapping(
            map_pb.CreateMappingRequest(
                station_id=station_id,
                central_system_id=central_system_id,
                weight=weight,
                is_master=is_master,
                is_enabled=is_enabled,
            )
        ).mapping

    def on_cleanup(self, action: Callable[[], object]) -> None:
        self._cleanups.append(action)

    def cleanup(self) -> None:
        while self._cleanups:
            action = self._cleanups.pop()
            # Already gone, or the target refuses: nothing more a case can do.
            with contextlib.suppress(grpc.RpcError):
                action()

    # -- reading lists ----------------------------------------------------

    def walk(
        self,
        call: Callable[[_Req], _Resp],
        request: _Req,
        page_size: int | Callable[[int], int] = MAX_PAGE_SIZE,
        between: Callable[[list[Any]], object] | None = None,
        max_items: int | None = None,
    ) -> Walk[_Resp]:
        """Read a list page by page, passing each next_page_token back with the request's filters.

        Works for every list: the page size goes into ``page_size`` (or
        ``limit`` for GetAllTransactions) and the items are the response's
        field 1. page_size is a number, or a function of the number of items
        read so far, since a client may change it between pages.
        between(items read so far) runs after each page that has a successor,
        before asking for it, so a case can write in the middle of a walk.
        With max_items the walk stops once it has read that many, so a sample
        of a huge list stays cheap. Each page must hold at most its page
        size, and a walk must move on: a token that comes back a second time,
        or a run of empty pages that still promise more, fails the case.
        """
        size_field = "page_size" if "page_size" in request.DESCRIPTOR.fields_by_name else "limit"
        items: list[Any] = []
        pages: list[_Resp] = []
        seen_tokens: set[str] = set()
        token = ""
        empty_run = 0
        while True:
            size = page_size(len(items)) if callable(page_size) else page_size
            # Any: one helper for five request and response types.
            paged: Any = type(request)()
            paged.CopyFrom(request)
            setattr(paged, size_field, size)
            paged.page_token = token
            response = call(paged)
            pages.append(response)
            page = page_items(response)
            if size > 0:
                self.expect(
                    len(page) <= min(size, MAX_PAGE_SIZE),
                    f"at most {min(size, MAX_PAGE_SIZE)} items on page {len(pages)}",
                    len(page),
                )
            items.extend(page)
            token = str(cast(Any, response).next_page_token)
            if not token:
                return Walk(items, pages, complete=True)
            self.expect(token not in seen_tokens, f"a new next_page_token after page {len(pages)}", "one seen before")
            seen_tokens.add(token)
            empty_run = 0 if page else empty_run + 1
            self.expect(
                empty_run < MAX_EMPTY_PAGES,
                f"items within {MAX_EMPTY_PAGES} pages, as next_page_token says more follow",
                f"{empty_run} empty pages in a row",
            )
            if max_items is not None and len(items) >= max_items:
                return Walk(items, pages, complete=False)
            if between is not None:
                between(items)

    # -- checks -----------------------------------------------------------

    def expect_error(
        self,
        call: Callable[[], object],
        code: grpc.StatusCode,
        reason: str,
        fields: Iterable[str] = (),
    ) -> None:
        """The call must fail with code, ErrorInfo reason and exactly these BadRequest fields."""
        want_fields = set(fields)
        expected = f"{code.name} reason={reason}" + (f" fields={sorted(want_fields)}" if want_fields else "")
        try:
            call()
        except grpc.RpcError as error:
            got_code, got_reason, got_fields = error_parts(error)
            if (got_code, got_reason) != (code, reason) or (want_fields and got_fields != want_fields):
                raise CaseFailure(expected, describe_error(error)) from None
            return
        raise CaseFailure(expected, "OK")

    @staticmethod
    def skip(reason: str) -> NoReturn:
        """End the case as skipped: the target holds nothing to exercise its rule on."""
        raise CaseSkipped(reason)

    @staticmethod
    def expect_equal(what: str, got: object, expected: object) -> None:
        if got != expected:
            raise CaseFailure(f"{what} = {expected!r}", repr(got))

    @staticmethod
    def expect(condition: bool, expected: str, got: object) -> None:
        if not condition:
            raise CaseFailure(expected, str(got))
