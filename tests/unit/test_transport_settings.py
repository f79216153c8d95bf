"""Transport settings fail fast and clearly: gRPC TLS files, Redis URLs and TLS files, masked URLs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from kit.certificates import main as certificates_main
from kit.certificates import write_certificates
from kit.grpc_tls import GrpcTls
from kit.redis_connection import RedisSettings, masked_url
from kit.settings import ConfigError, Env


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tls")
    write_certificates(folder, ["sessions", "expiry"], datetime.now(UTC))
    return folder


def env_of(tls_dir: Path, host: str = "sessions", **extra: str) -> Env:
    return Env(
        {
            "GRPC_TLS_CA_FILE": str(tls_dir / "ca.pem"),
            "GRPC_TLS_CERT_FILE": str(tls_dir / f"{host}.pem"),
            "GRPC_TLS_KEY_FILE": str(tls_dir / f"{host}.key"),
            **extra,
        }
    )


def test_no_setting_means_plaintext() -> None:
    assert GrpcTls.from_env(Env({}), serving=True) is None


def test_full_settings_mean_mutual_tls_by_default(tls_dir: Path) -> None:
    tls = GrpcTls.from_env(env_of(tls_dir), serving=True)
    assert tls is not None and tls.client_auth and tls.cert_pem and tls.key_pem
    assert tls.server_credentials() is not None and tls.channel_credentials() is not None


@pytest.mark.parametrize(
    ("drop", "names"),
    [
        ("GRPC_TLS_CA_FILE", "GRPC_TLS_CA_FILE is required"),
        ("GRPC_TLS_KEY_FILE", "GRPC_TLS_KEY_FILE is required"),
        ("GRPC_TLS_CERT_FILE", "GRPC_TLS_CERT_FILE is required"),
    ],
)
def test_half_configured_tls_is_one_clear_error(tls_dir: Path, drop: str, names: str) -> None:
    settings = {
        "GRPC_TLS_CA_FILE": str(tls_dir / "ca.pem"),
        "GRPC_TLS_CERT_FILE": str(tls_dir / "sessions.pem"),
        "GRPC_TLS_KEY_FILE": str(tls_dir / "sessions.key"),
    }
    del settings[drop]
    with pytest.raises(ConfigError, match=names):
        GrpcTls.from_env(Env(settings), serving=True)


def test_unreadable_mismatched_or_malformed_files_are_refused(tls_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"GRPC_TLS_CA_FILE cannot be read"):
        GrpcTls.from_env(env_of(tls_dir, GRPC_TLS_CA_FILE=str(tmp_path / "missing.pem")))
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello")
    with pytest.raises(ConfigError, match=r"GRPC_TLS_CA_FILE is not a PEM certificate"):
        GrpcTls.from_env(env_of(tls_dir, GRPC_TLS_CA_FILE=str(not_pem)))
    with pytest.raises(ConfigError, match=r"GRPC_TLS_KEY_FILE is not the private key"):
        GrpcTls.from_env(env_of(tls_dir, GRPC_TLS_KEY_FILE=str(tls_dir / "expiry.key")))
    with pytest.raises(ConfigError, match=r"GRPC_TLS_KEY_FILE is not an unencrypted PEM private key"):
        GrpcTls.from_env(env_of(tls_dir, GRPC_TLS_KEY_FILE=str(not_pem)))
    with pytest.raises(ConfigError, match=r"GRPC_TLS_CLIENT_AUTH must be true or false"):
        GrpcTls.from_env(env_of(tls_dir, GRPC_TLS_CLIENT_AUTH="maybe"))


def test_a_client_with_only_the_ca_needs_client_auth_off(tls_dir: Path) -> None:
    ca_only = {"GRPC_TLS_CA_FILE": str(tls_dir / "ca.pem")}
    with pytest.raises(ConfigError, match="GRPC_TLS_CLIENT_AUTH is on"):
        GrpcTls.from_env(Env(ca_only))
    tls = GrpcTls.from_env(Env({**ca_only, "GRPC_TLS_CLIENT_AUTH": "false"}))
    assert tls is not None and tls.cert_pem is None
    with pytest.raises(ConfigError, match="a gRPC server with TLS needs"):
        GrpcTls.from_env(Env({**ca_only, "GRPC_TLS_CLIENT_AUTH": "false"}), serving=True)


def test_generated_certificates_name_the_host_and_loopback(tls_dir: Path) -> None:
    certificate = x509.load_pem_x509_certificate((tls_dir / "sessions.pem").read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["sessions", "localhost"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert (tls_dir / "sessions.key").stat().st_mode & 0o077 == 0, (
        "a private key is readable by its owner only"
    )
    assert (tls_dir / "ca.key").stat().st_mode & 0o077 == 0


def test_the_command_keeps_what_exists_and_adds_what_is_missing(tmp_path: Path) -> None:
    folder = tmp_path / "tls"
    assert certificates_main([str(folder), "--hosts", "customers"]) == 0
    ca_before = (folder / "ca.pem").read_bytes()
    customers_before = (folder / "customers.pem").read_bytes()
    assert certificates_main([str(folder), "--hosts", "customers,payments"]) == 0
    assert (folder / "ca.pem").read_bytes() == ca_before
    assert (folder / "customers.pem").read_bytes() == customers_before
    assert sorted(p.name for p in folder.iterdir()) == [
        "ca.key", "ca.pem", "customers.key", "customers.pem", "payments.key", "payments.pem"
    ]  # fmt: skip
    with pytest.raises(SystemExit):
        certificates_main([str(folder), "--hosts", "bad/name"])


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:s3cret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("rediss://app:p%40ss@redis.internal:6380/2", "rediss://app:***@redis.internal:6380/2"),
        ("redis://app@127.0.0.1:6379", "redis://app@127.0.0.1:6379"),
        ("redis://127.0.0.1/0?password=s3cret&db=1", "redis://127.0.0.1/0?password=%2A%2A%2A&db=1"),
    ],
)
def test_masked_url_never_shows_a_password(url: str, shown: str) -> None:
    assert masked_url(url) == shown


def test_redis_settings_pass_the_url_unchanged_and_hide_it_in_repr() -> None:
    url = "redis://app:s3cret@127.0.0.1:6379/0"
    settings = RedisSettings.from_env(Env({"REDIS_URL": url}))
    assert settings.url == url and settings.connection_options() == {}
    assert "s3cret" not in repr(settings)


def test_redis_tls_files_need_rediss_and_readable_files(tls_dir: Path, tmp_path: Path) -> None:
    ca = str(tls_dir / "ca.pem")
    with pytest.raises(ConfigError, match=r"REDIS_TLS_CA_FILE set, but REDIS_URL is not rediss://"):
        RedisSettings.from_env(Env({"REDIS_URL": "redis://:pw@h:1/0", "REDIS_TLS_CA_FILE": ca}))
    with pytest.raises(ConfigError, match="REDIS_TLS_CA_FILE cannot be read"):
        RedisSettings.from_env(Env({"REDIS_URL": "rediss://h:1/0", "REDIS_TLS_CA_FILE": str(tmp_path / "x")}))
    with pytest.raises(ConfigError, match="go together"):
        RedisSettings.from_env(
            Env({"REDIS_URL": "rediss://h:1/0", "REDIS_TLS_CERT_FILE": str(tls_dir / "expiry.pem")})
        )
    settings = RedisSettings.from_env(
        Env(
            {
                "REDIS_URL": "rediss://h:1/0",
                "REDIS_TLS_CA_FILE": ca,
                "REDIS_TLS_CERT_FILE": str(tls_dir / "expiry.pem"),
                "REDIS_TLS_KEY_FILE": str(tls_dir / "expiry.key"),
            }
        )
    )
    assert settings.connection_options() == {
        "ssl_ca_certs": ca,
        "ssl_certfile": str(tls_dir / "expiry.pem"),
        "ssl_keyfile": str(tls_dir / "expiry.key"),
    }


def test_redis_url_is_required_and_its_scheme_checked_without_leaking_the_password() -> None:
    with pytest.raises(ConfigError, match="REDIS_URL is required"):
        RedisSettings.from_env(Env({}))
    with pytest.raises(ConfigError, match="must start with") as caught:
        RedisSettings.from_env(Env({"REDIS_URL": "http://u:s3cret@h:1"}))
    assert "s3cret" not in str(caught.value)
