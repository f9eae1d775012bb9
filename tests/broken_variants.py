"""Deliberately broken reference servers: each one breaks one rule of the
contract, so the conformance kit can show that it notices."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import grpc
import pytest

from ocpp_broker_protos.central_system.v1.central_system_pb2 import CentralSystem
from ocpp_broker_protos.connection.v1.connection_pb2 import ConnectionInfo, WorkerInfo
from ocpp_broker_protos.credentials import admin_methods
from ocpp_broker_protos.mapping.v1.mapping_pb2 import Mapping
from ocpp_broker_protos.reference import ReferenceServer, Store, auth, errors, paging
from ocpp_broker_protos.reference import server as server_module
from ocpp_broker_protos.reference.auth import Tokens
from ocpp_broker_protos.reference.demo import demo_store
from ocpp_broker_protos.reference.paging import Page
from ocpp_broker_protos.transaction.v1.transaction_pb2 import GetAllTransactionsResponse


class NotFoundForUnknownCentralSystem(Store):
    """Mapping to an unknown central system: NOT_FOUND where FAILED_PRECONDITION is due."""

    def create_mapping(self, station_id: str, central_system_id: int, *args: Any, **kwargs: Any) -> Mapping:
        if central_system_id > 0 and central_system_id not in {cs.id for cs in self.list_central_systems()}:
            raise errors.not_found(errors.CENTRAL_SYSTEM_NOT_FOUND, "no such central system")
        return super().create_mapping(station_id, central_system_id, *args, **kwargs)


class IgnoresUpdateMask(Store):
    """UpdateCentralSystem replaces every field whatever the mask says."""

    def update_central_system(
        self, central_system_id: int, name: str, websocket_url: str, description: str, update_mask: Any = None
    ) -> CentralSystem:
        return super().update_central_system(central_system_id, name, websocket_url, description, None)


class AllowsSecondMaster(Store):
    """The one-enabled-master rule is not enforced."""

    def _check_master_rule(self, candidate: Mapping) -> None:
        return None


class KeepsConnectionsOnDisable(Store):
    """Disabling a mapping leaves its connection connected."""

    def update_mapping(self, *args: Any, **kwargs: Any) -> Mapping:
        with self._lock:
            saved = dict(self._connections)
            result = super().update_mapping(*args, **kwargs)
            self._connections.update(saved)
            return result


class OffByOnePaging(Store):
    """Every page starts one transaction late."""

    def transactions_page_encoded(self, limit: int = 0, offset: int = 0, *args: Any, **kwargs: Any) -> bytes:
        return super().transactions_page_encoded(limit, offset + 1 if offset > 0 else offset, *args, **kwargs)


class UnsortedCentralSystems(Store):
    """ListCentralSystems comes newest first, paged or not."""

    def list_central_systems(self) -> list[CentralSystem]:
        return list(reversed(super().list_central_systems()))

    def central_systems_page(self, page_size: int = 0, page_token: str = "") -> Page[CentralSystem]:
        page = super().central_systems_page(page_size, page_token)
        return Page(list(reversed(page.items)), page.next_page_token, page.total_count)


class UnsortedMappings(Store):
    """GetAllMappings comes in reverse key order, paged or not."""

    def list_mappings(self, station_id: str = "", central_system_id: int = 0) -> list[Mapping]:
        return list(reversed(super().list_mappings(station_id, central_system_id)))

    def mappings_page(
        self, station_id: str = "", central_system_id: int = 0, page_size: int = 0, page_token: str = ""
    ) -> Page[Mapping]:
        page = super().mappings_page(station_id, central_system_id, page_size, page_token)
        return Page(list(reversed(page.items)), page.next_page_token, page.total_count)


class LimitNotCapped(Store):
    """A limit above 1000 is served in full."""

    max_page_size = 10**9


class WrongDefaultLimit(Store):
    """limit 0 gives pages of 10."""

    default_page_size = 10


class NoCascadeOnForceDelete(Store):
    """Force delete removes the central system but keeps its mappings."""

    def delete_central_system(self, central_system_id: int, force: bool = False) -> None:
        with self._lock:
            saved = {k: v for k, v in self._mappings.items() if k[1] == central_system_id}
            super().delete_central_system(central_system_id, force)
            self._mappings.update(saved)


class DeletesInUseWithoutForce(Store):
    """Delete without force succeeds while mappings reference the central system."""

    def delete_central_system(self, central_system_id: int, force: bool = False) -> None:
        super().delete_central_system(central_system_id, True)


class CountOutOfStep(Store):
    """connections_count is one more than the connections listed."""

    def _worker(self, cs: CentralSystem) -> WorkerInfo:
        worker = super()._worker(cs)
        worker.connections_count += 1
        return worker


class DisconnectDeletes(Store):
    """DisconnectStation removes the connection record."""

    def disconnect_station(self, central_system_id: int, station_id: str) -> ConnectionInfo:
        info = super().disconnect_station(central_system_id, station_id)
        with self._lock:
            del self._connections[(central_system_id, station_id)]
        return info


class TotalCountIgnoresFilters(Store):
    """total_count is the number of all transactions, whatever the filters."""

    def transactions_page_encoded(self, *args: Any, **kwargs: Any) -> bytes:
        page = GetAllTransactionsResponse.FromString(super().transactions_page_encoded(*args, **kwargs))
        page.total_count = self.transaction_count()
        return page.SerializeToString()


class NamesNotUnique(Store):
    """Central system names may repeat."""

    def _check_name_free(self, name: str, owner: int | None = None) -> None:
        return None


Fetch = Callable[[int, str], Page[Any]]


class _PagedLists(Store):
    """Sends the four page_size lists through one hook, for variants that break paging the same way on each."""

    def _page(self, fetch: Fetch, page_size: int, page_token: str) -> Page[Any]:
        return fetch(page_size, page_token)

    def central_systems_page(self, page_size: int = 0, page_token: str = "") -> Page[CentralSystem]:
        return self._page(lambda size, token: Store.central_systems_page(self, size, token), page_size, page_token)

    def mappings_page(
        self, station_id: str = "", central_system_id: int = 0, page_size: int = 0, page_token: str = ""
    ) -> Page[Mapping]:
        def fetch(size: int, token: str) -> Page[Mapping]:
            return Store.mappings_page(self, station_id, central_system_id, size, token)

        return self._page(fetch, page_size, page_token)

    def workers_page(self, page_size: int = 0, page_token: str = "", view: int = 0) -> Page[WorkerInfo]:
        return self._page(lambda size, token: Store.workers_page(self, size, token, view), page_size, page_token)

    def worker_connections_page(
        self, central_system_id: int, page_size: int = 0, page_token: str = ""
    ) -> Page[ConnectionInfo]:
        def fetch(size: int, token: str) -> Page[ConnectionInfo]:
            return Store.worker_connections_page(self, central_system_id, size, token)

        return self._page(fetch, page_size, page_token)


class OffsetTokens(_PagedLists):
    """Tokens hold an offset into the list, so every insert or delete ahead of it shifts the next page.

    Each token also carries a real token of the same request, checked on
    replay, so it stays bound to the filters: only the offset is wrong."""

    def _page(self, fetch: Fetch, page_size: int, page_token: str) -> Page[Any]:
        fetch(min(page_size, 1), "")  # refuses a negative page_size like the real one
        offset = 0
        if page_token:
            head, _, bound = page_token.partition("~")
            # A replay with other filters, or garbage, is refused like the real one.
            fetch(1, bound if head.isdigit() else page_token)
            offset = int(head)
        everything = fetch(0, "").items
        stop = len(everything) if page_size == 0 else offset + min(page_size, paging.MAX_PAGE_SIZE)
        token = f"{stop}~{fetch(1, '').next_page_token}" if stop < len(everything) else ""
        return Page(everything[offset:stop], token, len(everything))


class MissingTokenOnLastFullPage(_PagedLists):
    """A full page gets no next_page_token when less than a full page follows it."""

    def _page(self, fetch: Fetch, page_size: int, page_token: str) -> Page[Any]:
        page = fetch(page_size, page_token)
        if page.next_page_token and page_size > 0 and len(page.items) == min(page_size, paging.MAX_PAGE_SIZE):
            following = fetch(page_size, page.next_page_token)
            if len(following.items) < len(page.items):
                return Page(page.items, "", page.total_count)
        return page


class TotalCountOfThePage(_PagedLists):
    """total_count counts the items of the page, not every match."""

    def _page(self, fetch: Fetch, page_size: int, page_token: str) -> Page[Any]:
        page = fetch(page_size, page_token)
        return Page(page.items, page.next_page_token, len(page.items))


def _tokens_not_bound_to_filters(monkeypatch: pytest.MonkeyPatch) -> None:
    """A token's check leaves out the request's filters and view: it verifies with any."""
    original = paging.Listing._check
    monkeypatch.setattr(paging.Listing, "_check", lambda self, binding, body: original(self, (), body))


def _without_error_info(error: errors.ApiError) -> grpc.Status:
    """Statuses with the right code and message but no ErrorInfo detail."""
    from google.rpc import code_pb2, status_pb2
    from grpc_status import rpc_status

    status: grpc.Status = rpc_status.to_status(
        status_pb2.Status(code=code_pb2.Code.Value(error.code.name), message=error.message)
    )
    return status


ORIGINAL_TO_STATUS = errors.to_grpc_status


def _bad_request_names_wrong_field(error: errors.ApiError) -> grpc.Status:
    renamed = tuple(errors.FieldViolation(v.field.upper(), v.description) for v in error.violations)
    return ORIGINAL_TO_STATUS(errors.ApiError(error.code, error.reason, error.message, renamed, error.metadata))


def _statuses(to_status: Callable[[errors.ApiError], grpc.Status]) -> Callable[[pytest.MonkeyPatch], None]:
    return lambda monkeypatch: monkeypatch.setattr(errors, "to_grpc_status", to_status)


# name -> (store class, a patch applied while the server runs, or None)
VARIANTS: dict[str, tuple[type[Store], Callable[[pytest.MonkeyPatch], None] | None]] = {
    "not_found_instead_of_failed_precondition": (NotFoundForUnknownCentralSystem, None),
    "ignores_update_mask": (IgnoresUpdateMask, None),
    "allows_second_enabled_master": (AllowsSecondMaster, None),
    "keeps_connections_after_disable": (KeepsConnectionsOnDisable, None),
    "off_by_one_paging": (OffByOnePaging, None),
    "unsorted_central_systems": (UnsortedCentralSystems, None),
    "unsorted_mappings": (UnsortedMappings, None),
    "limit_not_capped": (LimitNotCapped, None),
    "wrong_default_limit": (WrongDefaultLimit, None),
    "no_cascade_on_force_delete": (NoCascadeOnForceDelete, None),
    "deletes_in_use_without_force": (DeletesInUseWithoutForce, None),
    "connections_count_out_of_step": (CountOutOfStep, None),
    "disconnect_deletes_the_record": (DisconnectDeletes, None),
    "total_count_ignores_filters": (TotalCountIgnoresFilters, None),
    "central_system_names_not_unique": (NamesNotUnique, None),
    "missing_error_info": (Store, _statuses(_without_error_info)),
    "bad_request_names_the_wrong_field": (Store, _statuses(_bad_request_names_wrong_field)),
    "offset_tokens_shift_under_writes": (OffsetTokens, None),
    "tokens_not_bound_to_filters": (Store, _tokens_not_bound_to_filters),
    "missing_token_on_the_last_full_page": (MissingTokenOnLastFullPage, None),
    "total_count_counts_the_page": (TotalCountOfThePage, None),
}

#: The case that must fail against each variant (others may fail too).
CAUGHT_BY: dict[str, str] = {
    "not_found_instead_of_failed_precondition": "mapping_needs_an_existing_central_system",
    "ignores_update_mask": "central_system_update_mask_limits_the_change",
    "allows_second_enabled_master": "one_enabled_master_on_create",
    "keeps_connections_after_disable": "disabling_a_mapping_disconnects",
    "off_by_one_paging": "transactions_pages_are_consistent",
    "unsorted_central_systems": "central_systems_listed_by_id",
    "unsorted_mappings": "mappings_listed_in_key_order",
    "limit_not_capped": "transactions_limit_is_capped_at_1000",
    "wrong_default_limit": "transactions_limit_default_is_100",
    "no_cascade_on_force_delete": "central_system_force_delete_cascades",
    "deletes_in_use_without_force": "central_system_delete_in_use_needs_force",
    "connections_count_out_of_step": "worker_connections_ordered_and_counted",
    "disconnect_deletes_the_record": "connection_disconnect_and_recreate",
    "total_count_ignores_filters": "transactions_filter_by_station",
    "central_system_names_not_unique": "central_system_name_is_unique",
    "missing_error_info": "central_system_name_is_unique",
    "bad_request_names_the_wrong_field": "central_system_create_validates_fields",
    "offset_tokens_shift_under_writes": "get_all_mappings_stable_under_writes",
    "tokens_not_bound_to_filters": "get_all_mappings_replayed_token_is_invalid",
    "missing_token_on_the_last_full_page": "get_all_mappings_walks_complete_and_ordered",
    "total_count_counts_the_page": "get_all_mappings_walks_complete_and_ordered",
}


@contextmanager
def broken_server(name: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ReferenceServer]:
    store_class, patch = VARIANTS[name]
    if patch is not None:
        patch(monkeypatch)
    with ReferenceServer(store=demo_store(store=store_class())) as server:
        yield server


def failed_cases(names: Sequence[str]) -> str:
    return ", ".join(names) or "none"


# -- credentials: servers that get who may call wrong -----------------------------------

ADMIN_TOKEN = "broken-admin-0123456789abcdef"
READER_TOKEN = "broken-reader-0123456789abcdef"


class AcceptsAnyToken(Tokens):
    """Any token is an admin's."""

    def role_of(self, token: str) -> str | None:
        return super().role_of(token) or auth.ADMIN


