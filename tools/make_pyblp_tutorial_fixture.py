"""Write tests/fixtures/pyblp_tutorial_NAME.json: PyBLP's own run of one of its tutorial problems.

The bundled examples ``autopact estimate --example nevo`` and ``--example blp1995-tutorial``
are PyBLP's tutorial problems ("Random Coefficients Logit Tutorial with the Fake Cereal Data"
and "... with the Automobile Data"); the tutorials print their results to two significant
digits, so this script records PyBLP's estimates at full precision for the tests to compare
with. Run from the repository root (measured on a shared 2-core machine: Nevo 2 minutes, the
BLP 1995 tutorial 41 minutes):

    /path/to/venv/bin/python tools/make_pyblp_tutorial_fixture.py nevo
    /path/to/venv/bin/python tools/make_pyblp_tutorial_fixture.py blp1995-tutorial

The calls are the tutorials' own (PyBLP 1.3.0 documentation), with PyBLP's default iteration
settings and its bundled data (``pyblp.data``).
"""

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyblp

NEVO_SIGMA = np.diag([0.3302, 2.4526, 0.0163, 0.2441])
NEVO_PI = np.array([[5.4819, 0, 0.2037, 0], [15.8935, -1.2000, 0, 2.6342], [-0.2506, 0, 0.0511, 0],
                    [1.2650, 0, -0.8091, 0]])
BLP_SIGMA = np.diag([3.612, 0, 4.628, 1.818, 1.050, 2.056])
BLP_PI = np.c_[[0, -43.501, 0, 0, 0, 0]]


def nevo() -> "pyblp.ProblemResults":
    products = pd.read_csv(pyblp.data.NEVO_PRODUCTS_LOCATION)
    agents = pd.read_csv(pyblp.data.NEVO_AGENTS_LOCATION)
    problem = pyblp.Problem((pyblp.Formulation("0 + prices", absorb="C(product_ids)"),
                             pyblp.Formulation("1 + prices + sugar + mushy")), products,
                            pyblp.Formulation("0 + income + income_squared + age + child"), agents)
    return problem.solve(NEVO_SIGMA, NEVO_PI, optimization=pyblp.Optimization("bfgs", {"gtol": 1e-5}), method="1s")


def blp1995_tutorial() -> "pyblp.ProblemResults":
    products = pd.read_csv(pyblp.data.BLP_PRODUCTS_LOCATION)
    agents = pd.read_csv(pyblp.data.BLP_AGENTS_LOCATION)
    problem = pyblp.Problem((pyblp.Formulation("1 + hpwt + air + mpd + space"),
                             pyblp.Formulation("1 + prices + hpwt + air + mpd + space"),
                             pyblp.Formulation("1 + log(hpwt) + air + log(mpg) + log(space) + trend")),
                            products, pyblp.Formulation("0 + I(1 / income)"), agents, costs_type="log")
    return problem.solve(BLP_SIGMA, BLP_PI, costs_bounds=(0.001, None), W_type="clustered", se_type="clustered",
                         initial_update=True)


def _null_for_nan(value):
    if isinstance(value, list):
        return [_null_for_nan(v) for v in value]
    return None if isinstance(value, float) and np.isnan(value) else value


def main(name: str) -> None:
    pyblp.options.verbose = False
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = {"nevo": nevo, "blp1995-tutorial": blp1995_tutorial}[name]()
    sigma, pi = np.diag(results.sigma), results.pi
    record = {
        "problem": name, "pyblp_version": pyblp.__version__, "seconds": time.perf_counter() - start,
        "converged": bool(results.converged), "objective": float(results.objective),
        "projected_gradient_norm": float(results.projected_gradient_norm),
        "iterations": int(results.optimization_iterations), "evaluations": int(results.objective_evaluations),
        "sigma": sigma.tolist(), "sigma_se": np.diag(results.sigma_se).tolist(),
        "pi": pi.tolist(), "pi_se": results.pi_se.tolist(),
        "beta": results.beta.ravel().tolist(), "beta_se": results.beta_se.ravel().tolist(),
        "gamma": results.gamma.ravel().tolist(), "gamma_se": results.gamma_se.ravel().tolist(),
    }
    record = {k: _null_for_nan(v) for k, v in record.items()}  # standard errors of fixed entries: null
    path = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / f"pyblp_tutorial_{name}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main(sys.argv[1])
