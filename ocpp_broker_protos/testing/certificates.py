"""Throwaway certificates for tests of TLS and mutual TLS, made with the ``openssl`` command.

>>> pki = make_test_pki(tmp_path)                       # doctest: +SKIP
>>> ReferenceServer(tls_cert=pki.server_cert, tls_key=pki.server_key, client_ca=pki.ca_cert)  # doctest: +SKIP

The server certificate is valid for ``localhost`` and ``127.0.0.1``, so a
client can connect to a ``ReferenceServer``'s ``target`` as it is. Keys are
unencrypted EC P-256 and the certificates expire after two days: for tests,
never for anything else.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TestPki", "make_test_pki"]


@dataclass(frozen=True)
class TestPki:
    """Paths of a CA, a server certificate and a client certificate signed by it."""

    __test__ = False  # not a test class, despite its name

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def read(self, name: str) -> bytes:
        """The PEM bytes of one of the fields, e.g. ``pki.read("ca_cert")``."""
        path: Path = getattr(self, name)
        return path.read_bytes()


def _openssl(*args: str) -> None:
    if shutil.which("openssl") is None:
        raise RuntimeError("making test certificates needs the openssl command on PATH")
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {result.stderr.strip()}")


def _key(path: Path) -> None:
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path))


def _signed(folder: Path, name: str, subject: str, ca: tuple[Path, Path], extensions: str) -> tuple[Path, Path]:
    key, request, cert, ext = (folder / f"{name}{suffix}" for suffix in ("-key.pem", ".csr", ".pem", ".ext"))
    _key(key)
    _openssl("req", "-new", "-key", str(key), "-subj", subject, "-out", str(request))
    ext.write_text(extensions)
    ca_cert, ca_key = ca
    _openssl(
        "x509", "-req", "-in", str(request), "-CA", str(ca_cert), "-CAkey", str(ca_key), "-CAcreateserial",
        "-days", "2", "-sha256", "-extfile", str(ext), "-out", str(cert),
    )  # fmt: skip
    request.unlink()
    ext.unlink()
    return cert, key


def make_test_pki(folder: str | Path, name: str = "ocpp-test") -> TestPki:
    """A fresh CA in folder, with a server and a client certificate signed by it."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = root / f"{name}-ca-key.pem", root / f"{name}-ca.pem"
    _key(ca_key)
    _openssl(
        "req", "-x509", "-new", "-key", str(ca_key), "-subj", f"/CN={name} CA", "-days", "2", "-sha256",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-out", str(ca_cert),
    )  # fmt: skip
    server_cert, server_key = _signed(
        root,
        f"{name}-server",
        "/CN=localhost",
        (ca_cert, ca_key),
        "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n",
    )
    client_cert, client_key = _signed(
        root, f"{name}-client", f"/CN={name} client", (ca_cert, ca_key), "extendedKeyUsage=clientAuth\n"
    )
    return TestPki(ca_cert, server_cert, server_key, client_cert, client_key)
