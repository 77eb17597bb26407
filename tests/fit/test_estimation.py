"""GMM estimation against PyBLP (same data, formulas and settings) and a Monte Carlo recovery test."""

import warnings

import numpy as np
import pandas as pd
import pyblp
import pytest

from autopact.model.demand import Demand, shares
from autopact.fit.estimation import EstimationError, Problem, estimate

X1 = "1 + prices + hpwt + air + mpd + space"
pyblp.options.verbose = False


@pytest.fixture(scope="module")
def blp():
    products = pd.read_csv(pyblp.data.BLP_PRODUCTS_LOCATION)
    agents = pd.read_csv(pyblp.data.BLP_AGENTS_LOCATION)
    agents["weights"] /= agents.groupby("market_ids")["weights"].transform("sum")
    return products, agents


def _relative(a, b):
    return np.max(np.abs(np.asarray(a, float).ravel() - np.asarray(b, float).ravel()) / np.abs(np.asarray(b, float).ravel()))


@pytest.mark.parametrize("method", ["1s", "2s"])
def test_logit_matches_pyblp_to_1e9(blp, method):
    products, _ = blp
    reference = pyblp.Problem(pyblp.Formulation(X1), products).solve(method=method)
    ours = estimate(Problem.build(products, X1), method=method)
    # measured: parameters 6e-11, standard errors 4e-12, objective 2e-12 (README "Estimation")
    assert _relative(ours.beta, reference.beta) < 1e-9
    assert _relative(ours.beta_se, reference.beta_se) < 1e-9
    assert ours.objective == pytest.approx(float(reference.objective), rel=1e-9)


def test_nested_logit_matches_pyblp_to_1e9(blp):
    products = blp[0].assign(nesting_ids=(blp[0]["hpwt"] > blp[0]["hpwt"].median()).astype(int))
    reference = pyblp.Problem(pyblp.Formulation(X1), products).solve(
        rho=0.5, method="2s", optimization=pyblp.Optimization("l-bfgs-b", {"gtol": 1e-10}))
    ours = estimate(Problem.build(products, X1), rho=0.5, method="2s", gtol=1e-10)
    # measured: rho 1e-11, its standard error 4e-11, beta 1.4e-10, their standard errors 1e-11, objective 1e-13
    assert _relative(ours.theta, reference.rho) < 1e-9
    assert _relative(ours.theta_se, reference.rho_se) < 1e-9
    assert _relative(ours.beta, reference.beta) < 1e-9
    assert _relative(ours.beta_se, reference.beta_se) < 1e-9
    assert ours.objective == pytest.approx(float(reference.objective), rel=1e-9)


