"""Research prototype, not part of the package: BLP (1995)'s alpha ln(y - p) price utility on the 2025 market.

The bundled demand's price utility is linear, -alpha_i p_j with alpha_i = alpha + pi / y_i, so every
pass-through is at least 1 (tools/pass_through_curvature.py). This script swaps in, relative to the
outside good, the Cobb-Douglas form of BLP (1995) with a budget horizon of H years of income:

    v_ij = delta_j + taste_ij + alpha ln(1 - p_j / (H y_i)),   j in household i's set iff p_j < H y_i,
    s_ij = exp(v_ij) / (1 + sum_k exp(v_ik)),   a_ij = -dv_ij/dp_j = alpha / (H y_i - p_j),

taste_ij = sum_k sigma_k nu_ik x_jk held at the bundled fit (sigma_bev, sigma_size; rho ~ 0 ignored).
delta solves s_j(delta) = units_j / M by the contraction delta <- delta + ln s - ln s_hat (to 1e-12).
With a household-product slope the share Jacobian is D = dS/dp = Gamma - diag(Lambda),

    Lambda_j = sum_i w_i a_ij s_ij,   Gamma_jk = sum_i w_i s_ij a_ik s_ik,

own elasticity D_jj p_j / s_j, aggregate elasticity sum_jk D_jk p_k / sum_j s_j (all prices up 1%).
Costs from the Bertrand-Nash first-order conditions s + (Omega o D') (p - c) = 0 (BLP eq. 3.6):
c = p + (Omega o D')^{-1} s; Lerner (p - c) / p. Counterfactual prices after a cost rise dc solve the same
conditions by the Morrow-Skerlos zeta-markup fixed point with household-product slopes,

    p <- c + dc + zeta(p),   zeta = Lambda^{-1} [s + (Omega o Gamma') (p - c - dc)],

the product (Omega o Gamma') m summed household by household through the owners (O(I J F)). The shock:
dc_j = 5% x c_j x (Japan's share of j's assembly, ``market.origin``): the 51 models the package's back-test
taxes (38 of them wholly Japan-built). Pass-through = sum q dp / sum q dc over them (q baseline units).
Control: the bundled linear form (a_ij = alpha_i) through the same machinery, with this shock and with
the package's own cost change of its 5% tariff (``simulate``; the package reports 1.61).

    cd /work/main && PYTHONPATH=src OMP_NUM_THREADS=1 python tools/price_curvature_prototype.py
"""
from __future__ import annotations

import time

import numpy as np

from autopact.data import load_market
from autopact.fit.market import calibrated_model
from autopact.fit.stored_calibration import calibrated_market
from autopact.model.demand import elasticities
from autopact.model.supply import ownership_matrix
from autopact.outcomes.caveats import cost_pass_through_rows
from autopact.policy.scenario import parse_scenario
from autopact.runs.backtest_2026_early import PASS_THROUGH_ORIGIN, PASS_THROUGH_TARIFF_PCT
from autopact.simulate import simulate, solved_baseline

SENTRA, LS, SEVEN = ("nissan--sentra--ice",), ("lexus--ls--ice", "lexus--ls--hev"), ("bmw--7-series--ice",)
TARGETS = {"sentra": -6.528, "ls": -3.085, "seven": -3.515, "aggregate": -1.0}  # BLP (1995)
ALPHAS, HORIZONS, RISE = (0.5, 1, 2, 3, 5, 8, 12, 20, 30, 50), (1, 2, 3, 5), 0.05


