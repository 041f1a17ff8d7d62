"""Trading calendars: is a market open, at lunch, closed or on holiday at a given instant. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from monitor.config import MarketConfig

OPEN, LUNCH, CLOSED, HOLIDAY = "open", "lunch", "closed", "holiday"


@dataclass(frozen=True)
class MarketState:
    market: str
    state: str
    local_time: datetime

    @property
    def is_open(self) -> bool:
        return self.state == OPEN


def market_state(market: MarketConfig, now: datetime) -> MarketState:
    local = now.astimezone(ZoneInfo(market.timezone))
    if local.date() in market.holidays:
        return MarketState(market.name, HOLIDAY, local)
    if local.weekday() >= 5:
        return MarketState(market.name, CLOSED, local)
    clock = local.time()
    for start, end in market.sessions:
        if start <= clock < end:
            return MarketState(market.name, OPEN, local)
    first_start, last_end = market.sessions[0][0], market.sessions[-1][1]
    state = LUNCH if first_start <= clock < last_end else CLOSED
    return MarketState(market.name, state, local)


def utc_now() -> datetime:
    return datetime.now(UTC)
