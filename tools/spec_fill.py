"""Sourced horsepower, size and efficiency for nameplates whose raw row lacks them (issue 11).

Read by tools/build_data.py (``fill_specs``, ``check_spec_fill_ids``). Each fill file
(``tools/spec_fill_2025_{a,b,c,d,e}.csv``, every one optional) has the columns ``SPEC_FILL_COLUMNS``: a
``product_id`` of the built table, the figures found (blank where none was found), the model year and
trim they are for, and the quoted source. ``fill_specs`` writes them into the raw columns before
``impute()``, so the imputation flags these cells as not imputed and the OLS of horsepower fits on them.

Split nameplates. ``fill_specs`` runs on the nameplate table, before the hybrid splits of
hybrid_split.py (the imputation runs there too, and the split rows copy its results). A row of a split
nameplate's HEV product (``<make>--<model>--hev`` where the table still has one ``--ice`` nameplate) is
read as that nameplate's: its horsepower and size apply to the nameplate, hence to both its ICE and HEV
rows (they share the base trim's, SOURCES.md); the same holds for the ICE row's. Efficiency applies to its
own row only: the ICE row's goes into the nameplate (the ICE row keeps it), the HEV row's into
``efficiency_fill_hev``, which ``hybrid_split._split`` gives the HEV row in place of the EPA strong-hybrid
midpoint it would otherwise read or impute. ``check_spec_fill_ids`` then checks, after the splits, that
every filled ``product_id`` is a product of the built table.

The build stops (SystemExit naming the file, product_id and field) on a wrong header, a value that is not
a number or lies outside ``SPEC_RANGES``, a row that matches no product, a field whose raw value is not
missing (a sourced raw value is never overwritten), or two different values for one shared field.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from cells import append_note, fill_target, range_midpoint, read_fill_files, slug

TOOLS = Path(__file__).resolve().parent
SPEC_FILLS = tuple(TOOLS / f"spec_fill_2025_{x}.csv" for x in "abcde")
SPEC_FILL_COLUMNS = ["product_id", "make", "model", "powertrain", "horsepower", "length_in", "width_in",
                     "efficiency_mpg_or_mpge", "model_year", "trim", "source", "note"]
# field -> the source column its note is appended to, and its label in the note
SPEC_FIELDS = {"horsepower": ("spec_source", "horsepower"), "length_in": ("size_source", "length in"),
               "width_in": ("size_source", "width in"),
               "efficiency_mpg_or_mpge": ("efficiency_source", "EPA combined")}
SHARED_FIELDS = ("horsepower", "length_in", "width_in")   # one value per nameplate (base trim)
# sane ranges (inclusive): a value outside is a typo or a wrong unit, not a car
SPEC_RANGES = {"horsepower": (50.0, 1500.0), "length_in": (140.0, 260.0), "width_in": (60.0, 90.0)}
EFFICIENCY_RANGES = {"ICE": (10.0, 70.0), "HEV": (10.0, 70.0), "PHEV": (10.0, 70.0), "BEV": (50.0, 150.0)}
HELPER_COLUMNS = ("efficiency_fill_hev", "efficiency_fill_hev_source")


def _range(field: str, powertrain: str) -> tuple[float, float] | None:
    return EFFICIENCY_RANGES.get(powertrain) if field == "efficiency_mpg_or_mpge" else SPEC_RANGES[field]


def read_spec_fills(paths: tuple[Path, ...] = SPEC_FILLS) -> pd.DataFrame:
    """The spec fill files that exist, stacked, with the file each row came from in `fill_file`.

    Checks each row on its own: header, product_id against its powertrain, numbers and their ranges,
    model year and source where a value is set; a field of one product given twice (in one file or across
    files; a product may appear in several files with different fields)."""
    def check(name: str, r: pd.Series) -> None:
        pid, pt = r["product_id"], r["powertrain"]
        if pid != f"{slug(r['make'])}--{slug(r['model'])}--{pt.lower()}":
            raise SystemExit(f"{name}: product_id={pid!r} is not make={r['make']!r} model={r['model']!r} "
                             f"powertrain={pt!r}")
        values = {f: r[f].strip() for f in SPEC_FIELDS if r[f].strip()}
        for field, text in values.items():
            value = pd.to_numeric(text, errors="coerce")
            bounds = _range(field, pt)
            if bounds is None:
                raise SystemExit(f"{name}: {pid} {field}={text!r}: no sane range is set for powertrain {pt!r}")
            if not (np.isfinite(value) and bounds[0] <= value <= bounds[1]):
                raise SystemExit(f"{name}: {pid} {field}={text!r} is not a number from {bounds[0]:g} "
                                 f"to {bounds[1]:g}")
        if values and not re.search(r"(?<!\d)(?:19|20)\d\d(?!\d)", r["model_year"]):
            raise SystemExit(f"{name}: {pid} model_year={r['model_year']!r} names no year")
        if values and not r["source"].strip():
            raise SystemExit(f"{name}: {pid} source is empty")

    fills = read_fill_files(paths, SPEC_FILL_COLUMNS, check)
    for field in SPEC_FIELDS:   # a product may be in two files (a later pass), a field filled once
        given = fills[fills[field].str.strip().ne("")]
        dup = given[given["product_id"].duplicated(keep=False)]
        if len(dup):
            raise SystemExit(f"spec fill: {field} of one product given twice: " + "; ".join(
                f"{i} ({f})" for i, f in zip(dup["product_id"], dup["fill_file"])))
    return fills


def _target(out: pd.DataFrame, ids: pd.Series, r: pd.Series) -> tuple[int, bool]:
    """The nameplate row a fill row sets, and whether the fill row is a split nameplate's HEV product."""
    pid = r["product_id"]
    split_hev = not (ids == pid).any() and pid.endswith("--hev")
    return fill_target(out, ids, r, pid.removesuffix("--hev") + "--ice" if split_hev else pid), split_hev


