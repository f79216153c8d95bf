"""A private certificate authority and the certificates it signs, for TLS between the processes.

`python -m kit.certificates ./secrets/tls --hosts customers,sessions` writes `ca.pem` and
`ca.key`, then `<host>.pem` and `<host>.key` for each host: valid for server and client use, with
the host, `localhost` and `127.0.0.1` as subject alternative names. Existing files are kept, so a
second run adds only what is missing; `--renew` issues every host certificate again.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_HOSTS = ("customers", "sessions", "hotel", "flights", "payments", "expiry", "gateway", "redis")
LOCAL_NAMES = ("localhost", "127.0.0.1")
CA_DAYS = 3650
HOST_DAYS = 397
_HOST_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate and its private key, both PEM."""

    cert_pem: bytes
    key_pem: bytes


@dataclass(frozen=True)
class CertificateAuthority:
    """A self-signed CA able to sign host certificates."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return _key_pem(self.key)

    @classmethod
    def create(cls, name: str, now: datetime, days: int = CA_DAYS) -> CertificateAuthority:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(certificate, key)

    @classmethod
    def load(cls, cert_pem: bytes, key_pem: bytes) -> CertificateAuthority:
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the CA key is not an elliptic-curve key")
        return cls(x509.load_pem_x509_certificate(cert_pem), key)

    def issue(
        self, common_name: str, names: Sequence[str], now: datetime, days: int = HOST_DAYS
    ) -> IssuedCertificate:
        """A certificate for `names` (DNS names or IP addresses), for both server and client use."""
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        return IssuedCertificate(certificate.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def host_names(host: str) -> list[str]:
    """The names a host's certificate is valid for: itself, then the loopback names."""
    return list(dict.fromkeys([host, *LOCAL_NAMES]))


def _write(path: Path, content: bytes, secret: bool) -> None:
    # A key file is created with owner-only permissions, never briefly readable by others.
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    with os.fdopen(os.open(path, flags, 0o600 if secret else 0o644), "wb") as file:
        file.write(content)


def write_certificates(folder: Path, hosts: Sequence[str], now: datetime, renew: bool = False) -> list[Path]:
    """Make (or reuse) the CA in `folder`, then a certificate per host; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    ca_cert, ca_key = folder / "ca.pem", folder / "ca.key"
    if ca_cert.exists() and ca_key.exists():
        authority = CertificateAuthority.load(ca_cert.read_bytes(), ca_key.read_bytes())
    else:
        authority = CertificateAuthority.create("travel-agency internal CA", now)
        _write(ca_key, authority.key_pem, secret=True)
        _write(ca_cert, authority.cert_pem, secret=False)
        written += [ca_cert, ca_key]
        renew = True  # certificates of an earlier CA would not verify any more
    for host in hosts:
        cert_path, key_path = folder / f"{host}.pem", folder / f"{host}.key"
        if not renew and cert_path.exists() and key_path.exists():
            continue
        issued = authority.issue(host, host_names(host), now)
        _write(key_path, issued.key_pem, secret=True)
        _write(cert_path, issued.cert_pem, secret=False)
        written += [cert_path, key_path]
    return written


def parse_hosts(text: str) -> list[str]:
    hosts = [part.strip() for part in text.split(",") if part.strip()]
    for host in hosts:
        if not _HOST_NAME.match(host):
            raise argparse.ArgumentTypeError(f"not a host name: {host!r}")
    if not hosts:
        raise argparse.ArgumentTypeError("no host given")
    return hosts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kit.certificates",
        description="Write a private CA and a TLS certificate per host (server and client use).",
    )
    parser.add_argument("folder", type=Path, help="where to write ca.pem, ca.key, <host>.pem, <host>.key")
    parser.add_argument(
        "--hosts", type=parse_hosts, default=list(DEFAULT_HOSTS),
        help=f"comma-separated host names (default: {','.join(DEFAULT_HOSTS)})",
    )  # fmt: skip
    parser.add_argument("--renew", action="store_true", help="issue every host certificate again")
    args = parser.parse_args(argv)
    written = write_certificates(args.folder, args.hosts, datetime.now(UTC), renew=args.renew)
    for path in written:
        print(f"wrote {path}")
    if not written:
        print(f"{args.folder}: every certificate exists already (--renew issues them again)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
