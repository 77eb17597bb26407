"""The BLAS kernels the golden files were recorded with.

OpenBLAS picks its kernels by CPU at load time (DYNAMIC_ARCH): on a CPU with AVX-512 it takes its
SkylakeX kernels, elsewhere its Haswell ones, and the two sum in different orders. The golden files
(``tests/test_golden.py``) hold the bundled scenarios' results to 1e-10; where the price game has
several equilibria or a path meets a fold (canada-style-quota at its quota's jump, chinese-imports-mfn's
path), a last-bit difference of a sum moves a result's diagnostics or a caveat's ranking, and on an
AVX-512 machine six of the eighteen files failed with the Haswell kernels' files, each passing with
``OPENBLAS_CORETYPE=Haswell``. So the suite (``tests/conftest.py``) and ``tools/make_golden.py`` ask
OpenBLAS for the Haswell kernels wherever the CPU has AVX2 (they run on every such x86-64 CPU),
before numpy or scipy load it; a value set by the caller is kept. Results outside the tests use whatever kernels the machine has (README, "Set-up").
"""

import os
import platform
import sys


def _has_avx2() -> bool:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return any(line.startswith("flags") and " avx2" in line for line in cpuinfo)
    except OSError:
        return False


def pin() -> None:
    """Ask OpenBLAS for its Haswell kernels (module docstring); call before numpy is imported."""
    if platform.machine() in ("x86_64", "AMD64") and "OPENBLAS_CORETYPE" not in os.environ and _has_avx2():
        if "numpy" in sys.modules:  # too late to choose: the kernels are chosen when OpenBLAS loads
            raise RuntimeError("numpy was imported before blas_kernels.pin could set OPENBLAS_CORETYPE")
        os.environ["OPENBLAS_CORETYPE"] = "Haswell"
