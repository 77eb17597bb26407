"""Sparse matrix x dense products by scipy's compiled routines, without importing ``scipy.sparse``.

``autopact.model.zeta.FocKernel`` sums the rows of its products x households arrays within groups
and cells by a few sparse matrices. ``import scipy.sparse`` took 80-100 ms of a warm ``autopact
simulate`` here (0.1 s of a 1 s command): the package's import brings in scipy's array-API layer,
which imports ``numpy.testing`` and ``numpy.f2py``. The products themselves are one compiled
function of ``scipy.sparse._sparsetools`` (``csr_matvecs``, ``csc_matvecs``), an extension module
that needs only numpy; it is loaded here from its file, without running ``scipy/sparse/__init__``.
The product is the same function called with the same arrays as ``scipy.sparse``'s ``A @ X`` for
a dense 2-D X (scipy's ``_matmul_multivector``: a zero result, then ``y_i += a_ij x_j`` over the
stored entries in their order), so every number is the same to the bit.

Where scipy.sparse is already imported, or the file cannot be found or loaded (another scipy
layout), the module is imported the ordinary way.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

_NAME = "scipy.sparse._sparsetools"


def _sparsetools() -> ModuleType:
    """scipy's ``_sparsetools`` extension, loaded from its file unless scipy.sparse is already imported.
    Loading an extension registers it in ``sys.modules``; the entry is taken out again, so that a
    later ``import scipy.sparse`` imports its submodule as usual (and sets it as the package's
    attribute ``scipy.sparse._sparsetools``, which scipy reads)."""
    if _NAME in sys.modules or "scipy.sparse" in sys.modules:
        import scipy.sparse._sparsetools as tools

        return tools
    try:
        spec = importlib.util.find_spec("scipy")  # locates scipy without importing it
        folder = Path(spec.submodule_search_locations[0]) / "sparse"  # type: ignore[union-attr, index]
        path = next(folder / f"_sparsetools{suffix}" for suffix in importlib.machinery.EXTENSION_SUFFIXES
                    if (folder / f"_sparsetools{suffix}").is_file())
        loader = importlib.machinery.ExtensionFileLoader(_NAME, str(path))
        module = importlib.util.module_from_spec(importlib.util.spec_from_file_location(_NAME, path, loader=loader))
        try:
            loader.exec_module(module)
        finally:
            sys.modules.pop(_NAME, None)
        if not hasattr(module, "csr_matvecs") or not hasattr(module, "csc_matvecs"):
            raise ImportError(f"{path} has no csr_matvecs/csc_matvecs")
        return module
    except (ImportError, OSError, StopIteration, TypeError, AttributeError):
        import scipy.sparse._sparsetools as tools

        return tools


_TOOLS = _sparsetools()


def csr_sums(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, x: np.ndarray, out: np.ndarray) -> None:
    """out += A x for the CSR matrix A = (data, indices, indptr) with out.shape[0] rows and a C-contiguous
    dense x (n, k), out (rows, k) C-contiguous: scipy's ``csr_matvecs`` called directly, without
    scipy.sparse's dispatch (about 10 us a call). indptr and indices are both int32 or both int64."""
    _TOOLS.csr_matvecs(out.shape[0], x.shape[0], x.shape[1], indptr, indices, data, x.ravel(), out.ravel())


class Compressed:
    """A sparse (rows, columns) matrix stored as scipy stores it (CSR or CSC: ``indptr``, ``indices``,
    ``data``, 32-bit indices), with ``@`` a dense 2-D array: scipy.sparse's product, bit for bit."""

    __slots__ = ("format", "shape", "indptr", "indices", "data", "_product")

    def __init__(self, format: str, shape: tuple[int, int], indptr: np.ndarray, indices: np.ndarray,
                 data: np.ndarray) -> None:
        if format not in ("csr", "csc"):
            raise ValueError(f"format must be 'csr' or 'csc', got {format!r}")
        self.format, self.shape = format, (int(shape[0]), int(shape[1]))
        self.indptr = np.ascontiguousarray(indptr, np.int32)
        self.indices = np.ascontiguousarray(indices, np.int32)
        self.data = np.ascontiguousarray(data, float)
        self._product = getattr(_TOOLS, f"{format}_matvecs")

    @classmethod
    def indicator(cls, groups: np.ndarray, count: int) -> "Compressed":
        """(count, n) matrix summing the rows of an (n, ...) array within each group: a 1 in row
        groups[k] of column k (CSC, as ``scipy.sparse.csc_matrix((ones, groups, arange(n + 1)))``)."""
        n = len(groups)
        return cls("csc", (count, n), np.arange(n + 1), np.asarray(groups), np.ones(n))

    @classmethod
    def from_dense(cls, dense: np.ndarray) -> "Compressed":
        """The nonzero entries of a dense matrix, row by row (CSR, as ``scipy.sparse.csr_matrix(dense)``)."""
        dense = np.asarray(dense, float)
        rows, columns = np.nonzero(dense)
        indptr = np.zeros(dense.shape[0] + 1, np.int64)
        np.cumsum(np.bincount(rows, minlength=dense.shape[0]), out=indptr[1:])
        return cls("csr", dense.shape, indptr, columns, dense[rows, columns])

    def __matmul__(self, x: np.ndarray) -> np.ndarray:
        """This matrix times a dense (columns, k) array: a new (rows, k) array."""
        if x.ndim != 2 or x.shape[0] != self.shape[1]:
            raise ValueError(f"shapes {self.shape} and {x.shape} do not align")
        out = np.zeros((self.shape[0], x.shape[1]), np.result_type(self.data, x))
        self._product(self.shape[0], self.shape[1], x.shape[1], self.indptr, self.indices, self.data,
                      np.ravel(x), out.ravel())
        return out

    def toarray(self) -> np.ndarray:
        """The dense matrix (for checks)."""
        dense = np.zeros(self.shape)
        counts = np.diff(self.indptr)
        major = np.repeat(np.arange(len(counts)), counts)
        if self.format == "csr":
            np.add.at(dense, (major, self.indices), self.data)
        else:
            np.add.at(dense, (self.indices, major), self.data)
        return dense
