"""The last screen, kept between runs: tokentape opens on it at once (marked as cached) while polars
loads and the database is read, then replaces it. Plain view objects only: loading it needs neither
polars nor the database, which is what makes the first frame fast.

The file lives in the user's own cache dir and is read with pickle, so it is trusted exactly as much
as that directory. Anything unreadable or from another version is ignored (it is only a cache).
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import platformdirs

from monitor.config import APP_NAME
from widgets.views import ScreenViews

FORMAT = 2  # bump whenever widgets.views changes shape


def cache_path(source: str, config_path: Path) -> Path:
    """One cache per database (or the demo dataset) and config file."""
    key = hashlib.sha256(f"{FORMAT}\0{source}\0{config_path}".encode()).hexdigest()[:16]
    return platformdirs.user_cache_path(APP_NAME) / f"screen-{key}.pickle"


def load(path: Path) -> ScreenViews | None:
    try:
        with path.open("rb") as f:
            version, views = pickle.load(f)
    except Exception:  # noqa: BLE001 - missing, truncated, from another version: no cached screen
        return None
    return views if version == FORMAT and isinstance(views, ScreenViews) else None


def save(path: Path, views: ScreenViews) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        with partial.open("wb") as f:
            pickle.dump((FORMAT, views), f, protocol=pickle.HIGHEST_PROTOCOL)
        partial.replace(path)
    except OSError:
        pass  # a cache that cannot be written only costs start-up time
