import pytest

from autopact.data import load_market
from autopact.fit.calibration import calibrated_market
from autopact.fit.market import calibrated_model
from autopact.simulate import solve


@pytest.fixture(scope="session")
def market_2025():
    """The calibrated 2025 market (bundled calibration), loaded once for the policy oracles."""
    market = load_market(2025)
    return calibrated_model(market, calibrated_market(market))


@pytest.fixture(scope="session")
def baseline_2025(market_2025):
    """Its solved baseline (scenarios reuse it, as variants do)."""
    return solve(market_2025)
