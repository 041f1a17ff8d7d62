"""A stand-in collector for the durability and concurrency tests: writes OpenRouter-style snapshots and
quotes through the same Store calls the jobs use, printing `ack N` after each commit."""

from __future__ import annotations

import sys
import time

from storage import Store

ROWS_PER_SNAPSHOT = 300


def main(db: str, seconds: float) -> None:
    store = Store.open(db)
    start = int(store.get_meta("writer_snapshot") or 0)
    stop = time.monotonic() + seconds
    n = start
    while time.monotonic() < stop:
        n += 1
        snapshot = f"s{n:08d}"
        rows = [
            {
                "date": f"2026-10-{1 + i % 30:02d}",
                "model_permaslug": f"m/model-{i // 30}",
                "author": "m",
                "rank": i,
                "total_tokens": n * 1000 + i,
                "share": 0.001,
                "snapshot_date": snapshot,
                "source": "t",
            }
            for i in range(ROWS_PER_SNAPSHOT)
        ]
        quotes = [
            {
                "symbol": "0100.HK",
                "ts": n * 100 + k,
                "price": 300.0 + k,
                "prev_close": 299.0,
                "volume": None,
                "source": "t",
            }
            for k in range(20)
        ]
        with store.transaction() as conn:
            store.upsert("token_daily", rows, conn)
            store.upsert("quotes", quotes, conn)
            store.set_meta("writer_snapshot", str(n), conn)
        store.record_poll("writer", time.time(), time.time(), True, None, len(rows))
        print(f"ack {n}", flush=True)
    store.close()


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
