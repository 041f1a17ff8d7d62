"""Load and validate tokentape's TOML configuration.

Validation is strict and total: every key is known, typed and range-checked here, so the rest of the
program can trust a `Config`. A problem becomes one `ConfigError` line naming the file, the line
(where the TOML text shows it) and the key. Loading never writes to any file.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, time
from importlib import resources
from pathlib import Path
from typing import Any

import platformdirs

APP_NAME = "tokentape"
CONFIG_ENV = "TOKENTAPE_CONFIG"

HK_SYMBOL = re.compile(r"^\d{4}\.HK$")
OTHER_SYMBOL = re.compile(r"^\^?[A-Z0-9][A-Z0-9.\-=]{0,14}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
GROUPS = ("core", "peer", "index")
INTRADAY_INTERVALS = ("1m", "2m", "5m")
TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a table",
              date: "a date"}
BINDING_IDS = ("refresh", "export", "currency", "view", "sort", "next_panel", "filter", "help", "quit")


class ConfigError(Exception):
    """A user-fixable configuration problem; str() is the one line shown to the user."""

    def __init__(self, path: Path | str, message: str, line: int | None = None, key: str | None = None):
        self.path, self.line, self.key, self.message = str(path), line, key, message
        where = self.path + (f":{line}" if line else "")
        super().__init__(f"{where}: {key + ': ' if key else ''}{message}")


@dataclass(frozen=True)
class SourceConfig:
    base_url: str
    timeout_seconds: float
    api_key_env: str | None = None


@dataclass(frozen=True)
class JobsConfig:
    quotes_open_seconds: int = 30
    quotes_closed_seconds: int = 900
    intraday_interval: str = "2m"
    daily_bars_after_close_minutes: int = 10
    fx_seconds: int = 3600
    openrouter_export_seconds: int = 10800
    openrouter_models_seconds: int = 86400
    openrouter_weekly_seconds: int = 21600


@dataclass(frozen=True)
class UiConfig:
    stale_quote_seconds: int = 300
    stale_tokens_hours: int = 50
    read_only_check_seconds: float = 2.0
    export_dir: str = ""


@dataclass(frozen=True)
class MarketConfig:
    name: str
    timezone: str
    sessions: tuple[tuple[time, time], ...]
    holidays: frozenset[date]


@dataclass(frozen=True)
class Company:
    name: str
    symbol: str
    currency: str
    group: str
    total_shares: int | None = None
    ipo_date: date | None = None
    ipo_price: float | None = None
    openrouter_authors: tuple[str, ...] = ()

    @property
    def market(self) -> str:
        """Which trading calendar applies: HK for .HK stocks and Hang Seng indices, else US."""
        return "HK" if self.symbol.endswith(".HK") or self.symbol.startswith("^HS") else "US"


@dataclass(frozen=True)
class Config:
    path: Path
    display_currency: str
    display_currencies: tuple[str, ...]
    database: str
    sources: dict[str, SourceConfig]
    jobs: JobsConfig
    ui: UiConfig
    keys: dict[str, str]
    markets: dict[str, MarketConfig]
    makers: dict[str, str]
    unattributed_authors: tuple[str, ...]
    companies: tuple[Company, ...] = field(default_factory=tuple)

    def company(self, symbol: str) -> Company | None:
        return next((c for c in self.companies if c.symbol == symbol), None)

    def author_company(self) -> dict[str, Company]:
        """OpenRouter author slug -> the listed company that makes its models."""
        return {a: c for c in self.companies for a in c.openrouter_authors}


def bundled_config_path() -> Path:
    return Path(str(resources.files("monitor") / "config.toml"))


def user_config_path() -> Path:
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


def resolve_config_path(cli_path: str | None) -> Path:
    """--config, else $TOKENTAPE_CONFIG, else the user's config dir if the file exists, else bundled."""
    for origin, value in (("--config", cli_path), (f"${CONFIG_ENV}", os.environ.get(CONFIG_ENV))):
        if value:
            path = Path(value).expanduser()
            if not path.is_file():
                raise ConfigError(path, f"config file not found (from {origin})")
            return path
    user = user_config_path()
    return user if user.is_file() else bundled_config_path()


