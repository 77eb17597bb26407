"""The secant shadow-cost search of ``solve_constrained`` (issue 13): the same constrained equilibrium
as a bracketing root-finder on q_G(lambda) = K_G, in fewer equilibrium solves than the brentq search
(15 solves for one binding plant, 168 for a plant and a quota, on these markets), and brentq's
result where the units jump across the capacity."""

import numpy as np
import pytest
from scipy.optimize import brentq

from autopact.model.constrained import CapacityConstraint, solve_constrained
from autopact.model.supply import Taxes, ownership_matrix, solve_prices
from synthetic import synthetic_demand

OWNERS = np.array([0, 0, 1, 1, 2, 2, 3, 3, 0, 1])


def market():
    demand, xi, prices = synthetic_demand(products=10, rho=0.3)
    omega, costs = ownership_matrix(OWNERS), 0.7 * prices
    return demand, xi, omega, costs, solve_prices(costs, xi, demand, omega, Taxes.none(10))


def test_one_binding_plant_matches_a_root_finder_in_fewer_solves():
    demand, xi, omega, costs, free = market()
    size, plant = 1e6, np.array([2, 3])
    capacity = 0.8 * size * free.shares[plant].sum()
    result = solve_constrained(costs, xi, demand, omega, Taxes.none(10),
                               [CapacityConstraint("plant", plant, capacity)], size, search="secant")

    def excess(lam: float) -> float:
        shifted = costs.copy()
        shifted[plant] += lam
        return size * solve_prices(shifted, xi, demand, omega, Taxes.none(10)).shares[plant].sum() / capacity - 1

    oracle = brentq(excess, 0.0, 100.0, xtol=1e-12, rtol=1e-14)
    assert result.shadow_costs["plant"] == pytest.approx(oracle, rel=1e-9)
    assert result.units["plant"] == pytest.approx(capacity, rel=1e-10)
    assert result.solves <= 9


def test_a_plant_and_a_quota_in_fewer_solves():
    demand, xi, omega, costs, free = market()
    size, plant, imports = 1e6, np.array([2, 3]), np.array([4, 5, 6])
    constraints = [CapacityConstraint("plant", plant, 0.8 * size * free.shares[plant].sum()),
                   CapacityConstraint("quota", imports, 0.9 * size * free.shares[imports].sum())]
    result = solve_constrained(costs, xi, demand, omega, Taxes.none(10), constraints, size, search="secant")
    assert result.binding == {"plant": True, "quota": True}
    for c in constraints:
        assert result.units[c.name] == pytest.approx(c.capacity, rel=1e-9)
    assert result.solves <= 80



def test_a_jump_across_the_capacity_hands_over_to_brentq(monkeypatch):
    """Where the search stops without meeting the capacity (as at a jump between equilibria), the
    secant search gives way to brentq's, whose result it then reports."""
    import autopact.model.shadow as shadow

    demand, xi, omega, costs, free = market()
    size, plant = 1e6, np.array([2, 3])
    plants = [CapacityConstraint("plant", plant, 0.8 * size * free.shares[plant].sum())]
    brent = solve_constrained(costs, xi, demand, omega, Taxes.none(10), plants, size)
    monkeypatch.setattr(shadow, "JUMP", -1.0)  # every stop counts as a jump
    handed = solve_constrained(costs, xi, demand, omega, Taxes.none(10), plants, size, search="secant")
    assert handed.shadow_costs == brent.shadow_costs
    assert np.array_equal(handed.equilibrium.prices, brent.equilibrium.prices)


