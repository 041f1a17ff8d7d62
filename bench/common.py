"""Helpers shared by the benchmarks: medians, a private tmux server, fresh homes, process stats.

Processes: a benchmark ends only what it started, by pid (checked against the pid's start time, so a
reused pid is never hit), and its tmux sessions live on a server of its own (own socket, no user
config) that it shuts down at the end. Every wait here is bounded in time.
"""

from __future__ import annotations

import os
import re
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
sys.path.insert(0, str(ROOT))

Marker = str | re.Pattern[str]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float], unit: str = " s", digits: int = 3) -> str:
    return f"{min(values):.{digits}f}–{max(values):.{digits}f}{unit}"


def line(name: str, value: str, target: str, ok: bool | None) -> str:
    verdict = "" if ok is None else ("  MET" if ok else "  NOT MET")
    return f"{name:<44} {value:<28} target {target}{verdict}"


# -- processes ---------------------------------------------------------------------------------------


def proc_start_ticks(pid: int) -> int | None:
    """The pid's start time (clock ticks since boot), or None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def proc_alive(pid: int, start_ticks: int | None) -> bool:
    """True while the very process we saw (same pid, same start time) exists and is not a zombie."""
    if start_ticks is None:
        return False  # we never saw it alive: nothing of ours to wait for or to end
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z" and int(fields[19]) == start_ticks


def end_pid(pid: int, start_ticks: int | None, grace: float = 3.0) -> None:
    """SIGTERM, then SIGKILL after `grace` s, to this one process, only if it is still the one we started."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not proc_alive(pid, start_ticks):
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and proc_alive(pid, start_ticks):
            time.sleep(0.02)


def descendants(pid: int) -> list[tuple[int, int]]:
    """(pid, start ticks) of every live descendant of `pid`, from one pass over /proc."""
    children: dict[int, list[tuple[int, int]]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append((int(entry.name), int(fields[19])))
    found: list[tuple[int, int]] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child[0])
    return found


def proc_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def assert_loopback(config: Any, base_url: str) -> None:
    """Every upstream of a tokentape config is the loopback server: a bench never reaches the internet."""
    assert base_url.startswith("http://127.0.0.1:"), base_url
    urls = {name: source.base_url for name, source in config.sources.items()}
    assert all(url == base_url for url in urls.values()), f"not every upstream is on loopback: {urls}"


# -- the app -------------------------------------------------------------------------------------------

LAUNCH = "import sys; sys.argv = ['tokentape', '--demo']; from monitor.cli import main; sys.exit(main())"


def app_argv() -> list[str]:
    """`tokentape --demo` from the current directory's checkout (run it with cwd = that checkout)."""
    return [PY, "-c", LAUNCH]


def check_imports(root: Path, env: dict[str, str]) -> str:
    """Where `monitor` loads from when the app runs from `root`, after checking that `monitor`, `widgets`
    and `storage` all load from there (this checkout is also installed editable into the venv)."""
    probe = (
        "import importlib.util as u; print(*(u.find_spec(m).origin for m in ('monitor', 'widgets', 'storage')),"
        " sep='\\n')"
    )
    done = subprocess.run(
        ["env", "-u", "TOKENTAPE_CONFIG", *(f"{k}={v}" for k, v in env.items()), PY, "-c", probe],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    origins = done.stdout.split()
    if done.returncode or len(origins) != 3 or not all(Path(o).is_relative_to(root) for o in origins):
        raise RuntimeError(f"from {root} the packages load from {origins or done.stderr.strip()}, not {root}")
    return origins[0]


# -- fresh homes ---------------------------------------------------------------------------------------


class Homes:
    """Empty home directories under one temp folder, removed by close(). A run in a new home finds no
    config, no cached screen and no cached demo database; TMPDIR points inside it too."""

    def __init__(self, prefix: str = "tokentape-bench-") -> None:
        self.root = Path(tempfile.mkdtemp(prefix=prefix))
        self.count = 0

    def new(self) -> Path:
        self.count += 1
        home = self.root / f"home{self.count}"
        (home / "tmp").mkdir(parents=True)
        return home

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def home_env(home: Path) -> dict[str, str]:
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "TMPDIR": str(home / "tmp"),
    }


def shell_command(
    argv: Sequence[str],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    unset: Iterable[str] = ("TOKENTAPE_CONFIG",),
) -> str:
    """`cd CWD && exec env -u X K=V ... ARGV`: the pane's process is ARGV itself (no shell left over)."""
    words = ["exec", "env", *(w for name in unset for w in ("-u", name))]
    words += [f"{k}={v}" for k, v in (env or {}).items()] + list(argv)
    command = shlex.join(words)
    return f"cd {shlex.quote(str(cwd))} && {command}" if cwd else command


# -- tmux ------------------------------------------------------------------------------------------------


