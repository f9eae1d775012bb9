"""``python -m ocpp_broker_protos``: the ``ocpp-broker-protos`` command."""

import sys

from ocpp_broker_protos.cli import main

sys.exit(main())