def test_newton_gmres_finds_the_equilibrium_and_the_shadow_cost_of_the_other_solvers():
    """``leap.solve_by_krylov`` (prices) and ``leap.solve_jointly`` (prices and one shadow cost),
    the solvers of a leap between equilibria, meet the same stopping rule as ``solve_prices`` and land
    on the same equilibrium and root as SQUAREM and the secant search."""
    from autopact.model.leap import solve_by_krylov, solve_jointly
    from autopact.model.zeta import FocKernel

    demand, xi, omega, costs, free = market()
    kernel, taxes = FocKernel(xi, demand, omega), Taxes.none(10)
    limit = 1.0 / float(demand.weights @ demand.price_sensitivity)
    prices, evaluations = solve_by_krylov(costs, kernel, taxes, limit, costs, 1e-12)
    assert np.max(np.abs(prices / free.prices - 1)) < 1e-10 and evaluations < 200
    size, plant = 1e6, np.array([2, 3])
    capacity = 0.8 * size * free.shares[plant].sum()
    searched = solve_constrained(costs, xi, demand, omega, taxes, [CapacityConstraint("plant", plant, capacity)], size,
                                 search="secant")
    shadow_cost, joint = solve_jointly(costs, kernel, taxes, limit, CapacityConstraint("plant", plant, capacity), size,
                                       free.prices, 0.0, 1.0, 1e-12)
    assert shadow_cost == pytest.approx(searched.shadow_costs["plant"], rel=1e-9)
    assert np.max(np.abs(joint / searched.equilibrium.prices - 1)) < 1e-10



def test_anderson_finds_the_equilibrium_and_the_shadow_cost_of_newton_gmres():
    """``method="anderson"`` of ``leap.solve_by_krylov`` and ``leap.solve_jointly`` (the early
    leap's solvers, ``shadow.SLOW_BRACKET``) meets the same stopping rule and lands on the equilibrium
    and root that Newton-GMRES and the secant search find."""
    from autopact.model.leap import solve_by_krylov, solve_jointly
    from autopact.model.zeta import FocKernel

    demand, xi, omega, costs, free = market()
    kernel, taxes = FocKernel(xi, demand, omega), Taxes.none(10)
    limit = 1.0 / float(demand.weights @ demand.price_sensitivity)
    prices, evaluations = solve_by_krylov(costs, kernel, taxes, limit, costs, 1e-12, method="anderson")
    assert np.max(np.abs(prices / free.prices - 1)) < 1e-10 and evaluations < 150
    size, plant = 1e6, np.array([2, 3])
    capacity = 0.8 * size * free.shares[plant].sum()
    searched = solve_constrained(costs, xi, demand, omega, taxes, [CapacityConstraint("plant", plant, capacity)], size,
                                 search="secant")
    markup = float(np.mean(free.prices[plant] - costs[plant]))
    shadow_cost, joint = solve_jointly(costs, kernel, taxes, limit, CapacityConstraint("plant", plant, capacity), size,
                                       free.prices, 0.0, markup, 1e-12, method="anderson")
    assert shadow_cost == pytest.approx(searched.shadow_costs["plant"], rel=1e-9)
    assert np.max(np.abs(joint / searched.equilibrium.prices - 1)) < 1e-10

def test_the_check_from_above_stops_once_it_reaches_the_joint_roots_equilibrium():
    """``leap_search``'s check solves the equilibrium at the joint root's shadow cost from the trial
    above (``solve_by_krylov`` with ``target``): it stops once within ``leap.SAME_EQUILIBRIUM`` of the
    root's prices (ford-geely-jv: 22 evaluations instead of 35), where the equilibrium it approaches is
    that one; a target elsewhere leaves the solve as it was, to the FOC tolerance."""
    from autopact.model.leap import SAME_EQUILIBRIUM, solve_by_krylov
    from autopact.model.zeta import FocKernel

    demand, xi, omega, costs, free = market()
    kernel, taxes = FocKernel(xi, demand, omega), Taxes.none(10)
    limit = 1.0 / float(demand.weights @ demand.price_sensitivity)
    full, evaluations = solve_by_krylov(costs, kernel, taxes, limit, costs, 1e-12, method="anderson")
    near, fewer = solve_by_krylov(costs, kernel, taxes, limit, costs, 1e-12, method="anderson", target=free.prices)
    assert np.max(np.abs(near / free.prices - 1)) <= SAME_EQUILIBRIUM < np.max(np.abs(costs / free.prices - 1))
    assert fewer < evaluations
    elsewhere, same = solve_by_krylov(costs, kernel, taxes, limit, costs, 1e-12, method="anderson",
                                      target=2 * free.prices)
    assert np.array_equal(elsewhere, full) and same == evaluations


