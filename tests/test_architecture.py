"""The boundaries of DESIGN.md §2, enforced: the data layer never imports textual; widgets never fetch or query."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.conftest import ROOT

DATA_LAYER = ["storage", "monitor/sources", "monitor/analytics.py", "monitor/export.py", "monitor/dashboard.py",
              "monitor/jobs.py", "monitor/config.py", "monitor/markets.py", "monitor/text.py", "monitor/demo.py"]
WIDGET_FORBIDDEN = ("storage", "monitor.sources", "monitor.jobs", "monitor.dashboard", "httpx", "sqlite3", "polars")


def imports(path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def files(*parts: str):
    for part in parts:
        path = ROOT / part
        yield from ([path] if path.is_file() else sorted(path.rglob("*.py")))


@pytest.mark.parametrize("path", list(files(*DATA_LAYER)), ids=lambda p: str(p.relative_to(ROOT)))
def test_data_layer_never_imports_textual(path):
    assert not [m for m in imports(path) if m == "textual" or m.startswith("textual.")]


@pytest.mark.parametrize("path", list(files("widgets")), ids=lambda p: str(p.relative_to(ROOT)))
def test_widgets_never_fetch_or_query(path):
    bad = [m for m in imports(path) if any(m == f or m.startswith(f + ".") for f in WIDGET_FORBIDDEN)]
    assert not bad


def test_headless_commands_do_not_load_textual():
    code = ("import sys, monitor.cli, monitor.export, monitor.jobs, monitor.dashboard, storage;"
            "print('textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"
