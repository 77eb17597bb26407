"""A product's name tells a reader which row it is: the hybrid splits made two rows of one nameplate
(an ICE and an HEV row), and `autopact validate` listed "Toyota Corolla Cross" twice with different
numbers."""

import pandas as pd

from autopact.data import load_market
from autopact.fit.market import incumbents, product_names


def test_a_split_nameplates_rows_carry_their_powertrain_and_no_name_repeats():
    names = incumbents(load_market())["name"]
    assert not names.duplicated().any()
    assert {"Toyota RAV4 (ICE)", "Toyota RAV4 (HEV)", "Toyota Camry"} <= set(names)


def test_only_shared_names_get_the_powertrain():
    table = pd.DataFrame({"make": ["A", "A", "B"], "model": ["X", "X", "Y"], "powertrain": ["ICE", "HEV", "BEV"]})
    assert product_names(table).tolist() == ["A X (ICE)", "A X (HEV)", "B Y"]