class TmuxServer:
    """A tmux server of our own: its own socket, no ~/.tmux.conf, no status bar, panes kept after their
    process exits (so a crash can be shown), and it stays up between sessions. close() ends it."""

    def __init__(self, name: str | None = None) -> None:
        self.socket = name or f"tokentape-bench-{os.getpid()}"
        options = "start-server ; set -g exit-empty off ; set -g remain-on-exit on ; set -g status off"
        self.run("-f", "/dev/null", *options.split(), check=True)
        pid = self.run("display-message", "-p", "#{pid}").strip()
        self.pid = int(pid) if pid.isdigit() else None
        self.pid_start = proc_start_ticks(self.pid) if self.pid else None
        self._n = 0

    def run(self, *args: str, check: bool = False, timeout: float = 10.0) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=timeout)
        if check and done.returncode:
            raise RuntimeError(f"tmux {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def new_session(self, command: str, size: tuple[int, int] = (160, 48)) -> str:
        self._n += 1
        name = f"s{self._n}"
        self.run("new-session", "-d", "-s", name, "-x", str(size[0]), "-y", str(size[1]), command, check=True)
        return name

    def capture(self, session: str) -> str:
        return self.run("capture-pane", "-p", "-t", session)

    def pane(self, session: str) -> tuple[int | None, bool]:
        """(pid of the pane's process, whether it has exited)."""
        out = self.run("display-message", "-p", "-t", session, "#{pane_pid} #{pane_dead}").split()
        if len(out) != 2 or not out[0].isdigit():
            return None, True
        return int(out[0]), out[1] == "1"

    def end_session(
        self,
        session: str,
        quit_keys: Sequence[str] = ("q",),
        grace: float = 5.0,
        pid: int | None = None,
        pid_start: int | None = None,
    ) -> None:
        """Ask the app to quit (its own key), wait up to `grace` s, then close the session; if the pane's
        process, or a process it had started, still runs after that, end that pid (and only those)."""
        if pid is None:
            pane_pid, dead = self.pane(session)
            if pane_pid is not None and not dead:  # a dead pane's pid is reaped and may be anyone's now
                pid, pid_start = pane_pid, proc_start_ticks(pane_pid)
        family = descendants(pid) if pid is not None and proc_alive(pid, pid_start) else []
        if pid is not None and proc_alive(pid, pid_start):
            if quit_keys:
                self.run("send-keys", "-t", session, *quit_keys)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and proc_alive(pid, pid_start):
                time.sleep(0.02)
        self.run("kill-session", "-t", session)
        if pid is not None:
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline and proc_alive(pid, pid_start):
                time.sleep(0.02)
            end_pid(pid, pid_start)
        for child, child_start in family:  # e.g. a helper process the app started, had it outlived the app
            end_pid(child, child_start)

    def close(self) -> None:
        self.run("kill-server")
        if self.pid is not None:
            end_pid(self.pid, self.pid_start)
        socket = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}" / self.socket
        socket.unlink(missing_ok=True)

    def __enter__(self) -> TmuxServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def on_screen(screen: str, marker: Marker) -> bool:
    return marker.search(screen) is not None if isinstance(marker, re.Pattern) else marker in screen


@dataclass
class ScreenTiming:
    seconds: float
    saw_absent: bool  # an `absent` marker was on some earlier capture (e.g. the cached screen was shown)
    captures: int


class ScreenTimeout(RuntimeError):
    pass


def time_to_screen(
    server: TmuxServer,
    command: str,
    markers: Sequence[Marker],
    absent: Sequence[Marker] = (),
    size: tuple[int, int] = (160, 48),
    timeout: float = 30.0,
    poll: float = 0.01,
    before_end: Callable[[], None] | None = None,
) -> ScreenTiming:
    """Seconds from starting `command` in a new session of `server` until every marker is on screen and
    no `absent` marker is. The session and its process are ended afterwards (after `before_end`, if the
    screen was reached). Raises ScreenTimeout (with the last screen) on a timeout or an early exit."""
    start = time.perf_counter()
    session = server.new_session(command, size)
    screen, saw_absent, captures, reached = "", False, 0, False
    try:
        while (elapsed := time.perf_counter() - start) < timeout:
            screen = server.capture(session)
            captures += 1
            shows_absent = any(on_screen(screen, m) for m in absent)
            if not shows_absent and all(on_screen(screen, m) for m in markers):
                reached = True
                return ScreenTiming(elapsed, saw_absent, captures)
            saw_absent = saw_absent or shows_absent
            if captures % 25 == 0 and server.pane(session)[1]:
                screen = server.capture(session)
                raise ScreenTimeout(f"the process exited after {elapsed:.1f} s; last screen:\n{screen}")
            time.sleep(poll)
        missing = [getattr(m, "pattern", m) for m in markers if not on_screen(screen, m)]
        present = [getattr(m, "pattern", m) for m in absent if on_screen(screen, m)]
        raise ScreenTimeout(
            f"not reached after {timeout:.0f} s: missing {missing}, still shown {present}; last screen:\n{screen}"
        )
    finally:
        try:
            if reached and before_end is not None:
                before_end()
        finally:
            server.end_session(session)