def test_random_coefficients_match_pyblp(blp):
    """RC logit with a random constant-free taste on hpwt and income-dependent price sensitivity."""
    products, agents = blp
    x2, sigma, pi = "0 + prices + hpwt", np.diag([0.0, 1.0]), np.array([[-10.0], [0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = pyblp.Problem((pyblp.Formulation(X1), pyblp.Formulation(x2)), products,
                                  pyblp.Formulation("0 + I(1 / income)"), agents).solve(
            sigma=sigma, pi=pi, method="1s", optimization=pyblp.Optimization("l-bfgs-b", {"gtol": 1e-8}),
            iteration=pyblp.Iteration("squarem", {"atol": 1e-14}))
    ours = estimate(Problem.build(products, X1, x2, agents, "0 + I(1 / income)"), sigma=sigma, pi=pi,
                    method="1s", gtol=1e-8)
    expected = [reference.sigma[1, 1], reference.pi[0, 0]]
    # measured (PyBLP 1.3.0): theta 1.0e-6, beta 7.7e-7, objective 1.8e-13, theta SE 7.8e-7, beta SE 7.8e-7
    assert _relative(ours.theta, expected) < 1e-5
    assert _relative(ours.beta, reference.beta) < 1e-5
    assert ours.objective == pytest.approx(float(reference.objective), rel=1e-11)
    assert _relative(ours.theta_se, [reference.sigma_se[1, 1], reference.pi_se[0, 0]]) < 1e-5
    assert _relative(ours.beta_se, reference.beta_se) < 1e-5


def test_monte_carlo_recovers_known_parameters():
    """Simulate 40 markets from known parameters with exogenous cost shifters, estimate, and recover
    the truth within sampling error (|estimate - truth| < 3 standard errors)."""
    rng = np.random.default_rng(7)
    truth = {"beta0": -2.0, "beta_price": -1.0, "beta_x": 1.0, "sigma_x": 1.5}
    rows, agents = [], []
    for t in range(40):
        j = 25
        x, w = rng.uniform(0, 2, j), rng.uniform(0, 1, j)
        xi = rng.normal(0, 0.3, j)
        price = 2 + 0.5 * x + w + 0.5 * xi + rng.normal(0, 0.1, j)  # endogenous: correlated with xi
        nodes = rng.normal(size=(200, 1))
        demand = Demand(alpha=1.0, pi=0.0, sigma=np.array([truth["sigma_x"]]), rho=0.0,
                        characteristics=x[:, None], nests=np.zeros(j, int), weights=np.full(200, 1 / 200),
                        income=np.ones(200), nu=nodes)
        delta = truth["beta0"] + truth["beta_price"] * price + truth["beta_x"] * x + xi
        s = shares(delta, price, demand)
        rows.append(pd.DataFrame({"market_ids": t, "shares": s, "prices": price, "x": x,
                                  "demand_instruments0": w, "demand_instruments1": w ** 2,
                                  "demand_instruments2": x ** 2, "demand_instruments3": x * w}))
        agents.append(pd.DataFrame({"market_ids": t, "weights": 1 / 200, "nodes0": 0.0, "nodes1": nodes[:, 0]}))
    products, agent_data = pd.concat(rows, ignore_index=True), pd.concat(agents, ignore_index=True)
    result = estimate(Problem.build(products, "1 + prices + x", "0 + prices + x", agent_data),
                      sigma=np.diag([0.0, 1.0]), method="2s")
    assert abs(result.theta[0] - truth["sigma_x"]) < 3 * result.theta_se[0]
    for value, se, name in zip(result.beta, result.beta_se, ("beta0", "beta_price", "beta_x")):
        assert abs(value - truth[name]) < 3 * se, name
    assert result.converged and result.gradient_norm < 1e-3
    assert result.theta_se[0] < 0.2 and max(result.beta_se) < 0.2  # the bands above are informative


def test_bad_inputs_are_named(blp):
    products, _ = blp
    with pytest.raises(EstimationError, match="formula"):
        Problem.build(products, "1 + prices + nonexistent")
    with pytest.raises(EstimationError, match="'shares'"):
        Problem.build(products.drop(columns="shares"), X1)
    with pytest.raises(EstimationError, match="agent data"):
        Problem.build(products, X1, "0 + hpwt")


def test_cli_estimate_from_a_config_file(blp, tmp_path):
    import json
    import subprocess
    import sys
    blp[0].to_csv(tmp_path / "products.csv", index=False)
    (tmp_path / "logit.yaml").write_text('products: products.csv\nx1: "1 + prices + hpwt + air + mpd + space"\n')
    result = subprocess.run([sys.executable, "-m", "autopact.interfaces.cli", "estimate", str(tmp_path / "logit.yaml"), "--json"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    reference = pyblp.Problem(pyblp.Formulation(X1), blp[0]).solve(method="2s")
    assert report["linear"]["prices"]["estimate"] == pytest.approx(float(reference.beta[1, 0]), rel=1e-8)
    assert report["converged"] and "seconds" in report
    (tmp_path / "bad.yaml").write_text('products: products.csv\nx1: "1 + prices"\nbogus: 1\n')
    bad = subprocess.run([sys.executable, "-m", "autopact.interfaces.cli", "estimate", str(tmp_path / "bad.yaml")],
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "bogus" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize("absorb, columns", [("C(product_ids)", ["product_ids"]),
                                             ("C(product_ids) + C(city_ids)", ["product_ids", "city_ids"])])
def test_absorbed_fixed_effects_match_pyblp(absorb, columns):
    products = pd.read_csv(pyblp.data.NEVO_PRODUCTS_LOCATION)
    reference = pyblp.Problem(pyblp.Formulation("0 + prices", absorb=absorb), products).solve(method="2s")
    ours = estimate(Problem.build(products, "0 + prices", absorb=columns), method="2s")
    # measured: beta 5e-13, its standard error 2e-13, objective 6e-12 (two dimensions)
    assert _relative(ours.beta, reference.beta) < 1e-11
    assert _relative(ours.beta_se, reference.beta_se) < 1e-11
    assert ours.objective == pytest.approx(float(reference.objective), rel=1e-10)


SUPPLY = {"x1": "1 + hpwt + air + mpd + space", "x2": "1 + prices + hpwt + air + mpd + space",
          "x3": "1 + log(hpwt) + air + log(mpg) + log(space) + trend", "demographics": "0 + I(1 / income)"}
SIGMA0 = np.diag([3.612, 0, 4.628, 1.818, 1.050, 2.056])
PI0 = np.array([[0], [-43.501], [0], [0], [0], [0.0]])


def test_supply_side_objective_gradient_and_linear_parameters_match_pyblp(blp):
    """At the tutorial's starting values, with the supply side: PyBLP evaluated in the same run."""
    products, agents = blp
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = pyblp.Problem(
            tuple(pyblp.Formulation(SUPPLY[k]) for k in ("x1", "x2", "x3")), products,
            pyblp.Formulation(SUPPLY["demographics"]), agents, costs_type="log").solve(
            sigma=SIGMA0, pi=PI0, method="1s", optimization=pyblp.Optimization("return"),
            iteration=pyblp.Iteration("squarem", {"atol": 1e-14}), check_optimality="gradient")
    ours = estimate(Problem.build(products, SUPPLY["x1"], SUPPLY["x2"], agents, SUPPLY["demographics"],
                                  x3=SUPPLY["x3"]), sigma=SIGMA0, pi=PI0, method="1s", evaluate_only=True)
    assert ours.objective == pytest.approx(float(reference.objective), rel=1e-9)
    assert _relative(ours.details["gradient"], reference.gradient) < 1e-8
    assert _relative(ours.beta, np.r_[reference.beta.ravel(), reference.gamma.ravel()]) < 1e-8


def test_nested_supply_side_objective_and_gradient_match_pyblp(blp):
    """RC nested logit with a supply side at fixed parameters, PyBLP evaluated in the same run:
    markups from the nested Jacobian, their derivatives by central differences."""
    products, agents = blp
    nested = products.assign(nesting_ids=np.where(products["space"] > products["space"].median(), "large", "small"))
    sigma = np.diag([3.612, 0, 4.628, 0, 0, 0])
    pi = PI0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = pyblp.Problem(
            tuple(pyblp.Formulation(SUPPLY[k]) for k in ("x1", "x2", "x3")), nested,
            pyblp.Formulation(SUPPLY["demographics"]), agents, costs_type="log").solve(
            sigma=sigma, pi=pi, rho=0.3, method="1s", optimization=pyblp.Optimization("return"),
            iteration=pyblp.Iteration("squarem", {"atol": 1e-14}), check_optimality="gradient")
    ours = estimate(Problem.build(nested, SUPPLY["x1"], SUPPLY["x2"], agents, SUPPLY["demographics"],
                                  x3=SUPPLY["x3"]), sigma=sigma, pi=pi, rho=0.3, method="1s", evaluate_only=True)
    assert ours.objective == pytest.approx(float(reference.objective), rel=1e-8)
    assert _relative(ours.beta, np.r_[reference.beta.ravel(), reference.gamma.ravel()]) < 1e-8
    assert _relative(ours.details["gradient"], reference.gradient) < 1e-5


def test_supply_side_estimates_match_the_cached_pyblp_run(blp):
    """Full two-step estimation with supply against PyBLP's, cached by tools/make_pyblp_fixture.py."""
    import json
    from pathlib import Path
    fixture = Path(__file__).parents[1] / "fixtures" / "pyblp_blp1995_supply.json"
    reference = json.loads(fixture.read_text())
    products, agents = blp
    ours = estimate(Problem.build(products, SUPPLY["x1"], SUPPLY["x2"], agents, SUPPLY["demographics"],
                                  x3=SUPPLY["x3"]), sigma=SIGMA0, pi=PI0, method="2s", gtol=reference["spec"]["gtol"])
    assert reference["converged"] and ours.converged
    at_bound = np.asarray(reference["theta"]) == 0.0  # sigmas that both tools leave at their bound of zero
    assert np.all(np.abs(ours.theta[at_bound]) < 1e-8)
    # measured: theta 2.3e-7, beta and gamma 1.05e-6, objective 9.5e-8, theta SE 4.9e-7, beta and gamma SE 6.8e-7
    assert _relative(ours.theta[~at_bound], np.asarray(reference["theta"])[~at_bound]) < 2e-6
    assert _relative(ours.beta, reference["beta"] + reference["gamma"]) < 1e-5
    assert ours.objective == pytest.approx(reference["objective"], rel=1e-6)
    assert _relative(ours.theta_se, reference["theta_se"]) < 5e-6
    assert _relative(ours.beta_se, reference["beta_se"] + reference["gamma_se"]) < 1e-5


def test_supply_side_estimates_with_pyblps_stopping_rule_equal_the_cached_run(blp):
    """The cached run is PyBLP's Optimization('l-bfgs-b', {'gtol': 1e-8}), which leaves L-BFGS-B
    scipy's ftol (2.2e-9); with that ftol autopact stops where PyBLP stopped. Measured: theta
    5e-11, beta and gamma 1.4e-10, objective 9e-12, where ftol 0 (the default, PyBLP's default
    Optimization) stops elsewhere within gtol: 2.3e-7, 1.05e-6 and 9.5e-8."""
    import json
    from pathlib import Path
    from autopact.fit.optimisation import SCIPY_FTOL
    reference = json.loads((Path(__file__).parents[1] / "fixtures" / "pyblp_blp1995_supply.json").read_text())
    products, agents = blp
    ours = estimate(Problem.build(products, SUPPLY["x1"], SUPPLY["x2"], agents, SUPPLY["demographics"],
                                  x3=SUPPLY["x3"]), sigma=SIGMA0, pi=PI0, method="2s", gtol=reference["spec"]["gtol"],
                    ftol=SCIPY_FTOL)
    at_bound = np.asarray(reference["theta"]) == 0.0
    assert ours.converged and np.all(np.abs(ours.theta[at_bound]) < 1e-8)
    assert _relative(ours.theta[~at_bound], np.asarray(reference["theta"])[~at_bound]) < 1e-8
    assert _relative(ours.beta, reference["beta"] + reference["gamma"]) < 1e-8
    assert ours.objective == pytest.approx(reference["objective"], rel=1e-10)


def test_evaluations_at_the_last_theta_reuse_its_terms(blp, monkeypatch):
    """Two-step GMM evaluates at the one-step estimate again for the weights, at the second step's
    start and finally for the standard errors: none of those re-inverts the shares (main before:
    each computed every market's terms again), and the estimates are PyBLP's."""
    from autopact.fit import rc_logit
    from autopact.fit.optimisation import SCIPY_FTOL

    calls = {"terms": 0}
    original = rc_logit.terms

    def counted(*args, **kwargs):
        calls["terms"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(rc_logit, "terms", counted)
    products, agents = blp
    problem = Problem.build(products, SUPPLY["x1"], SUPPLY["x2"], agents, SUPPLY["demographics"], x3=SUPPLY["x3"])
    result = estimate(problem, sigma=SIGMA0, pi=PI0, method="2s", ftol=SCIPY_FTOL)
    assert result.converged and np.all(np.isfinite(result.theta_se))
    assert calls["terms"] == (result.evaluations - 2) * len(problem.markets)


def test_logit_is_2sls_and_matches_linearmodels(blp):
    """One-step logit GMM is 2SLS of log(s_j / s_0) on X1 with PyBLP's instruments (Berry 1994)."""
    from linearmodels.iv import IV2SLS
    products = blp[0].copy()
    outside = 1 - products.groupby("market_ids")["shares"].transform("sum")
    products["y"] = np.log(products["shares"]) - np.log(outside)
    products["const"] = 1.0
    instruments = [c for c in products.columns if c.startswith("demand_instruments")]
    exogenous = ["const", "hpwt", "air", "mpd", "space"]
    fit = IV2SLS(products["y"], products[exogenous], products[["prices"]], products[instruments]).fit(cov_type="robust")
    order = ["const", "prices", "hpwt", "air", "mpd", "space"]
    ours = estimate(Problem.build(products, X1), method="1s")
    assert _relative(ours.beta, fit.params[order].to_numpy()) < 1e-8
    assert _relative(ours.beta_se, fit.std_errors[order].to_numpy()) < 1e-8
