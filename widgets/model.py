"""The model screen: one model's daily tokens, share and rank over 7D/30D/90D/all (weekly chart points before
the stored days), its variants, maker, first-seen day and list price. `escape` goes back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Static

from monitor.history import MODEL_RANGES, segments
from monitor.text import fmt_big, fmt_share, safe_text, truncate
from widgets.charts import Axis, ChartPane, ShareSeries, share_chart
from widgets.footer import NARROW, KeyFooter
from widgets.keys import DRILL_BINDINGS

if TYPE_CHECKING:
    from monitor.history import ModelHistory


@dataclass(frozen=True)
class ModelView:
    model: str
    maker: str
    company: str | None
    range: str
    start: str
    end: str
    axis: Axis
    share: ShareSeries
    days: tuple[tuple[str, int | None, float | None, int | None], ...]  # newest first: date, tokens, share, rank
    info: tuple[tuple[str, str], ...]
    attribution: str


def model_view(history: ModelHistory) -> ModelView:
    days: list[date] = history.daily["date"].to_list()
    runs = tuple(
        tuple((float(d.toordinal()), v) for d, v in run) for run in segments(days, history.daily["share"].to_list())
    )
    weekly = tuple(
        (float(w.toordinal()), v) for w, v in history.weekly.select("week", "share").iter_rows() if v is not None
    )
    left = float(history.start.toordinal())
    axis = Axis(left, float(max(history.end.toordinal(), history.start.toordinal() + 1)))
    prices = []
    for entry in history.catalogue:
        prompt, completion = entry.get("prompt_price"), entry.get("completion_price")
        if isinstance(prompt, float) and isinstance(completion, float) and prompt >= 0 and completion >= 0:
            prices.append(f"${prompt * 1e6:.2f} in · ${completion * 1e6:.2f} out per M")
    info = [
        ("maker", history.maker + (f" · listed {history.company}" if history.company else "")),
        ("first seen", f"{history.first_seen} ({history.first_seen_source})" if history.first_seen else "—"),
        ("variants", ", ".join(history.variants) or "—"),
        ("list price", prices[0] if prices else "— (not in the stored catalogue)"),
        ("days stored", f"{history.stored_days} on this range"),
    ]
    rows = tuple(
        (r["date"].isoformat(), r["tokens"], r["share"], r["rank"]) for r in reversed(history.daily.to_dicts())
    )
    return ModelView(
        model=history.model,
        maker=history.maker,
        company=history.company,
        range=history.range,
        start=history.start.isoformat(),
        end=history.end.isoformat(),
        axis=axis,
        share=ShareSeries(runs=runs, weekly=weekly),
        days=rows,
        info=tuple(info),
        attribution=history.attribution,
    )


MODEL_BINDINGS: list[BindingType] = [
    *DRILL_BINDINGS,
    *(Binding(str(i), f"set_range({i - 1})", r, show=False) for i, r in enumerate(MODEL_RANGES, 1)),
]


class ModelScreen(Screen[None]):
    DRILL_DOWN = True  # the dashboard's panel keys are off here (DrillDownMixin.check_action)
    DEFAULT_CSS = """
    ModelScreen { layout: vertical; }
    ModelScreen #mo-title { height: 2; padding: 0 1; }
    ModelScreen #mo-body { layout: horizontal; height: 1fr; }
    ModelScreen #mo-charts { width: 1fr; height: 100%; }
    ModelScreen #mo-side { width: 52; height: 100%; padding-left: 1; }
    ModelScreen .drill-title { height: auto; color: $text-muted; text-style: bold; }
    ModelScreen #mo-share { height: 1fr; }
    ModelScreen #mo-info { height: auto; }
    ModelScreen #mo-days { height: 1fr; }
    ModelScreen.-narrow #mo-body { layout: vertical; overflow-y: auto; }
    ModelScreen.-narrow #mo-charts { width: 100%; height: auto; }
    ModelScreen.-narrow #mo-share { height: 10; }
    ModelScreen.-narrow #mo-side { width: 100%; height: auto; padding-left: 0; }
    ModelScreen.-narrow #mo-days { height: auto; }
    """

    BINDINGS = MODEL_BINDINGS
    view: reactive[ModelView | None] = reactive(None, init=False)

    def __init__(self, model: str, rng: str = "30D") -> None:
        super().__init__()
        self.model = model
        self.range = rng
        self._loads = 0

    def compose(self) -> ComposeResult:
        yield Static("", id="mo-title")
        with Container(id="mo-body"):
            with Vertical(id="mo-charts"):
                yield Static("", id="mo-share-title", classes="drill-title")
                yield ChartPane(id="mo-share")
            with VerticalScroll(id="mo-side"):
                yield Static("", id="mo-info")
                yield Static("Daily · OpenRouter top 50 (newest first)", classes="drill-title")
                yield DataTable(id="mo-days", cursor_type="row", zebra_stripes=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one("#mo-days", DataTable)
        for label, width in (("UTC day", 10), ("tokens", 8), ("share", 7), ("rank", 4)):
            table.add_column(label, width=width, key=label)
        self.query_one("#mo-title", Static).update(Text(f"{self.model} · loading…"))
        self.load()

    def on_resize(self) -> None:
        self.set_class(self.size.width < NARROW, "-narrow")

    def load(self) -> None:
        self._loads += 1
        self._load_worker(self.range, self._loads)

    @work(thread=True, group="model", exit_on_error=False)
    def _load_worker(self, rng: str, seq: int) -> None:
        app: Any = self.app
        try:
            view = model_view(app.feed.model_history(self.model, rng))
        except Exception as exc:
            app.call_from_thread(app.notify, f"{self.model}: {exc}", severity="error", markup=False)
            return
        app.call_from_thread(self._apply, view, seq)

    def _apply(self, view: ModelView, seq: int) -> None:
        if seq == self._loads:
            self.view = view

    def watch_view(self, view: ModelView | None) -> None:
        if view is None:
            return
        title = Text()
        title.append(safe_text(view.model), style="bold")
        title.append(f" · {safe_text(view.maker)} · {view.start} … {view.end}\n", style="dim")
        for i, rng in enumerate(MODEL_RANGES, start=1):
            if rng == view.range:
                title.append(f"[{i} {rng}]", style="bold reverse")
            else:
                title.append(f" {i} {rng} ", style="dim")
            title.append(" ")
        self.query_one("#mo-title", Static).update(title)
        pane = self.query_one("#mo-share", ChartPane)
        has_share = bool(view.share.runs or view.share.weekly)
        pane.display = has_share
        caption = "Token share · daily ● (gaps: not stored or not in the top 50) · weekly ◆ before the stored days"
        if not has_share:
            caption = "Token share · none on this range"
        self.query_one("#mo-share-title", Static).update(Text(truncate(caption, max(20, self.size.width - 2))))
        if has_share:
            shares, axis = view.share, view.axis
            pane.show(view, lambda w, h: share_chart(shares, axis, (), w, h))
        info = Text()
        for label, value in view.info:
            info.append(f"{label:<12}", style="dim")
            info.append(safe_text(value) + "\n")
        info.append(safe_text(view.attribution), style="dim")
        self.query_one("#mo-info", Static).update(info)
        table = self.query_one("#mo-days", DataTable)
        table.clear()
        for day, tokens, share, rank in view.days:
            table.add_row(
                day,
                Text(fmt_big(tokens), justify="right"),
                Text(fmt_share(share) if share is not None else "— n/r", justify="right"),
                Text(str(rank) if rank else "—", justify="right"),
            )

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_set_range(self, index: int) -> None:
        rng = MODEL_RANGES[max(0, min(len(MODEL_RANGES) - 1, index))]
        if rng != self.range:
            self.range = rng
            self.load()

    def action_shift_range(self, step: int) -> None:
        self.action_set_range(MODEL_RANGES.index(self.range) + step)
