"""Hybrid (HEV) rows split out of multi-powertrain nameplates (PROVENANCE.md, "Hybrid splits").

Every number comes from ``us_market/powertrain_split_2025.csv`` and the table being built; nothing is
typed in here. Two kinds of split:

1. **Sourced counts** (``POWERTRAIN_SPLITS``): a nameplate's published 2025 HEV units (F-150, Maverick).
2. **Brand remainders** (``BRAND_TOTALS``): a brand's published hybrid (or electrified) total minus the
   units this table already holds in the powertrain classes that total counts. What is left sits inside
   the brand's multi-powertrain nameplates. A sourced share of a nameplate fixes that nameplate's part;
   the rest is shared over the brand's other nameplates that offered a hybrid in 2025 by the named
   ASSUMPTION ``hybrid_allocation`` (``ALLOCATION_ASSUMPTION``): in proportion to nameplate units,
   with the file's sourced bounds binding (default ``bounded``) or not (``proportional``).

Each split makes the nameplate two products, the ICE row keeping its ``product_id`` and the units the
HEV row does not take, so every nameplate's ICE + HEV units equal its old units. A derived count that
is negative or exceeds its nameplate stops the build.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from cells import SHARED_BY_BOTH_ROWS, append_note, first_number, range_midpoint

# powertrain_split_2025.csv rows that split a nameplate of products_2025.csv into an ICE and an HEV row:
# (make, model in the split file) -> (make, model in products_2025.csv). Only rows whose value is a
# sourced count of 2025 units are used here; shares and bounds are used by the brand remainders below.
POWERTRAIN_SPLITS = {
    ("Ford", "F-150"): ("Ford", "F-Series (F-150 + Super Duty, excl. Lightning)"),
    ("Ford", "Maverick"): ("Ford", "Maverick"),
}

HYBRID_ALLOCATIONS = ("bounded", "proportional")
DEFAULT_ALLOCATION = "bounded"
ALLOCATION_ASSUMPTION = (
    "ASSUMPTION hybrid_allocation (default 'bounded'; range: 'proportional'): where only a brand's hybrid "
    "remainder is sourced, it is shared over the brand's nameplates that offered a hybrid in 2025 in "
    "proportion to nameplate units; with 'bounded', a nameplate whose proportional part breaks a bound "
    "sourced in powertrain_split_2025.csv is set to that bound and the rest shared again; with "
    "'proportional' the bounds are ignored. Reason: no source gives these nameplates' hybrid shares; "
    "proportion to units assumes one hybrid share across the brand's hybrid-offering nameplates, the "
    "least-information rule, and the bounds are the only nameplate-level facts there are. Rounding: "
    "largest remainder, so each brand's parts add up to its remainder exactly.")


@dataclass(frozen=True)
class BrandTotal:
    """A brand's published 2025 hybrid or electrified total (a row of powertrain_split_2025.csv)."""

    row: tuple[str, str, str]      # (make, model, powertrain) of the row
    makes: tuple[str, ...]         # makes of products_2025.csv the total covers
    counted: tuple[str, ...]       # powertrain classes of this table the total counts
    lower_bound: bool = False      # published as "more than": the remainder is a lower bound, used as the count
    caveat: str = ""               # what the total holds that the table's classes cannot separate


