"""The hedonic fit's BEV terms (entry back-test, issue 11): Tesla's brand is a firm effect that
belongs to the brand term, not to the BEV coefficient, battery-electric pickups have their own
term, and a BEV's log range has one. Checked on a small market whose mean utilities are an exact
linear function of the design, so OLS must recover every coefficient (an independent closed form:
zero residuals)."""

import numpy as np
import pandas as pd
import pytest

from autopact.data import read_bundled
from autopact.policy.hedonic import BRAND_RELIABILITY, WEIGHT_POWER, Hedonic, annual_basis, reentry_maps, shrunk_mean

# intercept, log footprint, log hp, luxury, HEV, PHEV, BEV, SUV, pickup, van, BEV x pickup, BEV x log range,
# (log footprint - log 100)^2, luxury x SUV
BETA = np.array([-9.0, 0.8, 0.5, -0.3, 0.2, -0.4, -1.1, 0.6, 0.3, -0.7, -0.9, 1.3, -2.5, 0.45])
TESLA = 1.7
RANGE, FOOTPRINT_SQUARED, LUXURY_SUV = 11, 12, 13


def _market(with_design: bool = False):
    rng = np.random.default_rng(11)
    rows = []
    owners = ["Ford", "GM", "Toyota", "Tesla", "Subaru", "Rivian"]
    for k in range(48):
        owner = owners[k % 6]
        powertrain = "BEV" if owner in ("Tesla", "Rivian") else ["ICE", "HEV", "PHEV", "BEV"][k % 4]
        rows.append({"product_id": f"p{k}", "make": owner, "owner": owner, "powertrain": powertrain,
                     "segment": ["car", "SUV-crossover", "pickup", "van"][(k // 6) % 4],
                     "luxury": bool(k % 3 == 0), "footprint_sqft": rng.uniform(40, 120),
                     "horsepower": rng.uniform(120, 500),
                     "range_miles": rng.uniform(150, 420) if powertrain == "BEV" else np.nan})
    table = pd.DataFrame(rows)
    bev = table["powertrain"].eq("BEV")
    units = rng.uniform(1_000, 300_000, len(table))
    log_range = np.log(table["range_miles"].to_numpy(float))
    reference = np.average(log_range[bev], weights=units[bev] ** WEIGHT_POWER)  # R0: over BEVs, the fit's weights
    x = np.column_stack([np.ones(len(table)), np.log(table["footprint_sqft"]), np.log(table["horsepower"]),
                         table["luxury"].astype(float)]
                        + [table["powertrain"].eq(p).astype(float) for p in ("HEV", "PHEV", "BEV")]
                        + [table["segment"].eq(s).astype(float) for s in ("SUV-crossover", "pickup", "van")]
                        + [(bev & table["segment"].eq("pickup")).astype(float)]
                        + [np.where(bev, log_range - reference, 0.0)]
                        + [(np.log(table["footprint_sqft"]) - np.log(100.0)) ** 2]
                        + [table["luxury"].astype(float) * table["segment"].eq("SUV-crossover")])
    xi = x @ BETA + TESLA * table["owner"].eq("Tesla").to_numpy()
    return (table, xi, units, x) if with_design else (table, xi, units)


def test_the_fit_recovers_the_bev_pickup_term_and_the_tesla_effect_apart_from_the_bev_coefficient():
    table, xi, units = _market()
    fit = Hedonic.fit(table, xi, units)
    np.testing.assert_allclose(fit.beta, BETA, atol=1e-9)
    assert fit.firm_effect == {"Tesla": pytest.approx(TESLA, abs=1e-9)}
    assert fit.r2 == pytest.approx(1.0, abs=1e-12)


def test_a_firm_effect_is_in_the_brand_term_and_not_in_the_characteristics_prediction():
    table, xi, units = _market()
    fit = Hedonic.fit(table, xi, units)
    tesla = table[table["owner"] == "Tesla"]
    # predict: characteristics only; brand term: the effect plus Tesla's (zero) residual
    np.testing.assert_allclose(fit.predict(tesla), xi[tesla.index] - TESLA, atol=1e-9)
    assert fit.brand_term("Tesla", "BEV") == pytest.approx(TESLA, abs=1e-9)
    # a maker without the effect: its residual only (zero here), for a powertrain it sells or not
    assert fit.brand_term("Subaru", "BEV") == pytest.approx(0.0, abs=1e-9)
    assert fit.brand_term(None, "BEV") == fit.new_brand


def test_without_the_tesla_effect_the_bev_coefficient_carries_teslas_brand():
    """The defect the firm effect removes: the same weighted fit told nothing of Tesla puts part of
    Tesla's brand into the BEV coefficient, so every other maker's BEV is predicted too high."""
    table, xi, units, x = _market(with_design=True)
    fit = Hedonic.fit(table, xi, units)
    pooled, *_ = np.linalg.lstsq(x * np.sqrt(units)[:, None], xi * np.sqrt(units), rcond=None)
    assert pooled[6] > BETA[6] + 0.3
    assert fit.beta[6] == pytest.approx(BETA[6], abs=1e-9)


def test_the_fit_recovers_the_range_term_and_a_bev_of_unknown_range_is_taken_at_the_mean_range():
    table, xi, units = _market()
    fit = Hedonic.fit(table, xi, units)
    assert fit.beta[RANGE] == pytest.approx(BETA[RANGE], abs=1e-9)
    bev = table[table["powertrain"].eq("BEV")].iloc[[0]]
    unknown = bev.assign(range_miles=np.nan)
    # ln R0 is the units-weighted mean ln range of the BEVs, so the unknown range adds exactly 0
    log_range = np.log(bev["range_miles"].iloc[0])
    assert fit.predict(bev)[0] - fit.predict(unknown)[0] == pytest.approx(BETA[RANGE] * (log_range - fit.log_range_reference),
                                                                         abs=1e-9)
    longer = bev.assign(range_miles=bev["range_miles"] * 1.5)
    assert fit.predict(longer)[0] - fit.predict(bev)[0] == pytest.approx(BETA[RANGE] * np.log(1.5), abs=1e-9)


def test_the_brand_term_pools_the_firm_the_make_the_firms_powertrain_and_the_makes_powertrain():
    """Hand-computed partial pooling on a market with known residuals (BMW's line: Mini ICE 0.4, BMW
    BEV -0.6, BMW ICE 0.2, equal weights): from the firm's line to the make's powertrain, each level
    with n products moves the estimate e to (n m + e) / (n + 1) (k = 1)."""
    table, xi, units = _market()
    table = pd.concat([table, pd.DataFrame([
        {"product_id": "m1", "make": "Mini", "owner": "BMW", "powertrain": "ICE", "segment": "car", "luxury": False,
         "footprint_sqft": 70.0, "horsepower": 150.0, "range_miles": np.nan},
        {"product_id": "b1", "make": "BMW", "owner": "BMW", "powertrain": "BEV", "segment": "car", "luxury": True,
         "footprint_sqft": 90.0, "horsepower": 300.0, "range_miles": 300.0},
        {"product_id": "b2", "make": "BMW", "owner": "BMW", "powertrain": "ICE", "segment": "car", "luxury": True,
         "footprint_sqft": 90.0, "horsepower": 250.0, "range_miles": np.nan}])], ignore_index=True)
    base = Hedonic.fit(table.iloc[:-3], xi, units)
    shifts = {"m1": 0.4, "b1": -0.6, "b2": 0.2}  # residuals of the three new products (small units: the fit barely moves)
    extra = np.array([base.predict(table.iloc[[k]])[0] + shifts[pid] for k, pid in
                      zip(range(len(table) - 3, len(table)), ("m1", "b1", "b2"))])
    fit = Hedonic.fit(table, np.append(xi, extra), np.append(units, [1e-6, 1e-6, 1e-6]))
    pool = lambda n, m, e: (n * m + e) / (n + 1)  # noqa: E731
    firm = (0.4 - 0.6 + 0.2) / 3                    # BMW's line, 3 products
    mini = pool(1, 0.4, firm)                        # Mini's line, 1
    mini_ice = pool(1, 0.4, pool(2, (0.4 + 0.2) / 2, mini))  # BMW's ICE (2), then Mini's ICE (1)
    assert fit.pooled_residual("BMW", "ICE", make="Mini") == pytest.approx(mini_ice, abs=1e-6)
    assert fit.pooled_residual("BMW", "BEV", make="Mini") == pytest.approx(pool(1, -0.6, mini), abs=1e-6)  # no Mini BEV
    assert fit.pooled_residual("BMW", "PHEV", make="Mini") == pytest.approx(mini, abs=1e-6)  # no PHEV at all
    assert fit.pooled_residual("BMW", "PHEV") == pytest.approx(firm, abs=1e-6)  # a partner's dealers: the firm's line
    # the brand term is the reliability times the pooled mean (BMW has no firm effect)
    assert fit.brand_term("BMW", "ICE", make="Mini") == pytest.approx(BRAND_RELIABILITY * mini_ice, abs=1e-6)
    assert fit.brand_term("BMW", "PHEV") == pytest.approx(BRAND_RELIABILITY * firm, abs=1e-6)
    # k = 0: the finest level alone (the rule before partial pooling)
    assert shrunk_mean([(firm, 3), (0.4, 1), (0.3, 2), (0.4, 1)], shrinkage=0.0) == pytest.approx(0.4)


def test_reentry_maps_give_the_fit_and_brand_term_of_the_market_without_the_product():
    """The launch back-test's linear maps (``reentry_maps``) against a direct fit on the others and
    ``brand_term`` (with its pooling) for products of every brand situation."""
    table, xi, units = _market()
    rng = np.random.default_rng(3)
    xi = xi + rng.normal(0, 0.5, len(xi))  # residuals that are not zero
    table = table.assign(make=np.where(np.arange(len(table)) % 4 == 0, table["owner"] + " Luxe", table["owner"]))
    weights = annual_basis(table, xi, units)[1]  # the fit's weights, as launch.launch_gaps passes them
    for j in (0, 1, 5, 9, 12):
        h, b = reentry_maps(table, weights, j)
        keep = np.arange(len(table)) != j
        fit = Hedonic.fit(table[keep], xi[keep], units[keep])
        row = table.iloc[[j]]
        assert h @ xi == pytest.approx(fit.predict(row)[0], abs=1e-9)
        make, firm = str(row["make"].iloc[0]), str(row["owner"].iloc[0])
        expected = fit.brand_term(None if firm == "Rivian" else firm, str(row["powertrain"].iloc[0]), make=make)
        assert b @ xi == pytest.approx(expected, abs=1e-9), (j, make, firm)


def test_partial_year_products_enter_on_a_years_basis_and_stock_only_ones_are_left_out():
    from autopact.policy.hedonic import annual_basis, months_on_offer
    ids = pd.Series(["polestar--polestar-2--bev", "mini--cooper-se-cooper-e--bev", "audi--a6-e-tron--bev",
                     "toyota--rav4--ice"])
    table = read_bundled("products_2025.csv").set_index("product_id").loc[ids]
    frame = pd.DataFrame({"product_id": ids, "months_on_offer": table["months_on_offer_2025"].to_numpy()})
    months = months_on_offer(frame)
    np.testing.assert_array_equal(months, [3.0, 0.0, 3.0, 12.0])  # run_outs_2025.csv; backtest_launches.csv
    xi, weights = annual_basis(frame, np.zeros(4), np.ones(4))
    np.testing.assert_allclose(xi, [np.log(4.0), 0.0, np.log(4.0), 0.0])
    np.testing.assert_array_equal(weights, [1.0, 0.0, 1.0, 1.0])


def test_the_fit_recovers_the_squared_log_footprint_and_the_luxury_suv_terms():
    """A car 40% smaller than 100 sq ft gains b1 ln 0.6 + b2 (ln 0.6)^2, not the linear slope's
    b1 ln 0.6 alone, and a luxury SUV gains the interaction over a luxury car of the same size."""
    table, xi, units = _market()
    fit = Hedonic.fit(table, xi, units)
    np.testing.assert_allclose(fit.beta[[FOOTPRINT_SQUARED, LUXURY_SUV]], BETA[[FOOTPRINT_SQUARED, LUXURY_SUV]], atol=1e-9)
    car = table[table["segment"].eq("car") & table["luxury"]].iloc[[0]]
    small, hundred = car.assign(footprint_sqft=60.0), car.assign(footprint_sqft=100.0)
    step = np.log(0.6)
    assert fit.predict(small)[0] - fit.predict(hundred)[0] == pytest.approx(BETA[1] * step + BETA[FOOTPRINT_SQUARED] * step ** 2,
                                                                              abs=1e-9)
    suv = car.assign(segment="SUV-crossover")
    assert fit.predict(suv)[0] - fit.predict(car)[0] == pytest.approx(BETA[7] + BETA[LUXURY_SUV], abs=1e-9)
    assert fit.predict(suv.assign(luxury=False))[0] - fit.predict(car.assign(luxury=False))[0] == pytest.approx(BETA[7], abs=1e-9)



def test_the_brand_groups_and_means_equal_pandas_groupby_to_the_bit():
    """The fit groups its residuals by numpy (``hedonic._groups``, issue 13: pandas' groups as frames
    took most of its time): the same keys in the same order, the same rows, and each mean the same
    number as ``np.average`` of the pandas group, on the 2025 market's products and with a missing make."""
    from autopact.data import read_bundled
    from autopact.policy.hedonic import _groups

    table = read_bundled("products_2025.csv")
    rng = np.random.default_rng(3)
    for frame in (table, table.assign(make=table["make"].where(table.index % 7 != 3))):
        frame = frame.assign(r=rng.normal(size=len(frame)), w=rng.uniform(0, 3e5, len(frame))).reset_index(drop=True)
        for keys in (["parent_company"], ["make"], ["parent_company", "powertrain"], ["make", "powertrain"]):
            found = _groups(*(frame[k].to_numpy() for k in keys))
            expected = {(k[0] if len(keys) == 1 and isinstance(k, tuple) else k): g
                        for k, g in frame.groupby(keys if len(keys) > 1 else keys[0])}
            assert list(found) == list(expected)
            for key, rows in found.items():
                group = expected[key]
                assert np.array_equal(rows, group.index.to_numpy())
                assert np.average(frame["r"].to_numpy()[rows], weights=frame["w"].to_numpy()[rows]) \
                    == np.average(group["r"], weights=group["w"])


def test_harveys_estimator_recovers_the_power_of_units_in_the_residuals_variance():
    """Oracle: residuals drawn with Var(e_j) = 0.4 units_j^-0.8 around an exact linear xi; the
    iterated FGLS estimate of gamma lies within four of its standard errors of 0.8 (about 0.04 on
    2,400 products), and equal residual variances give gamma near 0."""
    from autopact.policy.hedonic import heteroskedasticity_power

    rng = np.random.default_rng(7)
    n = 2400
    table = pd.DataFrame({
        "product_id": [f"p{k}" for k in range(n)], "owner": "Ford", "make": "Ford",
        "powertrain": rng.choice(["ICE", "HEV", "BEV"], n), "segment": rng.choice(["car", "SUV-crossover", "pickup"], n),
        "luxury": rng.random(n) < 0.3, "footprint_sqft": rng.uniform(40, 120, n), "horsepower": rng.uniform(120, 500, n)})
    table["range_miles"] = np.where(table["powertrain"].eq("BEV"), rng.uniform(150, 420, n), np.nan)
    units = np.exp(rng.uniform(np.log(500), np.log(400_000), n))
    exact = 0.3 * np.log(table["horsepower"].to_numpy()) - 0.5 * table["luxury"].to_numpy()
    for gamma in (0.8, 0.0):
        noise = np.sqrt(0.4 * units ** -gamma / np.mean(units ** -gamma)) * rng.standard_normal(n)
        estimate, error = heteroskedasticity_power(table, exact + noise, units)
        assert 0.02 < error < 0.06
        assert abs(estimate - gamma) < 4 * error, (gamma, estimate, error)


def test_the_bundled_weights_are_the_power_the_2025_residuals_give():
    """``WEIGHT_POWER`` (the fit's weights units^power) lies within two standard errors of Harvey's
    iterated FGLS estimate on the calibrated 2025 market (0.50, standard error 0.085, Dec 2026), and
    the units weights used before (power 1) lie outside it."""
    from autopact.policy.hedonic import heteroskedasticity_power
    from autopact.policy.scenario import load_scenario
    from autopact.simulate import market_for

    market = market_for(load_scenario("baseline-2025"))
    estimate, error = heteroskedasticity_power(market.products, market.xi, market.data.units)
    assert abs(WEIGHT_POWER - estimate) < 2 * error
    assert abs(1.0 - estimate) > 4 * error


def _group_market(firms: int, per_firm: int, spread: float, noise: float, seed: int):
    """A market of ``firms`` one-make, one-powertrain firms (the first a young brand, which the estimator leaves out) of ``per_firm`` products with equal units,
    xi = a linear function of the design + a firm effect N(0, spread^2) + a product's N(0, noise^2)."""
    rng = np.random.default_rng(seed)
    n = firms * per_firm
    owner = np.repeat(["Rivian"] + [f"F{k}" for k in range(1, firms)], per_firm)  # a young brand: the fit needs one
    table = pd.DataFrame({"product_id": [f"p{k}" for k in range(n)], "owner": owner, "make": owner,
                          "powertrain": "ICE", "segment": rng.choice(["car", "SUV-crossover", "pickup"], n),
                          "luxury": rng.random(n) < 0.3, "footprint_sqft": rng.uniform(40, 120, n),
                          "horsepower": rng.uniform(120, 500, n), "range_miles": np.nan})
    exact = 0.3 * np.log(table["horsepower"].to_numpy()) - 0.5 * table["luxury"].to_numpy()
    effect = np.repeat(rng.normal(0.0, spread, firms), per_firm)
    return table, exact + effect + rng.normal(0.0, noise, n), np.full(n, 10_000.0)


def test_the_reliability_estimator_recovers_the_attenuation_of_a_noisy_brand_mean():
    """Oracle (Fuller 1987, 1.1): with firm effects of variance t^2 and product noise of variance s^2,
    the mean of a firm's m other products predicts a product's residual with slope t^2 / (t^2 + s^2 / m)
    (0.75 at t = s = 1, m = 3); with no firm effects the slope is 0; with no noise it is 1. The attenuation
    formula holds only approximately here (the hedonic fit on the others absorbs a little of the firm
    effects: 1.02-1.03 in the noiseless case over seeds 5-7, 0.84 at t = s = 1, seed 5), so each case is held
    within four standard errors (0.01 to 0.12 on 240 products)."""
    from autopact.policy.hedonic import brand_reliability

    for spread, noise, expected in ((1.0, 1.0, 0.75), (0.0, 1.0, 0.0), (1.0, 0.02, 1.0)):
        table, xi, units = _group_market(60, 4, spread, noise, seed=5)
        estimate, error = brand_reliability(table, xi, units)
        assert 0.0 < error < 0.15
        assert abs(estimate - expected) < 4 * error, (spread, noise, estimate, error)


def test_the_bundled_brand_reliability_is_the_slope_the_2025_nameplates_give():
    """``BRAND_RELIABILITY`` lies within two standard errors of the slope of each 2025 nameplate's residual
    on its leave-one-out brand mean (0.56, standard error 0.11, Dec 2026), and the whole mean used before
    (1) lies outside three."""
    from autopact.policy.hedonic import brand_reliability
    from autopact.policy.scenario import load_scenario
    from autopact.simulate import market_for

    market = market_for(load_scenario("baseline-2025"))
    rows = np.flatnonzero(market.data.products["row_type"].eq("model").to_numpy())
    estimate, error = brand_reliability(market.products.reset_index(drop=True), market.xi, market.data.units, rows)
    assert estimate == pytest.approx(0.5617, abs=0.005)  # the estimate itself: a data change that moves it shows
    assert abs(BRAND_RELIABILITY - estimate) < 2 * error
    assert abs(1.0 - estimate) > 3 * error


def test_the_assumptions_list_quotes_the_brand_reliability_in_force():
    """fit.market (below policy, so it cannot import the constant) quotes BRAND_RELIABILITY in the
    modelling choice every result lists; a new value must change the text too."""
    from autopact.policy.scenario import load_scenario
    from autopact.simulate import market_for

    notes = {n["name"]: n["value"] for n in market_for(load_scenario("baseline-2025")).notes}
    assert f"BRAND_RELIABILITY {BRAND_RELIABILITY}:" in notes["entrant_brand_term"]
