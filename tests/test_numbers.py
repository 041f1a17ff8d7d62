"""Numbers as a trader reads them: signs, rounding, CSV precision, and the snapshot's tables on stdout."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from monitor import export
from monitor.dashboard import DashboardLoader
from monitor.demo import open_demo_store
from monitor.text import fmt_pct, fmt_pp
from tests.test_app import config_with
from tests.test_cli import run


@pytest.fixture
def demo_dashboard(tmp_path):
    config = config_with(tmp_path)
    store = open_demo_store(config)
    yield DashboardLoader(store, config).load()
    store.close()


def test_a_change_that_rounds_to_zero_has_no_sign():
    assert fmt_pp(-0.0000123) == "0.00pp" and fmt_pp(0.0000123) == "0.00pp"
    assert fmt_pct(-0.00027, 1) == "0.0%" and fmt_pct(-0.0163) == "-1.63%" and fmt_pct(0.0179) == "+1.79%"


def test_csv_carries_the_precision_shown_json_and_parquet_keep_it_all(demo_dashboard, tmp_path):
    for table in ("companies", "models", "makers"):
        rows = list(csv.DictReader(io.StringIO(export.to_csv(demo_dashboard, table).split("\n# ")[0])))
        assert rows
        for row in rows:
            for column, cell in row.items():
                if re.fullmatch(r"-?\d+\.\d+", cell or ""):
                    assert len(cell.split(".")[1]) <= 6, (table, column, cell)  # no 0.30000000000000004
                    assert not re.fullmatch(r"-0\.0+", cell)
    minimax = next(r for r in csv.DictReader(io.StringIO(export.to_csv(demo_dashboard))) if r["symbol"] == "0100.HK")
    assert minimax["price"] == "297.40" and minimax["change_pct"] == "-0.0163" and minimax["token_share"] == "0.0077"
    full = json.loads(export.to_json(demo_dashboard))
    share = next(c for c in full["companies"] if c["symbol"] == "0100.HK")["token_share"]
    assert share != round(share, 4)  # JSON keeps every digit
    written = export.write_tables(demo_dashboard, tmp_path / "pq", "parquet")
    import polars as pl

    assert pl.read_parquet(written[0])["token_share"][0] == share


def test_snapshot_csv_on_stdout_is_one_table(tmp_path):
    default = run("snapshot", "--demo", "--format", "csv")
    assert default.returncode == 0, default.stderr
    body, _, attribution = default.stdout.partition("\n# ")
    assert attribution.startswith("Source: OpenRouter")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert rows[0]["symbol"] == "0100.HK" and "# models" not in default.stdout
    makers = run("snapshot", "--demo", "--format", "csv", "--table", "makers")
    rows = list(csv.DictReader(io.StringIO(makers.stdout.partition("\n# ")[0])))
    assert list(rows[0])[:3] == ["rank", "maker", "maker_id"] and rows[0]["maker"] == "DeepSeek"
    out = run("snapshot", "--demo", "--format", "csv", "--out", str(tmp_path / "all"))
    assert out.returncode == 0 and {p.name for p in (tmp_path / "all").iterdir()} >= {
        "companies.csv",
        "models.csv",
        "makers.csv",
    }


def test_an_unconfigured_currency_says_how_to_add_it():
    result = run("snapshot", "--demo", "--currency", "XYZ")
    assert result.returncode == 2
    assert 'add "XYZ" to that list' in result.stderr and len(result.stderr.strip().splitlines()) == 1
