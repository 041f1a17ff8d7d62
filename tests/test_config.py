"""Configuration: the bundled default, discovery order, and one clear line for every mistake."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date

import pytest

from monitor.config import ConfigError, bundled_config_path, load_config, parse_config
from tests.conftest import ROOT

DEFAULT = (ROOT / "config.toml").read_text(encoding="utf-8")


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


@pytest.mark.parametrize("edit, key, phrase, line_of", [
    (lambda t: t.replace("quotes_open_seconds = 30", "quotes_open_seconds = -5"),
     "[jobs] quotes_open_seconds", "must be > 0", "quotes_open_seconds = -5"),
    (lambda t: t.replace("fx_seconds = 3600", "fx_seconds = \"hourly\""),
     "[jobs] fx_seconds", "must be an integer", "fx_seconds = \"hourly\""),
    (lambda t: t.replace("[jobs]\n", "[jobs]\nquotes_every = 5\n"),
     "[jobs] quotes_every", "unknown key", "quotes_every = 5"),
    (lambda t: t.replace('symbol = "2513.HK"', 'symbol = "0100.HK"'),
     "[company[1]] symbol", "duplicate symbol", None),
    (lambda t: t.replace('symbol = "2513.HK"', 'symbol = "02513.HK"'),
     "[company[1]] symbol", "malformed symbol", 'symbol = "02513.HK"'),
    (lambda t: t.replace('display_currency = "USD"', 'display_currency = "dollars"'),
     "display_currency", "3-letter", 'display_currency = "dollars"'),
    (lambda t: t.replace('base_url = "https://qt.gtimg.cn"', 'base_url = "qt.gtimg.cn"'),
     "[sources.tencent] base_url", "http://", 'base_url = "qt.gtimg.cn"'),
    (lambda t: t.replace('ipo_date = "2026-01-09"', 'ipo_date = "9 Jan 2026"'),
     "[company[0]] ipo_date", "YYYY-MM-DD", 'ipo_date = "9 Jan 2026"'),
])
def test_bad_values_name_file_line_and_key(edit, key, phrase, line_of):
    text = edit(DEFAULT)
    error = _error(text)
    assert error.key == key
    assert phrase in error.message
    assert str(error).startswith("cfg.toml:")
    if line_of:
        assert error.line == _line_of(text, line_of)


def test_malformed_toml_names_the_line():
    text = DEFAULT.replace("fx_seconds = 3600", "fx_seconds = = 3600")
    error = _error(text)
    assert error.line == _line_of(text, "fx_seconds = = 3600")
    assert "not valid TOML" in str(error)


def _run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "monitor.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}, timeout=60)


@pytest.mark.parametrize("content", [
    DEFAULT.replace("quotes_open_seconds = 30", "quotes_open_seconds = -1"),
    DEFAULT.replace("[jobs]", "[jobs\n"),
    DEFAULT + "\n[surprise]\nx = 1\n",
])
def test_cli_bad_config_exits_2_with_one_line_and_keeps_the_file(tmp_path, content):
    path = tmp_path / "config.toml"
    path.write_text(content, encoding="utf-8")
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    result = _run_cli("--config", str(path), "snapshot", "--demo")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_cli_missing_config_file(tmp_path):
    result = _run_cli("--config", str(tmp_path / "nope.toml"), "snapshot", "--demo")
    assert result.returncode == 2
    assert "config file not found" in result.stderr and "Traceback" not in result.stderr
