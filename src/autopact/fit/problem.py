"""An estimation problem: products and agents by market, the formulas' matrices, and the parameters.

``Problem.build`` turns PyBLP-style formulas (X1 linear, X2 nonlinear, demographics, X3 supply)
and data columns into per-market arrays; ``Parameters`` holds sigma, pi and rho with the pattern
of which are free (a starting value of zero fixes an entry, as in PyBLP).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import patsy

from autopact.errors import ConvergenceError, EstimationError  # noqa: F401  (EstimationError: re-exported)
from autopact.fit.formulas import FormulaError, design_matrix


def _matrix(formula: str, data: pd.DataFrame, field: str = "formula", table: str = "products") -> pd.DataFrame:
    """The design matrix of ``formula`` over ``data``; only whitelisted formulas reach patsy
    (``autopact.fit.formulas``), and a refused one names ``field``."""
    try:
        return design_matrix(formula, data, field, table)
    except FormulaError as error:
        raise EstimationError(str(error)) from None


@dataclass
class Market:
    """One market's arrays for estimation."""

    rows: np.ndarray  # positions of its products in the stacked data
    shares: np.ndarray
    prices: np.ndarray
    x2: np.ndarray  # (J, K2) characteristics with random coefficients (may include prices)
    nests: np.ndarray
    weights: np.ndarray
    nodes: np.ndarray  # (I, K2)
    demographics: np.ndarray  # (I, D)
    ownership: np.ndarray | None = None  # (J, J) for the supply side
    weight_total: float = 1.0  # the agent weights' sum in the data, when it is not one (see ``Problem.build``)