class _TwoBranches:
    """A fake price game for ``ShadowCost``: the excess is 0.002 + 0.1 (0.9 - lambda) on branch A
    (lambda < 0.9: no root) and 0.05 - 0.0625 lambda on branch B (lambda > 0.5: root 0.8). A solve goes
    to B where its start's prices[1] is at least 0.9 (0 on A, 1 on B) or A does not exist, else to
    A; given a cap, one that must leave its start's branch is cut short (``SlowTrial``), as
    ford-geely-jv's trial across its leap."""

    def __init__(self, lam):
        self.lam, self.solves = lam, []

    def __call__(self, initial=None, trial_tol=None, cap=None, early_exit=None):
        from types import SimpleNamespace
        from autopact.model.shadow import SlowTrial

        value = self.lam["plant"]
        start = 1 if initial is not None and initial[1] >= 0.9 else 0
        branch = 1 if start == 1 and value > 0.5 or value >= 0.9 else 0
        if cap is not None and branch != start:
            raise SlowTrial
        self.solves.append((value, branch))
        excess = 0.002 + 0.1 * (0.9 - value) if branch == 0 else 0.05 - 0.0625 * value
        return SimpleNamespace(shares=np.array([1.0 + excess]), prices=np.array([value, float(branch)]))


def _searched(game_class, start_lam, value, start, leap):
    """The search from ``value`` on a two-branch stand-in, without the leap and with it: for each, its
    root (or "jump"), the game's solves and (``_Smooth``) the solves it stopped early."""
    from autopact.model.shadow import Jump, ShadowCost

    plant = CapacityConstraint("plant", np.array([0]), 1.0)
    runs = {}
    for with_leap in (False, True):
        lam = {"plant": start_lam}
        game = game_class(lam)
        search = ShadowCost(plant, lam, 1.0, game, 1e-12, leap=leap if with_leap else None)
        try:
            runs[with_leap] = (search.root(value, start, 1.0), game.solves, getattr(game, "loose", []))
        except Jump:
            runs[with_leap] = ("jump", game.solves, getattr(game, "loose", []))
    return runs


@pytest.mark.parametrize("accepted", [True, False])
def test_a_trial_cut_short_near_the_root_tries_the_leap_and_otherwise_goes_on_as_before(accepted):
    """Near the root, with a trial under capacity above it, a trial that must cross between branches
    is cut short and the search asks its ``leap`` (here a stand-in that returns branch B's root, or
    None as where the check from above fails): the root it returns ends the search, its equilibrium
    solved there once more; None leaves the trial solved in full and the search as without a leap."""
    asked = []

    def leap(value, prices, top_value, top_prices):
        asked.append((value, top_value, top_prices[1]))
        return (0.8, np.array([0.8, 1.0])) if accepted else None

    runs = _searched(_TwoBranches, 2.0, -0.075, np.array([2.0, 1.0]), leap)
    assert runs[False][0] == "jump"  # without it the secant search stops at the leap, as ford-geely-jv's did
    ((value, top, branch),) = asked
    assert top == 2.0 > value and branch == 1.0  # checked from the highest trial under capacity
    if accepted:
        assert runs[True][0] == 0.8 and runs[True][1][-1] == (0.8, 1)
    else:
        assert runs[True] == runs[False]


class _SlowTwoBranches(_TwoBranches):
    """``_TwoBranches`` whose every solve reports 40 evaluations of the map (``shadow.SLOW_BRACKET``)."""

    def __call__(self, initial=None, trial_tol=None, cap=None, early_exit=None):
        from types import SimpleNamespace

        return SimpleNamespace(**vars(super().__call__(initial, trial_tol, cap)), iterations=40)


