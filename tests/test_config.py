"""Configuration: the bundled default, discovery order, and one clear line for every mistake."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date

import pytest

from monitor.config import BINDING_IDS, ConfigError, bundled_config_path, load_config, parse_config
from tests.conftest import ROOT

DEFAULT = (ROOT / "config.toml").read_text(encoding="utf-8")
# The default with only `refresh` in [keys]: any key name can be tried on it without meeting another binding.
_KEYS_TABLE = re.search(r"(?ms)^\[keys\]\n.*?(?=^\[)", DEFAULT).group(0)
ONLY_REFRESH = DEFAULT.replace(_KEYS_TABLE, re.sub(r'(?m)^(?!refresh )[a-z_]+ = "[^"]*"\n', "", _KEYS_TABLE))


def test_bundled_default_is_the_top_level_file():
    assert bundled_config_path().read_text(encoding="utf-8") == DEFAULT
    config = load_config()
    core = [c for c in config.companies if c.group == "core"]
    assert [(c.name, c.symbol) for c in core] == [("MiniMax", "0100.HK"), ("Zhipu", "2513.HK")]
    minimax = config.company("0100.HK")
    assert minimax.ipo_price == 165.0 and minimax.ipo_date == date(2026, 1, 9)
    assert config.company("2513.HK").ipo_price == 116.2
    assert config.author_company()["z-ai"].symbol == "2513.HK"
    assert config.company("^HSTECH").group == "index"
    assert config.sources["yahoo"].base_url == "https://query1.finance.yahoo.com"


def test_config_cannot_be_changed_once_loaded():
    config = load_config()
    with pytest.raises(AttributeError):
        config.jobs.fx_seconds = 1
    with pytest.raises(AttributeError):
        config.companies[0].symbol = "NVDA"
    assert load_config() == config and hash(config.companies) == hash(load_config().companies)


def test_discovery_order(tmp_path, monkeypatch, isolated_dirs):
    user = isolated_dirs / "xdg_config_home" / "tokentape" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text(DEFAULT.replace('display_currency = "USD"', 'display_currency = "HKD"'))
    assert load_config().display_currency == "HKD"
    env = tmp_path / "env.toml"
    env.write_text(DEFAULT.replace('display_currency = "USD"', 'display_currency = "EUR"\n#'))
    monkeypatch.setenv("TOKENTAPE_CONFIG", str(env))
    assert load_config().display_currency == "EUR"
    cli = tmp_path / "cli.toml"
    cli.write_text(DEFAULT)
    assert load_config(str(cli)).display_currency == "USD"


def _error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "cfg.toml")
    return info.value


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    "edit, key, phrase, line_of",
    [
        (
            lambda t: t.replace("quotes_open_seconds = 30", "quotes_open_seconds = -5"),
            "[jobs] quotes_open_seconds",
            "must be > 0",
            "quotes_open_seconds = -5",
        ),
        (
            lambda t: t.replace("fx_seconds = 3600", 'fx_seconds = "hourly"'),
            "[jobs] fx_seconds",
            "must be an integer",
            'fx_seconds = "hourly"',
        ),
        (
            lambda t: t.replace("[jobs]\n", "[jobs]\nquotes_every = 5\n"),
            "[jobs] quotes_every",
            "unknown key",
            "quotes_every = 5",
        ),
        (
            lambda t: t.replace('symbol = "2513.HK"', 'symbol = "0100.HK"'),
            "[company[1]] symbol",
            "duplicate symbol",
            None,
        ),
        (
            lambda t: t.replace('symbol = "2513.HK"', 'symbol = "02513.HK"'),
            "[company[1]] symbol",
            "malformed symbol",
            'symbol = "02513.HK"',
        ),
        (
            lambda t: t.replace('display_currency = "USD"', 'display_currency = "dollars"'),
            "display_currency",
            "3-letter",
            'display_currency = "dollars"',
        ),
        (
            lambda t: t.replace('base_url = "https://qt.gtimg.cn"', 'base_url = "qt.gtimg.cn"'),
            "[sources.tencent] base_url",
            "http://",
            'base_url = "qt.gtimg.cn"',
        ),
        (
            lambda t: t.replace('ipo_date = "2026-01-09"', 'ipo_date = "9 Jan 2026"'),
            "[company[0]] ipo_date",
            "YYYY-MM-DD",
            'ipo_date = "9 Jan 2026"',
        ),
        (
            lambda t: t.replace('ipo_date = "2026-01-09"', 'ipo_date = "2026-02-30"'),
            "[company[0]] ipo_date",
            "YYYY-MM-DD",
            'ipo_date = "2026-02-30"',
        ),
        (
            lambda t: t.replace("quotes_open_seconds = 30", "quotes_open_seconds = true"),
            "[jobs] quotes_open_seconds",
            "must be an integer",
            "quotes_open_seconds = true",
        ),
        (
            lambda t: t.replace("read_only_check_seconds = 2.0", "read_only_check_seconds = false"),
            "[ui] read_only_check_seconds",
            "must be a number",
            "read_only_check_seconds = false",
        ),
        (
            lambda t: t.replace('intraday_interval = "2m"', 'intraday_interval = "3m"'),
            "[jobs] intraday_interval",
            "must be one of 1m, 2m, 5m",
            'intraday_interval = "3m"',
        ),
        (
            lambda t: t.replace("total_shares = 310_000_000", "total_shares = 0"),
            "[company[0]] total_shares",
            "must be > 0",
            "total_shares = 0",
        ),
        (
            lambda t: t.replace("ipo_price = 116.20", "ipo_price = -1"),
            "[company[1]] ipo_price",
            "must be > 0",
            "ipo_price = -1",
        ),
        (
            lambda t: t.replace('symbol = "NVDA"', 'symbol = "NVDA.HK"'),
            "[company[7]] symbol",
            "malformed symbol",
            'symbol = "NVDA.HK"',
        ),
        (
            lambda t: t.replace('group = "core"', 'group = "main"', 1),
            "[company[0]] group",
            "must be one of core, peer, index",
            'group = "main"',
        ),
        (
            lambda t: t.replace('display_currencies = ["USD", "HKD", "CNY"]', 'display_currencies = ["USD", "hkd"]'),
            "display_currencies",
            "3-letter",
            'display_currencies = ["USD", "hkd"]',
        ),
        (
            lambda t: t.replace(
                'api_key_env = "OPENROUTER_API_KEY"', 'api_key_env = "OPENROUTER_API_KEY"\nproxy = "x"'
            ),
            "[sources.openrouter] proxy",
            "unknown key",
            'proxy = "x"',
        ),
        (lambda t: t.replace('z-ai = "Zhipu"', "z-ai = 5"), "[makers] z-ai", "must be a string", "z-ai = 5"),
        (
            lambda t: t.replace('timezone = "Asia/Hong_Kong"', 'timezone = "Mars/Olympus"'),
            "[markets.HK] timezone",
            "unknown time zone 'Mars/Olympus'",
            'timezone = "Mars/Olympus"',
        ),
        (
            lambda t: t.replace('calendar = "XHKG"', 'holidays = ["2026-10-01"]'),
            "[markets.HK] holidays",
            "unknown key",
            'holidays = ["2026-10-01"]',
        ),
        (
            lambda t: t.replace(
                'sessions = [["09:30", "12:00"], ["13:00", "16:00"]]',
                'sessions = [["09:30", "13:30"], ["13:00", "16:00"]]',
            ),
            "[markets.HK] sessions",
            "overlap",
            'sessions = [["09:30", "13:30"]',
        ),
        (
            lambda t: t.replace('closing_auction = ["16:00", "16:10"]', 'closing_auction = ["16:00", "4pm"]'),
            "[markets.HK] closing_auction",
            '"HH:MM"',
            'closing_auction = ["16:00", "4pm"]',
        ),
        (
            lambda t: t.replace("closures = []", 'closures = ["2026-13-01"]', 1),
            "[markets.HK] closures",
            "YYYY-MM-DD",
            'closures = ["2026-13-01"]',
        ),
        (
            lambda t: t + '\n[[company]]  # no symbol\nname = "Nameless"\ncurrency = "USD"\n',
            "[company[13]] symbol",
            "missing required key",
            "# no symbol",
        ),
        (lambda t: t + "\n[surprise]\nx = 1\n", "surprise", "unknown key", "[surprise]"),
    ],
)
def test_bad_values_name_file_line_and_key(edit, key, phrase, line_of):
    text = edit(DEFAULT)
    error = _error(text)
    assert error.key == key
    assert phrase in error.message
    assert str(error).startswith("cfg.toml:") and "\n" not in str(error)
    if line_of:
        assert error.line == _line_of(text, line_of)


def test_malformed_toml_names_the_line():
    text = DEFAULT.replace("fx_seconds = 3600", "fx_seconds = = 3600")
    error = _error(text)
    assert error.line == _line_of(text, "fx_seconds = = 3600")
    assert "not valid TOML" in str(error)


def _run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


@pytest.mark.parametrize(
    "content, command",
    [
        (DEFAULT.replace("quotes_open_seconds = 30", "quotes_open_seconds = -1"), ("snapshot", "--demo")),
        (DEFAULT.replace("[jobs]", "[jobs\n"), ("snapshot", "--demo")),
        (DEFAULT + "\n[surprise]\nx = 1\n", ("snapshot", "--demo")),
        (DEFAULT.replace('timezone = "Asia/Hong_Kong"', 'timezone = "Mars/Olympus"'), ("collect", "--once")),
    ],
    ids=["negative-interval", "bad-toml", "unknown-table", "unknown-timezone"],
)
def test_cli_bad_config_exits_2_with_one_line_and_keeps_the_file(tmp_path, content, command):
    path = tmp_path / "config.toml"
    path.write_text(content, encoding="utf-8")
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    result = _run_cli("--config", str(path), *command)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_cli_missing_config_file(tmp_path):
    result = _run_cli("--config", str(tmp_path / "nope.toml"), "snapshot", "--demo")
    assert result.returncode == 2
    assert "config file not found" in result.stderr and "Traceback" not in result.stderr


# -- key bindings: every name the config accepts is one Textual's own input parser reports -------------------

MODIFIER_BITS = {"shift": 1, "alt": 2, "ctrl": 4, "meta": 32}  # the kitty keyboard protocol's modifier bits


def textual_reports(name: str) -> str:
    """The key name Textual's parser gives `name` typed on a kitty-protocol terminal (the richest it reads)."""
    from textual._keyboard_protocol import FUNCTIONAL_KEYS
    from textual._xterm_parser import XTermParser
    from textual.keys import REPLACED_KEYS, key_to_character

    *modifiers, base = name.split("+") if len(name) > 1 else [name]
    functional = {key: sequence for sequence, key in reversed(FUNCTIONAL_KEYS.items())}  # first sequence wins
    if base in functional:
        code = functional[base]
    else:
        character = base if len(base) == 1 else key_to_character(REPLACED_KEYS.get(base, base))
        assert character is not None, f"Textual has no character or functional key called {base!r}"
        code = f"{ord(character)}u"
    sequence = f"\x1b[{code[:-1]};{1 + sum(MODIFIER_BITS[m] for m in modifiers)}{code[-1]}"
    (event,) = XTermParser().feed(sequence)
    return event.key


