"""Generated bindings: ocpp_broker_protos.transaction.v1. Do not edit; run `make generate`."""
