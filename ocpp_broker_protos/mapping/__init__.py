"""Generated bindings: ocpp_broker_protos.mapping. Do not edit; run `make generate`."""
