"""autopact.model.compressed: scipy.sparse's products to the bit, without importing scipy.sparse."""

import numpy as np
import pytest
from scipy import sparse

from autopact.model.compressed import Compressed
from fresh_interpreter import prints


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
    assert prints(code) == "[]"


def test_scipy_sparse_imported_after_the_kernel_works_as_usual():
    """The kernel's copy of the compiled routines leaves no half-registered ``scipy.sparse._sparsetools``
    behind: scipy reads its package attribute."""
    code = ("import autopact.model.zeta, numpy as np; import scipy.sparse as sp; "
            "from scipy.sparse.linalg import spsolve; "
            "a = sp.random(30, 20, density=0.3, format='csr', random_state=1); x = np.arange(60.0).reshape(20, 3); "
            "assert sp._sparsetools.csr_matvecs is not None and np.allclose(a @ x, a.toarray() @ x); "
            "assert np.allclose(spsolve(sp.identity(4, format='csc') * 2.0, np.ones(4)), 0.5); print('ok')")
    assert prints(code) == "ok"


# Each case runs in a fresh interpreter: which copy of scipy's routines compressed loads is decided at its import.
FALLBACKS = {
    "scipy.sparse imported first": "import scipy.sparse",
    "scipy not found by its spec": "import importlib.util; importlib.util.find_spec = lambda *args, **kwargs: None",
    "no extension file of a known suffix": "import importlib.machinery; importlib.machinery.EXTENSION_SUFFIXES[:] = ['.none']",
    # the private load gives a module without csr_matvecs; the ordinary import after it is real
    "a file without the routines": ("import numpy, types, importlib.machinery as machinery\n"
                                    "real = machinery.ExtensionFileLoader.create_module\n"
                                    "def once(self, spec):\n    machinery.ExtensionFileLoader.create_module = real\n"
                                    "    return types.ModuleType(spec.name)\n"
                                    "machinery.ExtensionFileLoader.create_module = once"),
}


@pytest.mark.parametrize("case", FALLBACKS, ids=list(FALLBACKS))
def test_where_the_file_cannot_be_loaded_scipy_sparse_is_imported_as_usual(case):
    """compressed's fallbacks: scipy.sparse already imported, or scipy's ``_sparsetools`` not found or
    not loadable from its file (another scipy layout), give the module imported the ordinary way, whose
    products are the same to the bit."""
    code = (f"{FALLBACKS[case]}\nimport sys, numpy as np\nfrom autopact.model.compressed import Compressed, _TOOLS\n"
            "import scipy.sparse as sp\n"
            "assert _TOOLS is sys.modules['scipy.sparse._sparsetools'] is sp._sparsetools\n"
            "x = np.arange(12.0).reshape(4, 3); dense = np.array([[0, 1.5, 0, 2], [3, 0, 0, 0]])\n"
            "assert np.array_equal(Compressed.from_dense(dense) @ x, sp.csr_matrix(dense) @ x)\nprint('ok')")
    assert prints(code) == "ok"


def test_the_file_is_loaded_privately_by_default():
    """The ordinary case, for contrast with the fallbacks: the routines come from their own copy of the
    extension, and scipy.sparse stays unimported."""
    code = ("import sys\nfrom autopact.model.compressed import _TOOLS\n"
            "print(_TOOLS is not sys.modules.get('scipy.sparse._sparsetools'), 'scipy.sparse' in sys.modules)")
    assert prints(code) == "True False"
