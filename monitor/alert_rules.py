"""Alert rules as the config writes them ([[alert]]): their spec, parsing into the engine's units, how a
value is shown, and how a notification target is masked. The engine that evaluates and delivers them is
monitor/alerts.py; this half is all the config needs, so loading a config imports no asyncio or polars.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import msgspec
from msgspec import Meta

PRICE_METRICS = ("price", "market_cap", "change_pct_1d", "change_pct_intraday")
TOKEN_METRICS = ("token_share", "token_share_change_7d", "rank")
EVENTS = ("model_enters_top", "stale")
OPS = ("<=", ">=", "crosses_above", "crosses_below")
LOCAL_TARGETS = ("screen", "bell")
# How each threshold is written -> (unit shown, factor to the engine's number). Percent and pp become fractions.
UNITS: dict[str, tuple[str, float]] = {
    "price": ("", 1.0),
    "market_cap": ("", 1.0),
    "change_pct_1d": ("%", 0.01),
    "change_pct_intraday": ("%", 0.01),
    "token_share": ("%", 0.01),
    "token_share_change_7d": ("pp", 0.01),
    "rank": ("", 1.0),
    "model_enters_top": ("", 1.0),
    "stale": ("min", 60.0),
}
SIGNED = {"change_pct_1d", "change_pct_intraday", "token_share_change_7d"}
# The tables each kind of rule reads: a job that writes one of them triggers the rule's evaluation.
RULE_TABLES = {
    "price": frozenset({"quotes", "daily_bars", "instruments"}),
    "token": frozenset({"token_daily"}),
    "model_enters_top": frozenset({"token_daily"}),
    "stale": frozenset({"polls"}),  # every poll: a source that stops still records failed polls
}
STALE_SOURCES = ("yahoo", "openrouter")  # the upstreams jobs poll (Tencent only backs Yahoo up)
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


# -- rules as written ([[alert]] in the config) ---------------------------------------------------------

_Metric = Annotated[
    Literal[
        "price", "market_cap", "change_pct_1d", "change_pct_intraday", "token_share", "token_share_change_7d", "rank"
    ],
    Meta(description=f"must be one of {', '.join(PRICE_METRICS + TOKEN_METRICS)}"),
]
_Event = Annotated[Literal["model_enters_top", "stale"], Meta(description="must be model_enters_top or stale")]
_Op = Annotated[
    Literal["<=", ">=", "crosses_above", "crosses_below"], Meta(description=f"must be one of {', '.join(OPS)}")
]
_Source = Annotated[Literal["yahoo", "openrouter"], Meta(description="must be yahoo or openrouter")]
_Duration = Annotated[
    str, Meta(pattern=r"^\s*\d+\s*[smhd]\s*$", description='must be a duration like "90s", "30m", "4h" or "1d"')
]
_Target = Annotated[
    str,
    Meta(
        pattern=r"^(?:screen|bell|[A-Za-z][A-Za-z0-9+.\-]*://\S+)$",
        description='must be "screen", "bell" or an apprise URL like "ntfy://topic"',
    ),
]
_Text = Annotated[str, Meta(pattern=r"\S", description="must not be empty")]


class AlertSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One [[alert]] table as written."""

    name: _Text | None = None
    symbol: _Text | None = None
    maker: _Text | None = None
    model: _Text | None = None
    source: _Source | None = None
    metric: _Metric | None = None
    event: _Event | None = None
    op: _Op | None = None
    value: float | None = None
    cooldown: _Duration = "1h"
    notify: tuple[_Target, ...] = ("screen",)


class RuleError(Exception):
    """A rule broken at `key`; the config turns it into its one-line file:line: [alert[i]] key: message."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key, self.message = key, message


class AlertRule(msgspec.Struct, frozen=True, kw_only=True):
    """A rule as the engine uses it: thresholds in the engine's units (fractions, seconds)."""

    name: str
    expression: str  # the canonical one-line form, e.g. "0100.HK change_pct_1d <= -5"
    kind: Literal["price", "token", "model_enters_top", "stale"]
    subject_kind: Literal["symbol", "maker", "model", "source"]
    subject: str
    metric: str  # the metric, or the event's name
    op: str
    threshold: float
    cooldown: float  # seconds
    notify: tuple[str, ...]

    @property
    def key(self) -> str:
        """Identity of the rule's state and firings: a changed definition starts afresh."""
        return f"{self.name}|{self.expression}"

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(t for t in self.notify if t not in LOCAL_TARGETS)

    @property
    def tables(self) -> frozenset[str]:
        return RULE_TABLES[self.kind]

    @property
    def unit(self) -> str:
        return UNITS[self.metric][0]

    def holds(self, value: float) -> bool:
        """Whether `value` is on the rule's side of the threshold."""
        return value <= self.threshold if self.op in ("<=", "crosses_below") else value >= self.threshold


