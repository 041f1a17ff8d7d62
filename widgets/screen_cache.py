"""The last screen, kept between runs: tokentape opens on it at once (marked as cached) while polars
loads and the database is read, then replaces it.

It is data, never code: JSON with a format version, decoded by msgspec into the exact view types (a
field of the wrong type, an unknown shape or another version is rejected), written with mode 0600 in
a 0700 directory. A file that is unreadable, foreign, hostile or from another version is ignored with
one log line: it is only a cache, so the worst it can cost is start-up time.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import msgspec
import platformdirs

from monitor import APP_NAME
from widgets.views import ScreenViews

FORMAT = 5  # bump whenever widgets.views changes shape
MAX_BYTES = 4 * 2**20  # a real cache is ~30 KB; anything far larger is not ours
log = logging.getLogger("tokentape.screen_cache")


class CachedScreen(msgspec.Struct, forbid_unknown_fields=True):
    format: int
    views: ScreenViews


class _Version(msgspec.Struct):
    format: int


def cache_path(source: str, config_path: Path) -> Path:
    """One cache per database (or the demo dataset) and config file."""
    key = hashlib.sha256(f"{source}\0{config_path}".encode()).hexdigest()[:16]
    return platformdirs.user_cache_path(APP_NAME) / f"screen-{key}.json"


def load(path: Path) -> ScreenViews | None:
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.info("screen cache %s ignored: %s", path, exc.strerror or exc)
        return None
    try:
        if len(data) > MAX_BYTES:
            raise ValueError(f"larger than {MAX_BYTES} bytes")
        version = msgspec.json.decode(data, type=_Version).format
        if version != FORMAT:
            raise ValueError(f"format {version}, this tokentape reads {FORMAT}")
        return msgspec.json.decode(data, type=CachedScreen).views
    except (msgspec.DecodeError, ValueError) as exc:
        log.info("screen cache %s ignored: %s", path, str(exc)[:200])
        return None


def save(path: Path, views: ScreenViews) -> None:
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.chmod(0o700)  # also when the folder already existed (e.g. made by the demo's cache)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(msgspec.json.encode(CachedScreen(FORMAT, views)))
        partial.replace(path)
    except OSError as exc:
        log.info("screen cache %s not written: %s", path, exc.strerror or exc)
