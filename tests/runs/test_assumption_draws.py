"""Uncertain market assumptions (``assumption:`` inputs) end to end (audit U15): each draw reloads the
market under the drawn assumption and re-calibrates it (``runs.execution._recalibrated``) before solving.

What is exact here, and why. The potential market M (``market_size_households``) maps units to the shares
demand is calibrated on, s_j = q_j / M. A draw of M re-inverts the mean utilities to the new shares and
recovers marginal costs from the first-order conditions at the data prices, so its *baseline* reproduces
the data whatever M is: every product's units are the data's units (M s_j = q_j) and its prices the
data's prices. So the baseline's units and prices are the same in every draw (not scaled by the ratio
of the drawn values, as the audit row guessed: it is the shares that scale, s_j' / s_j = M / M', and the
outside good takes up the difference). The scenario's *counterfactual* does depend on M (a larger outside
share changes where buyers substitute and the recovered costs), so it is checked against an independent
run: the market loaded by hand with the assumption set to the drawn value, calibrated with the central
parameters held, and simulated plainly. With no calibration target drawn, the default first-order
re-calibration (``fit.recalibration.linear_recalibration``) moves the parameters by
(d theta / d target) x 0 = 0: the draw's parameters are the central ones, and the response matrix is
never used. (So the oracle holds the central parameters too. A plain ``simulate`` of a scenario with
``assumptions: {market_size_households: v}`` re-fits them from scratch instead, minutes of work: at
v = 1.2 M0 it gave -98,365 units for this tariff against the draw's -102,014 and the central -91,341;
``--recalibrate exact`` re-fits each draw.) ``market_total_units`` only bounds the data's units (validation, coverage): drawing it above
the data's total must change no number.

With no target drawn, ``runs.execution.prepare`` forms no response matrix (20 s on an idle 2-core
machine, minutes under load): the draws would multiply it by a zero move. ``_no_response`` makes forming
one an error here, so every draw below also checks that.
"""

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from autopact.data import bundled_path, load_market
from autopact.data.assumptions import defaults
from autopact.fit.calibration import calibrate
from autopact.fit.market import calibrated_model
from autopact.policy.scenario import parse_scenario
from autopact.runs import execution
from autopact.runs.analyses import RunOptions, simulate_with_draws
from autopact.runs.store import Store
from autopact.runs.uncertainty import flatten
from autopact.simulate import market_for, simulate

SEED = 7
TARIFF = [{"name": "japan-10", "origin": ["Japan"], "ad_valorem_pct": 10}]
HOUSEHOLDS = int(defaults()["market_size_households"].value)  # 132,737,146 (ACS 2024)
LOW, HIGH = 0.8 * HOUSEHOLDS, 1.25 * HOUSEHOLDS


def _csv() -> pd.DataFrame:
    """The bundled products read directly (not through the package's loader)."""
    return pd.read_csv(bundled_path("products_2025.csv"))


def _no_response(cal, *args, **kwargs):
    raise AssertionError("the parameter-response matrix was formed for draws of market assumptions alone")


def _scenario(inputs: list[dict] | None = None):
    definition = {"name": "u15", "extra_tariffs": TARIFF}
    if inputs:
        definition["uncertainty"] = {"seed": SEED, "inputs": inputs}
    return parse_scenario(definition, "u15.yaml")


def _run(scenario, store: Path, draws: int, monkeypatch) -> tuple[dict, list[dict]]:
    monkeypatch.setattr(execution, "stored_parameter_response", _no_response)
    options = RunOptions(store=store, serial=True)
    document = simulate_with_draws(scenario, draws, None, options, Console(file=io.StringIO()))[0]
    return document, Store(store).records(document["run_id"])


def _same(found: dict, expected: dict, rel: float = 1e-9, abs_: float = 1e-6, what: str = "") -> None:
    """Every numeric leaf of ``expected`` in ``found``, to ``rel`` (``abs_`` near zero)."""
    a, b = flatten(found), flatten(expected)
    assert a.keys() == b.keys(), what
    for path, value in b.items():
        if value is None:
            assert a[path] is None, (what, path)
        else:
            assert a[path] == pytest.approx(value, rel=rel, abs=abs_), (what, path)