ELECTRIFIED = ("HEV", "PHEV", "BEV", "FCEV")
BRAND_TOTALS = (
    BrandTotal(("Toyota", "Toyota brand (all)", "electrified (HEV+PHEV+BEV+FCEV)"), ("Toyota",), ELECTRIFIED,
               caveat="the remainder also holds the plug-in hybrids inside multi-powertrain nameplates (RAV4 "
                      "Plug-in Hybrid), for which no 2025 count is sourced: they are classed HEV"),
    BrandTotal(("Lexus", "Lexus brand (all)", "electrified"), ("Lexus",), ELECTRIFIED,
               caveat="the remainder also holds the RX, NX and TX plug-in hybrids (no 2025 count sourced): "
                      "they are classed HEV"),
    BrandTotal(("Honda", "American Honda (all)", "electrified"), ("Honda", "Acura"), ELECTRIFIED, lower_bound=True,
               caveat="'more than 400,000' is a rounded lower bound, used as the count, so Honda's derived "
                      "hybrids are biased low by an unknown amount; Acura's ZDX is subtracted as if the figure "
                      "included it (if it does not, the bound is 12,005 higher)"),
    BrandTotal(("Ford", "Ford Motor Co. (all)", "HEV"), ("Ford", "Lincoln"), ("HEV",),
               caveat="whether Ford's hybrid count includes plug-in hybrids (Escape, Corsair) is not stated"),
    BrandTotal(("Hyundai", "Hyundai brand (all)", "HEV"), ("Hyundai",), ("HEV",),
               caveat="Hankyung's eco-friendly total 259,419 is hybrids 189,881 + EVs 69,533 + 5 "
                      "(hyundai_2025.csv memo), so its hybrids include the Tucson and Santa Fe plug-in "
                      "hybrids: they are classed HEV"),
    BrandTotal(("Kia", "Kia brand (all)", "HEV"), ("Kia",), ("HEV",),
               caveat="the Niro row, classed HEV, holds the whole Niro family (6,140 Niro EVs, raw note), so "
                      "subtracting it whole leaves up to that many too few hybrids for the other nameplates"),
)

# Each ICE-class nameplate of a BRAND_TOTALS brand whose raw `powertrain` lists HEV takes part only with
# evidence that its 2025 model year offered a hybrid (the raw list is the compiler's, from any model year):
# one row of this file per (make, model); a listed nameplate without a row stops the build.
MODEL_YEARS = Path(__file__).resolve().parent / "hybrid_model_years_2025.csv"


def model_year_evidence(path: Path = MODEL_YEARS) -> dict[tuple[str, str], str]:
    table = pd.read_csv(path)
    return {(m, mo): e for m, mo, e in zip(table["make"], table["model"], table["hybrid_on_offer_2025"])}


@dataclass(frozen=True)
class Bound:
    """A nameplate-level fact of powertrain_split_2025.csv: the row (make, model, powertrain) whose
    `units_or_share` contains `phrase`, read as `kind`."""

    nameplate: tuple[str, str]     # (make, model) of products_2025.csv
    row: tuple[str, str, str]
    phrase: str
    kind: str  # share | above_share | above_half | below_units | at_most_units | at_least_units


BOUNDS = (
    Bound(("Toyota", "Corolla"), ("Toyota", "Corolla (truncated in source)", "HEV"), "%", "share"),
    Bound(("Toyota", "Tacoma"), ("Toyota", "Tacoma", "HEV"), "more than", "above_share"),
    Bound(("Toyota", "Tacoma"), ("Toyota", "Tacoma", "HEV"), "under", "below_units"),
    Bound(("Honda", "CR-V"), ("Honda", "CR-V", "HEV"), "more than half", "above_half"),
    Bound(("Hyundai", "Palisade"), ("Hyundai", "Palisade", "HEV"), "close to", "at_most_units"),
    Bound(("Hyundai", "Tucson"), ("Hyundai", "Tucson", "HEV"), "Q2 2025 only", "at_least_units"),
    Bound(("Hyundai", "Santa Fe"), ("Hyundai", "Santa Fe", "HEV"), "Q2 2025 only", "at_least_units"),
)
# Quarterly counts compared (x4) with the derived full-year counts, for the log only.
CROSS_CHECKS = ((("Hyundai", "Tucson"), ("Hyundai", "Tucson", "HEV"), "Q2 2025 only"),
                (("Hyundai", "Santa Fe"), ("Hyundai", "Santa Fe", "HEV"), "Q2 2025 only"))
LOWER_KINDS = ("above_share", "above_half", "at_least_units")


def read_split(shared: Path) -> pd.DataFrame:
    """us_market/powertrain_split_2025.csv, read once by the build for both kinds of split."""
    return pd.read_csv(shared / "us_market" / "powertrain_split_2025.csv")