class Setup:
    """The bundled market's households, observed shares, prices, ownership and the Japan shock's weights."""

    def __init__(self) -> None:
        data = load_market(2025)
        self.market = calibrated_model(data, calibrated_market(data))
        self.state = solved_baseline(self.market)
        d, products = self.market.demand, self.state.products
        self.ids = products["product_id"].tolist()
        self.w, self.income, self.taste = d.weights, d.income, d.taste
        self.prices = products["consumer_price"].to_numpy(float)
        self.units = products["units"].to_numpy(float)
        self.s = self.units / self.market.market_size
        owners = np.asarray(self.market.owners, int)
        self.omega = ownership_matrix(owners, self.market.kappa)
        self.owner_matrix = np.eye(owners.max() + 1)[owners]  # O (J, F): Omega = O kappa O'
        self.kappa = np.eye(owners.max() + 1) if self.market.kappa is None else np.asarray(self.market.kappa, float)
        self.japan = self.market.origin["Japan"].to_numpy(float)

    def index(self, names) -> np.ndarray:
        return np.array([self.ids.index(n) for n in names])


def price_part(prices: np.ndarray, form: tuple) -> tuple[np.ndarray, np.ndarray]:
    """(utility of price u_ij, slope a_ij = -du_ij/dp_j), both (I, J). form: ("linear", alpha_i) or
    ("log", alpha, H y_i); a product out of a household's budget has u = -inf and slope 0."""
    if form[0] == "linear":
        sens = form[1][:, None]
        return -sens * prices[None, :], np.broadcast_to(sens, (len(sens), len(prices)))
    alpha, budget = form[1], form[2][:, None]
    room = budget - prices[None, :]
    ok = room > 0
    safe = np.where(ok, room, 1.0)
    return np.where(ok, alpha * np.log(safe / budget), -np.inf), np.where(ok, alpha / safe, 0.0)


def household_shares(delta, prices, form, setup) -> tuple[np.ndarray, np.ndarray]:
    """(s_ij, a_ij) at mean utilities delta and prices."""
    u, a = price_part(prices, form)
    v = delta[None, :] + setup.taste + u
    top = np.maximum(v.max(axis=1, keepdims=True), 0.0)
    e = np.exp(np.maximum(v - top, -700.0)) * np.isfinite(v)
    return e / (np.exp(-top) + e.sum(axis=1, keepdims=True)), a


def invert(form, setup, tol: float = 1e-12, limit: int = 20_000) -> tuple[np.ndarray, int]:
    """delta matching the observed shares (BLP contraction); returns (delta, iterations)."""
    delta = np.log(setup.s) - np.log(1 - setup.s.sum())
    for it in range(limit):
        step = np.log(setup.s) - np.log(setup.w @ household_shares(delta, setup.prices, form, setup)[0])
        delta += step
        if np.abs(step).max() < tol:
            return delta, it + 1
    raise RuntimeError(f"share inversion did not converge ({np.abs(step).max():.1e})")


def jacobian(delta, prices, form, setup) -> tuple[np.ndarray, np.ndarray]:
    """(S, dS/dp) with dS_j/dp_k = Gamma_jk - delta_jk Lambda_j."""
    s_ij, a = household_shares(delta, prices, form, setup)
    ws, as_ = setup.w[:, None] * s_ij, a * s_ij
    return setup.w @ s_ij, ws.T @ as_ - np.diag(setup.w @ as_)


def equilibrium(delta, costs, form, setup, start, tol: float = 1e-10, limit: int = 1_000) -> tuple[np.ndarray, int]:
    """Bertrand-Nash prices by the zeta-markup map with household-product slopes (module docstring),
    accelerated by SQUAREM (Varadhan and Roland 2008); returns (prices, map evaluations)."""
    O, kappa_t = setup.owner_matrix, setup.kappa.T

    def step(p: np.ndarray) -> tuple[np.ndarray, float]:  # (c + zeta(p), max_j |FOC_j / s_j| at p)
        s_ij, a = household_shares(delta, p, form, setup)
        m = p - costs
        x = (((s_ij * m) @ O) @ kappa_t) @ O.T  # x_ij = sum_k Omega_jk s_ik m_k
        lam, s = setup.w @ (a * s_ij), setup.w @ s_ij
        zeta = (s + setup.w @ (a * s_ij * x)) / lam
        return costs + zeta, float(np.abs(lam * (zeta - m) / s).max())

    p, evaluations = start.copy(), 0
    while evaluations < limit:
        p1, residual = step(p)
        if residual < tol:
            return p, evaluations
        p2, _ = step(p1)
        evaluations += 2
        r, v = p1 - p, p2 - 2 * p1 + p
        alpha = min(-1.0, -np.sqrt(r @ r / max(v @ v, 1e-300)))
        trial = p - 2 * alpha * r + alpha ** 2 * v
        p = trial if np.all(np.isfinite(trial)) and np.all(trial > 0) else p2
    raise RuntimeError(f"equilibrium did not converge in {limit} map evaluations (FOC residual {residual:.1e})")


