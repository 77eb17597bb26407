"""The O(I J) equilibrium kernel (autopact.model.zeta) against the dense Jacobian it replaces.

The reference ``DenseKernel`` is the former evaluation of the zeta map: Gamma as a J x J matrix from
``jacobian_parts`` and (Omega o Gamma^T)(p - c) as a matrix-vector product. Solving with it (the same
SQUAREM iteration, patched in) is the old fixed point; the new one must give the same prices.
"""

import tracemalloc
from dataclasses import replace

import numpy as np
import pytest

import autopact.model.constrained as constrained
import autopact.model.supply as supply
import autopact.model.zeta as zeta
from autopact.errors import ConvergenceError
from autopact.model.demand import Demand, jacobian_parts
from autopact.model.constrained import CapacityConstraint, solve_constrained
from autopact.model.supply import Taxes, ownership_matrix, solve_prices
from autopact.model.zeta import FocKernel
from synthetic import plain_logit, synthetic_demand


class DenseKernel:
    """The former evaluation: s, Lambda and (Omega o Gamma^T) m through the J x J matrix Gamma."""

    def __init__(self, xi, demand, ownership):
        self.xi, self.demand, self.ownership = xi, demand, ownership

    def terms(self, prices, margin):
        s, lam, gamma = jacobian_parts(self.xi - self.demand.alpha * prices, prices, self.demand)
        return s, lam, (self.ownership * gamma.T) @ margin


