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
from ocpp_broker_protos.reference import ReferenceServer, Store, auth, errors
from ocpp_broker_protos.reference import server as server_module
from ocpp_broker_protos.reference.auth import Tokens
from ocpp_broker_protos.reference.demo import demo_store
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
    """ListCentralSystems comes newest first."""

    def list_central_systems(self) -> list[CentralSystem]:
        return list(reversed(super().list_central_systems()))


class UnsortedMappings(Store):
    """GetAllMappings comes in reverse key order."""

    def list_mappings(self, station_id: str = "", central_system_id: int = 0) -> list[Mapping]:
        return list(reversed(super().list_mappings(station_id, central_system_id)))


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


# name -> (store class, replacement for errors.to_grpc_status or None)
VARIANTS: dict[str, tuple[type[Store], Callable[[errors.ApiError], grpc.Status] | None]] = {
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
    "missing_error_info": (Store, _without_error_info),
    "bad_request_names_the_wrong_field": (Store, _bad_request_names_wrong_field),
}


@contextmanager
def broken_server(name: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ReferenceServer]:
    store_class, to_status = VARIANTS[name]
    if to_status is not None:
        monkeypatch.setattr(errors, "to_grpc_status", to_status)
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
