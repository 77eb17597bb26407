"""What a cost/policy draw spends outside its equilibrium solve (issue 13): the work that is the same
for every draw of a run is done once per run or process, and the draws' numbers stay the same to the
bit. Main listed the process's BLAS libraries for every job (``threadpool_limits``, 1.4 ms), built the
households' tastes over the scenario's products (an (I, J) product) and parsed the market's assembly
countries in every draw."""

import numpy as np
import pytest
from draw_jobs import cost_draw_jobs

from autopact.policy import levers
from autopact.policy.scenario import load_scenario
from autopact.runs.execution import evaluate_chunk, prepare
from autopact.simulate import market_for, simulate


@pytest.fixture(scope="module")
def run():
    """ford-byd-jv's market, its central result and two of its cost/policy draws (as jobs)."""
    scenario = load_scenario("ford-byd-jv")
    market = market_for(scenario)
    central = simulate(scenario, market)
    jobs = cost_draw_jobs(scenario, 2)
    return scenario, market, central, jobs


def test_a_process_lists_its_blas_libraries_once(monkeypatch):
    """``evaluate_chunk`` holds BLAS to one thread with one controller per process (main made one,
    listing every loaded library, for each chunk: each serial job)."""
    import threadpoolctl

    from autopact.runs import execution

    made, init = [0], threadpoolctl.ThreadpoolController.__init__

    def counted(self, *args, **kwargs):
        made[0] += 1
        init(self, *args, **kwargs)

    monkeypatch.setattr(threadpoolctl.ThreadpoolController, "__init__", counted)
    monkeypatch.setattr(execution, "_CONTROLLER", [])
    for _ in range(3):
        assert evaluate_chunk(None, []) == []
    assert made[0] == 1


def test_draws_share_the_demand_of_their_product_set(run):
    """Two draws that change costs, policy and mean utilities only keep the scenario's product set:
    their markets share one demand (its tastes made once), and a draw's record is the same to the bit
    as with a demand made afresh."""
    scenario, market, central, jobs = run
    drawn = [levers.apply(type(scenario).model_validate({k: v for k, v in job.scenario.items() if k != "uncertainty"}),
                           market) for job in jobs]
    assert drawn[0].demand is drawn[1].demand
    assert not np.array_equal(drawn[0].xi, drawn[1].xi)  # the draws differ where demand is not cached
    shared = prepare(market, 1000, 0, scenario.uncertainty.inputs, "linear", baseline=central.baseline)
    [reused] = evaluate_chunk(shared, jobs[1:])
    market.cache.pop(levers.DEMAND_KEY)
    [fresh] = evaluate_chunk(shared, jobs[1:])
    assert reused == fresh


def test_a_run_makes_its_own_demand_and_does_not_ship_it(run):
    """The demand kept by the central run (its tastes summed by BLAS on any number of threads) is not
    reused by the run's jobs, and Dask workers make their own: every draw's tastes come from a job,
    with BLAS on one thread, as on main, and the scattered ``Shared`` does not carry I x J arrays
    twice over."""
    import pickle

    scenario, market, central, jobs = run
    levers.apply(scenario, market)
    assert levers.DEMAND_KEY in market.cache
    shared = prepare(market, 1000, 0, scenario.uncertainty.inputs, "linear", baseline=central.baseline)
    assert levers.DEMAND_KEY not in shared.market.cache
    evaluate_chunk(shared, jobs[:1])  # its demand, with the tastes and base utilities it computed
    assert levers.DEMAND_KEY in market.cache
    blob = pickle.dumps(shared)  # as execute pickles Shared for Dask: the market leaves its demand out
    assert levers.DEMAND_KEY in market.cache  # and keeps it here
    assert levers.DEMAND_KEY not in pickle.loads(blob).market.cache
    kept = market.cache.pop(levers.DEMAND_KEY)
    assert len(blob) == len(pickle.dumps(shared))  # the same blob as without it
    market.cache[levers.DEMAND_KEY] = kept


def test_dask_chunks_shrink_towards_the_end_of_a_run():
    """Dask's tasks (``execution.chunks``): every job once, in order; at most 8 a chunk; single jobs
    at the end, so that no worker waits long for another's last chunk (main's chunks of 8 for 100
    draws on 2 workers left one worker idle for up to 8 draws while the other finished)."""
    from autopact.runs.execution import MAX_CHUNK, chunks

    for count, workers in ((100, 2), (7, 2), (1, 4), (1000, 16), (33, 3)):
        parts = chunks(count, workers)
        assert [j for part in parts for j in range(count)[part]] == list(range(count))
        sizes = [part.stop - part.start for part in parts]
        assert max(sizes) <= MAX_CHUNK and sizes[-1] == 1 and sizes == sorted(sizes, reverse=True)
    assert len(chunks(100, 2)) < 25  # not a task a job
    assert [p.stop - p.start for p in chunks(10, 2, size=4)] == [4, 4, 2]


def test_a_demand_is_not_reused_for_other_households(run):
    """The demand kept is one of the market's own calibration: a market whose demand was rebuilt
    (other incomes, a re-calibration) over the same products gets its own."""
    import dataclasses

    scenario, market, _, jobs = run
    first = levers.demand_for(market, levers.apply(scenario, market).products)
    calibration = dataclasses.replace(market.calibration, demand=dataclasses.replace(market.calibration.demand))
    other = dataclasses.replace(market, calibration=calibration)  # keeps the same cache dict
    again = levers.demand_for(other, levers.apply(scenario, market).products)
    assert again is not first and other.cache[levers.DEMAND_KEY][2] is again


def test_the_market_assembly_origins_are_parsed_once(run, monkeypatch):
    """The assembly shares of the market's own products depend on the market and
    ``unknown_assembly_import_share`` only: parsed for the first draw, read for the next (main parsed
    them in every draw), and a new value of the parameter parses them again."""
    scenario, market, _, jobs = run
    levers.apply(scenario, market)
    parsed, origin_weights = [], levers.origin_weights

    def counted(countries, home, share=0.0):
        parsed.append(len(countries))
        return origin_weights(countries, home, share)

    monkeypatch.setattr(levers, "origin_weights", counted)
    levers.apply(scenario, market)
    assert len(market.products) not in parsed
    other = scenario.model_copy(update={"parameters": {**scenario.parameters, "unknown_assembly_import_share": 0.5}})
    levers.apply(other, market)
    assert len(market.products) in parsed
