"""Serving a sandbox the way the partners' own client libraries can reach it.

Both libraries speak HTTPS only (``bigcommerce`` builds ``https://`` + host itself;
python-quickbooks goes through requests-oauthlib, which refuses plain HTTP), so the
sandbox is served over TLS on 127.0.0.1 with a throwaway self-signed certificate, and
requests is told to trust it through its documented ``REQUESTS_CA_BUNDLE`` variable.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Tls:
    cert: Path
    key: Path


def loopback_certificate(folder: Path) -> Tls:
    """A self-signed certificate for 127.0.0.1 (PEM files in ``folder``)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    tls = Tls(folder / "cert.pem", folder / "key.pem")
    tls.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    tls.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return tls


def trusting(tls: Tls) -> ssl.SSLContext:
    """An SSL context (for httpx) that trusts the sandbox's certificate."""
    return ssl.create_default_context(cafile=str(tls.cert))