def two_level(demand: Demand, rho_within: float) -> Demand:
    """The demand (products j in nests j % 3) with each nest split in two subnests."""
    j = np.arange(len(demand.nests))
    return replace(demand, subnests=demand.nests * 2 + (j // 3) % 2, rho_within=rho_within, _cache={})


MODELS = {
    "logit": lambda: synthetic_demand(products=10, rho=0.0, pi=0.0, sigma=(0.0, 0.0)),
    "nested logit": lambda: synthetic_demand(products=10, rho=0.5, pi=0.0, sigma=(0.0, 0.0)),
    "RC logit": lambda: synthetic_demand(products=10, rho=0.0),
    "RC nested logit": lambda: synthetic_demand(products=10, rho=0.3),
    "RC two-level nested logit": lambda: (lambda d, xi, p: (two_level(d, 0.6), xi, p))(*synthetic_demand(products=10)),
    "RC, subnests only": lambda: (lambda d, xi, p: (two_level(replace(d, rho=0.0), 0.4), xi, p))(
        *synthetic_demand(products=10, rho=0.0)),
}
OWNERS = np.array([0, 0, 1, 1, 2, 2, 3, 3, 0, 1])


def joint_venture() -> np.ndarray:
    """Profit weights: firm 2 a 50/50 joint venture of firms 0 and 1 (not a 0/1 ownership matrix)."""
    kappa = np.eye(4)
    kappa[0, 2] = kappa[1, 2] = 0.5
    kappa[2, 0] = kappa[2, 1] = 0.5
    return ownership_matrix(OWNERS, kappa)


OWNERSHIPS = {"firms": lambda: ownership_matrix(OWNERS), "joint venture": joint_venture,
              "any matrix": lambda: np.random.default_rng(3).uniform(0, 1, (10, 10))}


@pytest.mark.parametrize("blocks", [1, 7])
@pytest.mark.parametrize("owned", list(OWNERSHIPS))
@pytest.mark.parametrize("model", list(MODELS))
def test_kernel_terms_equal_the_dense_jacobian(model, owned, blocks, monkeypatch):
    """s, Lambda and (Omega o Gamma^T) m agree with jacobian_parts to rounding, in one block of
    households or in several (50 households in blocks of 7)."""
    demand, xi, prices = MODELS[model]()
    if blocks > 1:
        monkeypatch.setattr(zeta, "ONE_BLOCK_ELEMENTS", 0)
        monkeypatch.setattr(zeta, "BLOCK_ELEMENTS", blocks * len(xi))
        assert len(FocKernel(xi, demand, np.eye(10)).blocks) == 8
    ownership = OWNERSHIPS[owned]()
    margin = 0.3 * prices
    expected = DenseKernel(xi, demand, ownership).terms(prices, margin)
    found = FocKernel(xi, demand, ownership).terms(prices, margin)
    for a, b in zip(found, expected):
        assert a == pytest.approx(b, rel=1e-12, abs=0)


@pytest.mark.parametrize("taxed", [False, True])
@pytest.mark.parametrize("model", list(MODELS))
def test_solve_prices_agrees_with_the_old_fixed_point(model, taxed, monkeypatch):
    demand, xi, prices = MODELS[model]()
    omega = joint_venture()
    taxes = Taxes(np.full(10, 0.08), np.full(10, 1.5)) if taxed else Taxes.none(10)
    costs = 0.7 * prices
    new = solve_prices(costs, xi, demand, omega, taxes)
    monkeypatch.setattr(supply, "FocKernel", DenseKernel)
    old = solve_prices(costs, xi, demand, omega, taxes)
    assert new.converged and new.max_foc_residual < 1e-12
    assert new.prices == pytest.approx(old.prices, rel=1e-10)
    assert new.shares == pytest.approx(old.shares, rel=1e-9)


def test_ownership_classes_are_firms_and_survive_a_projection_that_confuses_rows():
    """Rows of a profit-weight ownership matrix fall in one class per firm (class and firm in one-to-one
    correspondence), also when the projection that groups them cannot tell rows apart."""
    omega = joint_venture()
    for direction in (None, np.zeros(10)):  # zeros: every row projects to 0
        classes, first = zeta._classes(omega, direction)
        assert len(first) == 4 and len(set(zip(classes, OWNERS))) == 4
        assert np.array_equal(omega, omega[first[classes]])


def test_multiproduct_logit_firms_share_one_markup_each():
    """Logit, several multiproduct firms: every product of firm f has the markup 1 / (alpha (1 - S_f)),
    S_f the firm's total share (Anderson, de Palma and Thisse 1992)."""
    alpha, owners = 0.1, np.array([0, 0, 0, 1, 1, 2, 3, 3])
    demand = plain_logit(alpha, 8)
    eq = solve_prices(np.linspace(10.0, 24.0, 8), np.linspace(1.0, 3.0, 8), demand, ownership_matrix(owners),
                      Taxes.none(8))
    firm_share = np.bincount(owners, weights=eq.shares)[owners]
    assert eq.markups == pytest.approx(1 / (alpha * (1 - firm_share)), rel=1e-11)


def test_quota_and_plant_capacity_agree_with_the_old_fixed_point(monkeypatch):
    """RC nested logit with a plant capacity and a quota on two firms' imports (both binding)."""
    demand, xi, prices = synthetic_demand(products=10, rho=0.3)
    omega, costs, market = ownership_matrix(OWNERS), 0.7 * prices, 1e6
    free = solve_prices(costs, xi, demand, omega, Taxes.none(10))
    plant, imports = np.array([2, 3]), np.array([4, 5, 6])
    constraints = [CapacityConstraint("plant", plant, 0.8 * market * free.shares[plant].sum()),
                   CapacityConstraint("quota", imports, 0.9 * market * free.shares[imports].sum())]
    new = solve_constrained(costs, xi, demand, omega, Taxes.none(10), constraints, market)
    monkeypatch.setattr(supply, "FocKernel", DenseKernel)
    monkeypatch.setattr(constrained, "FocKernel", DenseKernel)  # the kernel every trial's solve shares
    old = solve_constrained(costs, xi, demand, omega, Taxes.none(10), constraints, market)
    assert new.binding == old.binding == {"plant": True, "quota": True}
    assert new.equilibrium.prices == pytest.approx(old.equilibrium.prices, rel=1e-9)
    for name in ("plant", "quota"):
        assert new.shadow_costs[name] == pytest.approx(old.shadow_costs[name], rel=1e-7)
        assert new.units[name] == pytest.approx(constraints[0 if name == "plant" else 1].capacity, rel=1e-8)


def test_a_solve_that_cannot_converge_says_why():
    demand, xi, prices = synthetic_demand()
    omega = ownership_matrix(np.arange(8))
    with pytest.raises(ConvergenceError, match=r"did not converge in 4 iterations \(max \|FOC/s\| = "):
        solve_prices(0.7 * prices, xi, demand, omega, Taxes.none(8), max_iterations=4)
    with pytest.raises(ConvergenceError, match="within the time limit of 0 s"):
        solve_prices(0.7 * prices, xi, demand, omega, Taxes.none(8), max_seconds=0.0)
    bad = xi.copy()
    bad[3] = np.nan
    with pytest.raises(ConvergenceError, match="shares are not finite"):
        solve_prices(0.7 * prices, bad, demand, omega, Taxes.none(8))


def test_equilibrium_memory_does_not_grow_with_households_times_products_squared():
    """20,000 households and 60 products: a solve allocates at most its work blocks beyond the
    demand's cached taste draws, not (households x products) arrays (main: several of 9.6 MB each,
    and a 60 x 60 Gamma per evaluation built from them)."""
    households, products = 20_000, 60
    rng = np.random.default_rng(5)
    demand = Demand(alpha=0.1, pi=4.0, sigma=np.array([1.0, 0.5]), rho=0.3,
                    characteristics=rng.normal(size=(products, 2)), nests=np.arange(products) % 3,
                    weights=np.full(households, 1 / households), income=rng.uniform(20, 200, households),
                    nu=rng.normal(size=(households, 2)))
    xi, costs = rng.normal(-1.0, 0.5, products) + 2.5, rng.uniform(10, 30, products)
    omega = ownership_matrix(np.arange(products) % 12)
    solve_prices(costs, xi, demand, omega, Taxes.none(products))  # warms the demand's caches
    tracemalloc.start()
    eq = solve_prices(costs, xi, demand, omega, Taxes.none(products))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert eq.converged
    assert peak < 0.5 * households * products * 8  # less than half of one (households x products) array


@pytest.mark.parametrize("model", ["RC nested logit", "RC two-level nested logit"])
def test_a_kernel_on_a_demand_reuses_its_cells_and_moves_only_the_rows_whose_xi_moved(model, monkeypatch):
    """A run's draws build a kernel each on one demand and ownership, with the entrants' xi moved
    (issue 13): the ownership's cells are made once (``_cells``) and the utilities at zero prices
    recomputed for the moved rows only, giving the terms of a kernel made from nothing to the bit."""
    demand, xi, prices = MODELS[model]()
    omega = joint_venture()
    made = []
    cells = zeta._cells
    monkeypatch.setattr(zeta, "_cells", lambda *args: made.append(1) or cells(*args))
    FocKernel(xi, demand, omega)
    moved = xi.copy()
    moved[[2, 7]] += [0.3, -1.1]
    again = FocKernel(moved, demand, omega).terms(prices, prices - 1.0)
    fresh = FocKernel(moved, replace(demand, _cache={}), omega.copy()).terms(prices, prices - 1.0)
    assert len(made) == 2  # the first two kernels share the cells; the fresh demand makes its own
    assert all(np.array_equal(a, b) for a, b in zip(again, fresh))



def _former_terms(kernel: FocKernel, prices: np.ndarray, margin: np.ndarray):
    """``FocKernel.terms`` as it was before issue 13's change: Y = m s written out, then summed into
    the cells by the cell indicator."""
    count, cells = len(prices), len(kernel.row_cell_group)
    totals, weighted = np.zeros((count, 2)), np.zeros(count)
    for block in kernel.blocks:
        n = block.stop - block.start
        e = np.empty((count, n))
        ratios = kernel._exponentials(prices, block, e)
        s = ratios[0][kernel.finest] * e
        mixed = kernel.mix @ (kernel.cell_sums @ (s * margin[:, None]))
        rates = ratios[0][kernel.row_cell_group] * mixed[:cells]
        for level, ratio in enumerate(ratios[1:], start=1):
            rates += ratio[kernel.row_cell_group] * mixed[level * cells:(level + 1) * cells]
        rates *= kernel.slope[block]
        weighted += (rates[kernel.row_cell] * e) @ kernel.ones[block]
        totals += s @ kernel.sums[block]
    return totals[:, 0], totals[:, 1] / (1 - kernel.lowest), weighted


@pytest.mark.parametrize("households_a_block", [1, 7, 10_000])
@pytest.mark.parametrize("model", list(MODELS))
def test_the_terms_sum_the_margins_into_the_cells_without_writing_y_out(model, households_a_block, monkeypatch):
    """``FocKernel.terms`` sums m_k s_ki into each cell by the cell indicator with m in place of its
    ones (issue 13: one pass over the products x households arrays fewer, about 9% of a 2025
    evaluation) instead of writing Y = m s out first: the same numbers to the bit as that former
    route (margins of both signs and zeros, a product priced far out, one block or several)."""
    demand, xi, prices = MODELS[model]()
    monkeypatch.setattr(zeta, "BLOCK_ELEMENTS", households_a_block * len(xi))
    monkeypatch.setattr(zeta, "ONE_BLOCK_ELEMENTS", households_a_block * len(xi))
    kernel = FocKernel(xi, demand, joint_venture())
    assert (len(kernel.blocks) == 1) is (households_a_block >= len(demand.weights))
    margin = np.random.default_rng(7).normal(0.0, 3.0, len(xi))
    margin[[1, 4]] = 0.0
    prices = prices.copy()
    prices[6] *= 40
    for new, old in zip(kernel.terms(prices, margin), _former_terms(kernel, prices, margin)):
        assert np.array_equal(new, old)
