"""Readers of the raw files' text cells and of the fill files, shared by tools/build_data.py,
tools/hybrid_split.py and tools/spec_fill.py."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd


# a fill row's destination_basis -> the raw file's msrp_includes_destination text that build_data's
# destination_basis() reads (the MSRP fills and the hybrid trims write quotes in the raw file's terms)
DESTINATION_TEXT = {"included": "yes", "excluded": "no", "not stated": np.nan}
# what a split nameplate's rows say they share (hybrid_split.py writes it, hybrid_trims.py rewrites it
# for the HEV rows priced at their own trim)
SHARED_BY_BOTH_ROWS = "shared by its ICE and HEV rows"


def append_note(old: object, note: str) -> str:
    """``note`` after a cell's text (``old | note``), or ``note`` where the cell is empty."""
    return note if pd.isna(old) or not str(old).strip() else f"{old} | {note}"


def cpi_factors(ref: pd.DataFrame) -> dict[int, float]:
    """CPI-U for new vehicles by year (``reference_parameters.csv`` rows cpi_new_vehicles_YYYY)."""
    return {int(n[-4:]): ref.loc[n, "value"] for n in ref.index if n.startswith("cpi_new_vehicles_")}


def first_number(text) -> float:
    """First number in a cell such as '15-26', '72.6-78', '~45000', '>=50000', '1,300'."""
    if pd.isna(text):
        return np.nan
    match = re.search(r"\d[\d,]*(?:\.\d+)?", str(text))
    return float(match.group(0).replace(",", "")) if match else np.nan


def range_midpoint(text) -> float:
    """Midpoint of an 'a-b' range cell; a single number is returned as is."""
    if pd.isna(text):
        return np.nan
    numbers = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", str(text))]
    return float(np.mean(numbers[:2])) if numbers else np.nan


def slug(text: str) -> str:
    """'Mazda', 'CX-70' -> 'mazda', 'cx-70': the parts of a product_id."""
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")


def read_fill_files(paths: Iterable[Path], columns: list[str],
                    check_row: Callable[[str, pd.Series], None]) -> pd.DataFrame:
    """The fill files of ``paths`` that exist (each optional), as text, stacked, with the file each row
    came from in ``fill_file``. Stops the build on a header other than ``columns``; ``check_row(file
    name, row)`` stops it on a bad row (each reader's own checks)."""
    frames = []
    for path in paths:
        if not path.exists():
            continue
        fill = pd.read_csv(path, dtype=str, keep_default_na=False)
        if list(fill.columns) != columns:
            raise SystemExit(f"{path.name}: columns {list(fill.columns)}, expected {columns}")
        for _, row in fill.iterrows():
            check_row(path.name, row)
        frames.append(fill.assign(fill_file=path.name))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns + ["fill_file"])


def fill_target(out: pd.DataFrame, ids: pd.Series, r: pd.Series, product_id: str | None = None) -> int:
    """The one row of ``out`` whose id (``ids``) is ``product_id`` (the fill row's own by default) and whose
    make and model are the fill row's; stops the build otherwise, naming the fill file."""
    pid = r["product_id"] if product_id is None else product_id
    match = out.index[ids == pid]
    if len(match) != 1:
        raise SystemExit(f"{r['fill_file']}: product_id={r['product_id']!r} matches {len(match)} products")
    j = match[0]
    if (out.at[j, "make"], out.at[j, "model"]) != (r["make"], r["model"]):
        raise SystemExit(f"{r['fill_file']}: product_id={r['product_id']!r} is {out.at[j, 'make']} "
                         f"{out.at[j, 'model']}, not make={r['make']!r} model={r['model']!r}")
    return j
