"""The layers of DESIGN.md §2: storage <- monitor (headless engine) <- widgets (all Textual).

The rule itself is import-linter's contracts in pyproject.toml, run by ./run-tests; these tests prove
that the contracts really fail when the rule is broken, that a headless process never loads Textual,
and that panels never fetch or query.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
# What a panel must never reach for itself: it renders what it is given.
WIDGET_FORBIDDEN = ("storage", "monitor.sources", "monitor.jobs", "httpx", "sqlite3", "polars")


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], capture_output=True, text=True, cwd=root, env=env, timeout=120
    )


@pytest.fixture
def tree_copy(tmp_path):
    for part in ("storage", "monitor", "widgets"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__", "demo_data"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_contracts_hold_on_this_tree(tree_copy):
    result = _lint_imports(tree_copy)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "module, line, broken",
    [
        ("monitor/markets.py", "import textual.app", "never import Textual"),
        ("storage/db.py", "import textual", "never import Textual"),
        ("monitor/analytics.py", "import widgets.views", "monitor is not allowed to import widgets"),
        ("storage/db.py", "import monitor.text", "storage is not allowed to import monitor"),
    ],
)
def test_the_contracts_fail_when_a_layer_imports_upwards(tree_copy, module, line, broken):
    path = tree_copy / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    result = _lint_imports(tree_copy)
    assert result.returncode == 1
    assert broken in result.stdout


def test_headless_engine_does_not_load_textual():
    code = (
        "import sys, monitor.cli, monitor.jobs, monitor.analytics, monitor.export, monitor.dashboard, "
        "monitor.feed, monitor.demo, storage; print('textual' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def _runtime_imports(path: Path) -> set[str]:
    """Modules a file imports when it runs: imports under `if TYPE_CHECKING:` are only for types."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
        for n in ast.walk(node)
    }
    names = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "widgets").rglob("*.py")), ids=lambda p: p.name)
def test_widgets_never_fetch_or_query(path):
    bad = [m for m in _runtime_imports(path) if any(m == f or m.startswith(f + ".") for f in WIDGET_FORBIDDEN)]
    assert not bad
