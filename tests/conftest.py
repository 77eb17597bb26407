from pathlib import Path

import pandas as pd
import pytest

from autopact.data import bundled_path


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
