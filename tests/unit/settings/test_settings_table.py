"""The settings table: every setting declared once, and docs/configuration.md shows what is printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kit.settings import EVERY_PROCESS, ConfigError, Env, Flag, Number, Text, Whole
from kit.settings_table import (
    BEGIN,
    DOCUMENT,
    END,
    DuplicateSetting,
    declared_settings,
    readers_text,
    table,
    with_table,
)

ROOT = Path(__file__).resolve().parents[3]


def test_the_configuration_doc_shows_the_table_the_command_prints() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "kit.settings"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    assert DOCUMENT == ROOT / "docs" / "configuration.md"
    document = DOCUMENT.read_text()
    shown = document.partition(BEGIN)[2].partition(END)[0].lstrip("\n")
    assert shown == printed, "regenerate it: python -m kit.settings --update"


def test_every_setting_has_a_meaning_and_readers() -> None:
    settings = declared_settings()
    assert len(settings) > 100
    for setting in settings:
        assert setting.meaning and setting.readers, setting.name
        assert setting.name.isupper(), setting.name


def test_a_variable_declared_twice_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "twice_declared.py").write_text(
        "from kit.settings import Text\n"
        "A = Text(name='TRAVEL_ENV', meaning='again', readers=('gateway',))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(DuplicateSetting, match="TRAVEL_ENV"):
        declared_settings(("kit.settings", "twice_declared"))


def test_readers_name_whole_groups_once() -> None:
    assert readers_text(EVERY_PROCESS) == "every process"
    assert readers_text(("provider-payment", "sessions", "provider-hotel", "provider-flight")) == (
        "sessions, providers"
    )
    assert readers_text(("launcher", *EVERY_PROCESS)) == "every process, launcher"


def test_the_table_replaces_only_its_own_section() -> None:
    document = f"before\n{BEGIN}\nold\n{END}\nafter\n"
    rendered = table([Text(name="X", default="y", meaning="a | b", readers=("gateway",))])
    updated = with_table(document, rendered)
    assert updated.startswith(f"before\n{BEGIN}\n| setting |") and updated.endswith(f"{END}\nafter\n")
    assert "| `X` | `y` | gateway | a \\| b |" in updated
    with pytest.raises(ValueError):
        with_table("no markers", rendered)


def test_reading_applies_the_default_and_checks_the_value() -> None:
    port = Whole(name="SOME_PORT", default=80, minimum=1, maximum=65535, meaning="m", readers=("gateway",))
    assert port.read(Env({})) == 80 and port.optional(Env({})) is None
    assert port.read(Env({"SOME_PORT": " 81 "})) == 81
    for raw, message in (("x", "SOME_PORT must be an integer"), ("0", "SOME_PORT must be >= 1")):
        with pytest.raises(ConfigError, match=message):
            port.read(Env({"SOME_PORT": raw}))
    with pytest.raises(ConfigError, match="SOME_PORT must be <= 65535"):
        port.read(Env({"SOME_PORT": "70000"}))
    rate = Number(name="RATE", default=0.5, maximum=1.0, meaning="m", readers=("gateway",))
    assert rate.read(Env({"RATE": "0.25"})) == 0.25
    flag = Flag(name="ON", default=True, meaning="m", readers=("gateway",))
    assert flag.read(Env({"ON": "no"})) is False and flag.read(Env({})) is True


def test_a_required_setting_fails_with_one_line_naming_it() -> None:
    required = Text(name="MUST_BE_SET", meaning="m", readers=("gateway",))
    with pytest.raises(ConfigError) as raised:
        required.read(Env({"MUST_BE_SET": "  "}))
    assert str(raised.value) == "MUST_BE_SET is required but not set"
    with pytest.raises(TypeError):
        _ = required.default_value