@dataclass
class Problem:
    """Stacked product data, instruments and per-market agent data; ``formulations`` are patsy strings."""

    x1: np.ndarray
    z: np.ndarray
    x1_names: list[str]
    x2_names: list[str]
    demographic_names: list[str]
    markets: list[Market]
    clusters: np.ndarray | None
    nested: bool
    absorb: list[np.ndarray] = field(default_factory=list)  # fixed-effect group codes, one array per dimension
    x3: np.ndarray | None = None  # supply side: cost characteristics (N, K3)
    zs: np.ndarray | None = None  # supply instruments (N, MS)
    x3_names: list[str] = field(default_factory=list)
    costs_type: str = "log"

    def demean(self, values: np.ndarray, tol: float = 1e-14, max_iterations: int = 10_000) -> np.ndarray:
        """Residuals of ``values`` on the absorbed fixed effects (alternating projections for several
        dimensions, Guimaraes and Portugal 2010); the identity without fixed effects."""
        if not self.absorb or np.size(values) == 0:
            return values
        out = np.array(values, float, copy=True)
        for _ in range(max_iterations):
            before = out.copy()
            for codes in self.absorb:
                means = np.zeros((codes.max() + 1,) + out.shape[1:])
                np.add.at(means, codes, out)
                out -= (means / np.bincount(codes)[(slice(None),) + (None,) * (out.ndim - 1)])[codes]
            if len(self.absorb) == 1 or np.max(np.abs(out - before)) < tol * max(1.0, np.max(np.abs(out))):
                return out
        raise ConvergenceError("fixed-effect absorption did not converge")

    @classmethod
    def build(cls, products: pd.DataFrame, x1: str, x2: str | None = None, agents: pd.DataFrame | None = None,
              demographics: str | None = None, instruments: list[str] | None = None,
              absorb: list[str] | None = None, x3: str | None = None, costs_type: str = "log") -> "Problem":
        """PyBLP-style set-up: X1 (linear), X2 (random coefficients) and agent formulas over data frames.

        Instruments: the exogenous X1 columns (all but prices) plus ``instruments`` (default: every
        products column named demand_instruments*), as in PyBLP. ``absorb`` names product columns
        whose fixed effects are absorbed (PyBLP's ``absorb='C(a) + C(b)'``): X1, the instruments and
        delta are demeaned within those groups, so X1 should then have no intercept.
        ``x3`` adds PyBLP's supply side: marginal costs from Bertrand-Nash first-order conditions
        (ownership by ``firm_ids``), log(c) (or c, ``costs_type='linear'``) = X3 gamma + omega, with
        supply instruments [X3, supply_instruments*].
        """
        for column in ("market_ids", "shares", "prices"):
            if column not in products.columns:
                raise EstimationError(f"products: required column {column!r} is missing")
        _check_shares(products)
        try:
            x1_frame = _matrix(x1, products, "x1")
            x2_frame = _matrix(x2, products, "x2") if x2 else pd.DataFrame(index=products.index)
        except patsy.PatsyError as error:
            raise EstimationError(f"formula: {error}") from None
        names = instruments if instruments is not None else [c for c in products.columns if c.startswith("demand_instruments")]
        exogenous = x1_frame.drop(columns=[c for c in x1_frame.columns if c == "prices"])
        z = np.column_stack([exogenous.to_numpy(float), products[names].to_numpy(float)])
        nested = "nesting_ids" in products.columns
        nests_all = pd.factorize(products["nesting_ids"])[0] if nested else np.zeros(len(products), int)
        demographic_names: list[str] = []
        markets = []
        by_market = products.groupby("market_ids", sort=False).indices
        if x2_frame.shape[1] and agents is not None:
            agents_of = agents.groupby("market_ids", sort=False).indices
            # an element-wise formula (no C()) gives each agent's row whatever rows it is evaluated with:
            # one patsy call over the markets' agents instead of one a market (most of the set-up's time)
            kept = agents["market_ids"].isin(list(by_market)).to_numpy()
            whole = _matrix(demographics, agents[kept], "demographics", "agents") \
                if demographics and "C(" not in demographics.replace(" ", "") else None
            position = np.cumsum(kept) - 1  # an agent's row in ``whole``
        for market_id, rows in by_market.items():
            if x2_frame.shape[1]:
                if agents is None:
                    raise EstimationError("random coefficients (X2) need agent data with weights and nodes")
                a = agents.iloc[agents_of.get(market_id, np.array([], int))]
                node_columns = [f"nodes{k}" for k in range(x2_frame.shape[1]) if f"nodes{k}" in a.columns]
                if "weights" not in a.columns or not node_columns:
                    raise EstimationError("agents: need a weights column and nodes0, nodes1, ... columns")
                d = whole.iloc[position[agents_of[market_id]]] if whole is not None and market_id in agents_of else \
                    _matrix(demographics, a, "demographics", "agents") if demographics else pd.DataFrame(index=a.index)
                demographic_names = list(d.columns)
                weights, nodes, dem = a["weights"].to_numpy(float), a[node_columns].to_numpy(float), d.to_numpy(float)
            else:
                weights, nodes, dem = np.ones(1), np.zeros((1, 0)), np.zeros((1, 0))
            # PyBLP integrates with the weights as given: weights summing to c predict c times the shares of
            # the weights / c, so the same problem is solved with weights / c and observed shares / c
            total = float(weights.sum())
            total = total if abs(total - 1) > 1e-8 and total > 0 else 1.0
            weights = weights / total if total != 1.0 else weights
            markets.append(Market(rows=np.asarray(rows), shares=products["shares"].to_numpy(float)[rows] / total,
                                  prices=products["prices"].to_numpy(float)[rows],
                                  x2=x2_frame.to_numpy(float)[rows], nests=pd.factorize(nests_all[rows])[0],
                                  weights=weights, nodes=nodes, demographics=dem, weight_total=total))
        clusters = products["clustering_ids"].to_numpy() if "clustering_ids" in products.columns else None
        for column in absorb or []:
            if column not in products.columns:
                raise EstimationError(f"absorb: products has no column {column!r}")
        codes = [pd.factorize(products[c])[0] for c in absorb or []]
        problem = cls(x1_frame.to_numpy(float), z, list(x1_frame.columns), list(x2_frame.columns), demographic_names,
                      markets, clusters, nested, codes)
        if x3:
            if "firm_ids" not in products.columns:
                raise EstimationError("products: a supply side needs a firm_ids column")
            if "prices" in x1_frame.columns:
                raise EstimationError("x1: with a supply side, price must enter through x2 and demographics only "
                                      "(as in PyBLP's BLP 1995 example); a linear price coefficient is not supported")
            if costs_type not in ("log", "linear"):
                raise EstimationError(f"costs_type must be 'log' or 'linear', got {costs_type!r}")
            try:
                x3_frame = _matrix(x3, products, "x3")
            except patsy.PatsyError as error:
                raise EstimationError(f"formula x3: {error}") from None
            supply = [c for c in products.columns if c.startswith("supply_instruments")]
            problem.x3, problem.x3_names, problem.costs_type = x3_frame.to_numpy(float), list(x3_frame.columns), costs_type
            problem.zs = np.column_stack([problem.x3, products[supply].to_numpy(float)])
            from autopact.model.supply import ownership_matrix

            firms = pd.factorize(products["firm_ids"])[0]
            for market in problem.markets:
                market.ownership = ownership_matrix(firms[market.rows])
        problem.x1, problem.z = problem.demean(problem.x1), problem.demean(problem.z)
        return problem


