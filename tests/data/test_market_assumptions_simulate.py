"""Market assumptions ``price_level: msrp`` and ``remainder_rows: drop`` flowing through calibration and
simulation (audit U18): a scenario's ``assumptions:`` field reaches ``load_market`` (through
``simulate.market_for``), the market is calibrated on that variant of the data, and its baseline
equilibrium reproduces that variant's data, derived here from the bundled CSVs read directly with
pandas (not through the package's loader):

- ``msrp``: every product, price = its ``msrp_usd`` (no transaction scaling);
- ``drop``: the ``brand_residual`` rows absent, the rest on the transaction level recomputed over the
  kept rows (s_BEV = A_BEV / m_BEV, s_other = (A N - A_BEV N_BEV) / sum(msrp units) of the others, A and
  A_BEV the KBB transaction prices of ``reference_parameters.csv``);

in both, units = the CSV's units and shares = units / households. This holds for any demand parameters:
the calibration inverts the shares for the mean utilities and recovers marginal costs from the first-order
conditions at the data prices, so the baseline's Bertrand-Nash prices are the data prices. The parameter
refit itself is not what is tested here, and a fresh fit on the 5,000 fit households takes 2 to 12 minutes
(idle to loaded 2-core machine), so ``calibrated_market`` holds the bundled fit's parameters
(``calibration_2025.json``, read directly): everything else, the share inversion, the cost recovery, the
tariff decomposition, the baseline solve and the scenario, runs as in any simulate. The disk cache is a
private folder here, so the markets calibrated this way never serve another test.
A tariff on Japan-built vehicles then runs and converges on each variant.
"""

import json

import numpy as np
import pandas as pd
import pytest

from autopact import simulate as simulate_module
from autopact.data import bundled_path
from autopact.fit.calibration import calibrate
from autopact.policy.scenario import parse_scenario
from autopact.simulate import simulate

TARIFF = [{"name": "japan-10", "origin": ["Japan"], "ad_valorem_pct": 10}]
VARIANTS = {"msrp": {"price_level": "msrp"}, "drop": {"remainder_rows": "drop"}}


def _reference(name: str) -> float:
    table = pd.read_csv(bundled_path("reference_parameters.csv")).set_index("name")
    return float(table.loc[name, "value"])


