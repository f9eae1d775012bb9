"""The conformance cases, one module per service; importing registers them."""

from ocpp_broker_protos.conformance.cases import central_systems, connections, mappings, paging, transactions

__all__ = ["central_systems", "connections", "mappings", "paging", "transactions"]
