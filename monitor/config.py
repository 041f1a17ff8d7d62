"""Load and validate tokentape's TOML configuration.

The file's shape is declared once, as msgspec Structs: `msgspec.convert` rejects unknown keys in every
table, wrong types (a TOML `true` is never a number) and values outside each field's `Meta` range or
pattern. The few rules a type cannot state (duplicate symbols, real time zones, session order, key names
Textual can bind) are checked after it. Any problem becomes one `ConfigError` line naming the file, the
line (where the TOML text shows it) and the key, so the rest of the program can trust a `Config`.
Loading never writes to any file.
"""

from __future__ import annotations

import functools
import itertools
import os
import re
import tomllib
import types
from datetime import date, time
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import platformdirs
from msgspec import Meta

from monitor import APP_NAME
from monitor.alert_rules import AlertRule, AlertSpec, RuleError, to_rule

CONFIG_ENV = "TOKENTAPE_CONFIG"
BINDING_IDS = (
    *("refresh", "export", "currency", "view", "sort", "next_panel", "filter", "alerts", "help", "quit"),
    "valuation",
    "share_range",
    # the company and model screens (widgets/company.py, widgets/model.py)
    *("open", "back", "candles", "range_prev", "range_next"),
)
# The bindings that act on every screen: two of them on one key could never both fire.
APP_WIDE_BINDINGS = frozenset(
    {"refresh", "export", "currency", "view", "sort", "next_panel", "filter", "alerts", "help", "quit", "valuation"}
)


class ConfigError(Exception):
    """A user-fixable configuration problem; str() is the one line shown to the user."""

    def __init__(self, path: Path | str, message: str, line: int | None = None, key: str | None = None):
        self.path, self.line, self.key, self.message = str(path), line, key, message
        where = self.path + (f":{line}" if line else "")
        super().__init__(f"{where}: {key + ': ' if key else ''}{message}")


# -- value types: the range or pattern, and the words a user sees when a value breaks it ------------------

_PositiveInt = Annotated[int, Meta(gt=0, description="must be > 0")]
_NonNegativeInt = Annotated[int, Meta(ge=0, description="must be >= 0")]
# msgspec refuses NaN against any bound; the upper bounds refuse infinity (TOML spells both).
_PositiveFloat = Annotated[float, Meta(gt=0, le=1e15, description="must be > 0 and finite")]
_Seconds = Annotated[float, Meta(gt=0, le=3600, description="must be a number of seconds > 0 and <= 3600")]
_Currency = Annotated[str, Meta(pattern=r"^[A-Z]{3}$", description="must be a 3-letter currency code like USD")]
_HttpUrl = Annotated[str, Meta(pattern=r"^https?://[^/\s]+", description="must be an http:// or https:// URL")]
# Yahoo's form: 4-digit HK codes like 0100.HK, or a US ticker / ^index that does not end in .HK.
_Symbol = Annotated[
    str,
    Meta(
        pattern=r"^(?:\d{4}\.HK|(?!.*\.HK$)\^?[A-Z0-9][A-Z0-9.\-=]{0,14})$",
        description="malformed symbol: Yahoo form is a 4-digit HK code like 0100.HK, or NVDA",
    ),
]
_Slug = Annotated[str, Meta(min_length=1, description='must be a list of author slugs like "minimax"')]
_Name = Annotated[str, Meta(pattern=r"\S", description="must not be empty")]
_Day = Annotated[date, Meta(description="not a YYYY-MM-DD date")]
_Clock = Annotated[str, Meta(pattern=r"^(?:[01]\d|2[0-3]):[0-5]\d$", description='must be a time "HH:MM"')]
_Window = Annotated[tuple[_Clock, _Clock], Meta(description='must be a pair of times like ["09:30", "12:00"]')]
_Sessions = Annotated[tuple[_Window, ...], Meta(min_length=1, description="must list at least one session")]
_Group = Annotated[Literal["core", "peer", "index"], Meta(description="must be one of core, peer, index")]
_Interval = Annotated[Literal["1m", "2m", "5m"], Meta(description="must be one of 1m, 2m, 5m")]
_Calendar = Annotated[Literal["XHKG", "XNYS"], Meta(description="must be XHKG or XNYS")]


