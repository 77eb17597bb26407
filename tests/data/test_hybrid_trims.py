"""tools/hybrid_trims.py's reading of tools/hybrid_trims_2025.csv: a bad row stops the build and names
the file, the product and the field (the bundled rows' prices are checked by hand in test_hybrid_split.py)."""

import csv
import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_trims():
    """tools/hybrid_trims.py, imported as tools/build_data.py imports it (tools/ on the path)."""
    tools = str(ROOT / "tools")
    if tools not in sys.path:
        sys.path.insert(0, tools)
    return importlib.import_module("hybrid_trims")


GOOD = {"product_id": "toyota--rav4--hev", "make": "Toyota", "model": "RAV4", "msrp_usd": "31900", "premium_usd": "",
        "model_year": "2026", "trim": "Hybrid LE", "destination_basis": "excluded", "destination_usd": "",
        "horsepower": "226", "horsepower_source": "a page", "source": "a page", "note": "", "confidence": "medium"}


def _write(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(GOOD))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_the_bundled_file_reads():
    trims = load_trims()
    rows = trims.read_hybrid_trims(trims.HYBRID_TRIMS, set(range(2021, 2027)))
    assert len(rows) == 26 and rows["product_id"].str.endswith("--hev").all()


@pytest.mark.parametrize("change, message", [
    ({"product_id": "toyota--rav4--ice"}, "is not an HEV row"),
    ({"premium_usd": "1500"}, "exactly one positive number"),
    ({"msrp_usd": ""}, "exactly one positive number"),
    ({"msrp_usd": "-31900"}, "exactly one positive number"),
    ({"model_year": "MY2026"}, "is not a year"),
    ({"model_year": "2018"}, "no CPI factor"),
    ({"destination_basis": "yes"}, "destination_basis='yes'"),
    ({"destination_usd": "-5"}, "destination_usd='-5'"),
    ({"horsepower": "0"}, "horsepower='0'"),
    ({"horsepower_source": ""}, "horsepower_source is empty"),
    ({"source": " "}, "source is empty"),
])
def test_a_bad_row_stops_the_build_naming_the_field(tmp_path, change, message):
    trims = load_trims()
    path = _write(tmp_path / "hybrid_trims_2025.csv", [{**GOOD, **change}])
    with pytest.raises(SystemExit, match=message):
        trims.read_hybrid_trims(path, set(range(2021, 2027)))


def test_a_premium_may_come_from_a_year_before_the_cpi_series_and_a_product_twice_stops_the_build(tmp_path):
    trims = load_trims()
    premium = {**GOOD, "msrp_usd": "", "premium_usd": "4510", "model_year": "2018"}
    assert len(trims.read_hybrid_trims(_write(tmp_path / "a.csv", [premium]), set(range(2021, 2027)))) == 1
    with pytest.raises(SystemExit, match="listed twice: toyota--rav4--hev"):
        trims.read_hybrid_trims(_write(tmp_path / "b.csv", [GOOD, GOOD]), set(range(2021, 2027)))
