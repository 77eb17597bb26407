"""The HTML report of a projection (issue 14): time-series charts with fan bands, the comparison of two
scenarios on one chart, a year-by-year table."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_checks import error_line

import autopact
from autopact.interfaces.report_projection import projection_report
from autopact.policy.scenario import load_scenario
from autopact.runs.projection import BAND_METRICS, compare, project, totals

SOURCE = str(Path(autopact.__file__).resolve().parents[1])


@pytest.fixture(scope="module")
def document():
    """geely-volvo-plant in 2029-2030 (its first two years on sale) against ford-byd-jv-us-majority, with
    bands made from the central path (a report test: the numbers of real draws are tested elsewhere)."""
    a = project(load_scenario("geely-volvo-plant"), 2030, 2029)
    b = project(load_scenario("ford-byd-jv-us-majority"), 2030, 2029)
    a["totals"] = totals(a["records"])
    a["comparison"] = compare(a, b)
    band = lambda v: {"p05": 0.9 * v, "p50": v, "p95": 1.1 * v}  # noqa: E731
    a["uncertainty"] = {"draws": 2, "seed": 0, "paths": ["battery_pack_usd_per_kwh"], "bands": [
        {"year": r["year"], "baseline_bev_share": band(r["baseline"]["bev_share"]),
         **{k: band(r["change"][k]) for k in BAND_METRICS if r["change"].get(k) is not None}} for r in a["records"]]}
    return a


def test_the_report_has_time_series_fans_the_comparison_on_one_chart_and_a_row_a_year(document):
    page = projection_report(document)
    assert page.startswith("<!DOCTYPE html>") and "plotly" in page.lower()
    assert "autopact projection: geely-volvo-plant, 2029-2030" in page
    assert page.count('"name":"5-95% of path draws"') == 7  # a fan on each change chart
    assert '"name":"baseline, 5-95% of path draws"' in page
    assert page.count('"name":"ford-byd-jv-us-majority"') == 7  # the second scenario on each change chart
    assert "geely-volvo-plant minus ford-byd-jv-us-majority" in page
    assert "<td>2029</td>" in page and "<td>2030</td>" in page
    assert "galaxy-e5 (year 1)" in page and "galaxy-e5 (year 2)" in page  # the build path by year
    assert "Discounted to 2029 at 3.0% real" in page


def test_the_comparison_keeps_the_second_scenario_s_changes_by_year(document):
    b = document["comparison"]["changes_b"]
    assert [r["year"] for r in b] == [2029, 2030] and set(BAND_METRICS) <= set(b[0]) | {"year"}


def test_an_unwritable_report_path_is_one_line_before_any_work(tmp_path):
    done = subprocess.run([sys.executable, "-m", "autopact.interfaces.cli", "project", "baseline-2026", "--report",
                           str(tmp_path / "no-such-folder" / "p.html")], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": SOURCE})
    assert "--report" in error_line(done)
