"""ford-geely-jv's JV plant (issue 13): the map contracts slowly near its shadow cost (an eigenvalue
of d zeta/dp of 0.997), so each secant trial there cost tens of evaluations and the leap search
after them hundreds more (455 evaluations of the map in all on main at 1a75d4b). Its first trial
under capacity now takes 41 (``shadow.SLOW_BRACKET``), and the search asks the leap search at once,
by Anderson acceleration: the same equilibrium (the golden file's) in 170.

On the 2025 data with the hybrid splits the first trial under capacity is no longer slow: the search
takes 250-251 evaluations with the early leap or without it (``SLOW_BRACKET`` out of reach), so this
test keeps a bound on the scenario's count (455 on the old search) and the early leap itself is
tested on a stand-in whose first bracket is slow (tests/model/test_constrained_search.py).

Since geely-1s its first trial under capacity lies far below it (excess -0.33, ``shadow.FAR_BRACKET``),
so the early leap is asked there too, and the first solve at zero shadow cost stops at a FOC residual
of 1e-4 (its plant 99% over capacity, ``constrained.DECIDED``) and the first trial under capacity at
1e-2 (``shadow.BRACKET_TOL``); the joint solve starts from the secant step between the two trials and
the check from above stops once it reaches the root's equilibrium (``leap.SAME_EQUILIBRIUM``): 89
evaluations in all (251 on main at 8be674d), the golden file's equilibrium. On the eighth session's
calibration (BEV transaction prices, the BEV taste by income) the same search takes 118 (the E5's
demand is more elastic near the plant's cap), so the bound is 130."""

import pytest

from autopact.policy.scenario import load_scenario
from autopact.simulate import simulate


def test_a_slow_first_bracket_asks_the_leap_search_at_once(monkeypatch):
    from autopact.model.zeta import FocKernel

    evaluations = []
    terms = FocKernel.terms

    def counted(self, *args, **kwargs):
        evaluations.append(1)
        return terms(self, *args, **kwargs)

    monkeypatch.setattr(FocKernel, "terms", counted)
    result = simulate(load_scenario("ford-geely-jv"))
    (plant,) = result.counterfactual.constraints
    assert plant["binding"] and not plant.get("jump")
    assert plant["units"] == pytest.approx(plant["capacity"], rel=1e-9)
    assert len(evaluations) < 130
