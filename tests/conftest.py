"""Shared test setup: isolated XDG dirs, the real fixtures in ../shared, and a loopback upstream."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from monitor.config import Config, parse_config
from tests.upstream import FakeUpstream

ROOT = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = ROOT.parent / "shared" / "fixtures"


def shared_fixture(relative: str) -> Path:
    """A real recorded payload from ../shared/fixtures. Missing: skip locally, fail under CI=true."""
    path = SHARED_FIXTURES / relative
    if not path.is_file():
        message = f"real payload {path} is absent (../shared not checked out beside this repo)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; CI must have it")
        pytest.skip(message)
    return path


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path_factory, monkeypatch):
    """No test reads or writes the real ~/.config, ~/.local or the user's key."""
    home = tmp_path_factory.mktemp("home")
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    monkeypatch.delenv("TOKENTAPE_CONFIG", raising=False)
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    return home


@pytest.fixture
def upstream():
    server = FakeUpstream()
    server.start()
    yield server
    server.stop()


def loopback_config_text(base_url: str, **jobs: int) -> str:
    """The bundled default config with every upstream pointed at `base_url` and short timeouts."""
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    for name in ("query1.finance.yahoo.com", "qt.gtimg.cn", "openrouter.ai"):
        text = text.replace(f'base_url = "https://{name}"', f'base_url = "{base_url}"')
    text = text.replace("timeout_seconds = 10.0", "timeout_seconds = 2.0").replace(
        "timeout_seconds = 30.0", "timeout_seconds = 2.0"
    )
    for key, value in jobs.items():
        text = text.replace(f"\n{key} = ", f"\n{key} = {value}\n#", 1)
    return text


@pytest.fixture
def loopback_config(upstream, tmp_path) -> Config:
    path = tmp_path / "config.toml"
    path.write_text(loopback_config_text(upstream.base_url), encoding="utf-8")
    return parse_config(path.read_text(encoding="utf-8"), path)


async def settle(pilot, until=lambda: True, seconds: float = 15.0) -> None:
    """Let the app run until `until()` holds; a generous deadline, because CI machines are shared."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await pilot.pause(0.05)
        if until():
            return
    raise AssertionError("the app did not reach the expected state in time")
