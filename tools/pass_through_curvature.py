"""Research, not part of the package: why the demand's pass-through exceeds 1, model by model.

For a single-product seller with constant marginal cost, the first-order condition p - c = -s / s'
gives the pass-through (Bulow and Pfleiderer 1983; Weyl and Fabinger 2013, JPE 121(3), eq. 1)

    dp/dc = 1 / (2 - s s'' / s'^2),

which is at least 1 exactly where demand is log-convex in its own price (s s'' >= s'^2). In a random
coefficients logit whose utility is linear in price, s_j(p_j) = sum_i w_i s_ij with
ds_ij/dp_j = -alpha_i s_ij (1 - s_ij), so

    s'  = -sum_i w_i alpha_i   s_ij (1 - s_ij),
    s'' =  sum_i w_i alpha_i^2 s_ij (1 - s_ij) (1 - 2 s_ij),

and where each household's s_ij is small, s s'' / s'^2 = E_b[alpha^2] / E_b[alpha]^2 = 1 + CV_b^2, the
moments taken over the model's buyers (weights w_i s_ij): a mixture of exponentials in the own price,
log-convex by the Cauchy-Schwarz inequality, so dp/dc = 1 / (1 - CV_b^2) >= 1 however the price
coefficient is spread. Plain logit (CV_b = 0) gives 1 - s. A pass-through below 1 (Feenstra's 0.6 to
1 for Japanese imports) needs each household's price sensitivity to rise with the price itself, as
in BLP (1995)'s alpha ln(y_i - p_j), which the kernels' u_ij = delta_j - (alpha_i - alpha) p_j cannot
hold.

The script takes the bundled 2025 market, prints for the 51 models assembled in Japan this
single-product pass-through (all other prices held, the owner's other models ignored), its
small-share form 1 / (1 - CV_b^2), and the model's own pass-through of a 5% tariff on them
(``runs.backtest_2026_early.pass_through``: every price free, owners' other models counted), with
their units-weighted means. docs/backtests.md, "Why the pass-through exceeds 1".

    PYTHONPATH=src python tools/pass_through_curvature.py
"""
from __future__ import annotations

import numpy as np

from autopact.data import load_market
from autopact.fit.stored_calibration import calibrated_market
from autopact.fit.market import calibrated_model
from autopact.model.demand import individual_shares
from autopact.outcomes.caveats import cost_pass_through_rows
from autopact.policy.scenario import parse_scenario
from autopact.runs.backtest_2026_early import PASS_THROUGH_ORIGIN, PASS_THROUGH_TARIFF_PCT
from autopact.simulate import simulate, solved_baseline


def choice_probabilities(market, state) -> tuple[np.ndarray, np.ndarray]:
    """The consumer prices of ``state`` and each household's choice probabilities s_ij there."""
    demand = market.demand
    if demand.rho > 1e-8:
        raise ValueError("the formulas here are those of demand without nests (the bundled rho is 7e-13)")
    prices = state.products["consumer_price"].to_numpy(float)
    return prices, individual_shares(market.xi - demand.alpha * prices, prices, demand)[0]


def single_product(market, state) -> dict[str, np.ndarray]:
    """dp/dc = 1 / (2 - s s''/s'^2) of each product alone and its small-share form 1 / (1 - CV_b^2)."""
    demand = market.demand
    _, s_ij = choice_probabilities(market, state)
    w, a = demand.weights[:, None], demand.price_sensitivity[:, None]
    first = -(w * a * s_ij * (1 - s_ij)).sum(axis=0)
    second = (w * a ** 2 * s_ij * (1 - s_ij) * (1 - 2 * s_ij)).sum(axis=0)
    s = (w * s_ij).sum(axis=0)
    buyers = w * s_ij / s
    mean, square = (buyers * a).sum(axis=0), (buyers * a ** 2).sum(axis=0)
    cv2 = square / mean ** 2 - 1.0
    return {"exact": 1.0 / (2.0 - s * second / first ** 2), "small_share": 1.0 / (1.0 - cv2), "cv2": cv2}


