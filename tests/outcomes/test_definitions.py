"""One definition per headline metric: every key is a path of the result documents, and the
formats are the ones the CLI and the report show."""

import gzip
import json
from pathlib import Path

import pytest

from autopact.interfaces.money import Money
from autopact.outcomes.definitions import HEADLINE, definitions, metric
from autopact.runs.uncertainty import leaf

GOLDEN = Path(__file__).parents[1] / "golden"


@pytest.mark.parametrize("name", ["no-section-232", "blp1995-import-tariff"])
def test_every_headline_metric_is_a_path_of_the_result_documents(name):
    document = json.loads(gzip.open(GOLDEN / f"{name}.json.gz", "rt").read())
    for m in HEADLINE:
        for block in ("baseline", "counterfactual", "change"):
            leaf(document[block], m.key)  # KeyError if the path is unknown


def test_formats_of_levels_and_changes():
    dollars = Money()
    assert metric("total_units").level(15_123_456.7, dollars) == "15,123,457"
    assert metric("total_units").change(-1234.4, dollars) == "-1,234"
    assert metric("bev_share").level(0.0712, dollars) == "7.12%"
    assert metric("bev_share").change(0.0123, dollars) == "+1.23 pp"
    assert metric("average_price_usd").level(48_765.4, dollars) == "$48,765"
    assert metric("consumer_surplus_usd").change(-2.5e9, dollars) == "-$2.50bn"
    # a small total stays in billions beside the others (it printed -$2,089,120 in a column of $bn)
    assert metric("total_profit_usd").change(-2_089_120, dollars) == "-$0.0021bn"
    assert metric("tariff_revenue_usd").level(5e6, dollars) == "$0.005bn"
    assert metric("average_price_usd").change(-29.4, dollars) == "-$29"
    assert metric("hhi").change(12.34, dollars) == "+12.3"
    assert metric("us_assembly_jobs").level(None, dollars) == "n/a"
    assert metric("consumer_surplus_usd").axis() == (1e-9, "$ bn") and metric("gm_share").axis() == (100.0, "pp")
    assert not metric("consumer_surplus_usd").level_shown


def test_definitions_are_complete_and_unique():
    rows = definitions()
    assert len({r["key"] for r in rows}) == len(rows) == len(HEADLINE)
    for r in rows:
        assert r["label"] and r["description"] and r["computation"] and r["unit"]
    with pytest.raises(KeyError, match="unknown headline metric 'bogus'"):
        metric("bogus")
