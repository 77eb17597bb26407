"""Excluded demand instruments built from product characteristics, as PyBLP builds them.

BLP "sums of characteristics" instruments (Berry, Levinsohn and Pakes 1995) and differentiation
instruments (Gandhi and Houde 2019), column for column as ``pyblp.build_blp_instruments`` and
``pyblp.build_differentiation_instruments`` (Conlon and Gortmaker 2020) return them, so a PyBLP
script's instruments carry over. Characteristics X come from a patsy formula over the products
table (an intercept unless the formula starts with ``0 +``, as in PyBLP); ownership is ``firm_ids``
within ``market_ids``. Each builder returns a table aligned with ``products``: the "other" block
(the firm's other products) and then the "rival" block (other firms' products).
"""

from __future__ import annotations

import re
from typing import Literal

import numpy as np
import pandas as pd
import patsy

from autopact.fit.problem import EstimationError, _matrix
from autopact.model.supply import ownership_matrix


def _characteristics(formula: str, products: pd.DataFrame) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    """X (N, K) from ``formula``, its column names, and market and firm codes; bad input is named."""
    for column in ("market_ids", "firm_ids"):
        if column not in products.columns:
            raise EstimationError(f"products: required column {column!r} is missing")
        missing = np.flatnonzero(products[column].isna().to_numpy())
        if len(missing):
            raise EstimationError(f"products: {column} is missing in {len(missing)} row(s), first in row {missing[0]}")
    try:
        frame = _matrix(formula, products, "instrument formula")
    except patsy.PatsyError as error:
        name = re.search(r"name '([^']+)' is not defined", str(error))
        raise EstimationError(f"instrument formula {formula!r}: products has no column {name.group(1)!r}" if name
                              else f"instrument formula {formula!r}: {error}") from None
    if len(frame) != len(products):  # patsy drops rows with missing values
        row = products.index.difference(frame.index)[0]
        columns = [c for c in products.columns if pd.isna(products.at[row, c]) and re.search(rf"\b{re.escape(c)}\b", formula)]
        raise EstimationError(f"instrument formula {formula!r}: missing value in column(s) {columns} at row {row}")
    x = frame.to_numpy(float)
    bad = ~np.isfinite(x)
    if bad.any():
        row, k = np.argwhere(bad)[0]
        raise EstimationError(f"instrument formula {formula!r}: {frame.columns[k]!r} is not finite at row {row}")
    markets = pd.factorize(products["market_ids"])[0]
    firms = pd.factorize(products["firm_ids"])[0]
    return x, list(frame.columns), markets, firms


