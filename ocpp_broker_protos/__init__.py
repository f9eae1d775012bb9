"""Protobuf/gRPC bindings of the OCPP broker admin API.

The generated modules live under ``ocpp_broker_protos.<area>.v1``; this module
only adds helpers that locate the contract shipped with the installed version:
the ``.proto`` sources (to compile against from another language) and the
FileDescriptorSet (to run ``buf breaking`` against, or to build dynamic
clients from).
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

__all__ = [
    "PROTO_FILES",
    "__version__",
    "descriptor_set_bytes",
    "descriptor_set_path",
    "proto_include_dir",
]

try:
    __version__ = metadata.version("ocpp-broker-protos")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

_HERE = Path(__file__).resolve().parent

#: The four contract files, relative to :func:`proto_include_dir`.
PROTO_FILES = (
    "ocpp_broker_protos/central_system/v1/central_system.proto",
    "ocpp_broker_protos/connection/v1/connection.proto",
    "ocpp_broker_protos/mapping/v1/mapping.proto",
    "ocpp_broker_protos/transaction/v1/transaction.proto",
)


def proto_include_dir() -> Path:
    """Return the directory to pass to ``protoc -I`` (or to use as a buf input).

    In an installed wheel the sources sit inside the package; in a source
    checkout they are the repository's ``proto/`` folder.
    """
    for candidate in (_HERE / "proto", _HERE.parent / "proto"):
        if (candidate / PROTO_FILES[0]).is_file():
            return candidate
    raise FileNotFoundError("the .proto sources are not shipped with this installation")


def descriptor_set_path() -> Path:
    """Return the path of the shipped FileDescriptorSet (imports included)."""
    return _HERE / "descriptor_set.binpb"


def descriptor_set_bytes() -> bytes:
    """Return the serialized FileDescriptorSet of the four contract files and their imports."""
    return descriptor_set_path().read_bytes()
