"""`python -m kit.secrets ./secrets`: every secret a deployment mounts, made at random.

Writes the webhook secret, the providers' admin token, the customer token key pair, a key per
service with its public half in `trusted/`, and the TLS certificates of the gRPC mesh under `tls/`.
Existing files are kept; `--force` makes every one again.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from kit.certificates import write_certificates
from kit.secret_files import SecretLayout, write_once
from kit.signing_keys import new_private_pem, public_pem_of
from kit.tokens import SERVICE_IDENTITIES
from kit.webhook_secret import new_webhook_secret

TLS_HOSTS = ("customers", *SERVICE_IDENTITIES, "redis")


def _key_pair(private: Path, public: Path, force: bool) -> list[Path]:
    written = [private] if write_once(private, new_private_pem(), force=force) else []
    # The public half always follows the private key on disk, whichever run wrote that.
    if write_once(public, public_pem_of(private.read_bytes()), mode=0o644, force=force or bool(written)):
        written.append(public)
    return written


def write_secrets(folder: Path, force: bool = False, tls: bool = True) -> list[Path]:
    """Write what is missing under `folder` (everything with `force`); returns the files written."""
    layout = SecretLayout(folder)
    written: list[Path] = []
    for path in (layout.webhook_secret, layout.provider_admin_token):
        if write_once(path, (new_webhook_secret() + "\n").encode(), force=force):
            written.append(path)
    written += _key_pair(layout.customer_token_private_key, layout.customer_token_public_key, force)
    for service in SERVICE_IDENTITIES:
        written += _key_pair(layout.service_private_key(service), layout.service_public_key(service), force)
    if tls:
        written += write_certificates(folder / "tls", TLS_HOSTS, datetime.now(UTC), renew=force)
    return written


def readable_inside_containers(folder: Path) -> None:
    """Close the folder to other users of this host, open its files to the containers' own user.

    Compose bind-mounts each file with its host owner and mode, and the image runs as a user of
    its own (uid 10001), which an owner-only file would lock out. The folder's 0700 keeps every
    other account of the host from reaching the files; inside a container only the file is mounted.
    """
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    folder.chmod(0o700)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kit.secrets",
        description="Write the secrets a docker compose deployment mounts.",
    )
    parser.add_argument("folder", type=Path, help="where to write them (e.g. ./secrets)")
    parser.add_argument("--force", action="store_true", help="replace existing files with new ones")
    parser.add_argument("--no-tls", action="store_true", help="skip the TLS certificates")
    args = parser.parse_args(argv)
    written = write_secrets(args.folder, force=args.force, tls=not args.no_tls)
    readable_inside_containers(args.folder)
    for path in written:
        print(f"wrote {path}")
    if not written:
        print(f"{args.folder}: every secret exists already (--force makes new ones)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
