"""Generated bindings: ocpp_broker_protos.mapping.v1. Do not edit; run `make generate`."""
