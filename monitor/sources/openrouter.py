"""OpenRouter token usage: the official keyless daily export (primary), the keyed history endpoint
(backfill), the models catalogue, and the undocumented 52-week chart (optional, shape-checked).

The export manifest names its CSV by an absolute openrouter.ai URL; we keep only its path and join it
to the configured base URL, so a loopback mirror or a proxy serves the whole chain.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from monitor.attribution import OPENROUTER_ATTRIBUTION as DEFAULT_ATTRIBUTION
from monitor.sources import BadPayload, NoData, Row, get, parse_json, require
from monitor.text import safe_text

UPSTREAM = "openrouter"
EXPORT_SOURCE = "openrouter-export"
HISTORY_SOURCE = "openrouter-api"
WEEKLY_SOURCE = "openrouter-chart"
DAY_VIEW_SOURCE = "openrouter-day-view"
MANIFEST_PATH = "/api/v1/datasets/exports/rankings-daily/latest.manifest.json"
MODELS_PATH = "/api/v1/models"
HISTORY_PATH = "/api/v1/datasets/rankings-daily"
WEEKLY_PATH = "/api/frontend/v1/rankings/model-rankings-chart"
DAY_VIEW_PATH = "/api/frontend/v1/rankings/models?view=day"
CSV_HEADER = ["date", "model_permaslug", "rank", "total_tokens", "share_of_daily_tokens"]
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
OTHER = "other"
# What each answer may hold (decompressed). Today: manifest ~1 KB, export ~0.1 MB, catalogue ~1.5 MB,
# weekly chart ~60 KB; a keyed year of history is the one large one.
MAX_MANIFEST = 64 * 2**10
MAX_EXPORT = 8 * 2**20
MAX_HISTORY = 32 * 2**20
MAX_MODELS = 16 * 2**20
MAX_WEEKLY = 4 * 2**20


def author_of(slug: str) -> str:
    """The maker of a model: the slug's prefix (`minimax/minimax-m3` -> `minimax`); `other` stays `other`."""
    return slug.split("/", 1)[0] if "/" in slug else OTHER


@dataclass(frozen=True)
class Manifest:
    snapshot_date: str
    csv_path: str
    csv_sha256: str
    csv_bytes: int | None
    row_count: int | None
    attribution: str


@dataclass(frozen=True)
class Export:
    manifest: Manifest
    rows: list[Row]


def mirror_url(base_url: str, absolute_or_path: str) -> str:
    parts = urlsplit(absolute_or_path)
    return base_url + parts.path + (f"?{parts.query}" if parts.query else "")


def latest_plausible_day(now: float | None = None) -> str:
    """Tomorrow in UTC: no snapshot or token day can be later (UTC days end before some time zones' do)."""
    when = datetime.now(UTC) if now is None else datetime.fromtimestamp(now, UTC)
    return (when.date() + timedelta(days=1)).isoformat()


def parse_manifest(payload: Any, url: str = "", latest_day: str | None = None) -> Manifest:
    if not isinstance(payload, dict):
        raise BadPayload(UPSTREAM, "manifest is not an object", url)
    files = payload.get("files")
    csv_file = files.get("csv") if isinstance(files, dict) else None
    if not (isinstance(csv_file, dict) and isinstance(csv_file.get("url"), str)):
        raise BadPayload(UPSTREAM, "manifest has no files.csv.url", url)
    sha = csv_file.get("sha256")
    if not (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)):
        raise BadPayload(UPSTREAM, "manifest files.csv.sha256 missing or malformed", url)
    snapshot = payload.get("snapshot_date")
    if not (isinstance(snapshot, str) and DATE.match(snapshot)):
        raise BadPayload(UPSTREAM, f"manifest snapshot_date malformed: {snapshot!r}"[:120], url)
    latest_day = latest_day or latest_plausible_day()
    if snapshot > latest_day:
        raise BadPayload(UPSTREAM, f"manifest snapshot_date {snapshot} is in the future (after {latest_day})", url)
    attribution = payload.get("attribution")
    return Manifest(
        snapshot_date=snapshot,
        csv_path=urlsplit(csv_file["url"]).path,
        csv_sha256=sha,
        csv_bytes=csv_file.get("bytes") if isinstance(csv_file.get("bytes"), int) else None,
        row_count=payload.get("row_count") if isinstance(payload.get("row_count"), int) else None,
        # Untrusted text bound for the terminal, exports and Parquet metadata: escaped once here, and
        # again wherever it is shown (a database written by an older version may hold it raw).
        attribution=safe_text(attribution)[:500]
        if isinstance(attribution, str) and attribution
        else DEFAULT_ATTRIBUTION,
    )