def evaluate(form, setup, shocks: dict[str, np.ndarray] | None = None) -> dict:
    """Elasticities, costs, Lerner indices and pass-through of each shock (dc, or a function of c)."""
    t0 = time.perf_counter()
    delta, inv_it = invert(form, setup)
    s, D = jacobian(delta, setup.prices, form, setup)
    own = np.diag(D) * setup.prices / s
    wavg = lambda idx: float(setup.units[idx] @ own[idx] / setup.units[idx].sum())
    markups = -np.linalg.solve(setup.omega * D.T, s)
    costs = setup.prices - markups
    out = {"delta": delta, "own": own, "costs": costs, "inv_it": inv_it, "sentra": wavg(setup.index(SENTRA)),
           "ls": wavg(setup.index(LS)), "seven": wavg(setup.index(SEVEN)),
           "aggregate": float((D @ setup.prices).sum() / s.sum()), "lerner": markups / setup.prices}
    taxed = setup.japan > 0
    # small-share curvature s s''/s'^2 = (1 + CV_b^2)(1 - 1/alpha) of the taxed models, units-weighted
    s_ij, a = household_shares(delta, setup.prices, form, setup)
    buyers = setup.w[:, None] * s_ij / s
    cv2 = (buyers * a ** 2).sum(axis=0) / (buyers * a).sum(axis=0) ** 2 - 1.0
    curvature = (1 + cv2) * (1.0 if form[0] == "linear" else 1 - 1 / form[1])
    out["curvature"] = float(setup.units[taxed] @ curvature[taxed] / setup.units[taxed].sum())
    for name, shock in (shocks or {"cost": None}).items():
        dc = RISE * setup.japan * costs if shock is None else shock
        p1, it = equilibrium(delta, costs + dc, form, setup, setup.prices + dc)
        q = setup.units[taxed]
        out[name] = float(q @ (p1 - setup.prices)[taxed] / (q @ dc[taxed]))
        out[name + "_it"] = it
    out["seconds"] = time.perf_counter() - t0
    return out


def package_cost_change(setup) -> tuple[np.ndarray, float]:
    """The cost change of the package's own back-test tariff and its reported pass-through."""
    scenario = parse_scenario({"name": "pass-through", "extra_tariffs": [
        {"name": "taxed", "origin": [PASS_THROUGH_ORIGIN], "ad_valorem_pct": PASS_THROUGH_TARIFF_PCT}]}, "tool")
    result = simulate(scenario, setup.market)
    found = cost_pass_through_rows(result.baseline, result.counterfactual)
    dc = np.zeros(len(setup.ids))
    dc[setup.index(list(found["common"]))] = found["cost_change"]
    return dc, float(found["rate"])


