"""Poll fan-out: one quotes job for 30 symbols against a loopback server that delays every response by
200 ms. Target: wall time <= 1.5x one response (concurrent requests on reused connections).

    .venv/bin/python bench/fanout.py [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import select
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, assert_loopback, line, median

from monitor.config import Config, parse_config
from monitor.jobs import Collector
from storage import Store
from tests.conftest import loopback_config_text
from tests.payloads import yahoo_chart
from tests.upstream import FakeUpstream

DELAY = 0.2


def config_with_symbols(base_url: str, symbols: list[str], folder: Path) -> Config:
    text = loopback_config_text(base_url)
    text = text[: text.index("[[company]]")]
    for symbol in symbols:
        text += f'\n[[company]]\nname = "{symbol}"\nsymbol = "{symbol}"\ncurrency = "HKD"\ngroup = "peer"\n'
    return parse_config(text, folder / "c.toml")


async def timed_polls(config: Config, folder: Path, runs: int) -> tuple[float, list[float]]:
    """The first poll (connections opened) and then `runs` polls on the reused connections."""
    store = Store.open(folder / "t.db")
    store.sync_instruments(config.companies)
    collector = Collector(config, store)
    loop = asyncio.get_running_loop()
    times = []
    for _ in range(runs + 1):
        collector.force_due()
        start = loop.time()
        result = await collector.run_job("quotes")
        times.append(loop.time() - start)
        assert result.ok, result.error
    await collector.aclose()
    store.close()
    return times[0], times[1:]


SYMBOLS = [f"{1000 + i:04d}.HK" for i in range(30)]


def serve() -> None:
    """Run in a child process: the upstream must not share the collector's GIL, as a real one would not."""
    upstream = FakeUpstream()
    upstream.start()
    for s in SYMBOLS:
        upstream.route(f"/v8/finance/chart/{s}", json.dumps(yahoo_chart(s, "HKD", [10.0, 11.0, 12.0], 11.0)))
    upstream.delay = DELAY
    print(upstream.base_url, flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    upstream.stop()


def main(runs: int) -> None:
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if not select.select([server.stdout], [], [], 30)[0]:
                raise RuntimeError("the loopback server did not start within 30 s")
            base_url = server.stdout.readline().strip()
            if not base_url:
                raise RuntimeError(f"the loopback server exited (status {server.wait(timeout=10)}) before serving")
            folder = Path(tmp)
            config = config_with_symbols(base_url, SYMBOLS, folder)
            assert_loopback(config, base_url)
            cold, times = asyncio.run(timed_polls(config, folder, runs))
    finally:
        server.stdin.close()  # the server's cue to stop
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()  # our child, by its pid
            server.wait(timeout=10)
    ratio = median(times) / DELAY
    print(line("one response (server delay)", f"{DELAY:.3f} s", "-", None))
    print(
        line(
            "quotes job, 30 symbols, reused connections",
            f"median {median(times):.3f} s ({ratio:.2f}x)",
            "<= 1.5x",
            ratio <= 1.5,
        )
    )
    print(
        f"  first poll (opening 30 connections) {cold:.3f} s; polls {[round(t, 3) for t in times]}; "
        f"one by one would be {30 * DELAY:.1f} s"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    serve() if args.serve else main(args.runs)
