"""Caveats: a result says where the model disagrees with car markets (``autopact.outcomes.caveats``),
checked on hand-built states whose answer is known."""

import numpy as np
import pandas as pd
import pytest

from autopact.outcomes.caveats import MATERIAL_SHARE, caveats, incumbent_price_rises
from autopact.outcomes.state import State


def state(rows, stakes=None):
    products = pd.DataFrame(rows, columns=["product_id", "name", "owner", "price", "consumer_price", "cost", "units"])
    owners = sorted(set(products["owner"]))
    stakes = stakes if stakes is not None else pd.DataFrame(
        [[1.0 if o == r[2] else 0.0 for o in owners] for r in rows], columns=owners)
    return State(products=products, consumer_surplus=np.zeros(1), stakes=stakes, solver={})


BASE = [("a", "A", "Alpha", 30000.0, 30000.0, 25000.0, 100.0), ("b", "B", "Beta", 40000.0, 40000.0, 33000.0, 300.0),
        ("c", "C", "Gamma", 20000.0, 23000.0, 19000.0, 50.0)]


def test_a_cheaper_rival_and_a_material_rise_of_an_unchanged_incumbent_is_flagged_with_its_numbers():
    after = [("a", "A", "Alpha", 30600.0, 30600.0, 25000.0, 90.0), ("b", "B", "Beta", 40000.0, 40000.0, 33000.0, 290.0),
             ("c", "C", "Gamma", 18000.0, 20500.0, 17000.0, 80.0)]  # c's cost fell (a tariff on it cut)
    found = incumbent_price_rises(state(BASE), state(after))
    assert found["rising"] == 1 and found["incumbents_same_cost"] == 2
    assert found["mean_price_change_usd"] == pytest.approx((600.0 * 90 + 0.0 * 290) / 380)
    assert found["largest"] == {"product_id": "a", "name": "A", "price_change_usd": 600.0}
    assert "1 rival model(s) became cheaper" in found["text"] and "biased upward" in found["text"]


def test_no_caveat_when_a_rival_got_dearer_or_rises_are_immaterial_or_prices_fall():
    dearer = [("a", "A", "Alpha", 30600.0, 30600.0, 25000.0, 90.0), ("b", "B", "Beta", 40000.0, 40000.0, 33000.0, 290.0),
              ("c", "C", "Gamma", 22000.0, 25000.0, 21000.0, 40.0)]  # c's cost rose: the expected sign is +
    assert incumbent_price_rises(state(BASE), state(dearer)) is None
    small = 0.5 * MATERIAL_SHARE * 30000.0  # under 1% of a's price, and a mean rise under a tenth of that
    immaterial = [("a", "A", "Alpha", 30000.0 + small / 10, 30000.0 + small / 10, 25000.0, 100.0),
                  ("b", "B", "Beta", 40000.0, 40000.0, 33000.0, 300.0), ("c", "C", "Gamma", 18000.0, 20500.0, 17000.0, 60.0)]
    assert incumbent_price_rises(state(BASE), state(immaterial)) is None
    falling = [("a", "A", "Alpha", 29500.0, 29500.0, 25000.0, 90.0), ("b", "B", "Beta", 39900.0, 39900.0, 33000.0, 290.0),
               ("c", "C", "Gamma", 18000.0, 20500.0, 17000.0, 80.0)]
    assert caveats(state(BASE), state(falling)) == []


