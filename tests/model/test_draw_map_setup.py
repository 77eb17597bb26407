"""Dask's preload hook of the compiled map (``draw_map.dask_setup``) loads numba's loops once: the
load itself evaluates every loop (``fused._compile``), so the hook evaluates no map of its own (it
warmed the map up a second time before)."""

import pytest

from autopact.model import draw_map, fused


def test_the_preload_hook_loads_the_loops_and_evaluates_no_map_beyond_theirs(monkeypatch):
    if fused.compiled_loops() is None:
        pytest.skip("numba not installed: the hook has nothing to load")
    evaluated = []
    evaluate = fused.FusedMarkets.evaluate
    monkeypatch.setattr(fused.FusedMarkets, "evaluate", lambda self, *a: evaluated.append(1) or evaluate(self, *a))
    loaded = []
    compiled_loops = fused.compiled_loops
    monkeypatch.setattr(fused, "compiled_loops", lambda: loaded.append(1) or compiled_loops())
    draw_map.dask_setup()
    assert loaded == [1] and evaluated == []  # loaded in this process already: nothing to evaluate