@pytest.mark.parametrize("accepted", [True, False])
def test_a_slow_first_trial_under_capacity_asks_the_leap_at_once_and_otherwise_goes_on_as_before(accepted):
    """From zero (over capacity on branch A) the search's first trial under capacity lies on branch B;
    it took ``SLOW_BRACKET`` evaluations or more, so the search asks its ``leap`` at once (quick: by
    Anderson acceleration), from the highest trial over capacity and checked from that trial: the root
    it returns ends the search, its equilibrium solved there once more; None leaves the search exactly
    as without a leap."""
    asked = []

    def leap(value, prices, top_value, top_prices, quick=False):
        asked.append((value, top_value, top_prices[1], quick))
        return (0.8, np.array([0.8, 1.0])) if accepted else None

    runs = _searched(_SlowTwoBranches, 0.0, 0.092, np.array([0.0, 0.0]), leap)
    (value, top, branch, quick), *later = asked
    assert quick and top > value and branch == 1.0  # from over capacity, checked from the first trial under it
    if accepted:
        assert runs[True][0] == 0.8 and runs[True][1][-1] == (0.8, 1) and not later
    else:
        assert runs[True][0] == runs[False][0] and runs[True][1] == runs[False][1]


class _Smooth:
    """A fake price game with one smooth branch, excess 2 exp(-3 lambda) - 1 (root ln 2 / 3), whose
    every solve reports 5 evaluations of the map: far below ``shadow.SLOW_BRACKET``. A solve given an
    ``early_exit`` that fires at a FOC residual of 1e-3 stops there (2 evaluations, unconverged; listed
    in ``loose``, not ``solves``)."""

    def __init__(self, lam):
        self.lam, self.solves, self.loose = lam, [], []

    def __call__(self, initial=None, trial_tol=None, cap=None, early_exit=None):
        from types import SimpleNamespace

        value = self.lam["plant"]
        excess = 2 * np.exp(-3 * value) - 1
        shares, prices = np.array([1.0 + excess]), np.array([value, 0.0])
        if early_exit is not None and early_exit(shares, 1e-3):
            self.loose.append(value)
            return SimpleNamespace(shares=shares, prices=prices, iterations=2, converged=False)
        self.solves.append(value)
        return SimpleNamespace(shares=shares, prices=prices, iterations=5, converged=True)


@pytest.mark.parametrize("accepted", [True, False])
def test_a_first_trial_far_under_capacity_asks_the_leap_at_once_and_otherwise_goes_on_as_before(accepted):
    """From zero (100% over capacity) the logit guess lands far under it (excess -0.55, beyond
    ``shadow.FAR_BRACKET``) in a quick solve: the search asks its ``leap`` at once (quick: by Anderson
    acceleration: ford-geely-jv's 251 evaluations -> 89), from the secant step between the trial over
    capacity and that first trial under it, and checked from the latter; that trial's solve stops
    at ``shadow.BRACKET_TOL`` (here after 2 evaluations instead of 5). The root the leap returns ends
    the search; None has the trial solved in full and the search go on exactly as without a leap. On
    main only a slow first trial (``SLOW_BRACKET``) asked it, and every trial was solved in full."""
    asked = []
    root = float(np.log(2) / 3)

    def leap(value, prices, top_value, top_prices, quick=False):
        asked.append((value, top_value, quick))
        return (root, np.array([root, 0.0])) if accepted else None

    runs = _searched(_Smooth, 0.0, 1.0, np.array([0.0, 0.0]), leap)
    assert runs[False][0] == pytest.approx(root, rel=1e-12)
    (value, top, quick), = asked
    over, under = 1.0, 2 * np.exp(-1.5) - 1  # the excess at 0 and at the first trial, 0.5
    assert quick and top == pytest.approx(0.5)
    assert value == pytest.approx(0.5 * over / (over - under))  # from the secant step between them
    assert runs[True][2] == [0.5] and runs[False][2] == []  # stopped early where the leap is asked
    if accepted:
        assert runs[True][0] == root and runs[True][1] == [root] and len(runs[True][1]) < len(runs[False][1])
    else:
        assert runs[True][:2] == runs[False][:2]


