"""Estimation inputs a re-probe of issue 12 found giving cryptic errors or allocating before any
check: zero shares (KeyError 'residual'), a config without x1 (KeyError 'x1'), missing values that
patsy dropped (a dimension mismatch), and formulas whose design matrix or term expansion is huge."""

import time

import numpy as np
import pandas as pd
import pytest

from autopact.data import bundled_path
from autopact.fit import formulas
from autopact.fit.estimation import EstimationError, estimate
from autopact.fit.formulas import FormulaError, check_formula, design_matrix
from autopact.fit.problem import Problem
from autopact.fit.saved import EstimationFileError, config_inputs


@pytest.fixture(scope="module")
def nevo() -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.read_csv(bundled_path("nevo/nevo_products.csv")), pd.read_csv(bundled_path("nevo/nevo_agents.csv"))


def test_a_zero_share_is_refused_naming_the_column_and_line(nevo):
    products, agents = nevo
    products = products.copy()
    products.loc[3, "shares"] = 0.0
    with pytest.raises(EstimationError, match=r"products: shares: must be a number above 0 and below 1.*CSV line 5: 0.0"):
        problem = Problem.build(products, "0 + prices", "1 + prices", agents, absorb=["product_ids"])
        estimate(problem, sigma=np.diag([0.3, 2.4]))  # main: KeyError 'residual'


def test_inside_shares_summing_to_one_are_refused(nevo):
    products, agents = nevo
    products = products.copy()
    first = products["market_ids"] == products["market_ids"].iloc[0]
    products.loc[first, "shares"] = 1.0 / first.sum()
    with pytest.raises(EstimationError, match="shares: they sum to 1 in market"):
        Problem.build(products, "0 + prices", "1 + prices", agents)


def test_a_config_without_x1_is_refused_naming_it(tmp_path):
    (tmp_path / "c.yaml").write_text(f"products: {bundled_path('nevo/nevo_products.csv')}\nx2: 1 + prices\n")
    with pytest.raises(EstimationFileError, match="c.yaml: x1: the linear characteristics' formula is required"):
        config_inputs(tmp_path / "c.yaml")  # main: KeyError 'x1' later, in build_problem


def test_a_missing_value_in_a_formula_column_is_refused_naming_it(nevo):
    """patsy dropped the row, so the matrix no longer lined up with shares and prices."""
    products, agents = nevo
    products = products.copy()
    products.loc[7, "sugar"] = np.nan
    with pytest.raises(EstimationError, match="x2: .*column 'sugar' has 1 missing value.*CSV line 9"):
        Problem.build(products, "0 + prices", "1 + prices + sugar", agents, absorb=["product_ids"])


def test_a_missing_demographic_is_refused_with_its_agents_line(nevo):
    products, agents = nevo
    agents = agents.copy()
    agents.loc[25, "income"] = np.nan
    with pytest.raises(EstimationError, match="demographics: .*the agents' column 'income'.*CSV line 27"):
        Problem.build(products, "0 + prices", "1 + prices", agents, "0 + income")


def test_an_interaction_wider_than_the_data_is_refused_before_it_is_built():
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"a": rng.integers(0, 200, 200), "b": rng.integers(0, 200, 200), "x": rng.random(200)})
    with pytest.raises(FormulaError, match=r"x1: .*columns \(the term C\(a\):C\(b\) alone has up to .* rows"):
        design_matrix("1 + x + C(a):C(b)", data, "x1", "products")


def test_a_design_beyond_the_number_limit_is_refused(monkeypatch):
    monkeypatch.setattr(formulas, "MAX_DESIGN_NUMBERS", 1_000, raising=False)
    data = pd.DataFrame({"a": np.arange(100) % 50, "x": np.arange(100.0)})
    with pytest.raises(FormulaError, match="MAX_DESIGN_NUMBERS"):
        design_matrix("1 + C(a)", data, "x1", "products")
    assert design_matrix("1 + x", data, "x1", "products").shape == (100, 2)


def test_a_power_of_many_terms_is_refused_before_patsy_expands_it():
    names = " + ".join(f"x{k}" for k in range(16))
    began = time.perf_counter()
    with pytest.raises(FormulaError, match="more than 1,000 terms"):
        check_formula(f"({names})**16", "x1")  # patsy needs minutes for its 65,535 terms
    assert time.perf_counter() - began < 1
    assert check_formula("1 + (a + b + c)**2 + a*b*c + a/b", "x1") == "1 + (a + b + c)**2 + a*b*c + a/b"


@pytest.mark.parametrize("formula, calls", [("0 + income + I(income ** 2) + log(exp(age))", 1),
                                            ("0 + income + C(quarter)", None)])
def test_demographics_are_evaluated_once_unless_categorical_and_equal_each_markets_own(nevo, monkeypatch, formula, calls):
    """An element-wise demographics formula is evaluated by one patsy call over the markets' agents
    (main: one a market, 94 for Nevo's data and most of BLP 1995's set-up), sliced by market to the
    same numbers as each market's own evaluation; a C() formula, whose levels depend on the rows,
    is still evaluated market by market."""
    from autopact.fit import problem as problem_module

    products, agents = nevo
    original, seen = problem_module._matrix, []

    def counted(formula_, data, field="formula", table="products"):
        seen.append(field)
        return original(formula_, data, field, table)

    monkeypatch.setattr(problem_module, "_matrix", counted)
    built = Problem.build(products, "0 + prices", "1 + prices", agents, formula)
    markets = products["market_ids"].unique()
    assert seen.count("demographics") == (calls or len(markets))
    for market_id, market in zip(markets, built.markets):
        own = design_matrix(formula, agents[agents["market_ids"] == market_id], "demographics", "agents")
        assert np.array_equal(market.demographics, own.to_numpy(float))