def parse_rankings_csv(text: str, snapshot_date: str, url: str = "") -> list[Row]:
    """Rows of the daily export. Accepts CRLF or LF; refuses any other column set or a bad value."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header != CSV_HEADER:
        raise BadPayload(UPSTREAM, f"export columns changed: {','.join(header or [])[:100]!r}", url)
    rows: list[Row] = []
    for line, fields in enumerate(reader, start=2):
        if not fields:
            continue
        if len(fields) != len(CSV_HEADER):
            raise BadPayload(UPSTREAM, f"export line {line}: {len(fields)} fields, expected 5", url)
        day, slug, rank, tokens, share = fields
        try:
            rank_value = int(rank) if rank else None
            token_value = int(tokens)
            share_value = float(share)
        except ValueError:
            raise BadPayload(UPSTREAM, f"export line {line}: not a number in {fields!r}"[:160], url) from None
        if not DATE.match(day) or not slug:
            raise BadPayload(UPSTREAM, f"export line {line}: bad date or slug", url)
        if day > snapshot_date:
            raise BadPayload(UPSTREAM, f"export line {line}: date {day} is after the snapshot {snapshot_date}", url)
        if token_value < 0 or not (0.0 <= share_value <= 1.0) or not math.isfinite(share_value):
            raise BadPayload(UPSTREAM, f"export line {line}: absurd value (tokens {token_value}, share {share})", url)
        if rank_value is None and slug != OTHER:
            raise BadPayload(UPSTREAM, f"export line {line}: {slug} has no rank", url)
        rows.append(
            {
                "date": day,
                "model_permaslug": slug,
                "author": author_of(slug),
                "rank": rank_value,
                "total_tokens": token_value,
                "share": share_value,
                "snapshot_date": snapshot_date,
                "source": EXPORT_SOURCE,
            }
        )
    if not rows:
        raise NoData(UPSTREAM, "export CSV has no rows", url)
    return rows


async def fetch_export(
    client: httpx.AsyncClient,
    base_url: str,
    *,
    timeout: float,
    have_snapshot: str | None = None,
    now: float | None = None,
) -> Export | None:
    """The newest export snapshot, or None when the manifest says we already have it. A stored
    snapshot date in the future (written before dates were checked) is not trusted to be newer."""
    url = base_url + MANIFEST_PATH
    response = await get(client, UPSTREAM, url, timeout=timeout, max_bytes=MAX_MANIFEST)
    latest_day = latest_plausible_day(now)
    manifest = parse_manifest(parse_json(response, UPSTREAM), url, latest_day)
    if have_snapshot and have_snapshot <= latest_day and manifest.snapshot_date <= have_snapshot:
        return None
    csv_url = mirror_url(base_url, manifest.csv_path)
    body = (await get(client, UPSTREAM, csv_url, timeout=timeout, max_bytes=MAX_EXPORT)).content
    digest = hashlib.sha256(body).hexdigest()
    if digest != manifest.csv_sha256:
        raise BadPayload(
            UPSTREAM,
            f"sha256 mismatch for {manifest.snapshot_date}.csv "
            f"({len(body)} bytes): got {digest[:12]}…, manifest says "
            f"{manifest.csv_sha256[:12]}…",
            csv_url,
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadPayload(UPSTREAM, "export CSV is not UTF-8", csv_url) from None
    rows = parse_rankings_csv(text, manifest.snapshot_date, url=csv_url)
    if manifest.row_count is not None and manifest.row_count != len(rows):
        raise BadPayload(UPSTREAM, f"export has {len(rows)} rows, manifest says {manifest.row_count}", csv_url)
    return Export(manifest, rows)


def parse_history(payload: Any, url: str = "") -> list[Row]:
    """The keyed /api/v1/datasets/rankings-daily body: {"data":[{date, model_permaslug, total_tokens}], "meta"}.

    It carries no share or rank, so both are derived per day (share over the day's total including
    `other`; rank by tokens among named models), exactly as the export defines them."""
    require(
        isinstance(payload, dict) and isinstance(payload.get("data"), list), UPSTREAM, "history has no data list", url
    )
    meta = payload.get("meta") if isinstance(payload.get("meta"), dict) else {}
    as_of = str(meta.get("as_of") or "")[:10]
    by_day: dict[str, list[tuple[str, int]]] = {}
    for item in payload["data"]:
        require(isinstance(item, dict), UPSTREAM, "history row is not an object", url)
        day, slug = str(item.get("date", ""))[:10], item.get("model_permaslug")
        try:
            tokens = int(item.get("total_tokens"))
        except (TypeError, ValueError):
            raise BadPayload(
                UPSTREAM, f"history total_tokens not a number: {item.get('total_tokens')!r}"[:120], url
            ) from None
        require(
            bool(DATE.match(day)) and isinstance(slug, str) and bool(slug) and tokens >= 0,
            UPSTREAM,
            f"history row malformed: {item!r}"[:160],
            url,
        )
        by_day.setdefault(day, []).append((slug, tokens))
    rows: list[Row] = []
    for day, items in sorted(by_day.items()):
        total = sum(t for _, t in items) or 1
        named = sorted((i for i in items if i[0] != OTHER), key=lambda i: -i[1])
        ranks = {slug: n for n, (slug, _) in enumerate(named, start=1)}
        for slug, tokens in items:
            rows.append(
                {
                    "date": day,
                    "model_permaslug": slug,
                    "author": author_of(slug),
                    "rank": ranks.get(slug),
                    "total_tokens": tokens,
                    "share": tokens / total,
                    "snapshot_date": as_of or day,
                    "source": HISTORY_SOURCE,
                }
            )
    return rows


async def fetch_history(
    client: httpx.AsyncClient, base_url: str, api_key: str, start: str, end: str, *, timeout: float
) -> list[Row]:
    url = base_url + HISTORY_PATH
    response = await get(
        client,
        UPSTREAM,
        url,
        timeout=timeout,
        params={"start_date": start, "end_date": end},
        headers={"Authorization": f"Bearer {api_key}"},
        max_bytes=MAX_HISTORY,
    )
    return parse_history(parse_json(response, UPSTREAM), url)


# A model's USD price per token above this is not a price (the dearest today are ~1e-4).
MAX_TOKEN_PRICE = 1.0
MAX_CONTEXT = 100_000_000
FIRST_MODEL_TIME = 1_420_070_400  # 2015-01-01: no catalogue entry was created before it


def _price(value: Any, what: str, url: str) -> float | None:
    """Catalogue prices are USD-per-token strings; "-1" means dynamic (router) pricing -> None.
    A missing or non-numeric price is None; a number out of range is refused."""
    try:
        price = float(value)
    except (TypeError, ValueError):
        return None
    if price == -1:
        return None
    require(
        math.isfinite(price) and 0 <= price <= MAX_TOKEN_PRICE,
        UPSTREAM,
        f"models catalogue: absurd {what} {value!r}"[:120],
        url,
    )
    return price


def _int_in(value: Any, low: int, high: int, what: str, url: str) -> int | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    require(low <= value <= high, UPSTREAM, f"models catalogue: absurd {what} {value}", url)
    return value


def parse_models(payload: Any, updated_at: int, url: str = "") -> list[Row]:
    latest = max(updated_at, int(datetime.now(UTC).timestamp())) + 86400
    if not (isinstance(payload, dict) and isinstance(payload.get("data"), list)):
        raise BadPayload(UPSTREAM, "models catalogue has no data list", url)
    rows: dict[str, Row] = {}
    for item in payload["data"]:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        slug = item.get("canonical_slug") or item["id"]
        # `:free` and other variants share the canonical slug; keep the plain id's entry.
        if slug in rows and ":" in item["id"]:
            continue
        pricing = item["pricing"] if isinstance(item.get("pricing"), dict) else {}
        rows[slug] = {
            "canonical_slug": slug,
            "id": item["id"],
            "name": str(item.get("name") or item["id"]),
            "created": _int_in(item.get("created"), FIRST_MODEL_TIME, latest, f"created of {slug}", url),
            "context_length": _int_in(item.get("context_length"), 0, MAX_CONTEXT, f"context_length of {slug}", url),
            "prompt_price": _price(pricing.get("prompt"), f"prompt price of {slug}", url),
            "completion_price": _price(pricing.get("completion"), f"completion price of {slug}", url),
            "updated_at": updated_at,
        }
    if not rows:
        raise NoData(UPSTREAM, "models catalogue is empty", url)
    return list(rows.values())


def price_rows(models: list[Row], day: str, source: str = "openrouter-models") -> list[Row]:
    """The catalogue's prices as seen on one UTC day, for the `model_prices` history (which stores a day's row only
    when a model's price changed: Store.record_prices)."""
    return [
        {
            "canonical_slug": m["canonical_slug"],
            "date": day,
            "id": m["id"],
            "prompt_price": m["prompt_price"],
            "completion_price": m["completion_price"],
            "source": source,
        }
        for m in models
    ]


