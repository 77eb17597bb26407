"""Ownership levers: joint ventures, licences and mergers as profit weights.

Firm f sets its prices to maximise sum_g kappa_fg pi_g (O'Brien and Salop 2000). A joint venture
is its own firm; with parents' stakes s_p, kappa(JV, p) = kappa(p, JV) = s_p, and its profit is
split to the parents by those stakes. A merger sets kappa between its firms to its profit weight
(1: one merged firm).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from autopact.errors import ScenarioError


def merger_weights(kappa: np.ndarray, owner_names: list[str], mergers: list) -> np.ndarray:
    """Profit weights kappa (F, F) with each merger's firms weighing each other's profit by its
    ``profit_weight`` (1: one merged firm); unknown firms raise ScenarioError naming the field."""
    kappa = np.array(kappa, float, copy=True)
    for k, merger in enumerate(mergers):
        for firm in merger.firms:
            if firm not in owner_names:
                raise ScenarioError(f"mergers[{k}].firms: unknown firm {firm!r}; known: {', '.join(sorted(owner_names))}")
        codes = [owner_names.index(f) for f in merger.firms]
        for a in codes:
            for b in codes:
                if a != b:
                    kappa[a, b] = max(kappa[a, b], merger.profit_weight)
    return kappa


def ownership(products: pd.DataFrame, stakes: dict[str, dict[str, float]], mergers: list,
              holders: list[str]) -> tuple[pd.DataFrame, np.ndarray, list[str], np.ndarray]:
    """Profit shares, owner codes and profit weights of a product set.

    ``stakes`` gives the parents' shares of the products that are not wholly their owner's
    (product_id -> {holder: share}); every other product belongs wholly to its ``owner``.
    ``holders`` are the firms that hold stakes anywhere in the market (the stakes' columns, sorted).
    Returns (stakes (J, holders), owner code of each product, owner names, kappa (F, F)).
    """
    columns = sorted(holders)
    column = {holder: k for k, holder in enumerate(columns)}
    ids, firms = products["product_id"].tolist(), products["owner"].tolist()
    shares = np.zeros((len(ids), len(columns)))  # filled as numbers, not cell by cell in the frame (draws)
    for j, (product_id, owner) in enumerate(zip(ids, firms)):
        for holder, share in stakes.get(product_id, {owner: 1.0}).items():
            shares[j, column[holder]] = share
    table = pd.DataFrame(shares, index=products.index, columns=columns)
    owner_names = list(dict.fromkeys(firms))
    code = {name: k for k, name in enumerate(owner_names)}
    kappa = np.eye(len(owner_names))
    for product_id, owner in zip(ids, firms):
        split = stakes.get(product_id, {})
        if len(split) > 1:
            jv = code[owner]
            for parent, share in split.items():
                if parent in code:
                    kappa[jv, code[parent]] = kappa[code[parent], jv] = share
    kappa = merger_weights(kappa, owner_names, mergers)
    owners = np.array([code[o] for o in firms])
    return table, owners, owner_names, kappa
