"""Generated bindings: ocpp_broker_protos.central_system. Do not edit; run `make generate`."""
