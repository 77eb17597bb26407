"""Hedonic fit of mean utilities: what a product's characteristics say its xi should be.

OLS of the calibrated xi (mean utility net of price) on log footprint and its square, log
horsepower, luxury, powertrain and segment dummies, a BEV-pickup interaction, a BEV's log EPA range,
a luxury-SUV interaction and an indicator of Tesla, weighted by the square root of units (below);
residuals averaged by firm, make, firm and powertrain, and make and powertrain (pooled), and over
young US brands give the brand terms of entrants (economics reference sheet, "Entry"; Cosar, Grieco,
Li and Tintelnot 2018 on brand preferences).

Why the two BEV terms (entry back-test, README "Back-tests"): Tesla sells about half of 2025 US
BEV units with a mean utility far above other BEVs. Without its own indicator the units-weighted
BEV dummy is set by Tesla's brand, so every other maker's BEV sits below the fit and a maker with
no BEV of its own (its whole-line residual) is over-predicted. The Tesla indicator is a firm
effect: it belongs to the brand term, not to the characteristics (``predict`` leaves it out,
``brand_term`` adds it to Tesla's residual). Battery-electric pickups (Lightning, Silverado EV,
Cybertruck, R1T, Hummer) sell far below what the pickup and BEV dummies add up to (towing range);
the interaction gives them their own term.

Why range: a BEV's driving range is its first-order attribute in the BEV demand literature (Li,
Tong, Xing and Zhou 2017; Springel 2021 use range; the EPA label range is on every US BEV) and
separates a city car such as the BYD Seagull (about 146 miles, its CLTC range on the EPA basis) from a 300-mile
crossover of the same footprint. The term is BEV x (ln range - ln R0), R0 the weighted (the fit's
weights, below) geometric mean range of the market's BEVs with a known range, so a BEV with no known range (a
blank ``range_miles``) is taken at that mean.

Why make, not firm: buyers know brands (Mini, Lexus, Cadillac), not parent companies. A product's
brand term pools four levels of residual means, from the coarsest to the finest: its firm's whole
line, its make's whole line, its firm's products of its powertrain, its make's products of its
powertrain (an entrant sold through a partner's dealers has no make in the market and takes its
partner's firm levels). Each non-empty level with n products on offer moves the estimate e of the
coarser ones to (n m + k e) / (n + k), k = ``BRAND_SHRINKAGE`` = 1 (partial pooling, as in an
empirical-Bayes mean: a make's one BEV says less about its next BEV than five would). Until the
fourth session the term was the finest non-empty level's mean alone (k = 0); on the same
leave-one-out criterion (below) k = 1 gives median / root mean square |xi error| 0.635 / 1.566
against 0.684 / 1.571 (k = 0.5: 0.641 / 1.565; 2: 0.662 / 1.569; 4: 0.669 / 1.575; weights by
units instead of counts, 1 per 10,000 units: 0.631 / 1.575; 5: 0.664 / 1.586).

Both were chosen by leave-one-out prediction of each nameplate's xi (on the annual basis below)
from the fit and brand terms of the market without it, over all 259 nameplates on offer, not by the
launch back-test: median absolute error 0.737 (neither) -> 0.731 (range) -> 0.719 (make) -> 0.711
(both); root mean squared error 1.719 -> 1.709 -> 1.701 -> 1.690 (README "Back-tests"). The make
before the firm's powertrain, or after it: 1.684 against 1.681 on the data before the range fill.

Why the square of log footprint and luxury x SUV (Dec 2026, fourth session): with log footprint
alone its slope (-10.6) is set by the large vehicles, and a car smaller than the US market's
typical one (a city car such as the Seagull) was credited with the whole slope. The square lets
the slope flatten among small cars (with it, xi falls 1.7 per log unit of footprint at the
smallest 2025 car, 9.1 at 100 sq ft and 16.4 at the largest); luxury buyers in the US choose SUVs
over sedans far more than mass-market buyers do, which one luxury dummy cannot say. Chosen by the
same leave-one-out criterion over the 259 nameplates on offer, adopting a term only where both
measures improve: median / root mean square |xi error| 0.728 / 1.600 without them, 0.685 / 1.579
with the square, 0.712 / 1.594 with luxury x SUV, 0.684 / 1.571 with both. Added to both, none of
luxury x BEV, luxury x log horsepower, car x BEV, log horsepower squared, log footprint by segment
improves both (`python tools/hedonic_cv.py` prints these).

Why an annual basis: the fit describes what a product's characteristics and brand are worth in a
year on offer. A product on offer only m of 2025's 12 months (``products_2025.csv``
``months_on_offer_2025``: a 2025 launch, from ``backtest_launches.csv``; a product whose new orders
ended, from ``run_outs_2025.csv``) enters at xi + ln(12 / m), as the launch gaps do (``autopact.policy.launch``);
one sold only from stock (m = 0: no new orders all year) says nothing of its brand's appeal and is
left out (weight 0).

Why the square root of units as weights (Dec 2026, sixteenth session): each product's weight in the fit
and in its brand's residual means is units^``WEIGHT_POWER``, the inverse of its residual's variance.
Weighted least squares is efficient with weights 1 / Var(e_j); until the sixteenth session they were
the units, which holds where Var(e_j) is proportional to 1 / units_j. Harvey's (1976) multiplicative
heteroskedasticity model, Var(e_j) = exp(c) units_j^-gamma, estimated by iterated feasible GLS
(``heteroskedasticity_power``: regress ln e_j^2 on ln units_j, refit with weights units^gamma, repeat;
Wooldridge, Introductory Econometrics, 8.4), gives gamma = 0.50 (standard error 0.085) on the 2025
market, from units weights, equal weights or 0.5 alike: the residuals' spread falls from 0.99 among
products selling under 5,800 a year to 0.66 above 40,000, far more slowly than 1 / sqrt(units). On
the leave-one-out criterion (``tools/hedonic_cv.py``, all 273 nameplates) the weights move the median
/ root mean square |xi error| from 0.635 / 1.139 to 0.606 / 1.034 (powers 0.75: 0.598 / 1.085; 0.25:
0.610 / 0.997; the median is flat from 0.4 to 0.8, the root mean square falls all the way to equal
weights). The power is the data's estimate, not the criterion's choice; tested to lie within two
standard errors of it (``tests/policy/test_hedonic_terms.py``).

Why the pooled residual mean is scaled by a reliability (Dec 2026, nineteenth session): a brand's mean
residual predicts its next product's residual only in part. Across the 2025 nameplates of established
brands the slope of a nameplate's residual on its leave-one-out pooled brand mean (``brand_reliability``:
least squares through the origin, the fit's weights) is 0.56 (standard error 0.11; 0.54 without the 90
launches of the back-test, 0.63 on them alone, bootstrap 90% 0.38 to 0.74). Its regression toward the
market's mean is the classical errors-in-variables attenuation (Fuller 1987, Measurement Error Models,
1.1): the brand mean of a few products is a noisy measure of a brand's appeal, and the units-weighted
means lean on the best sellers. The term is ``BRAND_RELIABILITY`` x the pooled mean, plus the firm effects
(a coefficient of the fit, not a mean, kept whole); the young brands' mean for a new brand is not scaled
(five nameplates cannot estimate its slope). Chosen as the data's estimate, like ``WEIGHT_POWER``: on the
leave-one-out criterion (``tools/hedonic_cv.py``) median / root mean square |xi error| 0.606 / 1.034 ->
0.597 / 1.015 (units not derived: 0.652 / 1.070 -> 0.646 / 1.048); the launch back-test, not used to
choose it, moves from median 0.45 to 0.39 (beyond x3 15 -> 12). Tested to lie within two standard errors
of the estimate (``tests/policy/test_hedonic_terms.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from autopact.fit.market import NEW_BRAND_MAKES, offered_months

FIRM_EFFECTS = ("Tesla",)  # firms with their own indicator in the fit (see the module docstring)
BRAND_SHRINKAGE = 1.0  # pseudo-products of the next coarser level in each brand mean (module docstring)
LOG_FOOTPRINT_CENTRE = float(np.log(100.0))  # centres the squared log footprint (conditioning only: the linear term absorbs it)
BRAND_RELIABILITY = 0.56  # slope of a nameplate's residual on its leave-one-out brand mean, 2025 (module docstring)
WEIGHT_POWER = 0.5  # the fit's weights are units^WEIGHT_POWER: Harvey's FGLS estimate on 2025 (module docstring)


def months_on_offer(table: pd.DataFrame) -> np.ndarray:
    """Months of 2025 each product of ``table`` was on offer to new orders: its ``months_on_offer``
    column (``autopact.fit.market.offered_months``, which reads it), 12 where absent or blank (an entrant)."""
    return offered_months(table, "months_on_offer")


def annual_basis(table: pd.DataFrame, xi: np.ndarray, units: np.ndarray,
                 power: float = WEIGHT_POWER) -> tuple[np.ndarray, np.ndarray]:
    """xi on a year's basis and the fit's weights (module docstring): xi + ln(12 / m) and
    units^``power``, with weight 0 (and xi unchanged) where m = 0."""
    months = months_on_offer(table)
    offered = months > 0
    shift = np.log(12.0 / np.where(offered, months, 12.0))
    return np.asarray(xi, float) + shift, np.where(offered, np.asarray(units, float) ** power, 0.0)


def heteroskedasticity_power(table: pd.DataFrame, xi: np.ndarray, units: np.ndarray,
                             iterations: int = 100, tolerance: float = 1e-10) -> tuple[float, float]:
    """gamma of Harvey's (1976) multiplicative heteroskedasticity, Var(e_j) = exp(c) units_j^-gamma, for
    the hedonic fit's residuals e_j, by iterated feasible GLS (Wooldridge, Introductory Econometrics,
    8.4): from equal weights, fit xi_j = x_j'b by least squares weighted by units_j^gamma, regress
    ln e_j^2 on (1, ln units_j), take gamma = -slope, repeat to a fixed point. Returns gamma and the
    slope's ordinary standard error. Products sold only from stock are left out, as in the fit."""
    xi, offered = annual_basis(table, xi, units, power=0.0)
    offered = offered > 0
    x = _hedonic_design(table, log_range_reference(table, np.where(offered, units, 0.0)))[offered]
    y, log_units = xi[offered], np.log(np.asarray(units, float)[offered])
    regressors = np.column_stack([np.ones(log_units.size), log_units])
    gamma = 0.0
    for _ in range(iterations):
        root = np.exp(0.5 * gamma * log_units)  # sqrt of the weights units^gamma
        beta = np.linalg.lstsq(x * root[:, None], y * root, rcond=None)[0]
        log_squares = np.log((y - x @ beta) ** 2)
        coefficients = np.linalg.lstsq(regressors, log_squares, rcond=None)[0]
        previous, gamma = gamma, -float(coefficients[1])
        if abs(gamma - previous) < tolerance:
            break
    residual = log_squares - regressors @ coefficients
    variance = np.sum(residual ** 2) / (log_units.size - 2) / np.sum((log_units - log_units.mean()) ** 2)
    return gamma, float(np.sqrt(variance))


