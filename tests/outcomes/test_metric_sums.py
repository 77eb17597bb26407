"""The metrics' sums by owner, country and nationality without pandas' alignment and groupby (a draw
measures its counterfactual with four such sums; issue 13): the same numbers as pandas to the bit,
whatever the frame's layout, NaN counting as 0 as pandas' sums count it."""

import numpy as np
import pandas as pd
import pytest

from autopact.outcomes.metrics import column_sums, group_sums


def frames(rows: int, columns: int, nan: bool = True) -> list[pd.DataFrame]:
    rng = np.random.default_rng(7)
    values = rng.uniform(0, 1, (rows, columns)) * rng.uniform(0, 1e4, columns)
    values[rng.uniform(size=values.shape) < 0.3] = 0.0
    if nan:
        values[3, 1] = np.nan
    names = [f"owner {k}" for k in range(columns)]
    c_order = pd.DataFrame(values, columns=names)
    f_order = pd.DataFrame(np.asfortranarray(values), columns=names)
    pieces = pd.concat([c_order.iloc[:, :3], c_order.iloc[:, 3:]], axis=1)  # two blocks
    return [c_order, f_order, pieces, c_order.copy()]


@pytest.mark.parametrize("nan", [True, False])
@pytest.mark.parametrize("layout", range(4))
def test_column_sums_are_pandas_sums_to_the_bit(layout, nan):
    frame = frames(263, 11, nan)[layout]
    weights = np.random.default_rng(1).uniform(0, 3e4, len(frame))
    expected = frame.mul(weights, axis=0).sum().to_numpy()
    assert np.array_equal(column_sums(frame, weights), expected)


def test_group_sums_are_pandas_groupby_sums_to_the_bit():
    rng = np.random.default_rng(2)
    values = rng.uniform(-1e9, 1e9, 40) * rng.uniform(0, 1, 40) ** 8
    values[[5, 17]] = np.nan
    labels = [["US", "China", "Japan", "Germany"][k] for k in rng.integers(0, 4, 40)]
    labels[5] = "Sweden"  # a group of NaN only
    expected = pd.Series(values).groupby(labels).sum()
    found = group_sums(values, labels)
    assert list(found) == list(expected.index)
    assert all(found[k] == v or (np.isnan(found[k]) and np.isnan(v)) for k, v in expected.items())
