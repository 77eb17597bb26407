"""Built-in BLP (1995) and Gandhi-Houde (2019) instruments against PyBLP's builders and estimates."""

import numpy as np
import pandas as pd
import pyblp
import pytest

from autopact.fit.saved import config_inputs
from autopact.fit.estimation import EstimationError, Problem, estimate
from autopact.fit.instruments import (
    blp_instruments,
    differentiation_instruments,
    with_demand_instruments,
)

X1 = "1 + prices + hpwt + air + mpd + space"
CHARACTERISTICS = "0 + hpwt + air + mpd + space"
pyblp.options.verbose = False


@pytest.fixture(scope="module")
def products():
    return pd.read_csv(pyblp.data.BLP_PRODUCTS_LOCATION)


@pytest.fixture(scope="module")
def bare(products):
    """BLP 1995 products without their bundled excluded instruments."""
    return products.drop(columns=[c for c in products.columns if c.startswith("demand_instruments")])


@pytest.mark.parametrize("formula", ["1 + hpwt + air + mpd + space", "0 + hpwt + air + log(mpg) + space"])
def test_blp_instruments_match_pyblp(products, formula):
    ours = blp_instruments(formula, products).to_numpy()
    reference = pyblp.build_blp_instruments(pyblp.Formulation(formula), products)
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("version", ["local", "quadratic"])
@pytest.mark.parametrize("interact", [False, True])
def test_differentiation_instruments_match_pyblp(products, version, interact):
    ours = differentiation_instruments(CHARACTERISTICS, products, version, interact).to_numpy()
    reference = pyblp.build_differentiation_instruments(pyblp.Formulation(CHARACTERISTICS), products, version, interact)
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("version", [None, "local", "quadratic"])
def test_logit_with_built_instruments_matches_pyblp_to_1e8(bare, version):
    """2SLS-GMM logit with BLP (and differentiation) instruments: ours built by us, PyBLP's by PyBLP."""
    blocks = [blp_instruments("1 + hpwt + air + mpd + space", bare)]
    built = [pyblp.build_blp_instruments(pyblp.Formulation("1 + hpwt + air + mpd + space"), bare)]
    if version:
        blocks.append(differentiation_instruments(CHARACTERISTICS, bare, version))
        built.append(pyblp.build_differentiation_instruments(pyblp.Formulation(CHARACTERISTICS), bare, version))
    reference = pyblp.Problem(pyblp.Formulation(X1), {**{c: bare[c] for c in bare}, "demand_instruments": np.hstack(built)})
    result = reference.solve(method="2s")
    ours = estimate(Problem.build(with_demand_instruments(bare, *blocks), X1), method="2s")
    assert np.max(np.abs(ours.beta - result.beta.ravel()) / np.abs(result.beta.ravel())) < 1e-8
    assert np.max(np.abs(ours.beta_se - result.beta_se.ravel()) / np.abs(result.beta_se.ravel())) < 1e-8
    assert ours.objective == pytest.approx(float(result.objective), rel=1e-8)


def test_config_appends_instruments_after_the_users(products, tmp_path):
    products.to_csv(tmp_path / "products.csv", index=False)
    (tmp_path / "logit.yaml").write_text(
        'products: products.csv\nx1: "1 + prices + hpwt"\ninstruments:\n  blp: "hpwt + air"\n'
        '  differentiation: {formula: "0 + hpwt", version: quadratic}\n')
    inputs = config_inputs(tmp_path / "logit.yaml")
    table, read = inputs.products, pd.read_csv(tmp_path / "products.csv")  # CSV moves last bits
    users = [f"demand_instruments{i}" for i in range(8)]
    np.testing.assert_array_equal(table[users].to_numpy(), read[users].to_numpy())
    expected = np.c_[blp_instruments("hpwt + air", read), differentiation_instruments("0 + hpwt", read, "quadratic")]
    np.testing.assert_array_equal(table[[f"demand_instruments{i}" for i in range(8, 16)]].to_numpy(), expected)
    assert "demand_instruments16" not in table.columns


@pytest.mark.parametrize("block, message", [
    ('instruments: {blp: "hpwt + nonexistent"}', "'nonexistent'"),
    ('instruments: {differentiation: {formula: "0 + hpwt", version: cubic}}', "cubic"),
    ('instruments: {differentiation: {formula: "0 + hpwt", bins: 3}}', "bins"),
    ('instruments: {differentiation: {formula: "0 + hpwt", interact: maybe}}', "maybe"),
    ('instruments: {hausman: "hpwt"}', "hausman"),
    ('instruments: {differentiation: "hpwt"}', "intercept"),  # a constant column is zero for every product
])
def test_config_errors_name_the_bad_setting(products, tmp_path, block, message):
    products.to_csv(tmp_path / "products.csv", index=False)
    (tmp_path / "bad.yaml").write_text(f'products: products.csv\nx1: "1 + prices"\n{block}\n')
    with pytest.raises(ValueError, match=message):
        config_inputs(tmp_path / "bad.yaml")


def test_bad_inputs_are_named(products):
    with pytest.raises(EstimationError, match="no column 'nonexistent'"):
        blp_instruments("hpwt + log(nonexistent)", products)
    with pytest.raises(EstimationError, match="'firm_ids'"):
        differentiation_instruments("0 + hpwt", products.drop(columns="firm_ids"))
    with pytest.raises(EstimationError, match="market_ids is missing in 1 row"):
        blp_instruments("hpwt", products.assign(market_ids=products["market_ids"].where(products.index != 5)))
    with pytest.raises(EstimationError, match=r"column 'air' has 1 missing value\(s\), the first on CSV line 9"):
        blp_instruments("hpwt + air", products.assign(air=products["air"].where(products.index != 7)))
    with pytest.raises(EstimationError, match="'log\\(air\\)' is not finite"), np.errstate(divide="ignore"):
        differentiation_instruments("0 + log(air)", products)
