"""Trading calendars: is a market open, at lunch, closed or on holiday at a given instant. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from monitor.config import MarketConfig

OPEN, LUNCH, CLOSED, HOLIDAY = "open", "lunch", "closed", "holiday"
HKT = ZoneInfo("Asia/Hong_Kong")
# Where each market's trading dates are taken (HK stocks and Hang Seng indices; US listings).
MARKET_ZONES = {"HK": HKT, "US": ZoneInfo("America/New_York")}


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

