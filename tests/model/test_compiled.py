"""The compiled zeta map of many markets (autopact.model.compiled, set up by autopact.model.fused)
against the numpy path it replaces where numba is installed (SortedKernel and _Markets' numpy steps),
and the numpy path where numba is not installed."""

import sys

import numpy as np
import pytest

from autopact.errors import ConvergenceError
from autopact.model import fused
from autopact.model.markets import solve_prices_markets
from autopact.model.sorted_kernel import SortedKernel
from autopact.model.supply import Taxes, ownership_matrix
from synthetic import plain_logit, synthetic_demand
from test_markets import markets, solve_together
from fresh_interpreter import run_code

pytest.importorskip("numba")


def one_level():
    """test_markets' markets without its two-level one (which keeps the numpy path for all), plus a
    plain-logit market started with one product far above its price (test_supply's stale start) and a
    market whose nests are numbered 1 and 3."""
    items = markets()[:4]
    items.append((np.array([1.0, 1.0, 1.0]), np.array([5.0, 4.0, 3.0]), plain_logit(1.0, 3),
                  ownership_matrix(np.arange(3)), Taxes.none(3), np.array([1000.0, 3.0, 3.0])))
    demand, xi, prices = synthetic_demand(products=7, households=20, seed=11, rho=0.5)
    demand = type(demand)(**{**demand.__dict__, "nests": np.where(np.arange(7) % 2, 3, 1), "_cache": {}})
    items.append((0.7 * prices, xi, demand, ownership_matrix(np.arange(7) % 3), Taxes.none(7), prices))
    return items


@pytest.mark.parametrize("method", ["anderson", "squarem"])
def test_compiled_equals_numpy(method):
    """Logit, nested logit, RC logit and RCNL markets, a merger, asymmetric profit weights, taxes, a
    far start, nests numbered with gaps: the same equilibria to 1e-12."""
    items = one_level()
    compiled, numpy = solve_together(items, method=method), solve_together(items, method=method, compiled=False)
    for one, other in zip(numpy, compiled):
        assert other.converged and other.max_foc_residual < 1e-12
        for name in ("prices", "shares", "consumer_prices", "markups"):
            np.testing.assert_allclose(getattr(other, name), getattr(one, name), rtol=1e-12, atol=0, err_msg=name)
        assert list(other.priced_out) == list(one.priced_out)
        if method == "squarem":
            assert other.iterations == one.iterations  # the same steps: SQUAREM is not compiled


def test_the_map_equals_sorted_kernel_and_a_loose_bound_takes_the_largest_utility():
    """One evaluation against SortedKernel's terms, c + (g - s / t) / Lambda; where the bound on a
    household's largest utility is too loose (test_sorted_kernel's case: a product with mean utility
    far above the rest priced far above them) the market is evaluated with the largest itself."""
    items = one_level()
    demand = plain_logit(1.0, 3)
    items.append((np.array([0.5, 0.5, 0.5]), np.array([500.0, 0.0, 0.0]), demand, ownership_matrix(np.arange(3)),
                  Taxes.none(3), np.array([1000.0, 1.0, 1.0])))
    costs, xi, demands, ownerships, taxes, prices = (list(column) for column in zip(*items))
    setup = fused.FusedMarkets(xi, demands, ownerships, costs, taxes, 1e-12, fused.compiled_loops())
    setup.evaluate(np.concatenate(prices), np.arange(len(items)))
    assert list(np.flatnonzero(setup.exact)) == [len(items) - 1]
    for m, (c, x, d, o, tax, p) in enumerate(items):
        rows = slice(setup.product_start[m], setup.product_start[m + 1])
        consumer = tax.consumer_prices(p)
        s, lam, g = SortedKernel(x, d, o).terms(consumer, p - c)
        t = 1 + tax.ad_valorem
        live = s > 1e-100
        expected = c + (g - s / t) / lam
        np.testing.assert_allclose(setup.mapped[rows][live], expected[live], rtol=1e-12, atol=0)
        np.testing.assert_allclose(setup.consumer[rows], consumer, rtol=1e-15, atol=0)