def range_column(table: pd.DataFrame) -> np.ndarray:
    """Each product's EPA range in miles (``range_miles``; NaN where unknown or not a BEV)."""
    if "range_miles" not in table:
        return np.full(len(table), np.nan)
    values = pd.to_numeric(table["range_miles"], errors="coerce").to_numpy(float)
    return np.where(table["powertrain"].eq("BEV").to_numpy() & (values > 0), values, np.nan)


def log_range_reference(table: pd.DataFrame, units: np.ndarray) -> float:
    """ln R0: the mean of ln range over the BEVs of ``table`` with a known range, weighted by ``units``
    (the fit's weights)."""
    log_range = np.log(range_column(table))
    known = np.isfinite(log_range)
    known &= np.asarray(units, float) > 0
    if not known.any():
        return 0.0
    return float(np.average(log_range[known], weights=np.asarray(units, float)[known]))


def _characteristics_design(table: pd.DataFrame, log_range_ref: float) -> np.ndarray:
    bev = table["powertrain"].eq("BEV").to_numpy()
    columns = [np.ones(len(table)), np.log(table["footprint_sqft"].to_numpy(float)),
               np.log(table["horsepower"].to_numpy(float)), table["luxury"].astype(float).to_numpy()]
    columns += [table["powertrain"].eq(p).astype(float).to_numpy() for p in ("HEV", "PHEV", "BEV")]
    columns += [table["segment"].eq(s).astype(float).to_numpy() for s in ("SUV-crossover", "pickup", "van")]
    columns.append((bev & table["segment"].eq("pickup").to_numpy()).astype(float))
    log_range = np.log(range_column(table)) - log_range_ref
    columns.append(np.where(bev & np.isfinite(log_range), log_range, 0.0))
    columns.append((np.log(table["footprint_sqft"].to_numpy(float)) - LOG_FOOTPRINT_CENTRE) ** 2)
    columns.append(table["luxury"].astype(float).to_numpy() * table["segment"].eq("SUV-crossover").to_numpy())
    return np.column_stack(columns)


