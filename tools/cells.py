"""Readers of the raw files' text cells, shared by tools/build_data.py and tools/hybrid_split.py."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd


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
