"""The bundled files are exactly what tools/build_data.py makes from the raw shared data."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"


@pytest.mark.skipif(not (SHARED / "us_market" / "products_2025.csv").exists(), reason="raw shared data not present")
def test_build_script_reproduces_bundled_products(tmp_path):
    bundled = ROOT / "src" / "autopact" / "data" / "bundled"
    before = pd.read_csv(bundled / "products_2025.csv")
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "build_data.py"), "--shared", str(SHARED),
                             "--out", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    for name in ("products_2025.csv", "chinese_models.csv", "tariff_parameters.csv", "costs.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(bundled / name), pd.read_csv(tmp_path / name))
    # 255 named + 3 Hyundai + 9 remainders, and 2 + 28 HEV rows split out of nameplates and remainders
    assert len(before) == 297


def test_package_does_not_read_shared_at_run_time():
    source = "\n".join(p.read_text() for p in (ROOT / "src" / "autopact").rglob("*.py"))
    import re

    # no path into ../shared anywhere in the package ("shared" as a variable name is fine)
    assert not re.search(r"""\.\./shared|shared/data|["']shared["']|/ *["']shared""", source)
