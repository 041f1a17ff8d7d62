"""widgets/dashboard.py: the cyclic garbage collector never runs inside a refresh (a full collection at 200
companies is 8-17 ms, a young one up to a few ms), and the app still collects: once no refresh has come for
GC_QUIET, the garbage refreshes left (cycles included) is gone, and now and then a full collection runs."""

from __future__ import annotations

import gc
import weakref

from tests.conftest import settle
from tests.test_app import running
from tests.test_ui_refresh_app import demo, every_price_moved
from widgets import dashboard


class Cycle:
    """Garbage only the cyclic collector frees (it refers to itself)."""

    def __init__(self) -> None:
        self.me = self


async def test_refreshes_leave_garbage_collection_to_idle_moments(tmp_path, monkeypatch):
    monkeypatch.setattr(dashboard, "GC_QUIET", 0.2)  # a shorter wait, the same schedule
    monkeypatch.setattr(dashboard, "GC_FULL_EVERY", 3)
    app = demo(tmp_path, extra=100)  # 110 companies: a refresh makes thousands of objects
    collections: list[tuple[int, bool]] = []  # (generation, inside a refresh)
    refreshing = [False]

    def record(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append((info["generation"], refreshing[0]))

    async with running(app, size=(160, 48)) as pilot:
        screen = app.dashboard_screen
        await settle(pilot, lambda: dashboard._frozen)  # start-up is over (its objects frozen)
        gc.callbacks.append(record)
        try:
            views = screen.views
            # Step 0 is the warm-up: start-up's own allocations since the freeze may be near a young collection; its
            # idle collection after it is what every later refresh starts from.
            for step in range(dashboard.GC_FULL_EVERY + 2):
                left = weakref.ref(Cycle())  # what a refresh leaves behind that only the collector frees
                before = screen.collections
                moved = every_price_moved(views, step)  # built before: the app builds views in a worker thread
                refreshing[0] = step > 0
                screen.views = moved
                await pilot.pause()  # the refresh, drawn
                refreshing[0] = False
                await settle(pilot, lambda before=before: screen.collections > before)
                assert left() is None  # collected once the app was idle
        finally:
            gc.callbacks.remove(record)
    assert not [c for c in collections if c[1]]  # none inside a refresh
    assert (2, False) in collections  # and a full one at an idle moment
