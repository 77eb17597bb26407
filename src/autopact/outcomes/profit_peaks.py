"""New models at a near tie of their owner's profit peaks: the caveat of a result whose entrant could as
well sell at a very different price.

With price sensitivity from income (the bundled calibration, alpha_i = alpha + pi / y_i), the demand a
cheap new model faces mixes very price-sensitive low-income households with the rest, and its owner's
profit in its own price,

    pi_f(p_j) = M sum_k Omega_jk (p_k - c_k) s_k(p_j, p_-j),

can have two peaks: a low price for many buyers and a high one for few (``autopact.model.continuation``).
The solver reports the higher one (``autopact.runs.best_response`` checks that an unconstrained entrant's
price is its owner's global best response). Where the other peak's profit is within ``NEAR_TIE`` of the
reported one, a small change of any input (a cost, a tariff, the data) moves the model to the other peak,
with a very different price and volume (docs/backtests.md, "Entrants at a near tie", has the cases met). Such a
model's central units are one of two answers the model gives about equally; the caveat names it, the
other peak's price, what the model would add to its owner's profit there against what it adds at the
reported price, and its units there (every other price held: a unilateral deviation).

The curve compared is what offering the model adds to its owner's profit, pi_f(p_j) - pi_f(no sale)
(the model at ``WITHOUT`` times its cost, where it sells nothing; cannibalised sales of the owner's other
models count against it): the owner's whole profit hardly moves with one new model's price (Ford's by
about 1% over the Ford Universal EV pickup's whole grid), so peaks of the whole would all look tied. It is taken over the
grid the path and the validation use (``continuation.response_grid``: cost times 1.02 to 3, a step of 2%
of cost; ``continuation.owner_profits``). A peak is an interior local maximum of the grid's profits; two
peaks are apart where the profit between them dips by more than ``VALLEY`` below the lower of the two (a
flat ridge's ripples are not peaks), and the other peak is another answer where its price differs from the
reported one by ``APART`` or more. An entrant that a binding plant or a quota at its volume holds
(``capped_products``) is left out: its capacity, not its demand, sets its price. Reporting conventions,
not estimates: ``NEAR_TIE`` 10%, because a new model's mean utility is uncertain by the entry back-test's
launch errors (median |log error| about 0.5, the bands' launch-appeal draws), which move what the model
adds to its owner's profit at either peak by far more than a tenth.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autopact.model.continuation import owner_profits, response_grid
from autopact.model.demand import shares
from autopact.outcomes.state import capped_products, pricing_point

NEAR_TIE = 0.10  # the other peak's profit at least (1 - NEAR_TIE) of the reported one: a near tie
VALLEY = 0.005  # two grid peaks are apart where the profit between them dips this far below the lower
APART = 0.10  # and a peak counts as another answer where its price differs from the reported one by this much
WITHOUT = 100.0  # a price of this many times cost sells nothing: the owner's profit without the model


def apart(profits: np.ndarray, h: int, k: int) -> bool:
    """Whether grid points h and k lie on separate hills: the profit between them falls more than
    ``VALLEY`` (relative) below the lower of the two. Profits are taken positive (what a model adds to
    its owner's profit at a peak worth reporting)."""
    return bool(profits[min(h, k):max(h, k) + 1].min() < (1 - VALLEY) * min(profits[h], profits[k]))


def grid_peaks(profits: np.ndarray) -> list[int]:
    """Indices of the separate peaks of a (positive) profit curve on a grid: interior local maxima
    (p_k >= p_{k-1} and p_k > p_{k+1}), a lower one dropped where it is not ``apart`` from a higher one."""
    p = np.asarray(profits, float)
    found = [k for k in range(1, len(p) - 1) if p[k] >= p[k - 1] and p[k] > p[k + 1]]
    kept: list[int] = []
    for k in sorted(found, key=lambda k: -p[k]):  # highest first
        if all(apart(p, k, h) for h in kept):
            kept.append(k)
    return sorted(kept)


def other_peak(grid: np.ndarray, profits: np.ndarray, price: float) -> int | None:
    """Index of the highest grid peak apart from the one ``price`` sits on (the peak its nearest grid
    point climbs to), None where the curve has one peak."""
    peaks = grid_peaks(profits)
    k = int(np.argmin(np.abs(grid - price)))
    while True:  # climb to the peak of price's own hill
        step = k + (1 if k + 1 < len(profits) and profits[k + 1] > profits[k] else
                    -1 if k > 0 and profits[k - 1] > profits[k] else 0)
        if step == k:
            break
        k = step
    own = next((h for h in peaks if not apart(profits, h, k)), None)  # the kept peak of price's hill
    others = [h for h in peaks if h != own and (own is None or apart(profits, h, own))]
    return max(others, key=lambda h: profits[h], default=None)


def near_tied_peaks(result: Any) -> dict[str, Any] | None:
    """The caveat of a solved result (``outcomes.document.SimulationResult``) with a new model outside a
    binding plant or quota that would add to its owner's profit, at another peak ``APART`` or more away in
    price, at least (1 - ``NEAR_TIE``) of what it adds at the reported price; None otherwise. A product
    announced between two peaks is left to ``announced_between_peaks``, which names both."""
    market, base, state = result.market, result.baseline.products, result.counterfactual
    products = state.products
    new = ~products["product_id"].isin(base["product_id"]).to_numpy()
    # a binding plant or quota sets a capped product's price; a product announced between two peaks has its
    # own caveat naming both (announced_between_peaks)
    left_out = capped_products(market, state) | {row["product_id"] for row in market.announced_costs
                                                 if row.get("rule") == "indifference"}
    prices = products["price"].to_numpy(float)
    point = pricing_point(market, state)
    costs, taxes = point[0], point[3]
    rows = []
    for j in np.flatnonzero(new):
        if str(products["product_id"].iloc[j]) in left_out:
            continue
        grid = response_grid(costs[j])
        profits = owner_profits(j, prices, np.append(grid, [prices[j], WITHOUT * costs[j]]), point, market.demand)
        profits = profits[:-1] - profits[-1]  # what offering the model adds to its owner's profit
        here, profits = profits[-1], profits[:-1]
        k = other_peak(grid, profits, prices[j])
        if (k is None or here <= 0 or profits[k] < (1 - NEAR_TIE) * here
                or abs(grid[k] / prices[j] - 1) < APART):
            continue
        trial = prices.copy()
        trial[j] = grid[k]
        consumer = taxes.consumer_prices(trial)
        units = market.market_size * float(shares(market.xi - market.demand.alpha * consumer, consumer, market.demand)[j])
        rows.append({"product_id": str(products["product_id"].iloc[j]), "name": str(products["name"].iloc[j]),
                     "units": float(products["units"].iloc[j]), "price": float(prices[j]),
                     "other_peak_price": float(grid[k]), "other_peak_units": units,
                     "other_peak_profit_share": float(profits[k] / here)})
    if not rows:
        return None
    names = "; ".join(f"{r['name']}: {r['units']:,.0f} units at ${r['price']:,.0f}, against about "
                      f"{r['other_peak_units']:,.0f} at ${r['other_peak_price']:,.0f}, where it would add "
                      f"{r['other_peak_profit_share']:.0%} as much to its owner's profit (other prices held)" for r in rows)
    text = (f"new models whose owner earns nearly as much at a very different price (another peak of its profit, "
            f"within {NEAR_TIE:.0%}): {names}. Which of the two the model reports turns on small changes of costs, "
            "tariffs or data, so read such a model's price and units as either answer; the bands' draws show how "
            "often each comes up (README, Several equilibria).")
    return {"kind": "near_tied_profit_peaks", "text": text, "near_tie": NEAR_TIE, "products": rows}


def announced_between_peaks(result: Any) -> dict[str, Any] | None:
    """The caveat of a result with a new product whose announced price is no best response of its owner
    at any cost (``autopact.policy.new_products.rationalised_costs``, rule ``indifference``): its cost is
    the one at which its owner is indifferent between the best prices below and above the announcement at
    the prices before the scenario, so the equilibrium, with rivals' responses, settles at or near one of
    the two; the caveat names both and where the equilibrium put it. None where every announced price is a
    best response at the cost its first-order condition implies."""
    rows = [row for row in result.market.announced_costs if row.get("rule") == "indifference"]
    if not rows:
        return None
    solved = result.counterfactual.products.set_index("product_id")
    rows = [{**r, "price": float(solved.at[r["product_id"], "price"]), "units": float(solved.at[r["product_id"], "units"])}
            for r in rows]
    names = "; ".join(
        f"{r['name']}, announced at ${r['announced_price']:,.0f} at the model's price level: at no marginal cost would "
        f"its owner choose that price (the first-order condition there, at a cost of ${r['first_order_cost']:,.0f}, "
        f"marks a {r['first_order_point']}); the cost taken, ${r['cost']:,.0f}, is the one at which its owner is "
        f"indifferent between ${r['peaks'][0]['price']:,.0f} (about {r['peaks'][0]['units']:,.0f} units) and "
        f"${r['peaks'][1]['price']:,.0f} (about {r['peaks'][1]['units']:,.0f}), other prices as before the scenario; "
        f"with rivals' responses the equilibrium puts it at ${r['price']:,.0f} ({r['units']:,.0f} units)"
        for r in rows)
    text = ("new products announced at a price between two peaks of their owner's profit in this model's demand: "
            f"{names}. Which of the two prices the equilibrium settles near turns on rivals' responses to a cost that "
            "is a tie before them, so read such a product's price and units as one of two answers, both far from its "
            "announced price in units (docs/backtests.md, Announced prices between two profit peaks).")
    return {"kind": "announced_price_between_peaks", "text": text, "products": rows}
