"""Hedonic fit of mean utilities: what a product's characteristics say its xi should be.

OLS of the calibrated xi (mean utility net of price) on log footprint, log horsepower, luxury,
powertrain and segment dummies, a BEV-pickup interaction and an indicator of Tesla, weighted by
units; residuals averaged by firm, by firm and powertrain, and over young US brands give the brand
terms of entrants (economics reference sheet, "Entry"; Cosar, Grieco, Li and Tintelnot 2018 on
brand preferences).

Why the two BEV terms (entry back-test, README "Back-tests"): Tesla sells about half of 2025 US
BEV units with a mean utility far above other BEVs. Without its own indicator the units-weighted
BEV dummy is set by Tesla's brand, so every other maker's BEV sits below the fit and a maker with
no BEV of its own (its whole-line residual) is over-predicted. The Tesla indicator is a firm
effect: it belongs to the brand term, not to the characteristics (``predict`` leaves it out,
``brand_term`` adds it to Tesla's residual). Battery-electric pickups (Lightning, Silverado EV,
Cybertruck, R1T, Hummer) sell far below what the pickup and BEV dummies add up to (towing range);
the interaction gives them their own term.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from autopact.fit.market import NEW_BRAND_MAKES

FIRM_EFFECTS = ("Tesla",)  # firms with their own indicator in the fit (see the module docstring)


def _characteristics_design(table: pd.DataFrame) -> np.ndarray:
    bev = table["powertrain"].eq("BEV").to_numpy()
    columns = [np.ones(len(table)), np.log(table["footprint_sqft"].to_numpy(float)),
               np.log(table["horsepower"].to_numpy(float)), table["luxury"].astype(float).to_numpy()]
    columns += [table["powertrain"].eq(p).astype(float).to_numpy() for p in ("HEV", "PHEV", "BEV")]
    columns += [table["segment"].eq(s).astype(float).to_numpy() for s in ("SUV-crossover", "pickup", "van")]
    columns.append((bev & table["segment"].eq("pickup").to_numpy()).astype(float))
    return np.column_stack(columns)


def _hedonic_design(table: pd.DataFrame) -> np.ndarray:
    firms = [table["owner"].eq(firm).astype(float).to_numpy() for firm in FIRM_EFFECTS]
    return np.column_stack([_characteristics_design(table), *firms])


@dataclass
class Hedonic:
    """OLS of the calibrated mean utility net of price (xi) on characteristics, with brand residuals."""

    beta: np.ndarray
    residual_by_firm: dict[str, float]
    new_brand: float
    r2: float
    residual_by_firm_powertrain: dict[tuple[str, str], float] = field(default_factory=dict)
    firm_effect: dict[str, float] = field(default_factory=dict)  # coefficients of FIRM_EFFECTS

    @classmethod
    def fit(cls, table: pd.DataFrame, xi: np.ndarray, units: np.ndarray) -> "Hedonic":
        x = _hedonic_design(table)
        beta, *_ = np.linalg.lstsq(x * np.sqrt(units)[:, None], xi * np.sqrt(units), rcond=None)
        residual = xi - x @ beta
        frame = pd.DataFrame({"make": table["make"], "firm": table["owner"], "r": residual, "w": units})
        mean = lambda g: float(np.average(g["r"], weights=g["w"]))  # noqa: E731
        by_firm = {k: mean(g) for k, g in frame.groupby("firm")}
        by_powertrain = {k: mean(g) for k, g in frame.assign(p=table["powertrain"].to_numpy()).groupby(["firm", "p"])}
        young = frame[frame["make"].isin(NEW_BRAND_MAKES)]
        r2 = 1 - np.average(residual ** 2, weights=units) / np.average((xi - np.average(xi, weights=units)) ** 2,
                                                                         weights=units)
        k = _characteristics_design(table.iloc[:0]).shape[1]
        effects = {firm: float(beta[k + i]) for i, firm in enumerate(FIRM_EFFECTS) if firm in by_firm}
        return cls(beta[:k], by_firm, mean(young), float(r2), by_powertrain, effects)

    def predict(self, table: pd.DataFrame) -> np.ndarray:
        """The characteristics' part of the mean utility (firm effects are in ``brand_term``)."""
        return _characteristics_design(table) @ self.beta

    def brand_term(self, firm: str | None, powertrain: str) -> float:
        """The brand term of an entrant's mean utility: the firm's effect (``FIRM_EFFECTS``, else 0)
        plus the units-weighted mean hedonic residual of ``firm``'s products of the same powertrain
        (of all its products where it sells none of that powertrain), or the young US brands' mean
        residual when ``firm`` is None (a new brand selling through its own dealers) or unknown."""
        if firm is None or firm not in self.residual_by_firm:
            return self.new_brand
        effect = self.firm_effect.get(firm, 0.0)
        if (firm, powertrain) in self.residual_by_firm_powertrain:
            return effect + self.residual_by_firm_powertrain[(firm, powertrain)]
        return effect + self.residual_by_firm[firm]


def reentry_maps(table: pd.DataFrame, units: np.ndarray, j: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows h and b over the market's products such that, for ANY xi, product j's hedonic prediction
    and brand term as an entrant into the market without it are h @ xi and b @ xi: exactly what
    ``Hedonic.fit`` on the others (``table`` and ``units`` without row j) then ``predict`` and
    ``brand_term`` give, since the fit is weighted least squares, beta = (sqrt(w) X)^+ sqrt(w) xi,
    and every brand term is a weighted mean of its residuals xi - X beta (all linear in xi). Built
    once for a product set, they turn a re-calibrated market's launch gaps into a matrix product."""
    keep = np.arange(len(table)) != j
    others, row = table[keep], table.iloc[[j]]
    x, w = _hedonic_design(others), np.asarray(units, float)[keep]
    sw = np.sqrt(w)
    fit = np.linalg.lstsq(x * sw[:, None], np.diag(sw), rcond=None)[0]  # beta = fit @ xi_others
    residual = np.eye(len(w)) - x @ fit  # residuals = residual @ xi_others
    k = _characteristics_design(table.iloc[:0]).shape[1]

    def mean(mask: np.ndarray) -> np.ndarray:
        return (w[mask] / w[mask].sum()) @ residual[mask]

    owners, makes = others["owner"].to_numpy(), others["make"].to_numpy()
    firm, powertrain = str(row["owner"].iloc[0]), str(row["powertrain"].iloc[0])
    if str(row["make"].iloc[0]) in NEW_BRAND_MAKES or firm not in set(owners):
        brand = mean(np.isin(makes, list(NEW_BRAND_MAKES)))
    else:
        effect = fit[k + FIRM_EFFECTS.index(firm)] if firm in FIRM_EFFECTS else np.zeros(len(w))
        same = (owners == firm) & (others["powertrain"].to_numpy() == powertrain)
        brand = effect + mean(same if same.any() else owners == firm)
    hedonic = _characteristics_design(row)[0] @ fit[:k]
    return np.insert(hedonic, j, 0.0), np.insert(brand, j, 0.0)
