"""autopact.model.compressed: scipy.sparse's products to the bit, without importing scipy.sparse."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

import autopact
from autopact.model.compressed import Compressed


@pytest.mark.parametrize("seed", range(3))
def test_products_equal_scipy_sparse_to_the_bit(seed):
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, 7, 40)
    x = rng.normal(size=(40, 33)) * 10.0 ** rng.integers(-8, 8, (40, 1))
    expected = sparse.csc_matrix((np.ones(40), groups, np.arange(41)), shape=(7, 40)) @ x
    assert np.array_equal(Compressed.indicator(groups, 7) @ x, expected)
    dense = rng.normal(size=(9, 40)) * (rng.random((9, 40)) < 0.3)
    found = Compressed.from_dense(dense)
    assert np.array_equal(found @ x, sparse.csr_matrix(dense) @ x)
    assert np.array_equal(found.toarray(), dense)
    assert np.array_equal(Compressed.indicator(groups, 7).toarray(), np.eye(7)[groups].T)
    # a view that is not contiguous (a block of households) is multiplied as scipy multiplies it
    assert np.array_equal(found @ x[:, 3:20], sparse.csr_matrix(dense) @ x[:, 3:20])


def test_shapes_that_do_not_align_are_refused():
    with pytest.raises(ValueError, match=r"shapes \(3, 4\) and \(5, 2\)"):
        Compressed.indicator(np.array([0, 1, 2, 2]), 3) @ np.ones((5, 2))


def test_the_equilibrium_kernel_does_not_import_scipy_sparse():
    """``import scipy.sparse`` took 80-100 ms of a warm ``autopact simulate`` (issue 13): the kernel
    loads only its compiled products, privately (on main it imported the whole package)."""
    code = ("import sys, numpy as np; from autopact.model.zeta import FocKernel; "
            "from synthetic import synthetic_demand; "
            "demand, xi, prices = synthetic_demand(products=6, households=10, seed=1); "
            "FocKernel(xi, demand, np.eye(6)).terms(prices, prices / 2); "
            "print(sorted(m for m in sys.modules if m.startswith('scipy.sparse')))")
    path = os.pathsep.join([str(Path(__file__).resolve().parents[1]), str(Path(autopact.__file__).resolve().parents[1])])
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONPATH": path})
    assert found.stdout.strip() == "[]"


def test_scipy_sparse_imported_after_the_kernel_works_as_usual():
    """The kernel's copy of the compiled routines leaves no half-registered ``scipy.sparse._sparsetools``
    behind: scipy reads its package attribute."""
    code = ("import autopact.model.zeta, numpy as np; import scipy.sparse as sp; "
            "from scipy.sparse.linalg import spsolve; "
            "a = sp.random(30, 20, density=0.3, format='csr', random_state=1); x = np.arange(60.0).reshape(20, 3); "
            "assert sp._sparsetools.csr_matvecs is not None and np.allclose(a @ x, a.toarray() @ x); "
            "assert np.allclose(spsolve(sp.identity(4, format='csc') * 2.0, np.ones(4)), 0.5); print('ok')")
    path = str(Path(autopact.__file__).resolve().parents[1])
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": path})
    assert found.returncode == 0 and found.stdout.strip() == "ok", found.stderr
