"""Generated bindings: ocpp_broker_protos.central_system.v1. Do not edit; run `make generate`."""
