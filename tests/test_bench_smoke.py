"""The benchmark script runs end to end with tiny sizes, so it cannot rot.

Its numbers are not judged here: timings belong to `make bench`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KEYS = (
    "server_vs_empty_get_ratio",
    "server_vs_empty_list_ratio",
    "paging_deep_vs_first_ratio",
    "paging_deep_vs_first_filtered_ratio",
    "bytes_per_transaction",
    "upb_vs_python_ratio",
    "import_overhead_ms",
    "generate_seconds",
    "fixture_load_vs_json_parse_ratio",
    "fixture_load_peak_vs_steady_rss_ratio",
    "export_items_per_second",
    "mappings_last_vs_first_page_ratio",
    "worker_connections_last_vs_first_page_ratio",
    "transactions_token_last_vs_first_page_ratio",
    "kit_big_vs_demo_ratio",
    "bytes_per_station",
)


@pytest.mark.tooling
def test_bench_smoke_run_writes_every_figure(tmp_path):
    out = tmp_path / "smoke.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(out.read_text())
    for key in KEYS:
        assert isinstance(figures[key], float), key
        assert key in result.stdout  # the table shows it
        assert figures[key] > 0, key
    assert figures["smoke"] is True
    assert figures["machine"]["cores"] >= 1
    assert len(figures["raw"]["get"]["runs"]) == 4  # A B, then B A
    assert [r["side"] for r in figures["raw"]["list"]["runs"]] == ["A", "B", "B", "A"]
    assert isinstance(figures["control_empty_vs_empty_ratio"], float)
    assert figures["kit_runs_passed"] is True  # against the small fleet and the demo data set