class _Table(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A TOML table as declared: an unknown key is an error, and the parsed value never changes."""


# -- the public, typed configuration (tables the file spells out exactly are decoded straight into these) --


class SourceConfig(msgspec.Struct, frozen=True, kw_only=True):
    base_url: str
    timeout_seconds: float
    api_key_env: str | None = None


class JobsConfig(_Table, frozen=True):
    quotes_open_seconds: _PositiveInt = 30
    quotes_closed_seconds: _PositiveInt = 900
    intraday_interval: _Interval = "2m"
    daily_bars_after_close_minutes: _NonNegativeInt = 10
    fx_seconds: _PositiveInt = 3600
    openrouter_export_seconds: _PositiveInt = 10800
    openrouter_models_seconds: _PositiveInt = 86400
    openrouter_weekly_seconds: _NonNegativeInt = 21600  # 0 turns the weekly chart off
    openrouter_day_view_seconds: _NonNegativeInt = 21600  # 0 turns the per-model day view (spend) off


class UiConfig(_Table, frozen=True):
    stale_quote_seconds: _PositiveInt = 300
    stale_tokens_hours: _PositiveInt = 50
    read_only_check_seconds: _Seconds = 2.0
    export_dir: str = ""


class StorageConfig(_Table, frozen=True):
    """Retention: how long the history that grows by the minute is kept (0: forever). Token, daily-bar, FX,
    fundamentals and alert history are kept forever."""

    intraday_days: _NonNegativeInt = 30  # intraday quote bars, and only once their day's daily bar is stored
    poll_days: _NonNegativeInt = 90  # poll records; each job's counters and newest poll are kept forever
    prune_every_hours: _PositiveInt = 6


class MarketConfig(msgspec.Struct, frozen=True, kw_only=True):
    """One exchange's trading day, in its local time. Holidays come from `calendar` (see monitor.markets)."""

    name: str
    timezone: str
    calendar: str
    pre_open: tuple[time, time] | None
    sessions: tuple[tuple[time, time], ...]
    closing_auction: tuple[time, time] | None
    half_day_close: time | None
    closures: frozenset[date]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def close(self) -> time:
        """When the last price of a full trading day is fixed: the end of the closing auction, if any."""
        return self.closing_auction[1] if self.closing_auction else self.sessions[-1][1]


class Company(_Table, frozen=True):
    name: _Name
    symbol: _Symbol
    currency: _Currency
    group: _Group = "peer"
    total_shares: _PositiveInt | None = None
    ipo_date: _Day | None = None
    ipo_price: _PositiveFloat | None = None
    openrouter_authors: tuple[_Slug, ...] = ()

    @property
    def market(self) -> str:
        """Which trading calendar applies: HK for .HK stocks and Hang Seng indices, else US."""
        return "HK" if self.symbol.endswith(".HK") or self.symbol.startswith("^HS") else "US"


# -- reported fundamentals ([[fundamental]]) and private references ([[reference]]) -------------------------

# Point-in-time figures (an as-of date, no period) and figures over a period of `months`.
POINT_METRICS = ("arr", "api_arr")
PERIOD_METRICS = (
    *("revenue", "api_revenue", "segment_revenue", "gross_margin", "rd_expense", "sales_expense", "net_loss"),
    "compute_cost",
)
METRICS = (*PERIOD_METRICS, *POINT_METRICS)
# Currencies a reported figure may be in: the FX job fetches each one's USD rate (monitor/jobs.py fx_pairs).
FUNDAMENTAL_CURRENCIES = ("USD", "CNY", "HKD", "EUR", "JPY", "GBP", "KRW", "TWD", "SGD")
PRIVATE_PREFIX = "private:"  # a reference's figures are stored under symbol "private:<name>"

_Metric = Annotated[
    Literal[
        "revenue",
        "api_revenue",
        "segment_revenue",
        "gross_margin",
        "rd_expense",
        "sales_expense",
        "net_loss",
        "compute_cost",
        "arr",
        "api_arr",
    ],
    Meta(description=f"unknown metric (expected one of: {', '.join(METRICS)})"),
]
_Months = Annotated[Literal[3, 6, 9, 12], Meta(description="must be 3, 6, 9 or 12 (the period's length in months)")]
_Qualifier = Annotated[Literal["", "about", "more than"], Meta(description='must be "", "about" or "more than"')]
_Amount = Annotated[float, Meta(ge=-1e15, le=1e15, description="must be a finite number")]
_NonNegativeAmount = Annotated[float, Meta(ge=0, le=1e15, description="must be >= 0 and finite")]


class Fundamental(_Table, frozen=True):
    """One reported figure: `value` in `currency` (gross_margin: percent, no currency), over the `months` ending
    on `period_end`, or, for ARR, as of `period_end`; `source` names the publication."""

    symbol: _Symbol
    metric: _Metric
    value: _Amount
    period_end: _Day
    source: _Name
    currency: _Currency | None = None
    months: _Months | None = None
    url: _HttpUrl | None = None
    published: _Day | None = None
    qualifier: _Qualifier = ""
    date_approx: bool = False  # the date is a convention (e.g. "end of February" -> the 28th)
    note: str = ""


class Reference(_Table, frozen=True):
    """A private company to compare with: its valuation and annualised revenue (`arr`) as of a date."""

    name: _Name
    valuation: _PositiveFloat
    currency: _Currency
    as_of: _Day
    source: _Name
    arr: _PositiveFloat | None = None
    arr_qualifier: _Qualifier = ""
    valuation_qualifier: _Qualifier = ""
    url: _HttpUrl | None = None
    date_approx: bool = False
    note: str = ""


class Config(msgspec.Struct, frozen=True, kw_only=True):
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
    companies: tuple[Company, ...] = ()
    alerts: tuple[AlertRule, ...] = ()  # [[alert]] rules, thresholds already in the engine's units
    storage: StorageConfig = StorageConfig()
    # The bundled monitor/fundamentals.toml's figures for watchlist symbols, then the config's [[fundamental]]
    # tables (one with the same symbol, metric, period_end and months replaces the bundled one).
    fundamentals: tuple[Fundamental, ...] = ()
    references: tuple[Reference, ...] = ()

    def company(self, symbol: str) -> Company | None:
        return next((c for c in self.companies if c.symbol == symbol), None)

    def author_company(self) -> dict[str, Company]:
        """OpenRouter author slug -> the listed company that makes its models."""
        return {a: c for c in self.companies for a in c.openrouter_authors}


# -- the file as written: tables whose defaults differ per entry, and the top level ----------------------


class _Source(_Table, frozen=True):
    base_url: _HttpUrl
    timeout_seconds: _Seconds


class _YahooSource(_Source, frozen=True):
    base_url: _HttpUrl = "https://query1.finance.yahoo.com"
    timeout_seconds: _Seconds = 10.0


class _TencentSource(_Source, frozen=True):
    base_url: _HttpUrl = "https://qt.gtimg.cn"
    timeout_seconds: _Seconds = 10.0


class _OpenRouterSource(_Source, frozen=True):
    base_url: _HttpUrl = "https://openrouter.ai"
    timeout_seconds: _Seconds = 30.0
    api_key_env: str = "OPENROUTER_API_KEY"


class _Sources(_Table, frozen=True):
    yahoo: _YahooSource = _YahooSource()
    tencent: _TencentSource = _TencentSource()
    openrouter: _OpenRouterSource = _OpenRouterSource()


class _Market(_Table, frozen=True):
    """[markets.X] as written; times stay "HH:MM" strings until the checks after decoding."""

    timezone: str
    calendar: _Calendar
    sessions: _Sessions
    pre_open: _Window | None = None
    closing_auction: _Window | None = None
    half_day_close: _Clock | None = None
    closures: tuple[_Day, ...] = ()


class _HKMarket(_Market, frozen=True):
    timezone: str = "Asia/Hong_Kong"
    calendar: _Calendar = "XHKG"
    sessions: _Sessions = (("09:30", "12:00"), ("13:00", "16:00"))
    pre_open: _Window | None = ("09:00", "09:30")
    closing_auction: _Window | None = ("16:00", "16:10")
    half_day_close: _Clock | None = "12:00"


class _USMarket(_Market, frozen=True):
    timezone: str = "America/New_York"
    calendar: _Calendar = "XNYS"
    sessions: _Sessions = (("09:30", "16:00"),)
    half_day_close: _Clock | None = "13:00"


class _Markets(_Table, frozen=True):
    HK: _HKMarket = _HKMarket()
    US: _USMarket = _USMarket()


class _OpenRouterTable(_Table, frozen=True):
    unattributed_authors: tuple[_Slug, ...] = ("stealth", "openrouter")


class _File(_Table, frozen=True):
    display_currency: _Currency = "USD"
    display_currencies: tuple[_Currency, ...] | None = None
    database: str = ""
    sources: _Sources = _Sources()
    jobs: JobsConfig = JobsConfig()
    ui: UiConfig = UiConfig()
    storage: StorageConfig = StorageConfig()
    keys: dict[str, str] = {}
    markets: _Markets = _Markets()
    makers: dict[str, str] = {}
    openrouter: _OpenRouterTable = _OpenRouterTable()
    company: tuple[Company, ...] = ()
    alert: tuple[AlertSpec, ...] = ()
    fundamental: tuple[Fundamental, ...] = ()
    reference: tuple[Reference, ...] = ()


# -- finding, reading, parsing ----------------------------------------------------------------------------


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


def database_path(config: Config, cli_db: str | None) -> Path:
    """The database: --db, else the config's `database`, else tokentape.db in the user's data folder."""
    if cli_db:
        return Path(cli_db).expanduser()
    if config.database:
        return Path(config.database).expanduser()
    return platformdirs.user_data_path(APP_NAME) / "tokentape.db"


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
    try:
        try:
            file = msgspec.convert(raw, _File)
        except msgspec.ValidationError as exc:
            raise _explain(str(exc), raw) from None
        return _build(file, Path(path))
    except _Invalid as bad:
        lines = _key_lines(text)
        line = lines.get((bad.table, bad.key)) or lines.get(
            (f"{bad.table}.{bad.key}" if bad.table else bad.key, "")  # the key names a whole table
        )
        shown = f"[{bad.table}] {bad.key}" if bad.table else bad.key
        raise ConfigError(path, bad.message, line=line or lines.get((bad.table, "")), key=shown) from None


class _Invalid(Exception):
    """A rule broken at `[table] key`; parse_config adds the file and line."""

    def __init__(self, table: str, key: str, message: str):
        super().__init__(message)
        self.table, self.key, self.message = table, key, message


# -- the rules a type cannot state --------------------------------------------------------------------------


def _build(file: _File, path: Path) -> Config:
    currencies = file.display_currencies or (file.display_currency,)
    if file.display_currency not in currencies:
        currencies = (file.display_currency, *currencies)
    seen: set[str] = set()
    for index, company in enumerate(file.company):
        if company.symbol in seen:
            raise _Invalid(f"company[{index}]", "symbol", f"duplicate symbol {company.symbol!r}")
        seen.add(company.symbol)
    src = file.sources
    sources = {
        name: SourceConfig(base_url=s.base_url.rstrip("/"), timeout_seconds=s.timeout_seconds)
        for name, s in (("yahoo", src.yahoo), ("tencent", src.tencent))
    }
    sources["openrouter"] = SourceConfig(
        base_url=src.openrouter.base_url.rstrip("/"),
        timeout_seconds=src.openrouter.timeout_seconds,
        api_key_env=src.openrouter.api_key_env,
    )
    return Config(
        path=path,
        display_currency=file.display_currency,
        display_currencies=tuple(dict.fromkeys(currencies)),
        database=file.database,
        sources=sources,
        jobs=file.jobs,
        ui=file.ui,
        keys=_keys(file.keys),
        markets={"HK": _market("HK", file.markets.HK), "US": _market("US", file.markets.US)},
        makers=file.makers,
        unattributed_authors=file.openrouter.unattributed_authors,
        companies=file.company,
        alerts=_alerts(file),
        storage=file.storage,
        fundamentals=_fundamentals(file),
        references=_references(file),
    )


def _alerts(file: _File) -> tuple[AlertRule, ...]:
    """Each [[alert]] converted once (percent and pp to fractions, durations to seconds); names unique."""
    symbols = [c.symbol for c in file.company]
    rules: list[AlertRule] = []
    for index, spec in enumerate(file.alert):
        try:
            rule = to_rule(spec, symbols)
        except RuleError as exc:
            raise _Invalid(f"alert[{index}]", exc.key, exc.message) from None
        if any(r.name == rule.name for r in rules):
            raise _Invalid(f"alert[{index}]", "name", f"duplicate alert name {rule.name!r}")
        rules.append(rule)
    return tuple(rules)


def bundled_fundamentals_path() -> Path:
    return Path(str(resources.files("monitor") / "fundamentals.toml"))


@functools.cache
def _bundled_file(path_text: str) -> _File:
    """The bundled fundamentals.toml, decoded once per process (its own errors name its own file and line)."""
    path = Path(path_text)
    text = path.read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    try:
        return msgspec.convert(raw, _File)
    except msgspec.ValidationError as exc:
        bad = _explain(str(exc), raw)
        line = _key_lines(text).get((bad.table, bad.key))
        raise ConfigError(path, bad.message, line, f"[{bad.table}] {bad.key}") from None


def _bundled_error(index: int, kind: str, key: str, message: str) -> ConfigError:
    path = bundled_fundamentals_path()
    table = f"{kind}[{index}]"
    line = _key_lines(path.read_text(encoding="utf-8")).get((table, key))
    return ConfigError(path, message, line, f"[{table}] {key}")


def _fundamental_problem(item: Fundamental, symbols: set[str]) -> tuple[str, str] | None:
    """(key, message) for the first rule `item` breaks, else None."""
    if item.symbol not in symbols:
        return "symbol", f"unknown symbol {item.symbol!r} (not a [[company]] of this config)"
    if item.metric == "gross_margin":
        if item.currency is not None:
            return "currency", "gross_margin is a percent: leave currency out"
        if not -100 <= item.value <= 100:
            return "value", f"gross_margin is a percent between -100 and 100 (got {item.value})"
    elif item.currency is None:
        return "currency", f"missing required key (the currency {item.metric} is reported in, e.g. USD or CNY)"
    elif item.currency not in FUNDAMENTAL_CURRENCIES:
        hint = " (renminbi is CNY)" if item.currency in ("RMB", "CNH") else ""
        return "currency", f"unknown currency {item.currency!r}{hint}; one of: {', '.join(FUNDAMENTAL_CURRENCIES)}"
    elif item.value < 0:
        return "value", f"{item.metric} must be >= 0 (got {item.value}); a loss is a positive net_loss"
    if item.metric in POINT_METRICS and item.months is not None:
        return "months", f"{item.metric} is a figure as of period_end: leave months out"
    if item.metric in PERIOD_METRICS and item.months is None:
        return "months", f"missing required key ({item.metric} covers a period: 12 for a fiscal year, 9, 6 or 3)"
    return None


def fundamental_key(item: Fundamental) -> tuple[str, str, date, int | None]:
    """What makes two entries the same figure: a config entry with this key replaces the bundled one."""
    return item.symbol, item.metric, item.period_end, item.months


def _fundamentals(file: _File) -> tuple[Fundamental, ...]:
    symbols = {c.symbol for c in file.company}
    chosen: dict[tuple[str, str, date, int | None], Fundamental] = {}
    for index, item in enumerate(_bundled_file(str(bundled_fundamentals_path())).fundamental):
        if item.symbol not in symbols:
            continue  # a bundled figure for a company this watchlist leaves out
        if problem := _fundamental_problem(item, symbols):
            raise _bundled_error(index, "fundamental", *problem)
        chosen[fundamental_key(item)] = item
    seen: set[tuple[str, str, date, int | None]] = set()
    for index, item in enumerate(file.fundamental):
        if problem := _fundamental_problem(item, symbols):
            raise _Invalid(f"fundamental[{index}]", *problem)
        key = fundamental_key(item)
        if key in seen:
            raise _Invalid(f"fundamental[{index}]", "metric", "duplicate: the same symbol, metric, period_end, months")
        seen.add(key)
        chosen[key] = item
    return tuple(chosen.values())


def _reference_problem(item: Reference) -> tuple[str, str] | None:
    if item.currency not in FUNDAMENTAL_CURRENCIES:
        return "currency", f"unknown currency {item.currency!r}; one of: {', '.join(FUNDAMENTAL_CURRENCIES)}"
    return None


def _references(file: _File) -> tuple[Reference, ...]:
    chosen: dict[str, Reference] = {}
    for index, item in enumerate(_bundled_file(str(bundled_fundamentals_path())).reference):
        if problem := _reference_problem(item):
            raise _bundled_error(index, "reference", *problem)
        chosen[item.name] = item
    seen: set[str] = set()
    for index, item in enumerate(file.reference):
        if problem := _reference_problem(item):
            raise _Invalid(f"reference[{index}]", *problem)
        if item.name in seen:
            raise _Invalid(f"reference[{index}]", "name", f"duplicate reference name {item.name!r}")
        seen.add(item.name)
        chosen[item.name] = item
    return tuple(chosen.values())


def _market(name: str, raw: _Market) -> MarketConfig:
    table = f"markets.{name}"
    try:
        ZoneInfo(raw.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise _Invalid(
            table, "timezone", f"unknown time zone {raw.timezone!r} (IANA names like Asia/Hong_Kong)"
        ) from None

    def window(key: str, pair: tuple[str, str]) -> tuple[time, time]:
        start, end = time.fromisoformat(pair[0]), time.fromisoformat(pair[1])
        if end <= start:
            raise _Invalid(table, key, f"ends before it starts: {list(pair)!r}")
        return start, end

    pre_open = window("pre_open", raw.pre_open) if raw.pre_open else None
    sessions = tuple(window("sessions", pair) for pair in raw.sessions)
    auction = window("closing_auction", raw.closing_auction) if raw.closing_auction else None
    # One trading day, in order: pre-open, the sessions (a gap between two is the lunch break), the auction.
    day = [("pre_open", pre_open)] if pre_open else []
    day += [("sessions", s) for s in sessions] + ([("closing_auction", auction)] if auction else [])
    for (_, (_, end)), (key, (start, _)) in itertools.pairwise(day):
        if start < end:
            raise _Invalid(table, key, "windows overlap or are out of order (pre-open, sessions, closing auction)")
    half_day_close = time.fromisoformat(raw.half_day_close) if raw.half_day_close else None
    if half_day_close and not sessions[0][0] < half_day_close <= sessions[-1][1]:
        raise _Invalid(table, "half_day_close", f"must fall within the sessions (got {raw.half_day_close!r})")
    return MarketConfig(
        name=name,
        timezone=raw.timezone,
        calendar=raw.calendar,
        pre_open=pre_open,
        sessions=sessions,
        closing_auction=auction,
        half_day_close=half_day_close,
        closures=frozenset(raw.closures),
    )


# Textual reports modifiers in alphabetical order, so "shift+ctrl+x" would never fire. Its kitty-protocol-only
# super and hyper are left out: a desktop or terminal normally keeps those keys, so the binding would be dead.
KEY_MODIFIERS = ("alt", "ctrl", "meta", "shift")
# What Textual calls the printable ASCII characters that are not letters or digits (its _character_to_key):
# after a modifier they must be written by name ("ctrl+slash"); alone, either form works.
_CHARACTER_KEYS = {
    "!": "exclamation_mark",
    '"': "quotation_mark",
    "#": "number_sign",
    "$": "dollar_sign",
    "%": "percent_sign",
    "&": "ampersand",
    "'": "apostrophe",
    "(": "left_parenthesis",
    ")": "right_parenthesis",
    "*": "asterisk",
    "+": "plus",
    ",": "comma",
    "-": "minus",
    ".": "full_stop",
    "/": "slash",
    ":": "colon",
    ";": "semicolon",
    "<": "less_than_sign",
    "=": "equals_sign",
    ">": "greater_than_sign",
    "?": "question_mark",
    "@": "at",
    "[": "left_square_bracket",
    "\\": "backslash",
    "]": "right_square_bracket",
    "^": "circumflex_accent",
    "_": "underscore",
    "`": "grave_accent",
    "{": "left_curly_bracket",
    "|": "vertical_line",
    "}": "right_curly_bracket",
    "~": "tilde",
}
# Every key name besides a-z and 0-9: Textual's names for the non-character keys (textual.keys.Keys and the
# kitty protocol's functional keys) and for the characters above. monitor/ must not import Textual, so they
# are listed here; tests/test_config.py proves with Textual's own input parser that each one can fire.
KEY_NAMES = frozenset(
    ["escape", "enter", "tab", "space", "backspace", "insert", "delete", "home", "end", "pageup", "pagedown"]
    + ["up", "down", "left", "right"]
    + [f"f{n}" for n in range(1, 25)]
    + list(_CHARACTER_KEYS.values())
)


def _keys(keys: dict[str, str]) -> dict[str, str]:
    bound: dict[str, str] = {}  # key -> the first app-wide binding given it: they all act on the same screen
    for binding_id, value in keys.items():
        if binding_id not in BINDING_IDS:
            raise _Invalid("keys", binding_id, f"unknown key (expected one of: {', '.join(sorted(BINDING_IDS))})")
        problem = _unbindable(value)
        if problem:
            raise _Invalid("keys", binding_id, f"not a key Textual can bind: {problem}")
        for key in (k.strip() for k in value.split(",") if binding_id in APP_WIDE_BINDINGS):
            other = bound.setdefault(_CHARACTER_KEYS.get(key, key), binding_id)
            if other != binding_id:
                raise _Invalid("keys", binding_id, f"{key!r} is already bound to {other}: one key, one action")
    return {binding_id: value.strip() for binding_id, value in keys.items()}


def _unbindable(keys: str) -> str | None:
    """Why a Textual binding on `keys` ("r", "ctrl+r", "f5,question_mark") could never fire, or None."""
    for alternative in keys.split(","):
        key = alternative.strip()
        if not key:
            return f"an empty key name in {keys!r}"
        if len(key) == 1:
            if key.isprintable() and not key.isspace():
                continue
            return f"{key!r} is not a printable character"
        *modifiers, base = key.split("+")
        unknown = [m for m in modifiers if m not in KEY_MODIFIERS]
        if unknown:
            return f"unknown modifier {unknown[0]!r} in {key!r} (modifiers: {', '.join(KEY_MODIFIERS)})"
        if modifiers != sorted(set(modifiers)):
            return f"write {key!r} as {'+'.join([*sorted(set(modifiers)), base])!r}"
        if base in _CHARACTER_KEYS and modifiers:
            return f"write {key!r} as {'+'.join([*modifiers, _CHARACTER_KEYS[base]])!r}"
        if not (base in KEY_NAMES or re.fullmatch(r"[a-z0-9]", base)):
            return f"unknown key {base!r} in {key!r} (a-z, 0-9, or a name like tab, f5, slash, question_mark)"
    return None


# -- turning msgspec's error into the file's words ----------------------------------------------------------

_TYPE_WORDS = {
    "int": "an integer",
    "float": "a number",
    "str": "a string",
    "array": "a list",
    "object": "a table",
    "date": "a YYYY-MM-DD date",
}


def _explain(error: str, raw: dict[str, Any]) -> _Invalid:
    """msgspec's `Expected `int` >= 1 - at `$.jobs.fx_seconds`` as `[jobs] fx_seconds: must be > 0 (got -5)`."""
    what, _, at = error.partition(" - at `$")
    parts: list[str | int] = []
    for name, index in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+|\.\.\.)\]", at.rstrip("`")):
        # msgspec writes a dict key as [...]; the first entry that fails on its own is the one it meant.
        parts.append(name or (int(index) if index != "..." else _failing_key(raw, parts)))
    if field := re.fullmatch(r"Object contains unknown field `(.+)`", what):
        allowed = ", ".join(f.name for f in msgspec.structs.fields(_unwrap(_type_at(parts))[0]))
        parts.append(field.group(1))
        message = f"unknown key (expected one of: {allowed})"
    elif field := re.fullmatch(r"Object missing required field `(.+)`", what):
        parts.append(field.group(1))
        message = "missing required key"
    elif kinds := re.fullmatch(r"Expected `([^`]+)`, got `[^`]+`", what):
        words = [_TYPE_WORDS.get(k, k) for k in kinds.group(1).split(" | ") if k != "null"]
        message = f"must be {' or '.join(words)}{_got(raw, parts)}"
    else:  # a range, pattern, length or choice: the field's own words
        message = f"{_unwrap(_type_at(parts))[1] or what}{_got(raw, parts)}"
    last = max((i for i, p in enumerate(parts) if isinstance(p, str)), default=0)
    table = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts[:last]).lstrip(".")
    return _Invalid(table, str(parts[last]) if parts else "", message)


def _type_at(parts: list[str | int]) -> Any:
    """The declared type of the value at `parts` in the file, e.g. ["company", 1, "symbol"] -> _Symbol."""
    kind: Any = _File
    for part in parts:
        kind = _unwrap(kind)[0]
        if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
            kind = next(f.type for f in msgspec.structs.fields(kind) if f.name == part)
        elif get_origin(kind) is dict:
            kind = get_args(kind)[1]
        else:  # tuple[X, ...] or a fixed-length tuple[X, Y]
            args = get_args(kind)
            kind = args[0] if args[-1] is ... else args[int(part)]
    return kind


def _unwrap(kind: Any) -> tuple[Any, str | None]:
    """The type inside Annotated[...] and `X | None`, and the outermost Meta description on the way."""
    description = None
    while True:
        if get_origin(kind) is Annotated:
            kind, *metas = get_args(kind)
            description = description or next((m.description for m in metas if m.description), None)
        elif get_origin(kind) in (Union, types.UnionType):
            kind = next(a for a in get_args(kind) if a is not type(None))
        else:
            return kind, description


def _raw_at(raw: Any, parts: list[str | int]) -> Any:
    for part in parts:
        raw = raw[part]
    return raw


def _failing_key(raw: dict[str, Any], parts: list[str | int]) -> str:
    entries, value_type = _raw_at(raw, parts), get_args(_unwrap(_type_at(parts))[0])[1]
    for key, value in entries.items():
        try:
            msgspec.convert(value, value_type)
        except msgspec.ValidationError:
            return str(key)
    return "?"


# A URL's credentials (user:password@, or a token in its path or query) never reach a terminal or a log.
_URL_SECRET = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)[^\s'\"]*")


def _got(raw: dict[str, Any], parts: list[str | int]) -> str:
    """(got <the bad value>), kept short so the message stays one readable line; URLs show their scheme only."""
    text = _URL_SECRET.sub(lambda m: m.group("scheme") + "…", repr(_raw_at(raw, parts)))
    return f" (got {text if len(text) <= 60 else text[:57] + '...'})"


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
        if header := re.match(r"^\[\[\s*([^\]]+?)\s*\]\]", line):
            name = header.group(1)
            array_counts[name] = array_counts.get(name, -1) + 1
            table = f"{name}[{array_counts[name]}]"
            lines.setdefault((table, ""), number)
        elif header := re.match(r"^\[\s*([^\]]+?)\s*\]", line):
            table = header.group(1)
            lines.setdefault((table, ""), number)
        elif key := re.match(r'^"?([A-Za-z0-9_\-]+)"?\s*=', line):
            lines.setdefault((table, key.group(1)), number)
    return lines
