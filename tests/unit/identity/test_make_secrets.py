"""`make secrets`: every file a deployment mounts, written once, replaced only when forced."""

from __future__ import annotations

import stat
from pathlib import Path

from kit.secret_files import SecretLayout
from kit.secrets import TLS_HOSTS, main, write_secrets
from kit.signing_keys import public_pem_of
from kit.tokens import SERVICE_IDENTITIES
from kit.webhook_secret import guessable_reason


def expected_files(folder: Path) -> set[Path]:
    layout = SecretLayout(folder)
    files = {layout.webhook_secret, layout.provider_admin_token}
    files |= {layout.customer_token_private_key, layout.customer_token_public_key}
    for service in SERVICE_IDENTITIES:
        files |= {layout.service_private_key(service), layout.service_public_key(service)}
    files |= {folder / "tls" / name for name in ("ca.pem", "ca.key")}
    files |= {folder / "tls" / f"{host}.{ext}" for host in TLS_HOSTS for ext in ("pem", "key")}
    return files


def test_writes_every_file_a_deployment_mounts(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    assert set(write_secrets(folder)) == expected_files(folder)
    layout = SecretLayout(folder)
    assert guessable_reason(layout.webhook_secret.read_text().strip()) is None
    assert layout.provider_admin_token.read_text() != layout.webhook_secret.read_text()
    for service in SERVICE_IDENTITIES:
        private = layout.service_private_key(service)
        assert layout.service_public_key(service).read_bytes() == public_pem_of(private.read_bytes())
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert sorted(p.name for p in layout.trusted_keys_dir.iterdir()) == sorted(
        f"{s}.pub" for s in SERVICE_IDENTITIES
    )


def test_existing_files_are_kept_unless_forced(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    write_secrets(folder, tls=False)
    layout = SecretLayout(folder)
    before = layout.webhook_secret.read_bytes(), layout.customer_token_private_key.read_bytes()
    assert main([str(folder), "--no-tls"]) == 0
    assert (layout.webhook_secret.read_bytes(), layout.customer_token_private_key.read_bytes()) == before
    layout.service_public_key("gateway").unlink()
    assert write_secrets(folder, tls=False) == [layout.service_public_key("gateway")]
    assert main([str(folder), "--no-tls", "--force"]) == 0
    assert layout.webhook_secret.read_bytes() != before[0]
    assert layout.customer_token_private_key.read_bytes() != before[1]
    assert layout.customer_token_public_key.read_bytes() == public_pem_of(
        layout.customer_token_private_key.read_bytes()
    )


def test_the_folder_is_closed_to_the_host_and_its_files_open_to_the_containers(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    assert main([str(folder), "--no-tls"]) == 0
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    private = SecretLayout(folder).service_private_key("gateway")
    assert stat.S_IMODE(private.stat().st_mode) == 0o644
    assert stat.S_IMODE(private.parent.stat().st_mode) == 0o755