def test_without_numba_the_numpy_path_solves(monkeypatch):
    """Where numba cannot be imported, solve_prices_markets solves by SortedKernel and numpy steps:
    the same prices to 1e-12."""
    items = one_level()
    compiled = solve_together(items)
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba raises ImportError
    for name in [name for name in sys.modules if name.startswith("autopact.model.compiled")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(fused, "_COMPILED", {})  # what this process found is forgotten after the test
    assert fused.compiled_loops() is None
    # found once a process: later solves do not hash the sources and try the import again
    monkeypatch.setattr(fused.importlib, "import_module", lambda name: pytest.fail(f"imported {name} again"))
    monkeypatch.setattr(fused, "clear_stale_cache", lambda *args: pytest.fail("hashed the sources again"))
    assert fused.compiled_loops() is None
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "numba", None)
    for name in [name for name in sys.modules if name.startswith("autopact.model.compiled")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(fused, "_COMPILED", {"import": None})
    calls = []
    original = SortedKernel.terms
    monkeypatch.setattr(SortedKernel, "terms", lambda self, *args: calls.append(1) or original(self, *args))
    numpy = solve_together(items)
    assert len(calls) == sum(eq.iterations for eq in numpy)
    for one, other in zip(numpy, compiled):
        np.testing.assert_allclose(other.prices, one.prices, rtol=1e-12, atol=0)


def test_a_loop_numba_cannot_compile_falls_back_to_numpy_with_a_warning(monkeypatch):
    """numba raises its compile errors (here a TypingError) at a function's first call, inside a solve:
    on main the error escaped solve_prices_markets. compiled_loops now calls every loop once, on a
    two-product market, and on an error warns and returns None, so the numpy path solves."""
    import numba

    from autopact.model import compiled_rounds

    @numba.njit
    def broken(*args):
        return args[0] + "a string"  # int + str: numba's TypingError, raised when it compiles

    monkeypatch.setattr(compiled_rounds, "rounds", broken)
    monkeypatch.setattr(fused, "_COMPILED", {}, raising=False)  # compiled once a process: forget it
    calls = []
    original = SortedKernel.terms
    monkeypatch.setattr(SortedKernel, "terms", lambda self, *args: calls.append(1) or original(self, *args))
    items = one_level()
    with pytest.warns(RuntimeWarning, match=r"numba could not compile solve_prices_markets's loops \(TypingError"):
        found = solve_together(items)
    assert fused.compiled_loops() is None  # decided once: no second warning, no second try
    numpy = solve_together(items, compiled=False)
    assert len(calls) == sum(eq.iterations for eq in found) + sum(eq.iterations for eq in numpy)
    for one, other in zip(numpy, found):
        np.testing.assert_array_equal(other.prices, one.prices)


@pytest.mark.parametrize("copy_kept", [fused.COPY_KEPT, 0])
def test_kept_ownership_cells_serve_only_an_equal_ownership(monkeypatch, copy_kept):
    """Each market's ownership cells are kept across solves (``fused._cells``); a matrix changed in
    place after a solve (products 0 and 1 merged), with the same nests and size, gets cells of its own:
    the same equilibria, to the bit, as a solve with nothing kept. Both comparisons: with a kept copy
    of Omega, and (markets above ``COPY_KEPT`` entries) by Omega's classes."""
    fused.compiled_loops()  # its warm-up solve keeps a market of its own: before the count starts
    monkeypatch.setattr(fused, "_CELLS", {})
    monkeypatch.setattr(fused, "COPY_KEPT", copy_kept)
    items = one_level()
    solve_together(items)
    assert len(fused._CELLS) == len(items)
    for item in items:
        item[3][0, 1] = item[3][1, 0] = 1.0  # the same arrays, changed in place
    kept = solve_together(items)
    monkeypatch.setattr(fused, "_CELLS", {})
    fresh = solve_together(items)
    for one, other in zip(fresh, kept):
        np.testing.assert_array_equal(other.prices, one.prices)
        assert other.iterations == one.iterations


def test_a_converged_market_stays_put():
    """A market already at its equilibrium stops after one evaluation, its prices the ones it started
    from, while the others iterate (test_markets' test of the numpy path)."""
    items = one_level()
    solved = solve_together(items[:1], compiled=False)[0]
    items[0] = items[0][:5] + (solved.prices,)
    together = solve_together(items)
    assert together[0].iterations == 1
    np.testing.assert_array_equal(together[0].prices, solved.prices)
    assert min(eq.iterations for eq in together[1:4]) > 2


def test_a_market_that_cannot_converge_is_named():
    items = one_level()
    with pytest.raises(ConvergenceError, match=r"prices of market 0 did not converge in 3 iterations"):
        solve_prices_markets(*(list(column) for column in zip(*items[:5])), max_iterations=3)


def test_numba_loads_only_when_a_solve_uses_it():
    """Importing the solvers loads no numba (``import numba`` and the cached loops take about a
    second); the first solve_prices_markets that uses the compiled loops does."""
    code = ("import sys\nfrom autopact.model.markets import solve_prices_markets\nfrom autopact.model.supply import "
            "Taxes, ownership_matrix\nfrom synthetic import synthetic_demand\nbefore = 'numba' in sys.modules\n"
            "demand, xi, prices = synthetic_demand(products=5, households=10)\n"
            "solve_prices_markets([0.7 * prices], [xi], [demand], [ownership_matrix(np.arange(5))], [Taxes.none(5)])\n"
            "print(before, 'numba' in sys.modules)")
    done = run_code("import numpy as np\n" + code)
    assert done.stdout.split() == ["False", "True"], done.stderr


@pytest.mark.parametrize("rho", [0.0, 0.4])
def test_the_map_with_three_characteristics_asymmetric_weights_and_rising_demand(rho):
    """Paths the BLP merger does not take: three random coefficients (the utility's general loop),
    profit weights with kappa(0, 1) != kappa(1, 0) (Omega's columns classed apart from its rows) and
    households whose utility rises with price (pi < 0 against a low income: the bound on the largest
    utility taken at the highest price). Against SortedKernel's terms, to 1e-12."""
    demand, xi, prices = synthetic_demand(products=11, households=30, seed=5, rho=rho, pi=-4.0, sigma=(1.0, 0.5, 0.8))
    assert np.any(demand.price_sensitivity < 0)
    kappa = np.eye(4)
    kappa[0, 1], kappa[1, 0], kappa[2, 3] = 0.4, 0.1, 0.25
    ownership = ownership_matrix(np.arange(11) % 4, kappa)
    costs, taxes = 0.7 * prices, Taxes(np.linspace(0.0, 0.2, 11), np.linspace(-1.0, 2.0, 11))
    setup = fused.FusedMarkets([xi], [demand], [ownership], [costs], [taxes], 1e-12, fused.compiled_loops())
    setup.evaluate(prices, np.arange(1))
    s, lam, g = SortedKernel(xi, demand, ownership).terms(taxes.consumer_prices(prices), prices - costs)
    np.testing.assert_allclose(setup.shares, s, rtol=1e-12, atol=0)
    np.testing.assert_allclose(setup.mapped, costs + (g - s / (1 + taxes.ad_valorem)) / lam, rtol=1e-12, atol=0)


def test_small_price_moves_update_the_exponentials_as_a_fresh_evaluation_computes_them():
    """Where every product's price moved little since the last evaluation, its e_ij are updated as
    e_ij exp(x_ij) by a short series instead of exponentiated afresh: the map equals a fresh set-up's
    to 1e-13 after several such moves, both where the updates apply and where a large move makes the
    evaluation start afresh; in the test_sorted_kernel market with utilities at the -250 floor the
    entries within MARGIN of it are taken afresh in rows otherwise updated."""
    items = one_level()
    costs, xi, demands, ownerships, taxes, prices = (list(column) for column in zip(*items))
    loops = fused.compiled_loops()
    kept = fused.FusedMarkets(xi, demands, ownerships, costs, taxes, 1e-12, loops)
    markets_ = np.arange(len(items))
    p = np.concatenate(prices)
    kept.evaluate(p, markets_)
    moves = np.random.default_rng(3).normal(size=(6, len(p)))
    for step, move in zip((1e-3, 1e-4, 1e-6, 0.5, 1e-5, 1e-8), moves):
        p = p + step * move
        kept.evaluate(p, markets_)
        fresh = fused.FusedMarkets(xi, demands, ownerships, costs, taxes, 1e-12, loops)
        fresh.evaluate(p, markets_)
        np.testing.assert_allclose(kept.mapped, fresh.mapped, rtol=1e-13, atol=0)
        np.testing.assert_allclose(kept.shares, fresh.shares, rtol=1e-13, atol=0)
    # rows updated; the priced-far-out one too, its households at the floor taken afresh (``compiled_rows._refresh``)
    assert kept.fresh.any() and kept.watched.any(), (kept.fresh, kept.watched)


def test_the_time_limit_is_checked_between_compiled_calls():
    items = one_level()
    with pytest.raises(ConvergenceError, match=r"prices of market 0 did not converge within the time limit of 0 s "
                                               r"\(0 iterations"):
        solve_prices_markets(*(list(column) for column in zip(*items[:5])), max_seconds=0.0)


def test_the_vectorised_logarithm_is_within_one_ulp_of_numpys():
    """``compiled_rows._log_row`` (fdlibm's log without branches, for the nests' inclusive values):
    within one unit in the last place of np.log over the normal numbers, near 1 and at powers of two,
    and np.log's own value at 0, subnormals, infinity, NaN and negative numbers."""
    from autopact.model.compiled_rows import _log_row
    rng = np.random.default_rng(0)
    x = np.concatenate([np.exp(rng.uniform(-700, 700, 20_000)), 1 + rng.normal(size=2_000) * 1e-9,
                        rng.uniform(0.5, 2.0, 20_000), 2.0 ** np.arange(-1022, 1024), [np.sqrt(2), np.sqrt(0.5)]])
    special = np.array([0.0, 5e-320, np.inf, np.nan, -1.0, -np.inf])
    out = np.empty(x.size + special.size)
    _log_row(np.concatenate([x, special]), out, np.empty(out.size, np.int64), np.empty(out.size))
    exact = np.log(x)
    ulps = np.abs(out[:x.size] - exact) / np.spacing(np.abs(exact))
    assert np.max(ulps[exact != 0]) <= 1.0 and np.all(out[:x.size][exact == 0] == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_array_equal(out[x.size:], np.log(special))


def test_numbas_cached_loops_are_removed_when_any_compiled_source_changes(tmp_path):
    """numba keys a cached function on its own file: ``rounds`` (compiled_rounds.py) kept running the
    old inlined loops after an edit of compiled.py alone. The cache is now cleared whenever the digest
    of the compiled*.py sources differs from the one written beside it."""
    from autopact.model.fused import clear_stale_cache

    (tmp_path / "compiled.py").write_text("x = 1\n")
    (tmp_path / "compiled_rounds.py").write_text("y = 1\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    cached = [cache / "compiled_rounds.rounds-12.py311.nbi", cache / "compiled_rounds.rounds-12.py311.1.nbc"]
    other = cache / "demand.cpython-311.pyc"
    for path in cached + [other]:
        path.write_bytes(b"old")
    assert clear_stale_cache(tmp_path) and not any(p.exists() for p in cached) and other.exists()  # no digest yet
    for path in cached:
        path.write_bytes(b"new")  # numba caches the loops of these sources
    assert not clear_stale_cache(tmp_path) and all(p.exists() for p in cached)  # same sources: kept
    (tmp_path / "compiled.py").write_text("x = 2\n")  # an edit of compiled.py alone
    assert clear_stale_cache(tmp_path) and not any(p.exists() for p in cached) and other.exists()
