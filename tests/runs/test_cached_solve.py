"""A scenario's central equilibrium kept in the disk cache (``autopact.simulate.solved``): its key
(``solve_key``) follows every input ``solve`` reads and nothing else decides the equilibrium, so an
entry is never read for another market; an entry gives the State ``solve`` returns, to the bit; a
market calibrated afresh and the same market read back from the cache share their entries."""

import dataclasses
import pickle

import numpy as np
import pandas as pd
import pytest

from autopact import simulate as pipeline
from autopact.data import cache
from autopact.policy.levers import apply
from autopact.policy.scenario import load_scenario


@pytest.fixture(scope="module")
def capacity_market():
    """ford-byd-jv's market under the scenario: a JV plant whose capacity binds (the shadow-cost search)."""
    scenario = load_scenario("ford-byd-jv")
    return apply(scenario, pipeline.market_for(scenario))


@pytest.fixture(scope="module")
def quota_market():
    """canada-style-quota's market under the scenario: a tariff-rate quota (its regimes read the money)."""
    scenario = load_scenario("canada-style-quota")
    return apply(scenario, pipeline.market_for(scenario))


def nudged(number):
    """The next number up: the smallest change there is (an integer: one more)."""
    return number + 1 if isinstance(number, (int, np.integer)) else np.nextafter(number, np.inf)


def changed(value):
    """``value`` with one number (or entry) changed as little as it can be, of the same type."""
    if isinstance(value, pd.DataFrame):
        value = value.copy()
        column = next(c for c in value.columns if pd.api.types.is_float_dtype(value[c]))
        value.loc[value.index[0], column] = nudged(value[column].iloc[0])
        return value
    if isinstance(value, np.ndarray):
        value = value.copy()
        value.flat[0] = nudged(value.flat[0])
        return value
    if isinstance(value, float):
        return float(nudged(value))
    if isinstance(value, dict):
        return {**value, "changed": 1}
    if isinstance(value, tuple):
        return value[:-1] if value else ("changed",)
    if dataclasses.is_dataclass(value):  # Demand, Taxes: their first array or number
        field = next(f.name for f in dataclasses.fields(value)
                     if isinstance(getattr(value, f.name), (np.ndarray, float)))
        return dataclasses.replace(value, **{field: changed(getattr(value, field))})
    raise TypeError(f"no change made for {type(value)}")


@pytest.mark.parametrize("name", pipeline.SOLVE_INPUTS)
def test_the_key_changes_with_each_input_solve_reads(capacity_market, name):
    before = pipeline.solve_key(capacity_market)
    value = getattr(capacity_market, name)
    if value is None:  # a kappa or a start the market has not: any value is a change
        value = np.ones(len(capacity_market.products))
    other = dataclasses.replace(capacity_market, **{name: changed(value)})
    assert pipeline.solve_key(other)["inputs"] != before["inputs"]
    assert pipeline.solve_key(capacity_market) == before  # the key is the inputs', made again


def test_the_key_ignores_what_solve_does_not_read(capacity_market):
    other = dataclasses.replace(capacity_market, document={"label": "another"}, notes=[], calibration=None, data=None)
    assert pipeline.solve_key(other) == pipeline.solve_key(capacity_market)


class Watched:
    """A market whose fields are read through ``__getattr__``, which records their names."""

    def __init__(self, market):
        self._market, self.read = market, set()

    def __getattr__(self, name):
        self.read.add(name)
        return getattr(self._market, name)


@pytest.mark.parametrize("which", ["capacity_market", "quota_market"])
def test_solve_reads_no_field_outside_the_key(request, which):
    market = Watched(request.getfixturevalue(which))
    pipeline.solve(market)
    assert market.read <= set(pipeline.SOLVE_INPUTS), sorted(market.read - set(pipeline.SOLVE_INPUTS))
    assert {"products", "demand", "capacities" if which == "capacity_market" else "money"} <= market.read


def test_a_fresh_market_and_one_read_back_share_a_key(capacity_market):
    read_back = pickle.loads(pickle.dumps(capacity_market, protocol=pickle.HIGHEST_PROTOCOL))
    assert pipeline.solve_key(read_back) == pipeline.solve_key(capacity_market)


def test_a_solved_state_read_back_is_the_solved_one_to_the_bit(capacity_market, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOPACT_CACHE", str(tmp_path / "cache"))
    solves = []
    solve = pipeline.solve
    monkeypatch.setattr(pipeline, "solve", lambda market, *rest: solves.append(1) or solve(market, *rest))
    first = pipeline.solved(capacity_market)
    second = pipeline.solved(capacity_market)
    assert len(solves) == 1 and second is not first
    pd.testing.assert_frame_equal(second.products, first.products, check_exact=True)
    assert np.array_equal(second.consumer_surplus, first.consumer_surplus)
    assert second.solver == first.solver and second.constraints == first.constraints
    assert len(list((tmp_path / "cache").glob("solved-state-*.pickle"))) == 1
    pipeline.solved(dataclasses.replace(capacity_market, xi=changed(capacity_market.xi)))
    assert len(solves) == 2  # another market: solved, not read


def test_a_market_that_cannot_be_keyed_is_solved(capacity_market, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOPACT_CACHE", str(tmp_path / "cache"))
    cyclic = []
    cyclic.append(cyclic)  # pickled without a memo, a cycle raises ValueError
    market = dataclasses.replace(capacity_market, money={**capacity_market.money, "cycle": cyclic})
    state = pipeline.solved(market)
    assert state.solver["converged"] and not list((tmp_path / "cache").glob("solved-state-*"))


def test_draws_and_plain_simulations_do_not_use_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOPACT_CACHE", str(tmp_path / "cache"))
    scenario = load_scenario("ford-byd-jv")
    market = pipeline.market_for(scenario)
    pipeline.simulate(scenario, market, baseline=pipeline.solved_baseline(market))
    assert not list((tmp_path / "cache").glob("solved-state-*"))
    assert cache.stored("solved-state", pipeline.solve_key(apply(scenario, market))) is False


def test_the_keys_change_with_the_blas_threads(capacity_market):
    """A solve on another number of BLAS threads rounds otherwise, so its entries are others."""
    from threadpoolctl import threadpool_limits

    scenario = load_scenario("ford-byd-jv")
    before, market_before = pipeline.solve_key(capacity_market), pipeline._market_key(scenario, 1000, 0)
    if all(threads == "1" for *_, threads in before["blas"]):
        pytest.skip("the BLAS runs on one thread here already")
    with threadpool_limits(limits=1, user_api="blas"):
        assert pipeline.solve_key(capacity_market)["blas"] != before["blas"]
        assert pipeline._market_key(scenario, 1000, 0) != market_before
    assert pipeline.solve_key(capacity_market) == before
