"""Protobuf/gRPC bindings of the OCPP broker admin API.

The generated modules live under ``ocpp_broker_protos.<area>.v1``; this module
only adds helpers that locate the contract shipped with the installed version:
the ``.proto`` sources (to compile against from another language) and the
FileDescriptorSet (to run ``buf breaking`` against, or to build dynamic
clients from).

Importing a generated module imports this one first, so it stays cheap:
``pathlib`` and ``importlib.metadata`` are loaded only when a helper or
``__version__`` is used.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["PROTO_FILES", "__version__", "descriptor_set_bytes", "descriptor_set_path", "proto_include_dir"]

_HERE = os.path.dirname(os.path.abspath(__file__))

#: The four contract files, relative to :func:`proto_include_dir`.
PROTO_FILES = (
    "ocpp_broker_protos/central_system/v1/central_system.proto",
    "ocpp_broker_protos/connection/v1/connection.proto",
    "ocpp_broker_protos/mapping/v1/mapping.proto",
    "ocpp_broker_protos/transaction/v1/transaction.proto",
)


def __getattr__(name: str) -> str:
    if name == "__version__":
        from importlib import metadata

        try:
            return metadata.version("ocpp-broker-protos")
        except metadata.PackageNotFoundError:  # running from a bare checkout
            return "0.0.0"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def proto_include_dir() -> Path:
    """Return the directory to pass to ``protoc -I`` (or to use as a buf input).

    In an installed wheel the sources sit inside the package; in a source
    checkout they are the repository's ``proto/`` folder.
    """
    from pathlib import Path

    here = Path(_HERE)
    for candidate in (here / "proto", here.parent / "proto"):
        if (candidate / PROTO_FILES[0]).is_file():
            return candidate
    raise FileNotFoundError("the .proto sources are not shipped with this installation")


def descriptor_set_path() -> Path:
    """Return the path of the shipped FileDescriptorSet (imports included)."""
    from pathlib import Path

    return Path(_HERE) / "descriptor_set.binpb"


def descriptor_set_bytes() -> bytes:
    """Return the serialized FileDescriptorSet of the four contract files and their imports."""
    return descriptor_set_path().read_bytes()