def _check_shares(products: pd.DataFrame) -> None:
    """Shares strictly between 0 and 1 that leave the outside good a positive share in each market,
    and finite prices: the share inversion takes log(s_j) and log(s_0), so a zero share has no mean
    utility (the estimator would stop with no residual to report), and a NaN spreads to every moment."""
    for column in ("shares", "prices"):
        values = pd.to_numeric(products[column], errors="coerce").to_numpy(float)
        bad = ~np.isfinite(values) | ((values <= 0) | (values >= 1) if column == "shares" else False)
        if bad.any():
            row = int(bad.argmax())
            rule = "a number above 0 and below 1 (a market share)" if column == "shares" else "a finite number"
            raise EstimationError(f"products: {column}: must be {rule}; {int(bad.sum()):,} row(s) are not, the first on "
                                  f"CSV line {row + 2}: {products[column].tolist()[row]!r}")
    totals = products.groupby("market_ids", sort=False)["shares"].sum()
    full = totals[totals >= 1]
    if len(full):
        raise EstimationError(f"products: shares: they sum to {full.iloc[0]:.6g} in market {full.index[0]!r}; the "
                              "inside goods' shares must sum to less than 1 (the outside good keeps the rest)")


@dataclass
class Parameters:
    """Nonlinear parameters; which are free is fixed by the starting values (nonzero sigma diagonal
    entries, nonzero pi entries, rho if given), so a parameter that reaches zero stays free."""

    sigma: np.ndarray  # (K2,) diagonal
    pi: np.ndarray  # (K2, D)
    rho: float | None
    sigma_free: np.ndarray | None = None
    pi_free: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.sigma_free is None:
            self.sigma_free = self.sigma != 0
        if self.pi_free is None:
            self.pi_free = self.pi != 0

    def vector(self) -> np.ndarray:
        parts = [self.sigma[self.sigma_free], self.pi[self.pi_free]]
        return np.concatenate(parts + ([np.array([self.rho])] if self.rho is not None else []))

    def labels(self, problem: Problem) -> list[str]:
        labels = [f"sigma[{problem.x2_names[k]}]" for k in np.flatnonzero(self.sigma_free)]
        labels += [f"pi[{problem.x2_names[k]}, {problem.demographic_names[d]}]" for k, d in zip(*np.nonzero(self.pi_free))]
        return labels + (["rho"] if self.rho is not None else [])

    def with_vector(self, theta: np.ndarray) -> "Parameters":
        sigma, pi = self.sigma.copy(), self.pi.copy()
        n_sigma, n_pi = int(self.sigma_free.sum()), int(self.pi_free.sum())
        sigma[self.sigma_free] = theta[:n_sigma]
        pi[self.pi_free] = theta[n_sigma:n_sigma + n_pi]
        return Parameters(sigma, pi, float(theta[-1]) if self.rho is not None else None, self.sigma_free, self.pi_free)