@pytest.fixture(scope="module")
def households_run(tmp_path_factory):
    """Central run and two draws of market_size_households, uniform on [0.8 M0, 1.25 M0]."""
    monkeypatch = pytest.MonkeyPatch()
    try:
        scenario = _scenario([{"assumption": "market_size_households", "distribution": "uniform", "low": LOW,
                               "high": HIGH, "source": "test: -20% to +25% of the Census households"}])
        return _run(scenario, tmp_path_factory.mktemp("u15") / "s.duckdb", 2, monkeypatch)
    finally:
        monkeypatch.undo()


def test_each_draw_of_the_market_size_is_the_documented_value_and_recalibrates(households_run):
    document, records = households_run
    central = [r for r in records if r["draw"] == -1]
    drawn = [r for r in records if r["draw"] >= 0]
    assert len(central) == 1 and len(drawn) == 2 and all(r["status"] == "ok" for r in drawn)
    assert document["uncertainty"]["failed"] == 0
    for r in drawn:  # draw k of seed s: u = default_rng([s, k]).random(1), value = low + u (high - low)
        u = np.random.default_rng([SEED, r["draw"]]).random(1)[0]
        assert r["inputs"] == {"assumption:market_size_households": pytest.approx(LOW + u * (HIGH - LOW), rel=1e-14)}
        assert "calibration" in r  # the market was rebuilt and re-calibrated for this draw
        assert r["solver"]["converged"]
    values = [r["inputs"]["assumption:market_size_households"] for r in drawn]
    assert abs(values[0] - values[1]) > 0.01 * HOUSEHOLDS  # two distinct markets
    # no target was drawn: the first-order re-calibration (the default, "linear") keeps the central
    # parameters; only the mean utilities and costs are re-derived on the reloaded market
    bundled = market_for(_scenario()).calibration.parameters
    for r in drawn:
        assert r["calibration"] == pytest.approx(bundled, rel=1e-15)


def test_a_draw_of_the_market_size_keeps_the_baseline_on_the_data(households_run):
    """Baseline units are the data's units and baseline prices the data's, in every draw: the market
    size only maps shares to units, and the draw's shares are the data's units over its own M."""
    _, records = households_run
    csv = _csv()
    by_segment = csv.groupby("segment")["units"].sum()
    central = next(r for r in records if r["draw"] == -1)["baseline"]
    for r in records:
        base = r["baseline"]
        assert base["total_units"] == pytest.approx(float(csv["units"].sum()), rel=1e-9)
        for segment, units in by_segment.items():
            assert base["units_by_segment"][segment] == pytest.approx(float(units), rel=1e-9), segment
        for key in ("average_price_usd", "bev_share", "hhi", "gm_share", "ford_share"):
            assert base[key] == pytest.approx(central[key], rel=1e-9), (r["draw"], key)
        _same(base["units_by_nationality"], central["units_by_nationality"], what="units_by_nationality")
        _same(base["average_price_by_segment_usd"], central["average_price_by_segment_usd"], what="prices")


