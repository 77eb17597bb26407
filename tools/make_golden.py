"""Regenerate tests/golden: the central result document of every bundled scenario.

Run only when results are meant to change, and say in the commit which numbers moved and why:
    python tools/make_golden.py                 # every bundled scenario
    python tools/make_golden.py NAME [NAME ...] # only these
"""

import gzip
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import blas_kernels  # noqa: E402

blas_kernels.pin()  # the kernels the golden files are recorded with, before numpy loads

from test_golden import GOLDEN, central_document  # noqa: E402

from autopact.policy.scenario import bundled_scenarios  # noqa: E402


def main() -> None:
    GOLDEN.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        for name in sys.argv[1:] or sorted(bundled_scenarios()):
            document = central_document(name, Path(folder) / "store.duckdb")
            with gzip.open(GOLDEN / f"{name}.json.gz", "wt") as out:
                out.write(json.dumps(document, indent=1, sort_keys=True))
            print(f"wrote {GOLDEN / name}.json.gz")


if __name__ == "__main__":
    main()