class ReaderMayWrite(Tokens):
    """A read-only token is an admin's."""

    def role_of(self, token: str) -> str | None:
        return auth.ADMIN if super().role_of(token) else None


class ReaderMayNotRead(Tokens):
    """A read-only token is refused everywhere."""

    def role_of(self, token: str) -> str | None:
        role = super().role_of(token)
        return role if role == auth.ADMIN else None


def _missing_reported_as_invalid(method: str, metadata: Any, tokens: Tokens) -> errors.ApiError | None:
    refused = ORIGINAL_REFUSAL(method, metadata, tokens)
    if refused is not None and refused.reason == errors.CREDENTIALS_MISSING:
        refused.reason = errors.CREDENTIALS_INVALID
    return refused


ORIGINAL_REFUSAL = auth.refusal


class ActsThenRefuses(auth.TokenInterceptor):
    """Runs a refused call anyway, then answers with the refusal."""

    def intercept_service(self, continuation: Any, details: Any) -> Any:
        refused = auth.refusal(details.method, details.invocation_metadata or (), self._tokens)
        handler = continuation(details)
        if refused is None or handler is None:
            return handler
        status = errors.to_grpc_status(refused)

        def behavior(request: bytes, context: grpc.ServicerContext) -> bytes:
            with contextlib.suppress(Exception):
                handler.unary_unary(handler.request_deserializer(request), context)
            context.abort_with_status(status)
            raise AssertionError  # pragma: no cover

        return grpc.unary_unary_rpc_method_handler(behavior)


