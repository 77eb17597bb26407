"""The numbers of the HTML report (``autopact.interfaces.report.html_report``) against its JSON result.

Each stored golden document (``tests/golden/*.json.gz``: what ``autopact simulate NAME --json`` writes)
is rendered, its tables parsed back out of the HTML with the standard library's parser, and the cells
compared with the document's numbers formatted here from the report's stated rules, written out
independently of ``interfaces.money``:

- a change in units: a sign, then whole vehicles with thousands separators (+6,269);
- a total of money (consumer surplus, tariff revenue, profit), converted to dollars by the market's
  ``dollars_per_unit``: under half a dollar "$0"; from $10 million in billions to the cent
  (+$0.71bn); below that in billions to two significant digits (+$0.0074bn);
- the entrants' cost components in dollars per vehicle, whose rows add up to the total row.
"""

import gzip
import json
import math
from html.parser import HTMLParser
from pathlib import Path

import pytest

from autopact.interfaces.report import html_report

GOLDEN = Path(__file__).parents[1] / "golden"
DOCUMENTS = sorted(p.name[: -len(".json.gz")] for p in GOLDEN.glob("*.json.gz"))
# rows of the entrants' cost table that are not dollars per vehicle added into the total: the tariff's
# base (customs value), the mean-utility terms, and the labels
NOT_COSTS = {"total", "customs value", "assembly", "owner"}


class _Tables(HTMLParser):
    """Every <table> of a fragment as a list of rows, each a list of cell texts (th and td)."""

    def __init__(self):
        super().__init__()
        self.tables, self._cell = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _first_table_after(page: str, heading: str) -> list[list[str]]:
    fragment = page.split(heading, 1)[1].split("</table>", 1)[0] + "</table>"
    parser = _Tables()
    parser.feed(fragment)
    parser.close()
    return parser.tables[0]


def _document(name: str) -> dict:
    return json.loads(gzip.decompress((GOLDEN / f"{name}.json.gz").read_bytes()))


def _units(value: float) -> str:
    """+/-, whole vehicles rounded to nearest, comma thousands."""
    whole = int(round(abs(value)))
    return ("-" if value < 0 and whole else "+") + "{:,}".format(whole)


def _total(value: float, dollars_per_unit: float, signed: bool = True) -> str:
    """A money total in dollars: $0 under half a dollar; $bn to the cent from $10 million; else $bn to
    two significant digits, trailing zeros dropped."""
    dollars = value * dollars_per_unit
    if abs(dollars) < 0.5:
        return "$0"
    sign = "-" if dollars < 0 else ("+" if signed else "")
    billions = abs(dollars) / 1e9
    if abs(dollars) >= 1e7:
        return f"{sign}${billions:,.2f}bn"
    exponent = math.floor(math.log10(billions))
    digits = round(billions / 10.0 ** (exponent - 1))  # two significant digits, 10..100
    if digits == 100:
        digits, exponent = 10, exponent + 1
    text = f"{digits * 10.0 ** (exponent - 1):.{1 - exponent}f}".rstrip("0")
    return f"{sign}${text}bn"


def test_the_independent_money_format_reads_as_the_report_states():
    """The formatter of this file against hand-written strings (the rules in the module docstring)."""
    assert _total(713_089_653.99, 1.0) == "+$0.71bn" and _total(-17_662_660.7, 1.0) == "-$0.02bn"
    assert _total(7_380_992.5, 1.0) == "+$0.0074bn" and _total(-1_619_423.6, 1.0) == "-$0.0016bn"
    assert _total(6_240_750.8, 1.0) == "+$0.0062bn" and _total(9_960_000, 1.0) == "+$0.01bn"
    assert _total(-6_101_668.08, 1000.0) == "-$6.10bn" and _total(0.2, 1.0) == "$0"
    assert _total(35_181_662_481.4, 1.0, signed=False) == "$35.18bn" and _total(20_000, 1.0) == "+$0.00002bn"
    assert _units(6269.18) == "+6,269" and _units(-542_873.33) == "-542,873" and _units(0.0) == "+0"


@pytest.mark.parametrize("name", DOCUMENTS)
def test_the_headline_table_shows_the_documents_changes(name):
    """Oracle: the units, consumer-surplus, tariff-revenue and profit rows of the report's headline
    table equal the document's baseline, scenario and change values formatted by the stated rules
    (``_units``, ``_total``): a wrong key, sign, unit conversion or rounding shows here."""
    document = _document(name)
    scale = document["market"]["money"]["dollars_per_unit"]
    table = _first_table_after(html_report(document), "<h2>Headline numbers</h2>")
    assert table[0][2:] == ["Scenario", "Change"]
    rows = {row[0]: row[1:] for row in table[1:]}
    b, c, d = document["baseline"], document["counterfactual"], document["change"]
    assert rows["New vehicles sold a year"] == [f"{round(b['total_units']):,}", f"{round(c['total_units']):,}",
                                                _units(d["total_units"])]
    assert rows["Consumer surplus (change)"] == ["", "", _total(d["consumer_surplus_usd"], scale)]
    assert rows["Tariff revenue"] == [_total(b["tariff_revenue_usd"], scale, False),
                                      _total(c["tariff_revenue_usd"], scale, False), _total(d["tariff_revenue_usd"], scale)]
    assert rows["Variable profit, all firms"][2] == _total(d["total_profit_usd"], scale)
    # the change is the scenario less the baseline in the document itself
    for key in ("total_units", "tariff_revenue_usd", "total_profit_usd"):
        assert d[key] == pytest.approx(c[key] - b[key], rel=1e-9, abs=1e-6 * max(abs(b[key]), 1.0))


ENTRANTS = [n for n in DOCUMENTS if _document(n).get("entrant_costs")]


@pytest.mark.parametrize("name", ENTRANTS)
def test_the_entrant_cost_rows_add_up_to_the_total_row(name):
    """Oracle: each entrant's column of cost components (dollars per vehicle; not the customs value,
    which is the tariff's base, nor the mean-utility terms) adds up to its total row, within the
    display's rounding (half a dollar a cell, or half the fourth significant digit under $1,000);
    and in the document the components add up to the total to rounding error."""
    document = _document(name)
    entrants = document["entrant_costs"]
    table = _first_table_after(html_report(document), "marginal cost, built from components")
    assert table[0][1:] == [e.get("name", e["product_id"]) for e in entrants]
    rows = {row[0]: row[1:] for row in table[1:]}
    costs = [label for label in rows if label not in NOT_COSTS and not label.endswith(" term")]
    assert {"home cost", "tariff", "US dealer gross"} <= set(costs)

    def number(text):
        return float(text.replace(",", ""))

    def half_step(value):
        return 0.5 if abs(value) >= 1000 or value == 0 else 0.5 * 10.0 ** (math.floor(math.log10(abs(value))) - 3)

    for k, entrant in enumerate(entrants):
        shown = [number(rows[label][k]) for label in costs if rows[label][k] != ""]
        total = number(rows["total"][k])
        assert total == round(entrant["total"])
        assert abs(sum(shown) - total) <= sum(half_step(v) for v in shown) + 0.5
        parts = [v for key, v in entrant.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
                 and key not in ("total", "customs_value") and not key.endswith("_term")]
        assert math.fsum(parts) == pytest.approx(entrant["total"], rel=2e-15, abs=0)  # measured 2e-16