def split_row(split: pd.DataFrame, key: tuple[str, str, str], phrase: str | None = None) -> pd.Series:
    """The one row of powertrain_split_2025.csv with this (make, model, powertrain start) whose value
    contains `phrase`."""
    make, model, powertrain = key
    hit = split[(split["make"] == make) & (split["model"] == model) & split["powertrain"].str.startswith(powertrain)]
    if phrase is not None:
        hit = hit[hit["units_or_share"].astype(str).str.contains(phrase, regex=False)]
    if len(hit) != 1:
        raise SystemExit(f"powertrain_split_2025.csv: {len(hit)} rows for make={make!r} model={model!r} "
                         f"powertrain={powertrain!r} value containing {phrase!r}; expected 1")
    return hit.iloc[0]


def _publisher(source: str) -> str:
    """'Car Journal Review https://...' -> 'Car Journal Review'."""
    return re.split(r" \(| https?://", str(source))[0]


def _source(r: pd.Series) -> str:
    return f"powertrain_split_2025.csv ({r['make']} {r['model']} {r['powertrain']}: {r['units_or_share']}; {r['source']})"


def _split(out: pd.DataFrame, j: int, hev: int, peers: pd.DataFrame, ice_text: str, hev_text: str,
           sales: dict[str, str]) -> pd.DataFrame:
    """Turn row j into its ICE part (in place) and return its HEV row: same characteristics but units
    and efficiency (the HEV figure of a spec fill file, spec_fill.py; else the midpoint of the raw EPA
    strong-hybrid range, else the median of observed efficiencies of the segment's HEV products, else the
    nameplate's own, flagged imputed)."""
    total = float(out.at[j, "units"])
    arithmetic = f"nameplate total {int(total):,} = ICE {int(total - hev):,} + HEV {int(hev):,}"
    trim = out.at[j, "msrp_trim"]
    shared_chars = (f"split nameplate: price, horsepower and size are those of the quoted base trim ({trim}), "
                    f"{SHARED_BY_BOTH_ROWS}" if isinstance(trim, str) else
                    f"split nameplate: price, horsepower and size are the row's (imputed), {SHARED_BY_BOTH_ROWS}")
    flags = out.at[j, "msrp_flags"]
    out.at[j, "msrp_flags"] = "; ".join(x for x in (flags if isinstance(flags, str) else "", shared_chars) if x)
    hev_row = out.loc[[j]].copy()
    out.at[j, "units"] = total - hev
    out.at[j, "powertrain_split_source"] = f"ICE row: {arithmetic}; {ice_text}"
    hybrid_mpg = range_midpoint(out.at[j, "combined_mpg_strong_hybrid_range"])
    same = peers[peers["segment"].eq(out.at[j, "segment"])]
    filled = out.at[j, "efficiency_fill_hev"] if "efficiency_fill_hev" in out.columns else np.nan
    if pd.notna(filled):
        hev_row["efficiency_mpg_or_mpge"] = float(filled)
        hev_row["efficiency_imputed"] = False
        note = out.at[j, "efficiency_fill_hev_source"]
        hev_row["efficiency_source"] = append_note(out.at[j, "efficiency_source"] if "efficiency_source" in out.columns
                                                   else np.nan, note)
        efficiency_note = "HEV efficiency: sourced in a spec fill file (efficiency_source)"
    elif not np.isnan(hybrid_mpg):
        hev_row["efficiency_mpg_or_mpge"] = hybrid_mpg
        hev_row["efficiency_imputed"] = False
        efficiency_note = "HEV efficiency: midpoint of the EPA strong-hybrid range"
    elif len(same):
        hev_row["efficiency_mpg_or_mpge"] = same["efficiency_mpg_or_mpge"].median()
        hev_row["efficiency_imputed"] = True
        efficiency_note = f"HEV efficiency: median of the {len(same)} {out.at[j, 'segment']} HEV products with one"
    else:
        hev_row["efficiency_imputed"] = True
        efficiency_note = ("HEV efficiency: the raw row has no hybrid MPG and no product of the same segment "
                           "and class has one; the nameplate's value is kept, flagged imputed")
    hev_row["powertrain"] = "HEV"
    hev_row["units"] = hev
    for column, value in sales.items():
        hev_row[column] = value
    hev_row["powertrain_split_source"] = f"HEV row: {arithmetic}; {hev_text}; {efficiency_note}"
    return hev_row