class GuardsHealthToo(auth.TokenInterceptor):
    """Health needs credentials like the admin services."""

    def __init__(self, tokens: Tokens, services: Any = None) -> None:
        admin = {m.containing_service.full_name for m in admin_methods()}
        super().__init__(tokens, [*admin, "grpc.health.v1.Health"])


# name -> (Tokens class, replacement for auth.refusal or None, replacement interceptor or None)
AUTH_VARIANTS: dict[str, tuple[type[Tokens], Any, type[auth.TokenInterceptor] | None]] = {
    "accepts_a_wrong_token": (AcceptsAnyToken, None, None),
    "lets_a_reader_write": (ReaderMayWrite, None, None),
    "refuses_a_reader_a_read": (ReaderMayNotRead, None, None),
    "missing_credentials_reported_as_invalid": (Tokens, _missing_reported_as_invalid, None),
    "acts_on_a_refused_call": (Tokens, None, ActsThenRefuses),
    "health_needs_credentials": (Tokens, None, GuardsHealthToo),
}


@contextmanager
def broken_auth_server(name: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ReferenceServer]:
    tokens_class, refusal, interceptor = AUTH_VARIANTS[name]
    if refusal is not None:
        monkeypatch.setattr(auth, "refusal", refusal)
    if interceptor is not None:
        monkeypatch.setattr(server_module, "TokenInterceptor", interceptor)
    with ReferenceServer(store=Store(), tokens=tokens_class([ADMIN_TOKEN], [READER_TOKEN])) as server:
        yield server
