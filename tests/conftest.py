"""Shared fixtures; first, the BLAS kernels the golden files were recorded with (``blas_kernels``)."""

import blas_kernels

blas_kernels.pin()

import os  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import settings

from autopact.data import bundled_path

# property tests draw the same examples on every run and machine: a failure in CI repeats here
settings.register_profile("derandomized", derandomize=True, print_blob=True)
settings.load_profile("derandomized")


@pytest.fixture()
def bundled_products() -> pd.DataFrame:
    return pd.read_csv(bundled_path("products_2025.csv"))


@pytest.fixture()
def write_csv(tmp_path: Path):
    def write(table: pd.DataFrame, name: str = "market.csv") -> Path:
        path = tmp_path / name
        table.to_csv(path, index=False)
        return path
    return write


@pytest.fixture(autouse=True)
def results_store(tmp_path_factory, monkeypatch) -> Path:
    """Every test (and the CLI processes it starts) writes runs to a store of its own, not the user's."""
    path = tmp_path_factory.mktemp("store") / "results.duckdb"
    monkeypatch.setenv("AUTOPACT_STORE", str(path))
    return path


@pytest.fixture(autouse=True, scope="session")
def results_cache(tmp_path_factory) -> Iterator[Path]:
    """One disk cache (``autopact.data.cache``) for the session, not the user's: the calibrated
    market one test (or CLI process) builds, the next reads, as a user's runs do."""
    path = tmp_path_factory.mktemp("cache")
    before = os.environ.get("AUTOPACT_CACHE")
    os.environ["AUTOPACT_CACHE"] = str(path)
    yield path
    if before is None:
        os.environ.pop("AUTOPACT_CACHE", None)
    else:
        os.environ["AUTOPACT_CACHE"] = before