def _hedonic_design(table: pd.DataFrame, log_range_ref: float) -> np.ndarray:
    firms = [table["owner"].eq(firm).astype(float).to_numpy() for firm in FIRM_EFFECTS]
    return np.column_stack([_characteristics_design(table, log_range_ref), *firms])


def shrunk_mean(levels: list[tuple[Any, int]], shrinkage: float = BRAND_SHRINKAGE) -> Any:
    """The brand term's partial pooling (module docstring): over the non-empty levels from the
    coarsest (the firm's whole line) to the finest (the make's powertrain), each level's mean m with
    its n products on offer moves the estimate to (n m + k e) / (n + k), e the estimate of the
    coarser levels and k = ``shrinkage`` (0: the finest level's mean alone). Linear in the means, so
    the means may be numbers or rows of a linear map (``reentry_maps``)."""
    estimate = None
    for mean, n in levels:
        estimate = mean if estimate is None else (n * mean + shrinkage * estimate) / (n + shrinkage)
    if estimate is None:
        raise ValueError("shrunk_mean: no level has a product")
    return estimate


def _groups(*columns: np.ndarray) -> dict[Any, np.ndarray]:
    """The rows of each key (one column's value, or a tuple of several), keys in sorted order and rows
    in table order, where no column is missing: pandas' ``groupby`` (sort=True, dropna=True), whose
    groups as frames took most of a fit's 40 ms (each group's mean then sums the same numbers in
    the same order, so the means are the same to the bit)."""
    missing = np.zeros(len(columns[0]), bool)
    for column in columns:
        missing |= pd.isna(column)
    keys = columns[0] if len(columns) == 1 else list(zip(*columns))
    rows: dict[Any, list[int]] = {}
    for i in np.flatnonzero(~missing):
        rows.setdefault(keys[i], []).append(int(i))
    return {key: np.asarray(rows[key], int) for key in sorted(rows)}


