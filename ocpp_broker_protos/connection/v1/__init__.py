"""Generated bindings: ocpp_broker_protos.connection.v1. Do not edit; run `make generate`."""
