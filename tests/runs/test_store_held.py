"""``Store.held``, the store of a run of about a second (issue 13): its writes are one transaction,
so the run is in the store whole or not at all."""

import pytest

from autopact.runs.store import Store


def record(point: int = 0) -> dict:
    return {"point": point, "draw": -1, "status": "ok", "inputs": {}, "baseline": {"units": 1.0},
            "counterfactual": {"units": 2.0}, "change": {"units": 1.0}, "solver": {"converged": True}}


def test_a_held_run_that_fails_while_writing_leaves_nothing(tmp_path):
    """On main the run's row was committed by ``start`` alone: a run killed between its writes was
    left 'running', with some of its rows."""
    path = tmp_path / "store.duckdb"
    with pytest.raises(RuntimeError, match="while writing"):
        with Store.held(path) as store:
            run_id = store.start("simulate", "s", "definition", {}, 0, 1)
            store.add(run_id, [record()])
            raise RuntimeError("stopped while writing")
    reader = Store(path, create=False)
    assert reader.runs() == [] and reader.status(run_id) is None


def test_a_held_run_is_stored_whole(tmp_path):
    path = tmp_path / "store.duckdb"
    with Store.held(path) as store:
        run_id = store.start("simulate", "s", "definition", {}, 0, 2)
        store.add(run_id, [record(0)])
        store.add(run_id, [record(1)])
        store.finish(run_id)
        assert store.status(run_id) == "complete" and len(store.records(run_id)) == 2  # its own writes, read back
    reader = Store(path, create=False)
    assert reader.status(run_id) == "complete" and [r["point"] for r in reader.records(run_id)] == [0, 1]
    with Store.held(path) as store:  # an existing store: a second run beside the first
        other = store.start("simulate", "s", "definition", {}, 0, 1)
        store.add(other, [record()])
        store.finish(other)
    assert {r["run_id"] for r in Store(path, create=False).runs()} == {run_id, other}


def test_a_held_store_leaves_its_transaction_committed_or_rolled_back_and_its_writes_on_their_own(tmp_path):
    """After ``held``'s block, stopped or not, the store is out of its transaction: a later ``add``
    on the same object commits on its own (the flag is cleared in one place, however the block ends)."""
    path = tmp_path / "store.duckdb"
    with pytest.raises(RuntimeError):
        with Store.held(path) as failed:
            assert failed._in_transaction
            raise RuntimeError("stopped")
    with Store.held(path) as store:
        run_id = store.start("simulate", "s", "definition", {}, 0, 2)
    for held in (failed, store):
        assert not held._in_transaction
    store.add(run_id, [record()])  # its own transaction, committed
    assert [r["point"] for r in Store(path, create=False).records(run_id)] == [0]


def test_dask_chunks_refuse_a_size_or_worker_count_below_one():
    """A negative chunk size looped for ever and no workers divided by zero (review finding)."""
    import pytest

    from autopact.runs.execution import chunks

    for workers, size in ((2, -1), (2, 0), (0, None)):
        with pytest.raises(ValueError, match="workers must be at least 1"):
            chunks(10, workers, size)
    assert [(p.start, p.stop) for p in chunks(5, 1, 2)] == [(0, 2), (2, 4), (4, 5)]