@pytest.mark.parametrize("share, early", [(0.5, True), (0.995, False), (1.5, False)])
def test_the_first_solve_stops_early_only_where_a_plant_is_far_over_capacity(monkeypatch, share, early):
    """A central run's secant search solves every shadow cost at zero first; where the plant is far
    over capacity (capacity half the free units) that solve stops at a FOC residual of 1e-4
    (``constrained.DECIDED_TOL``: the search's early trials are solved no further), and the result is
    the same; near capacity (0.5% over) or slack it is the full solve, to the bit, as on main."""
    import autopact.model.constrained as constrained

    demand, xi, omega, costs, free = market()
    size, plant = 1e6, np.array([2, 3])
    plants = [CapacityConstraint("plant", plant, share * size * free.shares[plant].sum())]
    solves = []

    def recorded(*args, **kwargs):
        solves.append(solve_prices(*args, **kwargs))
        return solves[-1]

    monkeypatch.setattr(constrained, "solve_prices", recorded)
    result = solve_constrained(costs, xi, demand, omega, Taxes.none(10), plants, size, search="secant")
    brent = solve_constrained(costs, xi, demand, omega, Taxes.none(10), plants, size)
    first = solves[0]
    assert first.converged is not early
    if early:
        assert first.max_foc_residual < constrained.DECIDED_TOL and first.iterations < free.iterations
    else:
        assert np.array_equal(first.prices, free.prices) and first.iterations == free.iterations
    assert result.shadow_costs["plant"] == pytest.approx(brent.shadow_costs["plant"], rel=1e-9, abs=1e-8)
    assert np.max(np.abs(result.equilibrium.prices / brent.equilibrium.prices - 1)) < 1e-9


def test_bracket_ends_that_meet_other_equilibria_when_solved_again_use_the_ends_as_first_found(monkeypatch):
    """Several equilibria: brentq solves its bracket's ends again, from other prices, and may land on other
    equilibria with excess of one sign at both ("f(a) and f(b) must have different signs"; a draw of
    ford-geely-jv on the twelfth session's data stopped so). ``solve_constrained`` then runs brentq on the
    ends as first found. A stand-in for the other equilibrium: the plant reads over capacity once, at the
    bracket's upper end when brentq solves it again; the root must be the one found without it."""
    import scipy.optimize

    demand, xi, omega, costs, free = market()
    size, plant = 1e6, np.array([2, 3])
    capacity = 0.8 * size * free.shares[plant].sum()
    plain = solve_constrained(costs, xi, demand, omega, Taxes.none(10), [CapacityConstraint("plant", plant, capacity)],
                              size)
    seen = {"negative": 0, "after": 0}

    class OtherEquilibrium(CapacityConstraint):
        def excess(self, shares, market_size):
            value = super().excess(shares, market_size)
            if seen["negative"] == 1:  # the calls after the doubling's first end under capacity
                seen["after"] += 1
                if seen["after"] == 2:  # brentq's f(b), solved again: another equilibrium, over capacity
                    return abs(value)
            if value < 0:
                seen["negative"] += 1
            return value

    original, messages = scipy.optimize.brentq, []

    def spy(f, a, b, **kwargs):
        try:
            return original(f, a, b, **kwargs)
        except ValueError as error:
            messages.append(str(error))
            raise

    monkeypatch.setattr(scipy.optimize, "brentq", spy)
    result = solve_constrained(costs, xi, demand, omega, Taxes.none(10), [OtherEquilibrium("plant", plant, capacity)],
                               size)
    assert len(messages) == 1 and "different signs" in messages[0]
    assert result.binding["plant"] and result.shadow_costs["plant"] == pytest.approx(plain.shadow_costs["plant"],
                                                                                     rel=1e-9)
    assert result.units["plant"] == pytest.approx(capacity, rel=1e-9)