def load_config(cli_path: str | None = None) -> Config:
    path = resolve_config_path(cli_path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read: {exc}") from None
    return parse_config(text, path)


def parse_config(text: str, path: Path | str = "<config>") -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or _line_from_message(str(exc))
        raise ConfigError(path, f"not valid TOML: {exc}", line=line) from None
    return _Validator(Path(path), text).config(raw)


def _line_from_message(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None


def _key_lines(text: str) -> dict[tuple[str, str], int]:
    """Map (table path, key) to the line that sets it, e.g. ("company[1]", "symbol") -> 57.

    tomllib keeps no positions, so this light scan of the text recovers them for error messages.
    """
    lines: dict[tuple[str, str], int] = {}
    table = ""
    array_counts: dict[str, int] = {}
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if line.startswith("[["):
            name = line.strip("[] ")
            array_counts[name] = array_counts.get(name, -1) + 1
            table = f"{name}[{array_counts[name]}]"
            lines.setdefault((table, ""), number)
        elif line.startswith("["):
            table = line.split("]")[0].strip("[ ")
            lines.setdefault((table, ""), number)
        else:
            match = re.match(r'^"?([A-Za-z0-9_\-]+)"?\s*=', line)
            if match:
                lines.setdefault((table, match.group(1)), number)
    return lines


class _Validator:
    def __init__(self, path: Path, text: str):
        self.path = path
        self.lines = _key_lines(text)

    def fail(self, table: str, key: str, message: str) -> ConfigError:
        line = self.lines.get((table, key)) or self.lines.get((table, ""))
        shown = f"[{table}] {key}" if table else key
        return ConfigError(self.path, message, line=line, key=shown.strip())

    def check_keys(self, table: str, raw: dict[str, Any], allowed: set[str]) -> None:
        for key in raw:
            if key not in allowed:
                raise self.fail(table, key, f"unknown key (expected one of: {', '.join(sorted(allowed))})")

    def get(self, table: str, raw: dict, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if key not in raw:
            if default is ...:
                raise self.fail(table, key, "missing required key")
            return default
        value = raw[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # bool is an int in Python; a TOML `true` is never a valid number here.
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            names = " or ".join(dict.fromkeys(TYPE_NAMES.get(k, k.__name__) for k in kinds))
            raise self.fail(table, key, f"must be {names} (got {value!r})")
        return value

    def table(self, parent: str, raw: dict, key: str) -> dict:
        value = raw.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(parent, key, "must be a table")
        return value

    def positive(self, table: str, raw: dict, key: str, default: Any, kind: type = int, zero_ok: bool = False):
        value = self.get(table, raw, key, (kind, int) if kind is float else kind, default)
        if value < 0 or (value == 0 and not zero_ok):
            raise self.fail(table, key, f"must be {'>= 0' if zero_ok else '> 0'} (got {value})")
        return float(value) if kind is float else value

    def currency(self, table: str, raw: dict, key: str, default: Any = ...) -> str:
        value = self.get(table, raw, key, str, default)
        if not CURRENCY.match(value):
            raise self.fail(table, key, f"must be a 3-letter currency code like USD (got {value!r})")
        return value

    def config(self, raw: dict) -> Config:
        top = {"display_currency", "display_currencies", "database", "sources", "jobs", "ui", "keys",
               "markets", "makers", "openrouter", "company"}
        self.check_keys("", raw, top)
        display = self.currency("", raw, "display_currency", "USD")
        currencies = self.get("", raw, "display_currencies", list, [display])
        for c in currencies:
            if not isinstance(c, str) or not CURRENCY.match(c):
                raise self.fail("", "display_currencies", f"must list 3-letter currency codes (got {c!r})")
        if display not in currencies:
            currencies = [display, *currencies]
        markets = self.markets(raw)
        companies = self.companies(raw, markets)
        return Config(
            path=self.path,
            display_currency=display,
            display_currencies=tuple(dict.fromkeys(currencies)),
            database=self.get("", raw, "database", str, ""),
            sources=self.sources(raw),
            jobs=self.jobs(raw),
            ui=self.ui(raw),
            keys=self.keys(raw),
            markets=markets,
            makers=self.makers(raw),
            unattributed_authors=self.unattributed(raw),
            companies=companies,
        )

    def sources(self, raw: dict) -> dict[str, SourceConfig]:
        sources_raw = self.table("", raw, "sources")
        self.check_keys("sources", sources_raw, {"yahoo", "tencent", "openrouter"})
        defaults = {"yahoo": ("https://query1.finance.yahoo.com", 10.0), "tencent": ("https://qt.gtimg.cn", 10.0),
                    "openrouter": ("https://openrouter.ai", 30.0)}
        result = {}
        for name, (url, timeout) in defaults.items():
            table = f"sources.{name}"
            src = self.table("sources", sources_raw, name)
            allowed = {"base_url", "timeout_seconds"} | ({"api_key_env"} if name == "openrouter" else set())
            self.check_keys(table, src, allowed)
            base_url = self.get(table, src, "base_url", str, url).rstrip("/")
            if not re.match(r"^https?://[^/\s]+", base_url):
                raise self.fail(table, "base_url", f"must be an http:// or https:// URL (got {base_url!r})")
            result[name] = SourceConfig(
                base_url=base_url,
                timeout_seconds=self.positive(table, src, "timeout_seconds", timeout, float),
                api_key_env=self.get(table, src, "api_key_env", str, "OPENROUTER_API_KEY") if name == "openrouter"
                else None,
            )
        return result

    def jobs(self, raw: dict) -> JobsConfig:
        src = self.table("", raw, "jobs")
        defaults = JobsConfig()
        self.check_keys("jobs", src, set(JobsConfig.__dataclass_fields__))
        values: dict[str, Any] = {}
        for key in JobsConfig.__dataclass_fields__:
            default = getattr(defaults, key)
            if key == "intraday_interval":
                values[key] = self.get("jobs", src, key, str, default)
                if values[key] not in INTRADAY_INTERVALS:
                    raise self.fail("jobs", key, f"must be one of {', '.join(INTRADAY_INTERVALS)}")
            else:
                zero_ok = key in ("openrouter_weekly_seconds", "daily_bars_after_close_minutes")
                values[key] = self.positive("jobs", src, key, default, zero_ok=zero_ok)
        return JobsConfig(**values)

    def ui(self, raw: dict) -> UiConfig:
        src = self.table("", raw, "ui")
        self.check_keys("ui", src, set(UiConfig.__dataclass_fields__))
        d = UiConfig()
        return UiConfig(
            stale_quote_seconds=self.positive("ui", src, "stale_quote_seconds", d.stale_quote_seconds),
            stale_tokens_hours=self.positive("ui", src, "stale_tokens_hours", d.stale_tokens_hours),
            read_only_check_seconds=self.positive("ui", src, "read_only_check_seconds", d.read_only_check_seconds,
                                                  float),
            export_dir=self.get("ui", src, "export_dir", str, d.export_dir),
        )

    def keys(self, raw: dict) -> dict[str, str]:
        src = self.table("", raw, "keys")
        self.check_keys("keys", src, set(BINDING_IDS))
        keys = {}
        for binding_id in src:
            value = self.get("keys", src, binding_id, str).strip()
            if not value or not re.match(r"^[a-z0-9_+\-,]+$", value):
                raise self.fail("keys", binding_id, f"not a key name Textual knows (got {value!r})")
            keys[binding_id] = value
        return keys

    def markets(self, raw: dict) -> dict[str, MarketConfig]:
        src = self.table("", raw, "markets")
        self.check_keys("markets", src, {"HK", "US"})
        result = {}
        for name, tz in (("HK", "Asia/Hong_Kong"), ("US", "America/New_York")):
            table = f"markets.{name}"
            market = self.table("markets", src, name)
            self.check_keys(table, market, {"timezone", "sessions", "holidays"})
            default_sessions = [["09:30", "12:00"], ["13:00", "16:00"]] if name == "HK" else [["09:30", "16:00"]]
            sessions = []
            for pair in self.get(table, market, "sessions", list, default_sessions):
                try:
                    start, end = (time.fromisoformat(p) for p in pair)
                except (TypeError, ValueError):
                    raise self.fail(table, "sessions", f'each session is ["HH:MM", "HH:MM"] (got {pair!r})') from None
                if end <= start:
                    raise self.fail(table, "sessions", f"session ends before it starts: {pair!r}")
                sessions.append((start, end))
            holidays = set()
            for day in self.get(table, market, "holidays", list, []):
                try:
                    holidays.add(date.fromisoformat(day))
                except (TypeError, ValueError):
                    raise self.fail(table, "holidays", f"not a YYYY-MM-DD date: {day!r}") from None
            result[name] = MarketConfig(name, self.get(table, market, "timezone", str, tz), tuple(sessions),
                                        frozenset(holidays))
        return result

    def makers(self, raw: dict) -> dict[str, str]:
        src = self.table("", raw, "makers")
        return {slug: self.get("makers", src, slug, str) for slug in src}

    def unattributed(self, raw: dict) -> tuple[str, ...]:
        src = self.table("", raw, "openrouter")
        self.check_keys("openrouter", src, {"unattributed_authors"})
        authors = self.get("openrouter", src, "unattributed_authors", list, ["stealth", "openrouter"])
        if not all(isinstance(a, str) for a in authors):
            raise self.fail("openrouter", "unattributed_authors", "must be a list of author slugs")
        return tuple(authors)

    def companies(self, raw: dict, markets: dict[str, MarketConfig]) -> tuple[Company, ...]:
        items = self.get("", raw, "company", list, [])
        allowed = {"name", "symbol", "currency", "total_shares", "ipo_date", "ipo_price", "openrouter_authors",
                   "group"}
        seen: set[str] = set()
        companies = []
        for index, item in enumerate(items):
            table = f"company[{index}]"
            if not isinstance(item, dict):
                raise self.fail("", "company", "each company is a [[company]] table")
            self.check_keys(table, item, allowed)
            symbol = self.get(table, item, "symbol", str)
            if not (HK_SYMBOL.match(symbol) or (OTHER_SYMBOL.match(symbol) and not symbol.endswith(".HK"))):
                raise self.fail(table, "symbol",
                                f"malformed symbol {symbol!r} (Yahoo form: 4-digit HK codes like 0100.HK, or NVDA)")
            if symbol in seen:
                raise self.fail(table, "symbol", f"duplicate symbol {symbol!r}")
            seen.add(symbol)
            group = self.get(table, item, "group", str, "peer")
            if group not in GROUPS:
                raise self.fail(table, "group", f"must be one of {', '.join(GROUPS)} (got {group!r})")
            shares = self.get(table, item, "total_shares", int, None)
            if shares is not None and shares <= 0:
                raise self.fail(table, "total_shares", f"must be > 0 (got {shares})")
            ipo_price = self.get(table, item, "ipo_price", (float, int), None)
            if ipo_price is not None and ipo_price <= 0:
                raise self.fail(table, "ipo_price", f"must be > 0 (got {ipo_price})")
            ipo_date = self.get(table, item, "ipo_date", (str, date), None)
            if isinstance(ipo_date, str):
                try:
                    ipo_date = date.fromisoformat(ipo_date)
                except ValueError:
                    raise self.fail(table, "ipo_date", f"not a YYYY-MM-DD date: {ipo_date!r}") from None
            authors = self.get(table, item, "openrouter_authors", list, [])
            if not all(isinstance(a, str) and a for a in authors):
                raise self.fail(table, "openrouter_authors", "must be a list of author slugs like \"minimax\"")
            name = self.get(table, item, "name", str)
            if not name.strip():
                raise self.fail(table, "name", "must not be empty")
            company = Company(
                name=name, symbol=symbol, currency=self.currency(table, item, "currency"), group=group,
                total_shares=shares, ipo_date=ipo_date, ipo_price=float(ipo_price) if ipo_price else None,
                openrouter_authors=tuple(authors),
            )
            if company.market not in markets:
                raise self.fail(table, "symbol", f"no [markets.{company.market}] calendar for {symbol}")
            companies.append(company)
        return tuple(companies)
