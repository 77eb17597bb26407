"""The hedonic fit's BEV terms (entry back-test, issue 11): Tesla's brand is a firm effect that
belongs to the brand term, not to the BEV coefficient, and battery-electric pickups have their own
term. Checked on a small market whose mean utilities are an exact linear function of the design,
so OLS must recover every coefficient (an independent closed form: zero residuals)."""

import numpy as np
import pandas as pd
import pytest

from autopact.policy.hedonic import Hedonic

# intercept, log footprint, log hp, luxury, HEV, PHEV, BEV, SUV, pickup, van, BEV x pickup
BETA = np.array([-9.0, 0.8, 0.5, -0.3, 0.2, -0.4, -1.1, 0.6, 0.3, -0.7, -0.9])
TESLA = 1.7


def _market() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    rows = []
    owners = ["Ford", "GM", "Toyota", "Tesla", "Subaru", "Rivian"]
    for k in range(48):
        owner = owners[k % 6]
        powertrain = "BEV" if owner in ("Tesla", "Rivian") else ["ICE", "HEV", "PHEV", "BEV"][k % 4]
        rows.append({"product_id": f"p{k}", "make": owner, "owner": owner, "powertrain": powertrain,
                     "segment": ["car", "SUV-crossover", "pickup", "van"][(k // 6) % 4],
                     "luxury": bool(k % 3 == 0), "footprint_sqft": rng.uniform(40, 120),
                     "horsepower": rng.uniform(120, 500)})
    table = pd.DataFrame(rows)
    bev = table["powertrain"].eq("BEV")
    x = np.column_stack([np.ones(len(table)), np.log(table["footprint_sqft"]), np.log(table["horsepower"]),
                         table["luxury"].astype(float)]
                        + [table["powertrain"].eq(p).astype(float) for p in ("HEV", "PHEV", "BEV")]
                        + [table["segment"].eq(s).astype(float) for s in ("SUV-crossover", "pickup", "van")]
                        + [(bev & table["segment"].eq("pickup")).astype(float)])
    xi = x @ BETA + TESLA * table["owner"].eq("Tesla").to_numpy()
    return table, xi, rng.uniform(1_000, 300_000, len(table))


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
    table, xi, units = _market()
    fit = Hedonic.fit(table, xi, units)
    x = np.column_stack([np.ones(len(table)), np.log(table["footprint_sqft"]), np.log(table["horsepower"]),
                         table["luxury"].astype(float)]
                        + [table["powertrain"].eq(p).astype(float) for p in ("HEV", "PHEV", "BEV")]
                        + [table["segment"].eq(s).astype(float) for s in ("SUV-crossover", "pickup", "van")]
                        + [(table["powertrain"].eq("BEV") & table["segment"].eq("pickup")).astype(float)])
    pooled, *_ = np.linalg.lstsq(x * np.sqrt(units)[:, None], xi * np.sqrt(units), rcond=None)
    assert pooled[6] > BETA[6] + 0.3
    assert fit.beta[6] == pytest.approx(BETA[6], abs=1e-9)