def sentra_bound(market, state, sentra: str = "nissan--sentra--ice", luxury: tuple[str, ...] = ("lexus--ls--ice", "lexus--ls--hev"),
                 e_sentra: float = -6.528, e_luxury: float = -3.085) -> dict[str, float]:
    """The least CV_b^2 of the Sentra's buyers that BLP's two elasticity targets allow in the income form.

    With alpha_i = alpha + pi / y_i, a model's elasticity is about -p_j E_b[alpha] (small shares), so the
    luxury target caps the income-free part: alpha <= E_b,LS[alpha] = -e_LS / p_LS. The Sentra's buyers
    then owe the rest, pi E_b,S[1/y] >= -e_S / p_S - alpha, to income, and
    CV_b,S^2 = pi^2 Var_b,S(1/y) / E_b,S[alpha]^2 >= (1 - (e_LS / p_LS) / (e_S / p_S))^2 c_S^2,
    c_S^2 the squared coefficient of variation of 1/income among the Sentra's buyers (here at the bundled fit)."""
    demand = market.demand
    prices, s_ij = choice_probabilities(market, state)
    ids = state.products["product_id"].tolist()
    j = ids.index(sentra)
    buyers = demand.weights * s_ij[:, j] / (demand.weights @ s_ij[:, j])
    inverse = 1.0 / demand.income
    c2 = (buyers @ inverse ** 2) / (buyers @ inverse) ** 2 - 1.0
    units = state.products["units"].to_numpy(float)
    lux = [ids.index(pid) for pid in luxury]
    p_lux = float(units[lux] @ prices[lux] / units[lux].sum())
    share = (e_luxury / p_lux) / (e_sentra / prices[j])
    bound = (1.0 - share) ** 2 * c2
    return {"sentra_price": float(prices[j]), "luxury_price": p_lux, "income_free_share_at_most": share,
            "c2": float(c2), "cv2_bound": float(bound), "pass_through_bound": 1.0 / (1.0 - bound)}


def main() -> None:
    data = load_market(2025)
    market = calibrated_model(data, calibrated_market(data))
    state = solved_baseline(market)
    alone = single_product(market, state)
    scenario = parse_scenario({"name": "pass-through", "extra_tariffs": [
        {"name": "taxed", "origin": [PASS_THROUGH_ORIGIN], "ad_valorem_pct": PASS_THROUGH_TARIFF_PCT}]}, "tool")
    result = simulate(scenario, market)
    found = cost_pass_through_rows(result.baseline, result.counterfactual)
    taxed = found["changed"]
    ids = state.products["product_id"].tolist()
    common = list(found["common"])
    index = np.array([ids.index(pid) for pid in common])[taxed]
    names = found["base"].loc[found["common"], "name"].to_numpy(str)[taxed]
    units = found["units"][taxed]
    full = found["price_change"][taxed] / found["cost_change"][taxed]
    rows = sorted(zip(names, units, alone["cv2"][index], alone["small_share"][index], alone["exact"][index], full),
                  key=lambda r: -r[1])
    print(f"{'model':44s} {'units':>8s} {'CV_b^2':>7s} {'1/(1-CV2)':>9s} {'alone':>6s} {'model':>6s}")
    for name, q, cv2, small, exact, rate in rows:
        print(f"{name[:44]:44s} {q:8.0f} {cv2:7.3f} {small:9.2f} {exact:6.2f} {rate:6.2f}")
    weights = units / units.sum()
    print(f"units-weighted: CV_b^2 {weights @ alone['cv2'][index]:.3f}; alone {weights @ alone['exact'][index]:.2f} "
          f"(median {np.median(alone['exact'][index]):.2f}); model {found['rate']:.2f} (median {np.median(full):.2f}); "
          f"correlation of alone and model across the {taxed.sum()} models {np.corrcoef(alone['exact'][index], full)[0, 1]:.2f}")
    b = sentra_bound(market, state)
    print(f"BLP's targets: the LS at ${b['luxury_price']:,.0f} caps the income-free part of the Sentra's (at "
          f"${b['sentra_price']:,.0f}) mean price sensitivity at {b['income_free_share_at_most']:.2f}; 1/income among its buyers has "
          f"CV^2 {b['c2']:.3f}, so CV_b^2 >= {b['cv2_bound']:.3f}: a pass-through alone of {b['pass_through_bound']:.2f} or more "
          "in the small-share form")
    every = alone["exact"]
    all_units = state.products["units"].to_numpy(float)
    print(f"every model of the market: alone below 1 for {(every < 1).sum()} of {len(every)}; units-weighted {every @ all_units / all_units.sum():.2f}, "
          f"lowest {every.min():.3f} ({state.products['product_id'].iloc[int(np.argmin(every))]})")


if __name__ == "__main__":
    main()