def parse_duration(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text)
    if not match:
        raise RuleError("cooldown", f'must be a duration like "30m", "4h" or "1d" (got {text!r})')
    return float(int(match.group(1)) * DURATION_UNITS[match.group(2)])


def _number(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e15 else f"{value:.0f}"


def to_rule(spec: AlertSpec, symbols: Iterable[str] = ()) -> AlertRule:
    """Check one written rule and convert it once; raises RuleError naming the key at fault."""
    subjects = {k: getattr(spec, k) for k in ("symbol", "maker", "model", "source") if getattr(spec, k) is not None}
    if spec.metric is None and spec.event is None:
        metrics, events = ", ".join(PRICE_METRICS + TOKEN_METRICS), ", ".join(EVENTS)
        raise RuleError("metric", f"set metric ({metrics}) or event ({events})")
    if spec.metric is not None and spec.event is not None:
        raise RuleError("event", "set either metric or event, not both")
    metric = spec.metric or spec.event
    assert metric is not None
    allowed: tuple[str, ...]
    if metric in PRICE_METRICS:
        kind, allowed = "price", ("symbol",)
    elif metric in TOKEN_METRICS:
        kind, allowed = "token", ("maker", "model")
    elif metric == "model_enters_top":
        kind, allowed = "model_enters_top", ("maker",)
    else:
        kind, allowed = "stale", ("source",)
    extra = [k for k in subjects if k not in allowed]
    if extra:
        raise RuleError(extra[0], f"not used by {metric} (it takes {' or '.join(allowed)})")
    if len(subjects) != 1:
        key = allowed[0] if not subjects else list(subjects)[1]
        raise RuleError(key, f"{metric} needs exactly one of: {', '.join(allowed)}")
    subject_kind, subject = next(iter(subjects.items()))
    symbols = set(symbols)
    if subject_kind == "symbol" and symbols and subject not in symbols:
        raise RuleError("symbol", f"{subject!r} is not in the watchlist ([[company]] symbols)")
    if kind in ("price", "token"):
        if spec.op is None:
            raise RuleError("op", f"missing: one of {', '.join(OPS)}")
        if spec.value is None:
            raise RuleError("value", "missing: the threshold")
        op, value = spec.op, spec.value
    else:
        if spec.op is not None:
            raise RuleError("op", f"the {metric} event takes no op, only value")
        if metric == "model_enters_top":
            value = 50.0 if spec.value is None else spec.value
            if value != int(value) or not 1 <= value <= 50:
                raise RuleError("value", f"must be a whole rank from 1 to 50 (got {_number(value)})")
        else:
            if spec.value is None or spec.value <= 0:
                raise RuleError("value", "must be the minutes after which a source counts as stale (> 0)")
            value = spec.value
        op = ">="
    if metric == "rank" and value != int(value):
        raise RuleError("value", f"a rank is a whole number (got {_number(value)})")
    cooldown = parse_duration(spec.cooldown)
    prefix = subject if subject_kind == "symbol" else f"{subject_kind}:{subject}"
    comparison = f"{op} " if kind in ("price", "token") else ""
    expression = f"{prefix} {metric} {comparison}{_number(value)}"
    return AlertRule(
        name=spec.name.strip() if spec.name else expression,
        expression=expression,
        kind=kind,  # type: ignore[arg-type]  # one of the four, by the branches above
        subject_kind=subject_kind,  # type: ignore[arg-type]
        subject=subject,
        metric=metric,
        op=op,
        threshold=value * UNITS[metric][1],
        cooldown=cooldown,
        notify=tuple(dict.fromkeys(spec.notify)),
    )


def parse_expression(text: str) -> dict[str, Any]:
    """`alerts add` text -> the [[alert]] table that says the same. For example: "0100.HK change_pct_1d <= -5",
    "maker:z-ai token_share crosses_above 10", "model:minimax/minimax-m2.5 rank <= 10",
    "maker:z-ai model_enters_top 50", "source:yahoo stale 15"."""
    words = text.split()
    if len(words) not in (3, 4):
        raise RuleError("expression", f'expected "SUBJECT METRIC OP VALUE" or "SUBJECT EVENT VALUE", got {text!r}')
    subject, metric = words[0], words[1]
    kind, _, name = subject.partition(":")
    table: dict[str, Any] = {"symbol": subject} if not name else {}
    if name:
        if kind not in ("maker", "model", "source"):
            raise RuleError("expression", f"subject {subject!r}: write SYMBOL, maker:SLUG, model:SLUG or source:NAME")
        table[kind] = name
    if len(words) == 4:
        table["metric"], table["op"] = metric, words[2]
    else:
        table["event"] = metric
    try:
        table["value"] = float(words[-1])
    except ValueError:
        raise RuleError("expression", f"value {words[-1]!r} is not a number") from None
    return table


def rule_from_table(table: Mapping[str, Any], symbols: Iterable[str] = ()) -> AlertRule:
    """A rule from a plain table (the demo's, an `alerts add`), checked exactly as the config checks it."""
    try:
        spec = msgspec.convert(dict(table), AlertSpec)
    except msgspec.ValidationError as exc:
        what, _, at = str(exc).partition(" - at `$")
        key = re.split(r"[.\[]", at.strip("`."))[0] or "alert"
        kind = next((f.type for f in msgspec.structs.fields(AlertSpec) if f.name == key), None)
        raise RuleError(key, f"{_description(kind) or what} (got {table.get(key)!r})") from None
    return to_rule(spec, symbols)


def _description(kind: Any) -> str | None:
    """The Meta description inside a field's type (through `X | None`, Annotated and tuple[X, ...])."""
    for arg in get_args(kind):
        if isinstance(arg, Meta) and arg.description:
            return arg.description
    return next((d for d in (_description(a) for a in get_args(kind)) if d), None)


# -- showing values ---------------------------------------------------------------------------------------


def show(metric: str, value: float | None) -> str:
    """An engine number as a trader reads it: -0.0612 -> "-6.12%", 0.0198 (7d) -> "+1.98pp", 900 s -> "15 min"."""
    if value is None:
        return "—"
    unit, factor = UNITS.get(metric, ("", 1.0))
    shown = value / factor
    if unit == "min":
        return f"{shown:,.0f} min"
    if unit:
        return f"{shown:+.2f}{unit}" if metric in SIGNED else f"{shown:.2f}{unit}"
    if metric in ("rank", "model_enters_top"):
        return f"{shown:.0f}"
    return f"{shown:,.2f}" if abs(shown) < 1e6 else f"{shown:,.0f}"


@cache
def mask(target: str) -> str:
    """A target as it may be stored, logged and shown: apprise's privacy form, without its query string."""
    if target in LOCAL_TARGETS:
        return target
    scheme = target.split("://", 1)[0]
    try:
        import apprise

        plugin = apprise.Apprise.instantiate(target, suppress_exceptions=True)
    except Exception:
        plugin = None
    if plugin is None:
        return f"{scheme}://***"
    return str(plugin.url(privacy=True)).split("?", 1)[0].rstrip("/")  # type: ignore[no-untyped-call]


def scrub(text: str, targets: Iterable[str]) -> str:
    """Remove every part of a target URL that its masked form hides (tokens, passwords) from `text`."""
    for target in targets:
        shown = mask(target)
        for part in sorted(set(re.split(r"[:/@?&=#,]+", target)), key=len, reverse=True):
            if len(part) >= 4 and part not in shown:
                text = text.replace(part, "***")
    return text


# -- editing the user's config (tokentape alerts add/delete) ---------------------------------------------


def add_rule(path: Path, table: Mapping[str, Any], default_text: str) -> AlertRule:
    """Append [[alert]] `table` to the config at `path` (created from `default_text` if absent) and return
    the rule as the new file loads it. Raises RuleError or ConfigError and then writes nothing."""
    import tomlkit

    from monitor.config import parse_config

    text = path.read_text(encoding="utf-8") if path.is_file() else default_text
    symbols = [c.symbol for c in parse_config(text, path).companies]
    rule = rule_from_table(table, symbols)
    doc = tomlkit.parse(text)
    if "alert" not in doc:
        doc.append("alert", tomlkit.aot())
    entry = tomlkit.table()
    for key, value in table.items():
        entry.add(key, list(value) if isinstance(value, tuple) else value)
    doc["alert"].append(entry)
    new_text = tomlkit.dumps(doc)
    config = parse_config(new_text, path)  # the whole file as it will load: names unique, every rule valid
    _write(path, new_text)
    return next(r for r in config.alerts if r.expression == rule.expression and r.name == rule.name)


def delete_rule(path: Path, name: str) -> bool:
    """Remove the [[alert]] named `name` (a rule without a name is named by its expression). False if none."""
    import tomlkit

    from monitor.config import parse_config

    text = path.read_text(encoding="utf-8")
    config = parse_config(text, path)
    index = next((i for i, rule in enumerate(config.alerts) if rule.name == name), None)
    if index is None:
        return False
    doc = tomlkit.parse(text)
    tables = doc["alert"]
    del tables[index]
    if not tables:
        del doc["alert"]
    new_text = tomlkit.dumps(doc)
    parse_config(new_text, path)
    _write(path, new_text)
    return True


def _write(path: Path, text: str) -> None:
    """Whole or not at all: a crash mid-write never leaves half a config."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