def _group_sums(x: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Each row's sum of x over its group (rows added in order)."""
    sums = np.zeros((codes.max() + 1, x.shape[1]))
    np.add.at(sums, codes, x)
    return sums[codes]


def blp_instruments(formula: str, products: pd.DataFrame) -> pd.DataFrame:
    """BLP (1995) sums of characteristics over the firm's other products and over rivals' products.

    For product j of firm f in market t, with J_ft the firm's products there,

        other_jt = sum_{k in J_ft, k != j} x_kt,    rival_jt = sum_{k not in J_ft} x_kt,

    one column each per characteristic of ``formula``: [other..., rival...], as
    ``pyblp.build_blp_instruments(pyblp.Formulation(formula), products)`` (Conlon and Gortmaker 2020).
    An intercept gives the counts of the firm's other products and of rivals' products.
    """
    x, names, markets, firms = _characteristics(formula, products)
    other = _group_sums(x, markets * (firms.max() + 1) + firms) - x
    rival = _group_sums(x, markets) - x - other
    return pd.DataFrame(np.c_[other, rival], index=products.index,
                        columns=[f"{block}[{name}]" for block in ("other", "rival") for name in names])


def differentiation_instruments(formula: str, products: pd.DataFrame,
                                version: Literal["local", "quadratic"] = "local",
                                interact: bool = False) -> pd.DataFrame:
    """Gandhi and Houde (2019) differentiation instruments: sums over the firm's other products and
    over rivals' products of functions of characteristic differences d_jkl = x_jl - x_kl in a market.

        local:     1(|d_jkl| < SD_l),   SD_l the standard deviation of d_jkl over all pairs j != k
                   in every market (the count of close products);
        quadratic: d_jkl^2.

    ``interact`` adds covariances: local summands 1(|d_jkl| < SD_l) d_jkl' for every l', quadratic
    summands d_jkl d_jkl' for l' >= l. Columns are [other..., rival...], as
    ``pyblp.build_differentiation_instruments(pyblp.Formulation(formula), products, version, interact)``
    (Conlon and Gortmaker 2020). The sign of d follows PyBLP's code (its documentation writes x_kl - x_jl);
    it matters only for local interactions. An intercept gives zero columns: start the formula with ``0 +``.
    """
    if version not in ("local", "quadratic"):
        raise EstimationError(f"differentiation instruments: version must be 'local' or 'quadratic', got {version!r}")
    x, names, markets, firms = _characteristics(formula, products)
    k = len(names)
    if version == "quadratic":
        terms = [(a, b) for a in range(k) for b in (range(a, k) if interact else [a])]
    else:
        terms = [(a, b) for a in range(k) for b in (range(k) if interact else [a])]
    groups = pd.Series(markets).groupby(markets, sort=False).indices.values()

    def differences(rows: np.ndarray) -> list[np.ndarray]:
        return [x[rows, a][:, None] - x[rows, a][None, :] for a in range(k)]  # (J, J): x_j - x_k

    if version == "local":  # PyBLP's first pass: moments of all off-diagonal differences, market by market
        count, total, squares = 0, np.zeros(k), np.zeros(k)
        for rows in groups:
            count += len(rows) ** 2 - len(rows)
            for a, d in enumerate(differences(rows)):
                total[a] += np.sum(d)
                squares[a] += np.sum(d ** 2)
        sd = np.sqrt(squares / count - (total / count) ** 2)
    out = np.zeros((len(x), 2 * len(terms)))
    for rows in groups:
        d = differences(rows)
        own = ownership_matrix(pd.factorize(firms[rows])[0])
        if version == "local":
            close = [(np.abs(d_a) < sd[a]) & ~np.eye(len(rows), dtype=bool) for a, d_a in enumerate(d)]
        for column, (a, b) in enumerate(terms):
            if version == "quadratic":
                term = d[a] * d[b]
            else:
                term = close[a].astype(float) * (d[b] if interact else 1.0)
            out[rows, column] = (own * term).sum(axis=1)
            out[rows, len(terms) + column] = ((1 - own) * term).sum(axis=1)
    labels = [names[a] if a == b and not (interact and version == "local") else f"{names[a]}:{names[b]}"
              for a, b in terms]
    return pd.DataFrame(out, index=products.index,
                        columns=[f"{version}_{block}[{label}]" for block in ("other", "rival") for label in labels])


def with_demand_instruments(products: pd.DataFrame, *blocks: pd.DataFrame) -> pd.DataFrame:
    """``products`` with the columns of ``blocks`` appended as excluded demand instruments,
    numbered after the existing demand_instruments* columns (which are kept)."""
    existing = [int(c[len("demand_instruments"):]) for c in products.columns
                if re.fullmatch(r"demand_instruments\d+", c)]
    start = max(existing, default=-1) + 1
    built = pd.concat(blocks, axis=1) if blocks else pd.DataFrame(index=products.index)
    for name in built.columns:
        if not np.any(built[name].to_numpy()):
            raise EstimationError(f"instrument {name} is zero for every product (an intercept in a differentiation "
                                  "formula? start it with '0 +'; or no firm has two products in a market)")
    appended = built.set_axis([f"demand_instruments{start + i}" for i in range(built.shape[1])], axis=1)
    return pd.concat([products, appended], axis=1)
