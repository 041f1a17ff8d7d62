"""Snapshots of what the dashboard shows, in table, CSV, JSON, Markdown and Parquet.

Shared by `tokentape snapshot` and the dashboard's export key, so a file always matches the screen.
The JSON is a contract for scripts: top-level keys generated_at, display_currency, companies, models,
makers, attribution. Every format carries OpenRouter's attribution line. Text from upstreams is made
safe (control characters escaped; CSV formulas neutralised).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeAlias

import polars as pl

from monitor.dashboard import Dashboard
from monitor.text import (
    csv_cell,
    fmt_big,
    fmt_pct,
    fmt_pp,
    fmt_price,
    fmt_share,
    markdown_text,
    safe_text,
    truncate,
)

FORMATS = ("table", "csv", "json", "parquet", "md")

# One exported value, one exported row (column -> value), as JSON, CSV and Parquet receive them.
Cell: TypeAlias = str | int | float | bool | None
Row: TypeAlias = dict[str, Cell]
# A number -> its text (fmt_price, fmt_pct, ...); None shows the value as text.
Formatter: TypeAlias = Callable[[float], str] | None


class ExportError(Exception):
    """A user-fixable export problem (unwritable path, missing --out); str() is one line."""


def _iso(ts: float | int | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds") if ts is not None else None


def _clean(rows: list[dict[str, Any]]) -> list[Row]:
    """NaN and infinity become None: JSON has no such numbers, and a table shows them as missing."""
    return [{k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()} for row in rows]


def sections(dash: Dashboard) -> dict[str, list[Row]]:
    """The three tables as lists of plain dicts, in the order and with the names of the JSON contract."""
    companies: list[dict[str, Any]] = []
    for r in dash.companies.iter_rows(named=True):
        companies.append(
            {
                "name": r["name"],
                "symbol": r["symbol"],
                "group": r["group"],
                "price": r["price"],
                "currency": r["currency"],
                "change": r["change"],
                "change_pct": r["change_pct"],
                "market_cap": r["market_cap"],
                "market_cap_display": r["market_cap_display"],
                "display_currency": r["display_currency"],
                "fx_rate": r["fx_rate"],
                "fx_time": _iso(r["fx_time"]),
                "move_5d": r["move_5d"],
                "move_1m": r["move_1m"],
                "move_ytd": r["move_ytd"],
                "move_ipo": r["move_ipo"],
                "token_share": r["token_share"],
                "token_share_change_7d": r["token_share_change_7d"],
                "token_date": r["token_date"],
                "price_date": r["price_date"],
                "price_time": _iso(r["price_time"]),
                "source": r["source"],
                "shares": r["shares"],
                "shares_source": r["shares_source"],
            }
        )
    models = [
        {
            "rank": r["rank"],
            "model": r["model_permaslug"],
            "maker": r["maker"],
            "tokens": r["total_tokens"],
            "share": r["share"],
            "share_change_1d": r["d_share_1d"],
            "share_change_1d_vs": r["date_1d"].isoformat() if r["date_1d"] else None,
            "share_change_7d": r["d_share_7d"],
            "date": r["date"].isoformat(),
        }
        for r in dash.models.iter_rows(named=True)
    ]
    makers = [
        {
            "rank": r["rank"],
            "maker": r["maker"],
            "maker_id": r["maker_id"],
            "tokens": r["total_tokens"],
            "share": r["share"],
            "share_change_1d": r["d_share_1d"],
            "share_change_1d_vs": r["date_1d"].isoformat() if r["date_1d"] else None,
            "share_change_7d": r["d_share_7d"],
            "date": r["date"].isoformat(),
        }
        for r in dash.makers.iter_rows(named=True)
    ]
    return {"companies": _clean(companies), "models": _clean(models), "makers": _clean(makers)}


def to_json(dash: Dashboard) -> str:
    payload = {
        "generated_at": _iso(dash.generated_at),
        "display_currency": dash.display_currency,
        **sections(dash),
        "attribution": dash.attribution,
        "token_snapshot": dash.token_snapshot,
        "demo": dash.is_demo,
    }
    # ensure_ascii keeps control characters and bidi overrides as \u escapes: shown, never obeyed.
    return json.dumps(payload, indent=2, ensure_ascii=True) + "\n"


# Decimals a CSV cell carries, by column: what the screen shows (prices to the cent, shares and moves
# as fractions to a hundredth of a percent), never float noise such as 0.30000000000000004. JSON and
# Parquet keep full precision.
CSV_DECIMALS = {
    "price": 2,
    "change": 2,
    "market_cap": 0,
    "market_cap_display": 0,
    "fx_rate": 6,
}
CSV_DEFAULT_DECIMALS = 4  # fractions: change_pct, move_*, share, token_share and their changes


def _csv_value(column: str, value: Cell) -> Cell:
    if isinstance(value, float):
        text = f"{value:.{CSV_DECIMALS.get(column, CSV_DEFAULT_DECIMALS)}f}"
        return text[1:] if text.startswith("-") and float(text) == 0 else text
    cell: Cell = csv_cell(value)  # type: ignore[assignment]  # text stays text, anything else is returned as is
    return cell


def _csv_table(rows: list[Row]) -> str:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(k, v) for k, v in row.items()})
    return out.getvalue()


TABLES = ("companies", "models", "makers")


def to_csv(dash: Dashboard, table: str = "companies") -> str:
    """One table (by its JSON name) as plain CSV, so a script can read stdout; attribution last, as a
    `#` line (the same as in the files `--out DIR` writes)."""
    if table not in TABLES:
        raise ExportError(f"unknown table {table!r} (choose from {', '.join(TABLES)})")
    return _csv_table(sections(dash)[table]) + f"# {safe_text(dash.attribution)}\n"


# Each table's columns: (name, width, formatter).
TABLE_COLUMNS: dict[str, list[tuple[str, int, Formatter]]] = {
    "companies": [
        ("name", 14, None),
        ("symbol", 8, None),
        ("price", 10, fmt_price),
        ("currency", 3, None),
        ("change_pct", 8, fmt_pct),
        ("market_cap", 9, fmt_big),
        ("market_cap_display", 9, fmt_big),
        ("move_ipo", 9, fmt_pct),
        ("token_share", 7, fmt_share),
        ("token_share_change_7d", 8, fmt_pp),
        ("price_date", 10, None),
    ],
    "models": [
        ("rank", 4, None),
        ("model", 40, None),
        ("maker", 12, None),
        ("tokens", 8, fmt_big),
        ("share", 7, fmt_share),
        ("share_change_1d", 8, fmt_pp),
        ("share_change_7d", 8, fmt_pp),
    ],
    "makers": [
        ("rank", 4, None),
        ("maker", 16, None),
        ("tokens", 8, fmt_big),
        ("share", 7, fmt_share),
        ("share_change_1d", 8, fmt_pp),
        ("share_change_7d", 8, fmt_pp),
    ],
}
HEADINGS = {
    "market_cap_display": "mcap disp",
    "market_cap": "mcap",
    "change_pct": "chg%",
    "move_ipo": "vs IPO",
    "token_share": "tokens",
    "token_share_change_7d": "Δ7d",
    "share_change_1d": "Δ1d",
    "share_change_7d": "Δ7d",
    "price_date": "as of",
    "currency": "cur",
}


def _cell(value: Cell, formatter: Formatter) -> str:
    if value is None:
        return "—"
    if formatter is None:
        return safe_text(value)
    # A formatter shows anything that is not a finite number as "—".
    return safe_text(formatter(value)) if isinstance(value, (int, float)) else "—"


def to_table(dash: Dashboard, markdown: bool = False) -> str:
    lines: list[str] = []
    if dash.is_demo:
        lines.append(f"DEMO DATA — {safe_text(dash.demo_note or 'bundled sample')}")
        if dash.left_out:
            lines.append(f"not in the demo (no recorded prices): {safe_text(', '.join(dash.left_out))}")
        lines.append("")
    for name, rows in sections(dash).items():
        columns = TABLE_COLUMNS[name]
        title = f"{name} ({dash.display_currency} display)" if name == "companies" else name
        lines.append(f"## {title}" if markdown else title.upper())
        heads = [HEADINGS.get(c, c) for c, _, _ in columns]
        if markdown:
            lines.append("| " + " | ".join(heads) + " |")
            lines.append("|" + "|".join("---" for _ in columns) + "|")
            for row in rows:
                # Upstream text as Markdown text: HTML escaped, no link, image or cell border can form.
                cells = [
                    markdown_text(row[c]) if f is None and row[c] is not None else _cell(row[c], f).replace("|", "\\|")
                    for c, _, f in columns
                ]
                lines.append("| " + " | ".join(cells) + " |")
        else:
            lines.append("  ".join(h.ljust(w) for h, (_, w, _) in zip(heads, columns, strict=True)).rstrip())
            for row in rows:
                cells = [truncate(_cell(row[c], f), w).ljust(w) for c, w, f in columns]
                lines.append("  ".join(cells).rstrip())
        lines.append("")
    lines.append(markdown_text(dash.attribution) if markdown else safe_text(dash.attribution))
    return "\n".join(lines) + "\n"


def render(dash: Dashboard, fmt: str, table: str = "companies") -> str:
    """`fmt` as text; csv holds the one `table`, the other formats all three."""
    if fmt == "json":
        return to_json(dash)
    if fmt == "csv":
        return to_csv(dash, table)
    if fmt == "md":
        return to_table(dash, markdown=True)
    if fmt == "table":
        return to_table(dash)
    raise ExportError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")


def write_tables(dash: Dashboard, directory: Path, fmt: str) -> list[Path]:
    """One file per table (csv or parquet) plus ATTRIBUTION.txt in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, rows in sections(dash).items():
        path = directory / f"{name}.{fmt}"
        if fmt == "csv":
            path.write_text(_csv_table(rows) + f"# {safe_text(dash.attribution)}\n", encoding="utf-8")
        else:
            frame = pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()
            frame.write_parquet(
                path,
                metadata={"attribution": safe_text(dash.attribution), "generated_at": _iso(dash.generated_at) or ""},
            )
        written.append(path)
    attribution = directory / "ATTRIBUTION.txt"
    attribution.write_text(safe_text(dash.attribution) + "\n", encoding="utf-8")
    return [*written, attribution]


def write(dash: Dashboard, fmt: str, out: str | None) -> list[Path]:
    """Write a snapshot to `out` (a file; a directory for csv/parquet tables). Returns what was written."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    if out is None:
        raise ExportError(f"--format {fmt} needs --out DIR (it writes one file per table)")
    path = Path(out).expanduser()
    try:
        if fmt == "parquet" or (fmt == "csv" and (path.is_dir() or not path.suffix)):
            return write_tables(dash, path, fmt)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(render(dash, fmt), encoding="utf-8")
        tmp.replace(path)  # never leave a half-written file under the user's name
        return [path]
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None


def export_folder(dash: Dashboard, root: Path, svg: str | None = None, now: datetime | None = None) -> Path:
    """The dashboard's export key: a timestamped folder with the screen (SVG), CSV tables and JSON."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    folder = root / f"tokentape-{stamp}"
    try:
        write_tables(dash, folder, "csv")
        (folder / "snapshot.json").write_text(to_json(dash), encoding="utf-8")
        if svg is not None:
            (folder / "screen.svg").write_text(svg, encoding="utf-8")
    except OSError as exc:
        raise ExportError(f"cannot write {folder}: {exc.strerror or exc}") from None
    return folder