def test_an_entrant_counts_as_a_new_rival_and_its_partners_models_are_left_out():
    rows = BASE + [("e", "E", "Beta-Delta JV", 25000.0, 25000.0, 20000.0, 60.0)]
    owners = ["Alpha", "Beta", "Beta-Delta JV", "Gamma"]
    stakes = pd.DataFrame([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0.5, 0.5, 0]], columns=owners, dtype=float)
    after = [("a", "A", "Alpha", 30000.0, 30000.0, 25000.0, 95.0), ("b", "B", "Beta", 42000.0, 42000.0, 33000.0, 250.0),
             ("c", "C", "Gamma", 20000.0, 23000.0, 19000.0, 45.0), rows[3]]
    assert incumbent_price_rises(state(BASE), state(after, stakes)) is None  # only Beta's model rose: it holds a stake
    after[0] = ("a", "A", "Alpha", 31000.0, 31000.0, 25000.0, 90.0)
    found = incumbent_price_rises(state(BASE), state(after, stakes))
    assert found["rising"] == 1 and found["incumbents_same_cost"] == 2 and found["entrant_partners"] == ["Beta", "Beta-Delta JV"]
    assert "1 new model(s) entered" in found["text"]


def test_a_path_that_ended_before_the_scenario_is_a_caveat_naming_the_largest_unchanged_moves():
    """``solver.path_ended`` (the equilibrium path's budget) and ``path_jumps`` (a fold) make a caveat
    with where the path ended and the largest moves of models whose own cost is unchanged, largest
    first; a path that reached the scenario makes none."""
    from dataclasses import replace

    from autopact.outcomes.caveats import equilibrium_path_ended

    after = [("a", "A", "Alpha", 29000.0, 29000.0, 25000.0, 90.0), ("b", "B", "Beta", 43000.0, 43000.0, 33000.0, 290.0),
             ("c", "C", "Gamma", 15000.0, 18000.0, 14000.0, 80.0)]  # c's cost fell: its move is not listed
    ended = replace(state(after), solver={"path_ended": [0.125], "path_jumps": [0.5]})
    found = equilibrium_path_ended(state(BASE), ended)
    assert found["kind"] == "equilibrium_path_ended" and found["path_ended"] == [0.125, 0.5]
    assert [m["product_id"] for m in found["largest"]] == ["b", "a"]
    assert [m["price_change_usd"] for m in found["largest"]] == [3000.0, -1000.0]
    assert [m["wedge_change_usd"] for m in found["largest"]] == [0.0, 0.0]
    assert [(m["units_before"], m["units_after"]) for m in found["largest"]] == [(300.0, 290.0), (100.0, 90.0)]
    assert "12%, 50% of the way" in found["text"] and "B +$3,000 (300 -> 290 units), A -$1,000 (100 -> 90 units)" in found["text"]
    # b's +$3,000 is also a material rise of an unchanged incumbent while c got cheaper: both caveats, rises first
    assert [c["kind"] for c in caveats(state(BASE), ended)] == ["incumbent_price_rises", "equilibrium_path_ended"]
    assert equilibrium_path_ended(state(BASE), state(after)) is None


def test_a_large_shift_of_assembly_is_a_caveat_and_a_small_one_is_none():
    """US-assembled units moving by more than ASSEMBLY_SHIFT_SHARE of the baseline's make a caveat with
    the change and its share, the idle share of US capacity from the evidence; a smaller move and a
    market that does not state assembly countries make none."""
    from dataclasses import replace

    from autopact.data import backtest_evidence
    from autopact.outcomes.caveats import ASSEMBLY_SHIFT_SHARE, assembly_shift

    before = state(BASE)
    before = replace(before, products=before.products.assign(us_assembled_units=[100.0, 0.0, 50.0]),
                     origin=pd.DataFrame({"United States": [1.0, 0.0, 1.0], "Japan": [0.0, 1.0, 0.0]}))
    assembled = before.products["us_assembled_units"].sum()
    moved = replace(before, products=before.products.assign(
        us_assembled_units=before.products["us_assembled_units"] * (1 + 2 * ASSEMBLY_SHIFT_SHARE)))
    found = assembly_shift(before, moved)
    assert found["kind"] == "assembly_shift"
    assert found["us_assembled_units_change"] == pytest.approx(2 * ASSEMBLY_SHIFT_SHARE * assembled)
    assert found["share_of_baseline"] == pytest.approx(2 * ASSEMBLY_SHIFT_SHARE)
    idle = float(backtest_evidence()["us_plant_capacity_idle_2024"]["value"])
    lead = float(backtest_evidence()["us_plant_lead_time_years"]["value"])
    assert f"About {idle:.0%} of US assembly capacity" in found["text"] and f"a new plant {lead:g} years" in found["text"]
    assert f"({2 * ASSEMBLY_SHIFT_SHARE:+.1%})" in found["text"]
    small = replace(before, products=before.products.assign(
        us_assembled_units=before.products["us_assembled_units"] * (1 + ASSEMBLY_SHIFT_SHARE / 2)))
    assert assembly_shift(before, small) is None
    unstated = replace(before, origin=before.origin.assign(**{"not stated": 0.0}))
    assert assembly_shift(unstated, moved) is None


