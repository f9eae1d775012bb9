"""The reference server's access log: one JSON line per call.

Each line holds ``time`` (UTC, RFC 3339, milliseconds), ``peer``, ``method``
(``/pkg.Service/Method``), ``code`` (the gRPC status name), ``reason`` (the
ErrorInfo reason, "" on success), ``duration_ms`` and ``request_bytes`` (the
serialized size of the request, summed over a request stream)::

    {"time": "2026-11-25T12:00:00.123Z", "peer": "ipv4:127.0.0.1:50312",
     "method": "/ocpp_broker_protos.central_system.v1.CentralSystemService/DeleteCentralSystem",
     "code": "UNAUTHENTICATED", "reason": "CREDENTIALS_MISSING", "duration_ms": 0.21, "request_bytes": 2}

Metadata and message bodies are never written, so neither is a token. Calls
of methods the server does not have are answered by gRPC itself and are not
logged.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

import grpc

from ocpp_broker_protos import errors

_FACTORIES = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}
_BEHAVIORS = {
    (False, False): "unary_unary",
    (False, True): "unary_stream",
    (True, False): "stream_unary",
    (True, True): "stream_stream",
}


class _Counter:
    """Parses a call's request bytes, adding up their size."""

    def __init__(self, parse: Callable[[bytes], Any]) -> None:
        self._parse = parse
        self.size = 0

    def _one(self, raw: bytes) -> Any:
        self.size += len(raw)
        return self._parse(raw)

    def requests(self, request: Any, streaming: bool) -> Any:
        return (self._one(raw) for raw in request) if streaming else self._one(request)


class AccessLog(grpc.ServerInterceptor):
    """Writes one JSON line per call to stream (flushed at once; the caller owns the stream)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None], details: Any
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(details)
        if handler is None:
            return None
        kind = (bool(handler.request_streaming), bool(handler.response_streaming))
        inner = getattr(handler, _BEHAVIORS[kind])
        parse = handler.request_deserializer or (lambda raw: raw)
        method: str = details.method
        write = self._write

        behavior: Callable[[Any, grpc.ServicerContext], Any]
        if kind[1]:

            def streamed(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                counter, started, ok = _Counter(parse), time.perf_counter(), False
                try:
                    yield from inner(counter.requests(request, kind[0]), context)
                    ok = True
                finally:
                    write(method, context, ok, counter.size, started)

            behavior = streamed
        else:

            def unary(request: Any, context: grpc.ServicerContext) -> Any:
                counter, started, ok = _Counter(parse), time.perf_counter(), False
                try:
                    response = inner(counter.requests(request, kind[0]), context)
                    ok = True
                    return response
                finally:
                    write(method, context, ok, counter.size, started)

            behavior = unary

        # The request arrives as bytes so that its size is known; it is parsed above.
        return _FACTORIES[kind](behavior, response_serializer=handler.response_serializer)

    def _write(self, method: str, context: Any, ok: bool, size: int, started: float) -> None:
        duration = time.perf_counter() - started
        code = context.code()
        if code is None:
            code = grpc.StatusCode.OK if ok else grpc.StatusCode.UNKNOWN
        line = json.dumps(
            {
                "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "peer": context.peer(),
                "method": method,
                "code": code.name,
                "reason": errors.reason(context),
                "duration_ms": round(duration * 1000, 3),
                "request_bytes": size,
            },
            separators=(", ", ": "),
        )
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()
