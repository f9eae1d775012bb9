"""Client call details with a field or two changed, for client interceptors.

grpc hands an interceptor a ``ClientCallDetails`` it may not change; passing
the call on with another deadline or more metadata means a new one that keeps
every other field, the optional ``wait_for_ready`` and ``compression``
included. One helper, so no interceptor of this package drops a field.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import grpc


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: bool | None
    compression: Any


def replaced(details: grpc.ClientCallDetails, **changes: Any) -> grpc.ClientCallDetails:
    """details with the named fields (timeout, metadata, ...) changed."""
    fields: dict[str, Any] = {name: getattr(details, name, None) for name in _CallDetails._fields}
    fields.update(changes)
    # A NamedTuple has the attributes grpc reads; it does not subclass the ABC.
    return _CallDetails(**fields)  # type: ignore[return-value]
