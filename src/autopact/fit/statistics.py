"""The statistics a calibration target names, computed in the model (``model_statistics``).

Each row of ``calibration_targets.csv`` names a statistic, a group and a value:

- ``mean_own_elasticity``: the share-weighted mean own-price elasticity e_jj = (ds_j/dp_j) p_j / s_j
  of a product group;
- ``aggregate_elasticity``: the elasticity of total inside sales when every price rises by the
  same percentage, sum_jk (ds_j/dp_k) p_k / sum_j s_j;
- ``group_aggregate_elasticity``: the same over a product group's prices and sales; a group
  ``BEV@0-100000`` takes it among the households with income in [0, 100000) only (the population of
  a study of low- and middle-income buyers), sum_{jk in group} (ds^G_j/dp_k) p_k / sum_{j in group} s^G_j
  with s^G_j = sum_{i in G} w_i s_ij (``demand.group_jacobian_parts``);
- ``bev_second_choice``: the share of BEVs' diversion to inside goods that goes to a product group,
  diversion D_jk = -(ds_k/dp_j) / (ds_j/dp_j), share-weighted over BEVs;
- ``buyer_income_share`` and ``bev_buyer_income_share``: the share of buyers (of BEV buyers) whose
  household income lies in the group's range ``low-high`` (``200000-``: no upper limit);
- ``mean_lerner``: the share-weighted mean Lerner index (p_j - c_j) / p_j of a product group, the
  markups from the multiproduct Bertrand-Nash first-order conditions at the observed prices under
  the parent companies' ownership, m = -(Omega o J')^-1 s (BLP 1995, eq. 3.6): the statistic of
  Grieco, Murry and Yurukoglu (2024), Table VII.

Product groups: ``all``, ``luxury``, ``compact_car`` (non-luxury cars), powertrains, segments or
product ids, several joined by ";".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from autopact.model.demand import Demand, group_jacobian_parts, individual_shares, jacobian_parts
from autopact.model.supply import first_order_markups, ownership_matrix

# ``arrays`` below is a ``fit.calibration.MarketArrays`` (typed Any here: that module imports this one)
MarketArrays = Any

STATISTICS = ("mean_own_elasticity", "aggregate_elasticity", "bev_second_choice",
              "group_aggregate_elasticity", "buyer_income_share", "bev_buyer_income_share", "mean_lerner")
INCOME_STATISTICS = ("buyer_income_share", "bev_buyer_income_share")


class CalibrationError(ValueError):
    """Bad calibration input: an unknown target statistic or parameter, or a bad value."""


def product_group(arrays: MarketArrays, group: str, label: str | None = None) -> np.ndarray:
    """The products a target's group names: all, luxury, compact_car (non-luxury cars), powertrains or
    segments, or product ids (``nissan--sentra--ice``; several joined by ";"), as a boolean mask.
    ``label``: the group as the target wrote it, for the error (``BEV@0-100000``; default ``group``)."""
    if group == "all":
        return np.ones(len(arrays.prices), bool)
    if group == "luxury":
        return arrays.luxury
    if group == "compact_car":
        return (arrays.segment == "car") & ~arrays.luxury
    names = group.split(";")
    mask = np.isin(arrays.powertrain, names) | np.isin(arrays.segment, names) | np.isin(arrays.product_ids, names)
    if not mask.any():
        raise CalibrationError(f"target group {label or group!r} names no product of this market (a powertrain, a "
                               "segment or product ids joined by ';')")
    return mask


def income_range(group: str) -> tuple[float, float]:
    """[low, high) of an income group ``low-high`` (``low-``: no upper limit), dollars."""
    low, _, high = group.partition("-")
    try:
        bounds = float(low), float(high) if high else np.inf
    except ValueError:
        raise CalibrationError(f"income group {group!r}: expected low-high in dollars, e.g. 0-100000 or 200000-") from None
    if not bounds[0] < bounds[1]:
        raise CalibrationError(f"income group {group!r}: the lower bound must be below the upper one")
    return bounds


def split_group(group: str) -> tuple[str, tuple[float, float] | None]:
    """A group ``products@low-high`` as (products, income range); without "@" the range is None."""
    products, at, households = group.partition("@")
    return products, income_range(households) if at else None


def check_group(statistic: str, group: str) -> None:
    """Refuse a group its statistic cannot read (called when targets are loaded)."""
    if statistic in INCOME_STATISTICS:
        income_range(group)
    elif "@" in group:
        if statistic != "group_aggregate_elasticity":
            raise CalibrationError(f"target group {group!r}: a household income range (@low-high) is read by "
                                   "group_aggregate_elasticity only")
        split_group(group)


def buyer_income_share(individual: np.ndarray, demand: Demand, low: float, high: float,
                       products: np.ndarray | None = None) -> float:
    """The share of buyers (of ``products``, a mask; of any product where None) whose household income
    lies in [low, high): sum_{i: low <= y_i < high} w_i sum_j s_ij / sum_i w_i sum_j s_ij, from the
    households' choice probabilities ``individual`` (I, J)."""
    chosen = individual if products is None else individual[:, products]
    buyers = demand.weights * chosen.sum(axis=1)
    return float(buyers[(demand.income >= low) & (demand.income < high)].sum() / buyers.sum())


