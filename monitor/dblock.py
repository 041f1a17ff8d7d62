"""One collector per database: an OS file lock on `<database>.lock`, beside the database.

`tokentape collect`, `backfill` and the live dashboard poll the upstreams into a database; two at once
would double the load against Yahoo's rate limit. The lock is an `flock` on the lock file, so it is
released by the kernel when its holder exits, however it exits (kill -9 included): a stale lock file is
harmless. The holder writes its pid into the file so that the next one can name it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


class CollectorLock:
    def __init__(self, db_path: str | Path) -> None:
        self.path = Path(f"{db_path}.lock")
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> int | None:
        """Take the lock: None when taken, else the holder's pid (0 when it cannot be read).
        Raises OSError when the lock file cannot be made at all (a read-only directory)."""
        if self._fd is not None:
            return None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            finally:
                os.close(fd)
            return int(text) if text.isdigit() else 0
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return None

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing the only descriptor releases the flock
            self._fd = None

    def holder_message(self, pid: int, db_path: str | Path) -> str:
        who = f"pid {pid}" if pid else "another process"
        return f"{db_path}: another tokentape ({who}) is already collecting into this database (lock {self.path})"