def test_a_path_that_ended_names_moves_beyond_what_each_model_s_own_wedge_explains():
    """In a later year's baseline every model's tax wedge moves (fuel prices, the EV credit's end), so the
    caveat compares each unchanged-cost model's price move with its own wedge's change: a $2,000 fall with
    the wedge up $300 is $1,700 beyond it and listed; a $250 fall with the wedge up $400 is not (2026
    baseline: the Colorado's -$5,825, with its wedge moved by gasoline's price, had been left out as "none")."""
    from dataclasses import replace

    from autopact.outcomes.caveats import equilibrium_path_ended

    after = [("a", "A", "Alpha", 28000.0, 28300.0, 25000.0, 300.0), ("b", "B", "Beta", 39750.0, 40150.0, 33000.0, 310.0),
             ("c", "C", "Gamma", 20500.0, 23500.0, 19500.0, 40.0)]  # c's cost rose: not listed
    found = equilibrium_path_ended(state(BASE), replace(state(after), solver={"path_jumps": [0.02]}))
    assert found["largest"] == [{"product_id": "a", "name": "A", "price_change_usd": -2000.0, "wedge_change_usd": 300.0,
                                 "units_before": 100.0, "units_after": 300.0}]
    assert "A -$2,000 (100 -> 300 units; its tax wedge +$300)" in found["text"]


def test_a_pass_through_beyond_the_evidence_is_a_caveat_with_its_rate():
    """a's cost +$1,000 and price +$1,500 (100 units), b's cost -$2,000 and price -$2,800 (300 units), c's
    cost +$50 (under 0.5% of its price: not counted): rate = (100 x 1,500 + 300 x 2,800) / (100 x 1,000 +
    300 x 2,000) = 990,000 / 700,000 = 1.414, beyond Feenstra's 1; at 0.9 times the cost changes, none."""
    from autopact.outcomes.caveats import cost_pass_through

    after = [("a", "A", "Alpha", 31500.0, 31500.0, 26000.0, 90.0), ("b", "B", "Beta", 37200.0, 37200.0, 31000.0, 330.0),
             ("c", "C", "Gamma", 20500.0, 23500.0, 19050.0, 50.0)]
    found = cost_pass_through(state(BASE), state(after))
    assert found["kind"] == "cost_pass_through" and found["models"] == 2
    assert found["pass_through"] == pytest.approx(990_000 / 700_000)
    assert found["published"] == [0.6, 1.0]
    assert "2 models whose cost this scenario changes move their prices by 1.41 times the cost change" in found["text"]
    assert "about 0.6 to 1 (Feenstra 1989" in found["text"]
    one = [("a", "A", "Alpha", 31500.0, 31500.0, 26000.0, 90.0), *BASE[1:]]
    assert "the 1 model whose cost this scenario changes moves its price by 1.50 times" in \
        cost_pass_through(state(BASE), state(one))["text"]
    inside = [("a", "A", "Alpha", 30900.0, 30900.0, 26000.0, 95.0), ("b", "B", "Beta", 38200.0, 38200.0, 31000.0, 310.0),
              ("c", "C", "Gamma", 20000.0, 23000.0, 19000.0, 50.0)]
    assert cost_pass_through(state(BASE), state(inside)) is None
    assert cost_pass_through(state(BASE), state(BASE)) is None