def bound_as(keys: str) -> list[str]:
    """What Textual binds for a keymap value: it splits alternatives and names single characters."""
    from textual.keys import _normalize_key_list

    return _normalize_key_list(keys).split(",")


def test_the_oracle_tells_a_live_binding_from_a_dead_one():
    assert textual_reports("ctrl+shift+left") == "ctrl+shift+left"
    assert textual_reports("shift+ctrl+left") != "shift+ctrl+left"  # Textual orders modifiers: this never fires


def test_default_key_names_are_keys_textual_reports():
    keys = load_config().keys
    assert set(keys) == set(BINDING_IDS)
    for value in keys.values():
        assert all(textual_reports(name) == name for name in bound_as(value)), value


def test_every_name_the_allow_list_accepts_is_a_key_textual_reports():
    from monitor.config import KEY_MODIFIERS, KEY_NAMES

    bases = sorted(KEY_NAMES) + list("abcdefghijklmnopqrstuvwxyz0123456789")
    combos = [[m for bit, m in enumerate(KEY_MODIFIERS) if mask >> bit & 1] for mask in range(2 ** len(KEY_MODIFIERS))]
    names = ["+".join([*combo, base]) for combo in combos for base in bases]
    assert len(names) > 1500
    dead = [name for name in names if textual_reports(name) != name]
    assert dead == []
    for name in names[::25]:  # and the config takes them (a sample: parsing all would take seconds)
        assert parse_config(ONLY_REFRESH.replace('refresh = "r"', f'refresh = "{name}"')).keys["refresh"] == name