async def fetch_models(client: httpx.AsyncClient, base_url: str, updated_at: int, *, timeout: float) -> list[Row]:
    url = base_url + MODELS_PATH
    response = await get(client, UPSTREAM, url, timeout=timeout, max_bytes=MAX_MODELS)
    return parse_models(parse_json(response, UPSTREAM), updated_at, url)


def parse_weekly_chart(payload: Any, url: str = "") -> list[Row]:
    """{"data":{"data":[{"x": week start, "ys": {slug: tokens, ..., "Others": tokens}}]}} -> rows.

    Undocumented and known to move: any other shape is a loud BadPayload, never an empty success."""
    inner = payload.get("data") if isinstance(payload, dict) else None
    weeks = inner.get("data") if isinstance(inner, dict) else None
    if not (isinstance(weeks, list) and weeks):
        raise BadPayload(UPSTREAM, "rankings chart shape changed (no data.data list)", url)
    rows: list[Row] = []
    for week in weeks:
        require(
            isinstance(week, dict)
            and isinstance(week.get("x"), str)
            and DATE.match(week["x"][:10]) is not None
            and isinstance(week.get("ys"), dict),
            UPSTREAM,
            "rankings chart week malformed",
            url,
        )
        for slug, tokens in week["ys"].items():
            require(
                isinstance(tokens, (int, float))
                and not isinstance(tokens, bool)
                and math.isfinite(tokens)
                and 0 <= tokens < 1e18,
                UPSTREAM,
                f"rankings chart tokens malformed for {slug!r}"[:120],
                url,
            )
            slug = OTHER if slug == "Others" else slug
            rows.append(
                {
                    "week": week["x"][:10],
                    "model_permaslug": slug,
                    "author": author_of(slug),
                    "total_tokens": int(tokens),
                    "source": WEEKLY_SOURCE,
                }
            )
    return rows