def _expected(variant: str) -> pd.DataFrame:
    """product_id -> units, price and share of the variant's data, from the CSVs alone."""
    csv = pd.read_csv(bundled_path("products_2025.csv"))
    households = _reference("households_2024")
    if variant == "msrp":
        price = csv["msrp_usd"].astype(float)
    else:
        csv = csv[csv["row_type"] != "brand_residual"].reset_index(drop=True)
        units, msrp = csv["units"].astype(float), csv["msrp_usd"].astype(float)
        bev = csv["powertrain"].eq("BEV")
        atp, atp_bev = _reference("atp_2025_usd"), _reference("atp_bev_2025_usd")
        scale_bev = atp_bev / np.average(msrp[bev], weights=units[bev])
        scale_other = (atp * units.sum() - atp_bev * units[bev].sum()) / (msrp[~bev] * units[~bev]).sum()
        price = msrp * np.where(bev, scale_bev, scale_other)
    return pd.DataFrame({"product_id": csv["product_id"], "units": csv["units"].astype(float), "price": price,
                         "share": csv["units"].astype(float) / households,
                         "residual": csv["row_type"].eq("brand_residual")}).set_index("product_id")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Each variant's tariff scenario, simulated from its scenario alone (``simulate`` builds the market)."""
    bundled = json.loads(bundled_path("calibration_2025.json").read_text())
    theta, form = bundled["parameters"], bundled.get("price_form", "income")

    def held(data, draws=1000, seed=0, **kwargs):
        return calibrate(data, fixed=theta, draws=draws, seed=seed, form=form)

    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("AUTOPACT_CACHE", str(tmp_path_factory.mktemp("u18-cache")))
    monkeypatch.setattr(simulate_module, "calibrated_market", held)
    try:
        out = {}
        for label, assumptions in VARIANTS.items():
            scenario = parse_scenario({"name": f"u18-{label}", "assumptions": assumptions, "extra_tariffs": TARIFF},
                                      f"u18-{label}.yaml")
            out[label] = simulate(scenario)
        return out
    finally:
        monkeypatch.undo()


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_market_is_loaded_under_the_scenarios_assumption(results, variant):
    market = results[variant].baseline_market
    assert market.data is not None
    for name, value in VARIANTS[variant].items():
        assert market.data.assumptions[name].value == value
    if variant == "msrp":
        assert market.data.price_scales == {"BEV": 1.0, "other": 1.0}
    else:
        assert len(market.data.dropped) == 11 and market.data.dropped["row_type"].eq("brand_residual").all()


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_baseline_reproduces_its_own_data(results, variant):
    expected = _expected(variant)
    base = results[variant].baseline.products.set_index("product_id")
    assert results[variant].baseline.solver["converged"]
    assert sorted(base.index) == sorted(expected.index)  # the same products, no more, no fewer
    expected = expected.loc[base.index]
    np.testing.assert_allclose(base["price"].to_numpy(float), expected["price"].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(base["units"].to_numpy(float), expected["units"].to_numpy(), rtol=1e-9)
    size = results[variant].baseline_market.market_size
    assert size == _reference("households_2024")
    np.testing.assert_allclose(base["units"].to_numpy(float) / size, expected["share"].to_numpy(), rtol=1e-9)
    metrics = results[variant].outcome()["baseline"]
    assert metrics["total_units"] == pytest.approx(expected["units"].sum(), rel=1e-9)


def test_drop_leaves_out_the_remainders_and_their_units():
    """The CSV's own counts: 297 rows, 11 brand remainders holding 1,270,914 units."""
    csv = pd.read_csv(bundled_path("products_2025.csv"))
    residual = csv["row_type"].eq("brand_residual")
    assert len(csv) == 297 and residual.sum() == 11
    assert int(csv.loc[residual, "units"].sum()) == 1_270_914
    dropped, kept = _expected("drop"), _expected("msrp")
    assert len(dropped) == 286 and not dropped["residual"].any() and kept["residual"].sum() == 11
    assert dropped["units"].sum() == csv["units"].sum() - 1_270_914


def test_the_drop_markets_prices_are_rescaled_over_the_kept_rows(results):
    """Dropping the remainders moves the non-BEV transaction factor (their MSRPs and units leave the
    mean that is scaled to the average transaction price): the drop market's prices are one factor
    for its BEVs and one for the rest times the MSRP, and the rest's factor is not the full market's."""
    csv = pd.read_csv(bundled_path("products_2025.csv"))
    units, msrp, bev = csv["units"].astype(float), csv["msrp_usd"].astype(float), csv["powertrain"].eq("BEV")
    atp, atp_bev = _reference("atp_2025_usd"), _reference("atp_bev_2025_usd")
    full_other = (atp * units.sum() - atp_bev * units[bev].sum()) / (msrp[~bev] * units[~bev]).sum()
    base = results["drop"].baseline.products.set_index("product_id")
    factor = base["price"] / csv.set_index("product_id").loc[base.index, "msrp_usd"]
    others = base["powertrain"].ne("BEV")
    for group in (factor[others], factor[~others]):  # one factor for the BEVs, one for the rest
        assert group.max() / group.min() - 1 < 1e-9
    assert abs(factor[others].mean() / full_other - 1) > 1e-3, (factor[others].mean(), full_other)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_tariff_runs_and_converges_on_each_variant(results, variant):
    result = results[variant]
    solver = result.counterfactual.solver
    assert solver["converged"] and solver["max_foc_residual"] < 1e-6
    cf = result.counterfactual.products.set_index("product_id")
    base = result.baseline.products.set_index("product_id")
    assert sorted(cf.index) == sorted(base.index)  # the scenario adds and drops no product
    if variant == "drop":
        residual = pd.read_csv(bundled_path("products_2025.csv")).query("row_type == 'brand_residual'")
        assert len(cf) == 286 and not cf.index.isin(residual["product_id"]).any()
    change = result.outcome()["change"]
    assert change["total_units"] < 0 and change["tariff_revenue_usd"] > 0
    japan = cf["tariff_rate"] > base.loc[cf.index, "tariff_rate"] + 0.09  # the 10 points land on Japan-built
    assert japan.sum() > 10
    assert (cf.loc[japan, "price"] > base.loc[japan[japan].index, "price"]).mean() > 0.9
