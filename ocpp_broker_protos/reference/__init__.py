"""The in-memory reference server of the admin API (``pip install ocpp-broker-protos[server]``).

>>> from ocpp_broker_protos.reference import ReferenceServer
>>> with ReferenceServer() as server:          # doctest: +SKIP
...     channel = grpc.insecure_channel(server.target)
"""

from __future__ import annotations

from ocpp_broker_protos.reference.errors import DOMAIN, ApiError, FieldViolation
from ocpp_broker_protos.reference.fixtures import FixtureError, load_fixture_file, load_fixtures
from ocpp_broker_protos.reference.server import ReferenceServer
from ocpp_broker_protos.reference.store import Store

__all__ = [
    "DOMAIN",
    "ApiError",
    "FieldViolation",
    "FixtureError",
    "ReferenceServer",
    "Store",
    "load_fixture_file",
    "load_fixtures",
]
