"""The points of a sweep (audit U12): a Latin-hypercube sample puts exactly one point in each of the n
equal strata of every range, the same seed gives the same points and another seed others; a grid is
crossed with the sample; the ``variant`` lever takes a variant's fields, and an unknown one is refused
with its name."""

import numpy as np
import pytest

from autopact.errors import ScenarioError
from autopact.policy.scenario import load_scenario, parse_scenario
from autopact.runs.sweeps import Sweep, points

RANGES = {"parameters.section_301_china_ev_pct": (0.0, 150.0), "parameters.shipping_usd_per_vehicle": (1000.0, 1600.0)}


def _sample(n, seed, grid=None):
    return Sweep.model_validate({"name": "lhs", "scenario": "chinese-imports-mfn", "grid": grid or {},
                                 "sample": {"points": n, "seed": seed, "ranges": RANGES}})


def _values(sweep):
    return np.array([[lever_values[k] for k in RANGES] for lever_values, _ in points(sweep, load_scenario("chinese-imports-mfn"))])


def test_a_latin_hypercube_sample_has_one_point_in_each_stratum_of_every_range_and_is_seeded():
    n = 7
    values = _values(_sample(n, 3))
    assert values.shape == (n, 2)
    for column, (low, high) in zip(values.T, RANGES.values()):
        strata = np.floor((column - low) / (high - low) * n).astype(int)
        assert sorted(strata) == list(range(n))  # one point per stratum
    np.testing.assert_array_equal(values, _values(_sample(n, 3)))
    assert not np.allclose(values, _values(_sample(n, 4)))


def test_each_point_is_the_scenario_with_its_lever_values_and_a_grid_crosses_the_sample():
    sweep = _sample(3, 1, grid={"parameters.ieepa_china_pct": [10, 20]})
    found = points(sweep, load_scenario("chinese-imports-mfn"))
    assert len(found) == 6
    for lever_values, scenario in found:
        assert scenario.parameters["section_301_china_ev_pct"] == lever_values["parameters.section_301_china_ev_pct"]
        assert scenario.parameters["shipping_usd_per_vehicle"] == lever_values["parameters.shipping_usd_per_vehicle"]
        assert scenario.parameters["ieepa_china_pct"] == lever_values["parameters.ieepa_china_pct"]
    assert sorted(v["parameters.ieepa_china_pct"] for v, _ in found) == [10, 10, 10, 20, 20, 20]


def test_the_variant_lever_takes_the_variants_fields_and_an_unknown_variant_is_named():
    base = load_scenario("partner-comparison")
    label = next(iter(base.variants))
    sweep = Sweep.model_validate({"name": "v", "scenario": "partner-comparison", "grid": {"variant": [label]}})
    [(lever_values, scenario)] = points(sweep, base)
    expected = parse_scenario(base.model_dump(mode="json", exclude={"variants"}) | base.variants[label], "test")
    for field in base.variants[label]:  # the variant's own fields, with their defaults filled as parsing does
        assert scenario.model_dump(mode="json")[field] == expected.model_dump(mode="json")[field], field
    bad = Sweep.model_validate({"name": "v", "scenario": "partner-comparison", "grid": {"variant": ["no-such-partner"]}})
    with pytest.raises(ScenarioError, match="unknown variant 'no-such-partner'"):
        points(bad, base)