@dataclass
class Hedonic:
    """OLS of the calibrated mean utility net of price (xi) on characteristics, with brand residuals."""

    beta: np.ndarray
    residual_by_firm: dict[str, float]
    new_brand: float
    r2: float
    residual_by_firm_powertrain: dict[tuple[str, str], float] = field(default_factory=dict)
    firm_effect: dict[str, float] = field(default_factory=dict)  # coefficients of FIRM_EFFECTS
    residual_by_make: dict[str, float] = field(default_factory=dict)
    residual_by_make_powertrain: dict[tuple[str, str], float] = field(default_factory=dict)
    log_range_reference: float = 0.0  # ln R0 of the range term (module docstring)
    count: dict[tuple[str, object], int] = field(default_factory=dict)  # products on offer per (level, key)
    _rows: dict = field(default_factory=dict, repr=False, compare=False)  # predict_row's results

    @classmethod
    def fit(cls, table: pd.DataFrame, xi: np.ndarray, units: np.ndarray) -> "Hedonic":
        """The fit on a year's basis (``annual_basis``) of the market's products."""
        xi, units = annual_basis(table, xi, units)
        reference = log_range_reference(table, units)
        x = _hedonic_design(table, reference)
        beta, *_ = np.linalg.lstsq(x * np.sqrt(units)[:, None], xi * np.sqrt(units), rcond=None)
        residual = xi - x @ beta
        on_offer = units > 0
        r, w = residual[on_offer], units[on_offer]
        levels = {"firm": table["owner"].to_numpy()[on_offer], "make": table["make"].to_numpy()[on_offer],
                  "p": table["powertrain"].to_numpy()[on_offer]}
        mean = lambda rows: float(np.average(r[rows], weights=w[rows]))  # noqa: E731
        groups = {keys: _groups(*(levels[k] for k in keys)) for keys in (("firm",), ("make",), ("firm", "p"), ("make", "p"))}
        by = {level: {k: mean(rows) for k, rows in groups[(level,)].items()} for level in ("firm", "make")}
        by_powertrain = {level: {k: mean(rows) for k, rows in groups[(level, "p")].items()} for level in ("firm", "make")}
        count = {(level, k): len(rows) for level in ("firm", "make") for k, rows in groups[(level,)].items()}
        count |= {(level + "_powertrain", k): len(rows) for level in ("firm", "make")
                  for k, rows in groups[(level, "p")].items()}
        young = np.flatnonzero(pd.Series(levels["make"]).isin(NEW_BRAND_MAKES).to_numpy())
        r2 = 1 - np.average(residual ** 2, weights=units) / np.average((xi - np.average(xi, weights=units)) ** 2,
                                                                         weights=units)
        k = _characteristics_design(table.iloc[:0], reference).shape[1]
        effects = {firm: float(beta[k + i]) for i, firm in enumerate(FIRM_EFFECTS) if firm in by["firm"]}
        return cls(beta[:k], by["firm"], mean(young), float(r2), by_powertrain["firm"], effects,
                   by["make"], by_powertrain["make"], reference, count)

    def predict(self, table: pd.DataFrame) -> np.ndarray:
        """The characteristics' part of the mean utility (firm effects are in ``brand_term``)."""
        return _characteristics_design(table, self.log_range_reference) @ self.beta

    def predict_row(self, row: dict) -> float:
        """``predict`` of one product given as a dict, kept per fit: a run's draws on one market build
        the same entrants again and again (issue 13); the same number as ``predict``."""
        range_miles = row.get("range_miles")
        key = tuple(row[k] for k in ("powertrain", "segment", "luxury", "footprint_sqft", "horsepower")) + (
            None if range_miles is None or range_miles != range_miles else float(range_miles),)
        if key not in self._rows:
            self._rows[key] = float(self.predict(pd.DataFrame([row]))[0])
        return self._rows[key]

    def brand_term(self, firm: str | None, powertrain: str, make: str | None = None) -> float:
        """The brand term of an entrant's mean utility: the firm's effect (``FIRM_EFFECTS``, else 0)
        plus ``BRAND_RELIABILITY`` x ``pooled_residual`` (module docstring; a model sold through a
        partner's dealers passes the partner as ``firm`` and no make), or the young US brands' mean
        residual when ``firm`` is None (a new brand selling through its own dealers) or unknown."""
        if firm is None or firm not in self.residual_by_firm:
            return self.new_brand
        return self.firm_effect.get(firm, 0.0) + BRAND_RELIABILITY * self.pooled_residual(firm, powertrain, make)

    def pooled_residual(self, firm: str, powertrain: str, make: str | None = None) -> float:
        """The pooled units-weighted mean hedonic residuals (``shrunk_mean``) of ``firm``'s line,
        ``make``'s line, ``firm``'s products of ``powertrain`` and ``make``'s products of ``powertrain``,
        the levels that have products (``firm`` must have some)."""
        levels = (("firm", self.residual_by_firm, firm), ("make", self.residual_by_make, make),
                  ("firm_powertrain", self.residual_by_firm_powertrain, (firm, powertrain)),
                  ("make_powertrain", self.residual_by_make_powertrain, (make, powertrain)))
        return shrunk_mean([(table[key], self.count[(level, key)]) for level, table, key in levels if key in table])