@pytest.mark.parametrize(
    "value",
    [
        "r",
        "R",
        "?",
        "+",
        "5",
        "é",
        "question_mark",
        "f5",
        "f24",
        "ctrl+r",
        "alt+x",
        "ctrl+shift+left",
        "meta+f5",
        "alt+ctrl+delete",
        "shift+tab",
        "ctrl+slash",
        "space",
        "escape",
        "pagedown",
        "r,f5",
        " q , ctrl+c ",
    ],
)
def test_sample_key_names_load_and_are_keys_textual_reports(value):
    config = parse_config(ONLY_REFRESH.replace('refresh = "r"', f"refresh = {json.dumps(value)}"), "cfg.toml")
    assert config.keys["refresh"] == value.strip()
    assert all(textual_reports(name) == name for name in bound_as(value))


@pytest.mark.parametrize(
    "value, reason",
    [
        ("ctrl+nothing", "unknown key 'nothing'"),
        ("hyper+x", "unknown modifier 'hyper'"),
        ("super+x", "unknown modifier 'super'"),
        ("shift+ctrl+r", "write 'shift+ctrl+r' as 'ctrl+shift+r'"),
        ("ctrl+/", "write 'ctrl+/' as 'ctrl+slash'"),
        ("ctrl+R", "unknown key 'R'"),
        ("", "empty"),
        ("r,,q", "empty"),
        ("\u0007", "not a printable character"),
        ("f25", "unknown key 'f25'"),
    ],
)
def test_unbindable_key_names_are_one_line_naming_the_binding(value, reason):
    text = DEFAULT.replace('refresh = "r"', f"refresh = {json.dumps(value)}")
    error = _error(text)
    assert error.key == "[keys] refresh" and error.line == _line_of(text, "refresh = ")
    assert "not a key Textual can bind" in error.message and reason in error.message
    assert "\n" not in str(error)


def test_unknown_binding_id_is_named():
    error = _error(DEFAULT.replace('refresh = "r"', 'reload = "r"'))
    assert error.key == "[keys] reload" and "unknown key" in error.message and "refresh" in error.message