def _peers(out: pd.DataFrame) -> pd.DataFrame:
    """HEV products with an observed efficiency before any split: the efficiency donors of HEV rows."""
    return out[out["powertrain"].eq("HEV") & ~out["efficiency_imputed"].astype(bool)]


def _interleave(out: pd.DataFrame, hev_rows: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """Each HEV row right after its ICE row."""
    parts = [out.loc[[j]] if j not in hev_rows else pd.concat([out.loc[[j]], hev_rows[j]]) for j in out.index]
    return pd.concat(parts, ignore_index=True)


def split_powertrains(df: pd.DataFrame, split: pd.DataFrame, log: list[str]) -> pd.DataFrame:
    """Split nameplates with a sourced 2025 HEV count into an ICE row and an HEV row; check hybrid-only ones.

    HEV row: the sourced HEV units; ICE row: the nameplate total minus them. A nameplate the source
    calls hybrid-only must be classed HEV. `split` is powertrain_split_2025.csv (``read_split``).
    """
    out = df.copy()
    out["powertrain_split_source"] = ""
    peers = _peers(out)
    hev_rows = {}
    for (make, model), (p_make, p_model) in POWERTRAIN_SPLITS.items():
        r = split_row(split, (make, model, "HEV"))
        if not str(r["basis"]).startswith("2025 units"):
            raise ValueError(f"powertrain split {make} {model}: basis {r['basis']!r} is not 2025 units")
        hev = first_number(r["units_or_share"])
        match = out.index[(out["make"] == p_make) & (out["model"] == p_model)]
        if len(match) != 1:
            raise ValueError(f"powertrain split {make} {model} matches {len(match)} products")
        j = match[0]
        total = float(out.at[j, "units"])
        of = re.search(r"of ([\d,]+)", str(r["units_or_share"]))
        if of and float(of.group(1).replace(",", "")) != total:
            raise ValueError(f"powertrain split {make} {model}: nameplate total {of.group(1)} != {total}")
        source = _source(r)
        hev_rows[j] = _split(out, j, hev, peers, f"HEV units from {source}", f"HEV units from {source}",
                             {"sales_source": r["source"], "sales_basis": f"HEV units of the nameplate ({r['basis']})",
                              "sales_confidence": r["confidence"]})
        log.append(f"powertrain split {p_make} {p_model}: nameplate total {int(total):,} = ICE {int(total - hev):,} "
                   f"+ HEV {int(hev):,} ({hev_rows[j]['powertrain_split_source'].iloc[0].rsplit('; ', 1)[-1]})")
    # hybrid-only nameplates (share '100%'): the product must be classed HEV
    only = split[split["units_or_share"].astype(str).str.startswith("100%")]
    for _, r in only.iterrows():
        for model in (m.strip() for m in str(r["model"]).split(" / ")):
            match = out.index[(out["make"] == r["make"]) & (out["model"] == model)]
            if len(match) != 1:
                raise ValueError(f"hybrid-only {r['make']} {model} matches {len(match)} products")
            j = match[0]
            was = out.at[j, "powertrain"]
            out.at[j, "powertrain"] = "HEV"
            out.at[j, "powertrain_split_source"] = f"hybrid-only in 2025: powertrain_split_2025.csv ({r['source']})"
            log.append(f"hybrid-only {r['make']} {model}: class {was}" + (" (unchanged)" if was == "HEV" else " -> HEV"))
    return _interleave(out, hev_rows)


def bound_value(bound: Bound, r: pd.Series, units: float) -> int:
    """The bound in units of the nameplate: strict words ('more than', 'under') exclude their number."""
    value = first_number(r["units_or_share"])
    if bound.kind == "share":
        return int(round(value / 100 * units))
    if bound.kind == "above_share":
        return math.floor(value / 100 * units) + 1
    if bound.kind == "above_half":
        return math.floor(units / 2) + 1
    if bound.kind == "below_units":
        return math.ceil(value) - 1
    if bound.kind in ("at_most_units", "at_least_units"):
        return int(value)
    raise ValueError(f"bound kind={bound.kind!r} is not known")


def allocate(remainder: int, units: dict[str, float], lower: dict[str, int], upper: dict[str, int],
             bounded: bool) -> tuple[dict[str, int], dict[str, float], dict[str, str]]:
    """Share `remainder` over nameplates in proportion to `units`; when `bounded`, a nameplate whose
    part breaks its lower or upper bound is set to it and the rest shared again, until none breaks one.
    Returns whole units (largest remainder), the exact proportional parts of the free nameplates, and
    which nameplates sit at a bound."""
    free = list(units)
    fixed: dict[str, int] = {}
    at_bound: dict[str, str] = {}
    while bounded and free:
        left = remainder - sum(fixed.values())
        pool = sum(units[k] for k in free)
        broke = {}
        for k in free:
            want = left * units[k] / pool
            if k in upper and want > upper[k]:
                broke[k] = (upper[k], "upper")
            elif k in lower and want < lower[k]:
                broke[k] = (lower[k], "lower")
        if not broke:
            break
        for k, (value, side) in broke.items():
            fixed[k], at_bound[k] = value, side
            free.remove(k)
    left = remainder - sum(fixed.values())
    if left < 0 or (left and not free):
        raise SystemExit(f"hybrid allocation: bounds take {sum(fixed.values()):,} of a remainder of {remainder:,}")
    pool = sum(units[k] for k in free)
    exact = {k: left * units[k] / pool for k in free}
    whole = {k: math.floor(v) for k, v in exact.items()}
    short = left - sum(whole.values())
    for k in sorted(free, key=lambda k: (-(exact[k] - whole[k]), free.index(k)))[:short]:
        whole[k] += 1
    return {**fixed, **whole}, exact, at_bound


def _eligible(rows: pd.DataFrame, evidence: dict[tuple[str, str], str]) -> pd.DataFrame:
    """ICE-class rows not split yet whose raw powertrain list offers HEV; each must have model-year evidence."""
    offers = rows["powertrains_offered"].map(lambda s: "HEV" in [p.strip() for p in str(s).split(";")])
    eligible = rows[rows["powertrain"].eq("ICE") & offers & rows["powertrain_split_source"].eq("")]
    for make, model in zip(eligible["make"], eligible["model"]):
        if (make, model) not in evidence:
            raise SystemExit(f"hybrid remainder: {make} {model} lists HEV but {MODEL_YEARS.name} has no evidence "
                             "that its 2025 model year offered one (add a row with its source)")
    return eligible


def _bounds(split: pd.DataFrame, units: dict) -> tuple[dict, dict, dict, dict, list[str]]:
    """Sourced shares, lower and upper bounds of the nameplates in `units`, each with its text."""
    shares, lower, upper, texts, conflicts = {}, {}, {}, {}, []
    for b in BOUNDS:
        if b.nameplate not in units:
            continue
        r = split_row(split, b.row, b.phrase)
        value = bound_value(b, r, units[b.nameplate])
        texts.setdefault(b.nameplate, []).append(f"{b.kind.replace('_', ' ')} {value:,} ('{r['units_or_share']}', "
                                                 f"{_publisher(r['source'])}, confidence {r['confidence'].split(' ')[0]})")
        if b.kind == "share":
            shares[b.nameplate] = (value, first_number(r["units_or_share"]), r)
        elif b.kind in LOWER_KINDS:
            lower[b.nameplate] = max(lower.get(b.nameplate, value), value)
        else:
            upper[b.nameplate] = min(upper.get(b.nameplate, value), value)
    for k in set(lower) & set(upper):
        if lower[k] > upper[k]:
            conflicts.append(f"{k[0]} {k[1]}: sourced lower bound {lower[k]:,} exceeds sourced upper bound {upper[k]:,} "
                             f"(the sources disagree by {lower[k] - upper[k]:,} units); the upper bound, a unit count, "
                             "is kept")
            lower[k] = upper[k]
    return shares, lower, upper, texts, conflicts


def derive_hybrids(df: pd.DataFrame, split: pd.DataFrame, log: list[str],
                   allocation: str = DEFAULT_ALLOCATION) -> pd.DataFrame:
    """Split each BRAND_TOTALS brand's hybrid remainder out of its multi-powertrain nameplates (module
    docstring); `split` is powertrain_split_2025.csv (``read_split``). A derived count below 0 or above
    its nameplate, or a remainder below 0, stops the build. Nameplate totals, and so the table's total,
    are unchanged by construction: ``_split`` gives the HEV row `hev` units and the ICE row the total minus
    `hev` (no check after the fact: one comparing the sums could not fail)."""
    if allocation not in HYBRID_ALLOCATIONS:
        raise SystemExit(f"--hybrid-allocation: value {allocation!r} is not one of {list(HYBRID_ALLOCATIONS)}")
    out = df.copy()
    out["powertrain_split_source"] = out["powertrain_split_source"].fillna("")
    peers = _peers(out)
    evidence = model_year_evidence()
    hev_rows: dict[int, pd.DataFrame] = {}
    log.append(f"{ALLOCATION_ASSUMPTION} This build: hybrid_allocation={allocation}.")
    for brand in BRAND_TOTALS:
        r = split_row(split, brand.row)
        published = int(first_number(r["units_or_share"]))
        if brand.lower_bound != str(r["units_or_share"]).startswith("more than"):
            raise SystemExit(f"hybrid remainder {brand.row}: value {r['units_or_share']!r} does not read as "
                             f"{'a lower bound' if brand.lower_bound else 'a count'}")
        rows = out[out["make"].isin(brand.makes)]
        counted = rows[rows["powertrain"].isin(brand.counted)]
        in_table = int(counted["units"].sum())
        remainder = published - in_table
        if remainder < 0:
            raise SystemExit(f"hybrid remainder {brand.row}: published {published:,} is below the {in_table:,} units "
                             "this table already counts")
        eligible = _eligible(rows, evidence)
        index = {(m, mo): j for j, m, mo in zip(eligible.index, eligible["make"], eligible["model"])}
        units = {k: float(out.at[j, "units"]) for k, j in index.items()}
        shares, lower, upper, texts, conflicts = _bounds(split, units)
        log.extend(f"hybrid bounds conflict: {c}" for c in conflicts)
        by_share = sum(v for v, _, _ in shares.values())
        free = {k: u for k, u in units.items() if k not in shares}
        parts, exact, at_bound = allocate(remainder - by_share, free, lower, upper, allocation == "bounded")
        other, _, _ = allocate(remainder - by_share, free, lower, upper, allocation != "bounded")
        fixed_text = "; ".join(f"{k[1]} {v:,} ({'sourced share' if k in shares else at_bound[k] + ' bound'})"
                               for k, v in {**{k: v for k, (v, _, _) in shares.items()},
                                            **{k: parts[k] for k in at_bound}}.items())
        pool = sum(free[k] for k in exact)
        left = remainder - by_share - sum(parts[k] for k in at_bound)
        brand_line = (f"{brand.row[0]} {brand.row[1]} {brand.row[2]} {'at least ' if brand.lower_bound else ''}"
                      f"{published:,} minus {in_table:,} in this table's {'/'.join(brand.counted)}-class "
                      f"{'/'.join(brand.makes)} rows ("
                      + (" + ".join(f"{mo} {int(u):,}" for mo, u in zip(counted["model"], counted["units"])) or "none")
                      + f") = {remainder:,} hybrids inside the nameplates that offered one in 2025 ("
                      + ", ".join(f"{k[1]} {int(u):,}" for k, u in units.items()) + ")"
                      + (f"; minus {fixed_text}" if fixed_text else "")
                      + (f"; {left:,} shared over {', '.join(k[1] for k in exact)} ({int(pool):,} units) in "
                         f"proportion to units" if exact else ""))
        log.append(f"hybrid remainder: {brand_line}. Caveat: {brand.caveat}")
        for k, j in index.items():
            hev = parts[k] if k not in shares else shares[k][0]
            if not 0 <= hev <= units[k]:
                raise SystemExit(f"hybrid remainder: derived HEV units of {k[0]} {k[1]} = {hev:,} is outside 0 to "
                                 f"its nameplate's {int(units[k]):,}")
            if k in shares:
                value, pct, sr = shares[k]
                line = (f"{k[1]}: {pct:g}% x {int(units[k]):,} = {pct / 100 * units[k]:,.1f} -> {hev:,} "
                        f"(sourced share; {_source(sr)})")
                confidence = sr["confidence"]
            elif k in at_bound:
                line = (f"{k[1]}: {hev:,}, its sourced {at_bound[k]} bound, binding (unbounded proportional "
                        f"part {other[k]:,})")
                confidence = f"low - derived: a sourced bound of a brand remainder ({allocation} allocation)"
            else:
                line = (f"{k[1]}: {left:,} x {int(units[k]):,} / {int(pool):,} = {exact[k]:,.1f} -> {hev:,} "
                        f"(ASSUMPTION hybrid_allocation={allocation}: in proportion to nameplate units; "
                        "largest-remainder rounding)")
                confidence = f"low - derived: {allocation} allocation of a brand remainder"
            bound_text = f"; bounds: {'; '.join(texts[k])}" if k in texts else ""
            range_text = ("" if k in shares else
                          f"; with hybrid_allocation={'proportional' if allocation == 'bounded' else 'bounded'}: {other[k]:,}")
            hev_text = (f"HEV units DERIVED from {_source(r)}: {brand_line}; {line}{bound_text}{range_text}; "
                        f"2025 hybrid on offer: {evidence[k]}; caveat: {brand.caveat}")
            hev_rows[j] = _split(out, j, hev, peers, "HEV units DERIVED, see the HEV row", hev_text,
                                 {"sales_source": r["source"], "sales_confidence": confidence,
                                  "sales_basis": f"DERIVED HEV units of the nameplate (brand remainder, {allocation})"})
            log.append(f"hybrid split {k[0]} {k[1]}: {line}{bound_text}"
                       + (f"; {'proportional' if allocation == 'bounded' else 'bounded'} would give {other[k]:,}"
                          if k not in shares else ""))
    for key, row, phrase in CROSS_CHECKS:
        q = split_row(split, row, phrase)
        j = index_of(out, key)
        if j in hev_rows:
            derived = int(hev_rows[j]["units"].iloc[0])
            log.append(f"hybrid cross-check {key[0]} {key[1]}: derived {derived:,} against {phrase} "
                       f"{int(first_number(q['units_or_share'])):,} x 4 = {4 * int(first_number(q['units_or_share'])):,}")
    result = _interleave(out, hev_rows)
    market = split_row(split, ("Market", "US light vehicles", "HEV"), "million")
    log.append(f"HEV-class units after the splits: {int(result.loc[result['powertrain'].eq('HEV'), 'units'].sum()):,} "
               f"in {int(result['powertrain'].eq('HEV').sum())} products (market: {market['units_or_share']} hybrids, "
               f"{market['source'].split(' (')[0]})")
    return result


def index_of(out: pd.DataFrame, key: tuple[str, str]) -> int:
    match = out.index[(out["make"] == key[0]) & (out["model"] == key[1])]
    if len(match) != 1:
        raise SystemExit(f"{key[0]} {key[1]} matches {len(match)} products")
    return match[0]
