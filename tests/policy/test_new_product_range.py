"""A new BEV's range for the hedonic fit (``policy.new_products.new_product_range``): the announced
one, else its comparable product's where that is a BEV with a known range, else unknown (NaN, which
the fit takes at the market's mean BEV range)."""

import math

import pandas as pd

from autopact.policy.new_products import new_product_range
from autopact.policy.scenario import NewProduct


def _product(**extra) -> NewProduct:
    return NewProduct(name="Test EV", firm="Ford Motor Co.", segment="pickup", powertrain="BEV", like="x",
                      announced_price_usd=30_000, price_source="test", **extra)


def test_the_announced_range_comes_first():
    like = pd.Series({"powertrain": "BEV", "range_miles": 320.0})
    assert new_product_range(_product(range_miles=250.0), like) == 250.0


def test_a_bev_comparable_lends_its_range_and_an_ice_one_none():
    assert new_product_range(_product(), pd.Series({"powertrain": "BEV", "range_miles": 320.0})) == 320.0
    assert math.isnan(new_product_range(_product(), pd.Series({"powertrain": "ICE", "range_miles": float("nan")})))
    assert math.isnan(new_product_range(_product(), pd.Series({"powertrain": "BEV", "range_miles": float("nan")})))


def test_a_range_out_of_bounds_is_refused_naming_the_field():
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="range_miles"):
        _product(range_miles=-5.0)
