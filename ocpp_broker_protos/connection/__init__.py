"""Generated bindings: ocpp_broker_protos.connection. Do not edit; run `make generate`."""