async def fetch_weekly_chart(client: httpx.AsyncClient, base_url: str, *, timeout: float) -> list[Row]:
    url = base_url + WEEKLY_PATH
    response = await get(client, UPSTREAM, url, timeout=timeout, max_bytes=MAX_WEEKLY)
    return parse_weekly_chart(parse_json(response, UPSTREAM), url)


def parse_day_view(payload: Any, url: str = "") -> list[Row]:
    """The undocumented rankings/models?view=day body: the prompt/completion split and request counts.

    Not polled yet (the export is the primary source); parsed and shape-checked so it can be."""
    items = payload.get("data") if isinstance(payload, dict) else None
    if not (isinstance(items, list) and items):
        raise BadPayload(UPSTREAM, "rankings day view shape changed (no data list)", url)
    rows: list[Row] = []
    for item in items:
        fields = ("model_permaslug", "total_prompt_tokens", "total_completion_tokens", "count")
        require(
            isinstance(item, dict) and all(k in item for k in fields),
            UPSTREAM,
            "rankings day view row is missing fields",
            url,
        )
        rows.append(
            {
                "date": str(item.get("date", ""))[:10],
                "model_permaslug": item["model_permaslug"],
                "variant": item.get("variant"),
                "prompt_tokens": int(item["total_prompt_tokens"]),
                "completion_tokens": int(item["total_completion_tokens"]),
                "requests": int(item["count"]),
                "usage_usd": item.get("total_usage"),
            }
        )
    return rows


def usage_rows(day_view: list[Row], source: str = DAY_VIEW_SOURCE) -> list[Row]:
    """parse_day_view's rows as `model_day_usage` rows: a usage that is not a finite non-negative number is None."""
    rows = []
    for r in day_view:
        usd = r["usage_usd"]
        spend: float | None = None
        if isinstance(usd, (int, float)) and not isinstance(usd, bool) and math.isfinite(usd) and 0 <= usd < 1e12:
            spend = float(usd)
        if DATE.match(str(r["date"])) is None:
            continue
        rows.append(r | {"variant": r["variant"] or "standard", "usage_usd": spend, "source": source})
    return rows


async def fetch_day_view(client: httpx.AsyncClient, base_url: str, *, timeout: float) -> list[Row]:
    url = base_url + DAY_VIEW_PATH
    response = await get(client, UPSTREAM, url, timeout=timeout, max_bytes=MAX_WEEKLY)
    return usage_rows(parse_day_view(parse_json(response, UPSTREAM), url))