def test_a_draw_of_the_market_size_equals_a_plain_run_at_the_drawn_value(households_run):
    """The oracle: the market loaded with ``assumptions={"market_size_households": round(value)}``, its
    shares checked against the CSV over that M, calibrated with the central parameters held, and the
    scenario simulated plainly (cold start, no draw machinery). The draw must give the same baseline,
    counterfactual and change; and the draws must differ from each other and from the central run
    (the market size moves the counterfactual)."""
    _, records = households_run
    csv = _csv().set_index("product_id")
    central_market = market_for(_scenario())
    theta, form = central_market.calibration.parameters, central_market.calibration.form
    central = next(r for r in records if r["draw"] == -1)
    plain = _scenario()
    changes = []
    for r in (r for r in records if r["draw"] >= 0):
        size = round(r["inputs"]["assumption:market_size_households"])
        data = load_market(2025, assumptions={"market_size_households": size})
        assert data.market_size == size
        units = csv.loc[data.products["product_id"], "units"].to_numpy(float)
        np.testing.assert_allclose(data.shares, units / size, rtol=1e-15)
        market = calibrated_model(data, calibrate(data, fixed=theta, draws=1000, seed=0, form=form))
        result = simulate(plain, market)
        # the oracle's baseline reproduces the data product by product
        base = result.baseline.products.set_index("product_id")
        np.testing.assert_allclose(base["units"].to_numpy(float), units, rtol=1e-9)
        np.testing.assert_allclose(base["price"].to_numpy(float), data.prices, rtol=1e-9)
        expected = result.outcome()
        for part in ("baseline", "counterfactual"):
            _same(r[part], expected[part], what=f"draw {r['draw']} {part}")
        assert r["change"]["total_units"] == pytest.approx(expected["change"]["total_units"], rel=1e-6)
        changes.append(r["change"]["total_units"])
    # the market size truly changes the scenario's answer (tariff on Japan-built: fewer units sold)
    assert all(c < 0 for c in changes)
    spread = [abs(c - central["change"]["total_units"]) / abs(central["change"]["total_units"]) for c in changes]
    assert min(spread) > 1e-4 and abs(changes[0] - changes[1]) / abs(changes[0]) > 1e-4, (changes, central["change"])


def test_a_draw_of_the_market_total_changes_nothing(tmp_path, monkeypatch):
    """``market_total_units`` only bounds the data's units (validation, coverage): two draws above the
    data's total (16,047,501 units; default 16,213,903) reload and re-calibrate the market and must
    reproduce the central run's every number."""
    total = float(_csv()["units"].sum())
    scenario = _scenario([{"assumption": "market_total_units", "distribution": "uniform", "low": total + 1,
                           "high": 1.05 * total, "source": "test: anything above the data's own units"}])
    _, records = _run(scenario, tmp_path / "t.duckdb", 2, monkeypatch)
    central = next(r for r in records if r["draw"] == -1)
    drawn = [r for r in records if r["draw"] >= 0]
    assert len(drawn) == 2 and all(r["status"] == "ok" and "calibration" in r for r in drawn)
    assert len({r["inputs"]["assumption:market_total_units"] for r in drawn}) == 2
    for r in drawn:
        for part in ("baseline", "counterfactual"):
            _same(r[part], central[part], what=f"draw {r['draw']} {part}")


def test_a_draw_below_the_datas_units_fails_alone_and_says_why(tmp_path, monkeypatch):
    """A drawn market total below the data's own units is a failed draw (stored, counted, its error naming
    the drawn assumption), not an aborted run; the central record is solved."""
    total = float(_csv()["units"].sum())
    scenario = _scenario([{"assumption": "market_total_units", "distribution": "uniform", "low": 0.9 * total,
                           "high": 0.95 * total, "source": "test: below the data's own units"}])
    document, records = _run(scenario, tmp_path / "f.duckdb", 2, monkeypatch)
    drawn = [r for r in records if r["draw"] >= 0]
    assert len(drawn) == 2 and all(r["status"] == "failed" for r in drawn)
    assert all("market_total_units" in r["error"] for r in drawn), [r["error"] for r in drawn]
    assert [r.get("status", "ok") for r in records if r["draw"] < 0] == ["ok"]
    assert document["uncertainty"]["failed"] == 2


def test_a_job_that_draws_targets_without_a_response_matrix_stops_the_run():
    """The guard behind the zero response of assumption-only draws: a job drawing a target where the run
    formed no response matrix (a variant drawing its own targets, were its inputs not collected) raises
    instead of keeping the central parameters in silence."""
    from autopact.runs.execution import Job, _recalibrated, prepare
    from autopact.policy.uncertain_inputs import UncertainInput

    market = market_for(_scenario())
    assumption = UncertainInput.model_validate({"assumption": "market_size_households", "distribution": "uniform",
                                                "low": LOW, "high": HIGH, "source": "test"})
    shared = prepare(market, 1000, 0, [assumption])
    assert shared.response is not None and len(shared.response[0]) == 0
    job = Job(0, 0, _scenario().model_dump(mode="json"), {"own_elasticity_nissan_sentra": -6.0}, {}, {})
    with pytest.raises(RuntimeError, match="no response matrix"):
        _recalibrated(shared, job, _scenario())