def _note(r: pd.Series, fields: list[str]) -> str:
    what = ", ".join(f"{SPEC_FIELDS[f][1]} {float(r[f]):g}" for f in fields)
    note = f" ({r['note'].strip()})" if r["note"].strip() else ""
    return f"fill {what} (model year {r['model_year'].strip()}; {r['trim'].strip()}): {r['source'].strip()}{note} [{r['fill_file']}]"


def fill_specs(df: pd.DataFrame, log: list[str], paths: tuple[Path, ...] = SPEC_FILLS) -> pd.DataFrame:
    """Write the sourced horsepower, length, width and efficiency of the fill files into the nameplate
    table before ``impute()``, appending a note naming the fill file to spec_source / size_source /
    efficiency_source; log the counts per file and field.

    For a split nameplate (ICE + HEV rows), horsepower and size given on either row apply to both (they
    share the base trim's); efficiency applies to its own row only (the HEV row's through
    ``efficiency_fill_hev``). Stops on a row matching no product, a field whose raw value is not missing,
    two different values for one shared field, or a value outside ``SPEC_RANGES`` (module docstring)."""
    fills = read_spec_fills(paths)
    out = df.copy()
    for column in HELPER_COLUMNS:
        out[column] = np.nan if column == "efficiency_fill_hev" else ""
    for column in dict.fromkeys(c for c, _ in SPEC_FIELDS.values()):
        if column in out.columns:
            out[column] = out[column].astype(object)   # text notes go into all-blank columns too
    ids = out["make"].map(slug) + "--" + out["model"].map(slug) + "--" + out["powertrain"].str.lower()
    set_by: dict[tuple[int, str], tuple[float, str]] = {}
    counts: dict[str, dict[str, int]] = {}
    rows: dict[str, list[str]] = {}
    for _, r in fills.iterrows():
        j, split_hev = _target(out, ids, r)
        pid = r["product_id"]
        fields = [f for f in SPEC_FIELDS if r[f].strip()]
        written: list[str] = []
        for field in fields:
            value = float(r[field])
            if field == "efficiency_mpg_or_mpge" and split_hev:
                if not np.isnan(range_midpoint(out.at[j, "combined_mpg_strong_hybrid_range"])):
                    raise SystemExit(f"{r['fill_file']}: {pid} {field}={r[field]!r}: the raw row has a strong-hybrid "
                                     f"MPG ({out.at[j, 'combined_mpg_strong_hybrid_range']}): not missing")
                out.at[j, "efficiency_fill_hev"] = value
                out.at[j, "efficiency_fill_hev_source"] = _note(r, [field])
                written.append(field)
                continue
            if (j, field) in set_by:
                old, by = set_by[(j, field)]
                if old != value:
                    raise SystemExit(f"{r['fill_file']}: {pid} {field}={r[field]!r} differs from {old:g} set by {by} "
                                     "for the same nameplate (split rows share the base trim's)")
                continue
            if pd.notna(out.at[j, field]):
                raise SystemExit(f"{r['fill_file']}: {pid} {field}={r[field]!r}: the raw value {out.at[j, field]} "
                                 "is not missing")
            out.at[j, field] = value
            set_by[(j, field)] = (value, f"{pid} ({r['fill_file']})")
            written.append(field)
        for column in dict.fromkeys(SPEC_FIELDS[f][0] for f in written):
            part = [f for f in written if SPEC_FIELDS[f][0] == column]
            if column == "efficiency_source" and split_hev:
                continue   # the HEV row's own note, given it by hybrid_split._split
            out.at[j, column] = append_note(out.at[j, column], _note(r, part))
        tally = counts.setdefault(r["fill_file"], {})
        for field in written:
            tally[field] = tally.get(field, 0) + 1
        if written:
            rows.setdefault(r["fill_file"], []).append(f"{r['make']} {r['model']} ({r['powertrain']}) " + ", ".join(
                f"{SPEC_FIELDS[f][1]} {float(r[f]):g}" for f in written) + f" (model year {r['model_year'].strip()})")
    for name, tally in counts.items():
        part = fills[fills["fill_file"].eq(name)]
        log.append(f"spec fill: {len(part)} rows from {name}: " + ", ".join(
            f"{field} {tally.get(field, 0)}" for field in SPEC_FIELDS) + " (split nameplates: shared fields once): "
            + "; ".join(rows.get(name, [])))
    return out


def check_spec_fill_ids(df: pd.DataFrame, paths: tuple[Path, ...] = SPEC_FILLS) -> pd.DataFrame:
    """After the hybrid splits: every filled product_id is a product of the built table (a split
    nameplate's HEV row that was not split out stops the build); the helper columns are dropped."""
    fills = read_spec_fills(paths)
    ids = set(df["make"].map(slug) + "--" + df["model"].map(slug) + "--" + df["powertrain"].str.lower())
    for _, r in fills.iterrows():
        if r["product_id"] not in ids:
            raise SystemExit(f"{r['fill_file']}: product_id={r['product_id']!r} matches no product of the built table")
    return df.drop(columns=[c for c in HELPER_COLUMNS if c in df.columns])