def main() -> None:
    start = time.perf_counter()
    setup = Setup()
    d = setup.market.demand
    # control 1: the bundled elasticities with the package's own functions (income in dollars)
    package_own = np.diag(elasticities(setup.market.xi - d.alpha * setup.prices, setup.prices, d))
    order = np.argsort(setup.income)
    pct = lambda q: setup.income[order][np.searchsorted(np.cumsum(setup.w[order]), q)]
    print(f"incomes (dollars): weighted 1/10/50/90th percentiles ${pct(0.01):,.0f} ${pct(0.1):,.0f} ${pct(0.5):,.0f} "
          f"${pct(0.9):,.0f}; min ${setup.income.min():,.0f}; "
          f"package Sentra elasticity {package_own[setup.index(SENTRA)][0]:.3f}")
    dc_package, rate_package = package_cost_change(setup)
    linear = ("linear", d.price_sensitivity)
    ctrl = evaluate(linear, setup, {"cost": None, "package_tariff": dc_package})
    print(f"control (linear form, this machinery): |delta - xi| {np.abs(ctrl['delta'] - setup.market.xi).max():.1e}, "
          f"|own - package| {np.abs(ctrl['own'] - package_own).max():.1e}, |c - package c| "
          f"{np.abs(ctrl['costs'] - setup.state.products['cost'].to_numpy(float)).max():.1e} $")
    print(f"  Sentra {ctrl['sentra']:.3f}  LS {ctrl['ls']:.3f}  7 Series {ctrl['seven']:.3f}  aggregate "
          f"{ctrl['aggregate']:.3f}  median Lerner {np.median(ctrl['lerner']):.3f}  curvature {ctrl['curvature']:.2f}")
    print(f"  pass-through: package tariff cost change {ctrl['package_tariff']:.3f} (package reports {rate_package:.3f}, "
          f"{ctrl['package_tariff_it']} iterations); 5% of cost {ctrl['cost']:.3f} ({ctrl['cost_it']} iterations)")
    print(f"\nlog form v = delta + taste + alpha ln(1 - p/(H y)); targets Sentra {TARGETS['sentra']}, LS "
          f"{TARGETS['ls']}, 7 Series {TARGETS['seven']}, aggregate {TARGETS['aggregate']}; e = Sentra and LS within "
          "20%, * = that and pass-through <= 1; PT: 5% of cost x Japan share")
    head = (f"{'H':>2s} {'alpha':>5s} {'Sentra':>7s} {'LS':>7s} {'7 Ser':>7s} {'aggr':>7s} {'Lerner':>6s} {'PT':>6s} "
            f"{'curv':>5s} {'unaff':>6s} {'noCar':>6s} {'negC':>4s} {'inv':>5s} {'eq':>4s} {'sec':>4s}")
    print(head)
    for h in HORIZONS:
        budget = h * setup.income
        unaffordable = (setup.prices[None, :] >= budget[:, None])
        share_unaff = float(setup.w @ unaffordable.any(axis=1))
        share_none = float(setup.w @ unaffordable.all(axis=1))
        for alpha in ALPHAS:
            try:
                r = evaluate(("log", float(alpha), budget), setup)
            except (RuntimeError, np.linalg.LinAlgError) as error:
                print(f"{h:2d} {alpha:5.1f} failed: {error}")
                continue
            fits = abs(r["sentra"] / TARGETS["sentra"] - 1) <= 0.2 and abs(r["ls"] / TARGETS["ls"] - 1) <= 0.2
            mark = " *" if fits and r["cost"] <= 1.0 else " e" if fits else ""
            print(f"{h:2d} {alpha:5.1f} {r['sentra']:7.3f} {r['ls']:7.3f} {r['seven']:7.3f} {r['aggregate']:7.3f} "
                  f"{np.median(r['lerner']):6.3f} {r['cost']:6.3f} {r['curvature']:5.2f} {share_unaff:6.3f} {share_none:6.3f} "
                  f"{int((r['costs'] < 0).sum()):4d} {r['inv_it']:5d} {r['cost_it']:4d} {r['seconds']:4.1f}"
                  f"{mark}")
    print(f"curv: units-weighted (1 + CV_b^2)(1 - 1/alpha) of the taxed models (single-product pass-through < 1 "
          "needs < 1); unaff: share of households (weighted) with at least one product at p >= H y; noCar: none "
          f"affordable; negC: negative recovered costs; inv/eq: iterations. Total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
