"""Generated bindings: ocpp_broker_protos.transaction. Do not edit; run `make generate`."""
