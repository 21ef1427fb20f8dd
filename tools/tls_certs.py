"""A throwaway CA and broker certificate for tests and benchmarks, made per run with openssl.

EC P-256 keys keep the handshake small (what a 4G plan pays for). Nothing
made here is kept in the repository; production CAs live with the operator.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca_and_server(folder: Path, host: str = "127.0.0.1") -> dict[str, Path]:
    """Write ca.pem, ca.der, server.pem and server.key under ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / name for name in ("ca.key", "ca.pem", "ca.der", "server.key", "server.csr", "server.pem")}
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(paths["ca.key"]))
    _openssl(
        "req",
        "-x509",
        "-new",
        "-key",
        str(paths["ca.key"]),
        "-subj",
        "/CN=pile test CA",
        "-days",
        "2",
        "-out",
        str(paths["ca.pem"]),
    )
    _openssl("x509", "-in", str(paths["ca.pem"]), "-outform", "der", "-out", str(paths["ca.der"]))
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(paths["server.key"]))
    _openssl("req", "-new", "-key", str(paths["server.key"]), "-subj", f"/CN={host}", "-out", str(paths["server.csr"]))
    extensions = folder / "san.cnf"
    extensions.write_text(f"subjectAltName=IP:{host}\n")
    _openssl(
        "x509",
        "-req",
        "-in",
        str(paths["server.csr"]),
        "-CA",
        str(paths["ca.pem"]),
        "-CAkey",
        str(paths["ca.key"]),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        str(extensions),
        "-out",
        str(paths["server.pem"]),
    )
    return paths


def tls_listener(port: int, paths: dict[str, Path]) -> str:
    """mosquitto config lines for a TLS listener on ``port`` with these files."""
    return (
        f"listener {port} 127.0.0.1\ncafile {paths['ca.pem']}\ncertfile {paths['server.pem']}\n"
        f"keyfile {paths['server.key']}\n"
    )
