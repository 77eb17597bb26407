"""The bundled 2025 calibration against its targets, target by target (test audit, finding 1: the suite
only asked a fit to beat its start). Every fitted target must be met within 10%, or be one of the misses
listed here with the reason the README gives and the most it may miss by: a fit that moves further from
a target, or a miss that was mended and is still listed, fails, so the list stays what the README says.

The achieved statistics are the bundled record's, which ``test_calibration.py``
(``test_bundled_calibration_matches_the_bundled_market_and_is_reused``) recomputes from the parameters
on the fit's households.
"""

import json

import pytest

from autopact.data import bundled_path
from autopact.fit.calibration import load_targets

MET = 0.10  # a target is met within this relative gap (issue 11, item 2)

# target -> (largest relative gap accepted, why it is missed: README "Known limits of the 2025 calibration")
ACCEPTED_MISSES = {
    "own_elasticity_nissan_sentra": (0.31, "price sensitivity from income alone cannot give BLP's 1990 contrast "
                                           "between the Sentra and the LS400 on 2025's incomes and prices"),
    "own_elasticity_lexus_ls": (0.19, "the other side of the same contrast"),
    "aggregate_elasticity": (0.40, "conflicts with the model-level elasticities: meeting it takes alpha off its "
                                   "bound and the Sentra's elasticity below the LS's (README, 'Other forms of "
                                   "price sensitivity')"),
    "bev_second_choice_ice": (0.17, "Xing, Leard and Li's 2010-2014 buyers, few BEVs on sale; a BEV nest that meets "
                                    "it misses the low-income BEV demand (docs/backtests.md, 'Cheap entrants')"),
    "bev_aggregate_elasticity": (0.34, "Muehlegger and Rapson's low- and middle-income buyers at half weight; the "
                                       "1/income form makes the poorest households the most elastic"),
    "bev_buyers_income_below_100k": (0.20, "S&P's two free brackets against one BEV taste by income"),
}
AT_BOUNDS = {"alpha", "rho"}  # README: price sensitivity from income alone, no segment nesting


@pytest.fixture(scope="module")
def record():
    return json.loads(bundled_path("calibration_2025.json").read_text())


def gaps(record) -> dict[str, float]:
    targets = load_targets()
    fitted = targets[targets["weight"] > 0]
    return {row.name: abs(record["achieved"][row.name] - row.value) / abs(row.value) for row in fitted.itertuples()}


def test_every_fitted_target_is_met_or_is_a_listed_miss_no_larger_than_accepted(record):
    found = gaps(record)
    assert set(ACCEPTED_MISSES) <= set(found)
    for name, gap in found.items():
        if name in ACCEPTED_MISSES:
            most, _ = ACCEPTED_MISSES[name]
            assert MET < gap <= most, f"{name}: relative gap {gap:.3f}; listed as a miss of at most {most}"
        else:
            assert gap <= MET, f"{name}: relative gap {gap:.3f} is above {MET} and not a listed miss"


def test_the_parameters_at_their_bounds_are_the_ones_the_readme_names(record):
    from autopact.fit.calibration import bound_side

    at_bounds = {name for name, value in record["parameters"].items() if bound_side(name, value, "income") is not None}
    assert at_bounds == AT_BOUNDS


def test_the_listed_misses_are_the_ones_the_readme_names():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    limits = readme[readme.index("**Known limits of the 2025 calibration**"):readme.index("**Households: enough to fit on")]
    limits = " ".join(limits.split())
    for words in ("the Sentra's elasticity", "the aggregate elasticity", "the BEV-to-ICE", "the BEV aggregate elasticity",
                  "the LS", "the BEV buyers under $100k"):
        assert words in limits, words