def reentry_maps(table: pd.DataFrame, units: np.ndarray, j: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows h and b over the market's products such that, for ANY xi, product j's hedonic prediction
    and brand term as an entrant into the market without it are h @ xi and b @ xi: exactly what
    ``Hedonic.fit`` on the others (``table`` and ``units`` without row j) then ``predict`` and
    ``brand_term`` (with its make) give, since the fit is weighted least squares,
    beta = (sqrt(w) X)^+ sqrt(w) xi, and every brand term is a weighted mean of its residuals
    xi - X beta (all linear in xi). Built once for a product set, they turn a re-calibrated market's
    launch gaps into a matrix product. ``units`` are the fit's weights (``annual_basis``: 0 for a
    product sold only from stock) and the xi the maps multiply must be on the same annual basis."""
    keep = np.arange(len(table)) != j
    others, row = table[keep], table.iloc[[j]]
    w = np.asarray(units, float)[keep]
    reference = log_range_reference(others, w)
    x = _hedonic_design(others, reference)
    sw = np.sqrt(w)
    fit = np.linalg.lstsq(x * sw[:, None], np.diag(sw), rcond=None)[0]  # beta = fit @ xi_others
    residual = np.eye(len(w)) - x @ fit  # residuals = residual @ xi_others
    k = _characteristics_design(table.iloc[:0], reference).shape[1]

    def mean(mask: np.ndarray) -> np.ndarray:
        return (w[mask] / w[mask].sum()) @ residual[mask]

    offered = w > 0
    owners, makes = np.where(offered, others["owner"].to_numpy(), None), np.where(offered, others["make"].to_numpy(), None)
    powertrains = others["powertrain"].to_numpy()
    firm, powertrain, make = str(row["owner"].iloc[0]), str(row["powertrain"].iloc[0]), str(row["make"].iloc[0])
    if make in NEW_BRAND_MAKES or firm not in set(owners):
        brand = mean(np.isin(makes, list(NEW_BRAND_MAKES)) & offered)
    else:
        effect = fit[k + FIRM_EFFECTS.index(firm)] if firm in FIRM_EFFECTS else np.zeros(len(w))
        same = powertrains == powertrain
        masks = (owners == firm, makes == make, (owners == firm) & same, (makes == make) & same)  # coarse to fine
        brand = effect + BRAND_RELIABILITY * shrunk_mean([(mean(mask), int(mask.sum())) for mask in masks if mask.any()])
    hedonic = _characteristics_design(row, reference)[0] @ fit[:k]
    return np.insert(hedonic, j, 0.0), np.insert(brand, j, 0.0)


def brand_reliability(table: pd.DataFrame, xi: np.ndarray, units: np.ndarray,
                      rows: np.ndarray | None = None) -> tuple[float, float]:
    """The brand term's reliability (module docstring) and its standard error: b of the weighted least
    squares through the origin r_j = b B_j + e_j over the products ``rows`` (default: every product on
    offer) of firms with other products on offer, young brands left out, where, from the fit on the
    market without j (``Hedonic.fit``), r_j is j's residual on a year's basis net of its firm's effect
    and B_j its ``pooled_residual``; weights are the fit's (``annual_basis``). Standard error: the
    ordinary one, sqrt(s^2 / sum(w B^2)) with s^2 = sum(w e^2) / (n - 1) (heteroskedasticity-robust and
    owner-clustered errors are no larger on the 2025 market: 0.111 and 0.106 against 0.115)."""
    annual, weights = annual_basis(table, xi, units)
    candidates = np.flatnonzero(weights > 0) if rows is None else np.asarray(rows, int)
    owners, makes = table["owner"].to_numpy(), table["make"].to_numpy()
    residual, pooled, weight = [], [], []
    for j in candidates:
        keep = np.arange(len(table)) != j
        if weights[j] <= 0 or makes[j] in NEW_BRAND_MAKES or not np.any(owners[keep & (weights > 0)] == owners[j]):
            continue
        fit = Hedonic.fit(table[keep], np.asarray(xi, float)[keep], np.asarray(units, float)[keep])
        row = table.iloc[[j]]
        effect = fit.firm_effect.get(str(owners[j]), 0.0)
        residual.append(annual[j] - fit.predict(row)[0] - effect)
        pooled.append(fit.pooled_residual(str(owners[j]), str(row["powertrain"].iloc[0]), make=str(makes[j])))
        weight.append(weights[j])
    r, b, w = (np.asarray(v, float) for v in (residual, pooled, weight))
    if r.size < 2:
        raise ValueError(f"brand_reliability: {r.size} product(s) of an established firm with others on offer; need 2")
    slope = float(np.sum(w * b * r) / np.sum(w * b * b))
    variance = np.sum(w * (r - slope * b) ** 2) / (r.size - 1) / np.sum(w * b * b)
    return slope, float(np.sqrt(variance))