def group_elasticity(delta: np.ndarray, prices: np.ndarray, demand: Demand, products: np.ndarray,
                     among: np.ndarray, individual: np.ndarray | None = None) -> float:
    """The elasticity of the purchases of ``products`` (a mask) by the households ``among`` (a mask)
    to a uniform percentage rise in those products' prices:
    sum_{j,k in group} (d s^G_j / d p_k) p_k / sum_{j in group} s^G_j, s^G_j = sum_{i in G} w_i s_ij.
    ``individual``: the households' choice probabilities s_ij where the caller has them already."""
    if not np.any(among) or not np.any(products):
        raise CalibrationError(f"group elasticity: no {'simulated household' if not np.any(among) else 'product'} "
                               "in the group (an income range with no household, or no product of the kind)")
    lam, gamma = group_jacobian_parts(delta, prices, demand, among)
    jacobian = (np.diag(lam) - gamma)[np.ix_(products, products)]
    if individual is None:
        individual = individual_shares(delta, prices, demand)[0]
    purchases = demand.weights[among] @ individual[np.ix_(among, products)]
    return float((jacobian @ prices[products]).sum() / purchases.sum())


def model_statistics(targets: pd.DataFrame, delta: np.ndarray, demand: Demand, arrays: MarketArrays) -> np.ndarray:
    """Each target's statistic in the model at mean utilities ``delta`` (same order as ``targets``)."""
    p = arrays.prices
    s, lam, gamma = jacobian_parts(delta, p, demand)
    jac = np.diag(lam) - gamma
    own = np.diag(jac) * p / s
    individual = individual_shares(delta, p, demand)[0]
    bev = arrays.powertrain == "BEV"
    values = []
    for row in targets.itertuples():
        group = str(row.group)
        if row.statistic in INCOME_STATISTICS:
            values.append(buyer_income_share(individual, demand, *income_range(group),
                                             bev if row.statistic == "bev_buyer_income_share" else None))
            continue
        products, households = split_group(group)
        mask = product_group(arrays, products, group)
        if row.statistic == "mean_own_elasticity":
            values.append(np.average(own[mask], weights=s[mask]))
        elif row.statistic == "mean_lerner":
            markups = first_order_markups(jac, s, ownership_matrix(arrays.owners))
            values.append(np.average(markups[mask] / p[mask], weights=s[mask]))
        elif row.statistic == "aggregate_elasticity":
            values.append((jac @ p).sum() / s.sum())
        elif row.statistic == "group_aggregate_elasticity" and households is None:
            values.append((jac[np.ix_(mask, mask)] @ p[mask]).sum() / s[mask].sum())
        elif row.statistic == "group_aggregate_elasticity":
            among = (demand.income >= households[0]) & (demand.income < households[1])
            if not among.any():
                raise CalibrationError(f"target group {group!r}: no simulated household has income in "
                                       f"[{households[0]:,.0f}, {households[1]:,.0f})")
            values.append(group_elasticity(delta, p, demand, mask, among, individual))
        else:  # bev_second_choice
            # D_jk = -J_kj / J_jj; share of BEV j's diversion to inside goods that goes to the group
            d = -jac[:, bev].T / np.diag(jac)[bev][:, None]
            d[np.arange(bev.sum()), np.flatnonzero(bev)] = 0.0
            values.append(np.average(d[:, mask].sum(axis=1) / d.sum(axis=1), weights=s[bev]))
    return np.array(values, float)
