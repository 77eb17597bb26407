"""Estimation options against PyBLP 1.3.0 (same data, formulas and settings, PyBLP run in the same test):
the weighting matrix and standard errors 'unadjusted' and 'clustered' (clusters: firm_ids) in place of
the default 'robust', linear marginal costs on the supply side, and random coefficients nested logit
(RCNL) estimated, not only evaluated.

Each comparison states the agreement measured (relative, the largest over the entries) and holds it
about ten times over. The cases where the two disagree are kept as strict xfails, with the reason.
BLAS runs on one thread here: with another process on the machine's two cores, OpenBLAS's threads
multiplied the time of one RCNL evaluation a hundredfold (22 s against 0.2 s).
"""

import os
import warnings

import numpy as np
import pandas as pd
import pyblp
import pytest
from threadpoolctl import threadpool_limits

from autopact.errors import ConvergenceError
from autopact.fit.estimation import Problem, estimate

pyblp.options.verbose = False
X1 = "1 + prices + hpwt + air + mpd + space"
INCOME = "0 + I(1 / income)"
SQUAREM = pyblp.Iteration("squarem", {"atol": 1e-14})


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def blp():
    """PyBLP's BLP 1995 data, clustered by firm (26 firms; the data's own clustering_ids are car models)."""
    products = pd.read_csv(pyblp.data.BLP_PRODUCTS_LOCATION).assign(
        clustering_ids=lambda frame: frame["firm_ids"])
    agents = pd.read_csv(pyblp.data.BLP_AGENTS_LOCATION)
    agents["weights"] /= agents.groupby("market_ids")["weights"].transform("sum")
    return products, agents


def _relative(a, b):
    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    return float(np.max(np.abs(a - b) / np.abs(b)))


def _agree(**checks):
    """Each check is (ours, PyBLP's, tolerance); all are measured before any fails, so a failure
    reports every agreement."""
    measured = {name: _relative(ours, theirs) for name, (ours, theirs, _) in checks.items()}
    report = ", ".join(f"{name} {value:.1e}" for name, value in measured.items())
    assert all(measured[name] < tol for name, (_, _, tol) in checks.items()), report


# ---------------------------------------------------------------------------------------------------
# (1) weighting matrix and standard errors: unadjusted and clustered


def _nested(products):
    """The nested logit of tests/fit/test_estimation.py: two nests by horsepower per weight."""
    return products.assign(nesting_ids=(products["hpwt"] > products["hpwt"].median()).astype(int))


@pytest.mark.parametrize("method, weighting, se_type", [
    ("1s", "robust", "unadjusted"),
    ("1s", "robust", "clustered"),
    ("2s", "unadjusted", "unadjusted"),
    ("2s", "unadjusted", "robust"),
    ("2s", "unadjusted", "clustered"),
    ("2s", "robust", "clustered"),
    ("2s", "robust", "unadjusted"),  # PyBLP's (G'WG)^-1 with the step's W (autopact took a sandwich until Dec 2026)
])
def test_nested_logit_weighting_and_standard_errors_match_pyblp(blp, method, weighting, se_type):
    products = _nested(blp[0])
    reference = pyblp.Problem(pyblp.Formulation(X1), products).solve(
        rho=0.5, method=method, W_type=weighting, se_type=se_type,
        optimization=pyblp.Optimization("l-bfgs-b", {"gtol": 1e-10}))
    ours = estimate(Problem.build(products, X1), rho=0.5, method=method, weighting=weighting, se_type=se_type,
                    gtol=1e-10)
    # measured, the largest over the six cases that agree: rho 5.6e-11, its standard error 1.4e-10, beta
    # 3.9e-10, their standard errors 1.0e-10, objective 1.8e-12
    _agree(rho=(ours.theta, reference.rho, 5e-10), rho_se=(ours.theta_se, reference.rho_se, 1.5e-9),
           beta=(ours.beta, reference.beta, 4e-9), beta_se=(ours.beta_se, reference.beta_se, 1e-9),
           objective=(ours.objective, reference.objective, 2e-11))


def test_nested_logit_with_clustered_weights_matches_pyblp(blp):
    """Two-step nested logit with weights clustered by firm: L-BFGS-B tries rho = 0, its lower bound, where
    d delta / d rho is now a forward difference (a central one evaluated rho = -1e-6, which Demand refuses,
    until Dec 2026). Clustered weights from 26 firms are ill-conditioned, so both optimisers stop at the
    same optimum less tightly than elsewhere."""
    products = _nested(blp[0])
    reference = pyblp.Problem(pyblp.Formulation(X1), products).solve(
        rho=0.5, method="2s", W_type="clustered", se_type="clustered",
        optimization=pyblp.Optimization("l-bfgs-b", {"gtol": 1e-10}))
    ours = estimate(Problem.build(products, X1), rho=0.5, method="2s", weighting="clustered", se_type="clustered",
                    gtol=1e-10)
    # measured: rho 2.2e-8, its standard error 2.0e-8, beta 2.6e-6, their standard errors 6.0e-8, objective 3.5e-11
    _agree(rho=(ours.theta, reference.rho, 2e-7), rho_se=(ours.theta_se, reference.rho_se, 2e-7),
           beta=(ours.beta, reference.beta, 3e-5), beta_se=(ours.beta_se, reference.beta_se, 6e-7),
           objective=(ours.objective, reference.objective, 4e-10))


@pytest.mark.parametrize("se_type", ["clustered", "robust"])
def test_logit_with_clustered_weights_matches_pyblp(blp, se_type):
    """Two-step logit with the weighting matrix clustered by firm (13 moments, 26 clusters)."""
    products = blp[0]
    reference = pyblp.Problem(pyblp.Formulation(X1), products).solve(method="2s", W_type="clustered",
                                                                     se_type=se_type)
    ours = estimate(Problem.build(products, X1), method="2s", weighting="clustered", se_type=se_type)
    # measured: beta 5.9e-10, their standard errors 2.2e-10 (clustered) and 2.1e-11 (robust), objective 3.5e-12
    _agree(beta=(ours.beta, reference.beta, 6e-9), beta_se=(ours.beta_se, reference.beta_se, 2e-9),
           objective=(ours.objective, reference.objective, 4e-11))


# ---------------------------------------------------------------------------------------------------
# (2) linear marginal costs on the supply side (c = X3 gamma + omega, not log c)

SUPPLY = {"x1": "1 + hpwt + air + mpd + space", "x2": "1 + prices + hpwt + air + mpd + space",
          "x3": "1 + log(hpwt) + air + log(mpg) + log(space) + trend"}
SIGMA0 = np.diag([3.612, 0, 4.628, 1.818, 1.050, 2.056])
PI0 = np.array([[0], [-43.501], [0], [0], [0], [0.0]])


def _supply_problems(products, agents, x2, costs_type):
    """autopact's and PyBLP's problem with the supply side of tests/fit/test_estimation.py."""
    ours = Problem.build(products, SUPPLY["x1"], x2, agents, INCOME, x3=SUPPLY["x3"], costs_type=costs_type)
    reference = pyblp.Problem(tuple(pyblp.Formulation(f) for f in (SUPPLY["x1"], x2, SUPPLY["x3"])), products,
                              pyblp.Formulation(INCOME), agents, costs_type=costs_type)
    return ours, reference


def test_linear_costs_objective_gradient_and_linear_parameters_match_pyblp(blp):
    """The BLP 1995 tutorial's model and starting values with linear costs, at fixed parameters."""
    ours_problem, reference_problem = _supply_problems(*blp, SUPPLY["x2"], "linear")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = reference_problem.solve(sigma=SIGMA0, pi=PI0, method="1s", optimization=pyblp.Optimization("return"),
                                            iteration=SQUAREM, check_optimality="gradient")
    ours = estimate(ours_problem, sigma=SIGMA0, pi=PI0, method="1s", evaluate_only=True)
    # measured: objective 6.5e-14, gradient 6.9e-12, beta and gamma 6.5e-12
    _agree(objective=(ours.objective, reference.objective, 1e-12),
           gradient=(ours.details["gradient"], reference.gradient, 1e-10),
           beta_gamma=(ours.beta, np.r_[reference.beta.ravel(), reference.gamma.ravel()], 1e-10))


def _supply_estimates(blp, costs_type, method, weighting, se_type):
    """Both tools' estimates of a supply side with one nonlinear parameter, price's interaction with
    1 / income (the tutorial's pi; its five sigmas make PyBLP's estimation half a minute)."""
    ours_problem, reference_problem = _supply_problems(*blp, "0 + prices", costs_type)
    sigma, pi = np.zeros((1, 1)), np.array([[-10.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = reference_problem.solve(
            sigma=sigma, pi=pi, method=method, W_type=weighting, se_type=se_type, iteration=SQUAREM,
            optimization=pyblp.Optimization("l-bfgs-b", {"gtol": 1e-8, "ftol": 0}))
    ours = estimate(ours_problem, sigma=sigma, pi=pi, method=method, weighting=weighting, se_type=se_type, gtol=1e-8)
    return ours, reference


@pytest.mark.parametrize("method, weighting, se_type", [("1s", "robust", "robust"), ("2s", "unadjusted", "unadjusted")])
def test_linear_costs_estimates_and_unadjusted_weights_with_a_supply_side_match_pyblp(blp, method, weighting, se_type):
    """Linear costs estimated, in one step and in two with the unadjusted moment covariance, whose
    blocks cov(xi, omega) Z_D'Z_S / N couple the demand and supply moments. (PyBLP's two-step robust
    run of this model stops short of gtol 1e-8, 48 evaluations and 12 s, its gradient 3e-6.)"""
    ours, reference = _supply_estimates(blp, "linear", method, weighting, se_type)
    assert ours.converged and reference.converged
    # measured, the larger of the two cases: pi 1.9e-10, its standard error 4.2e-10, beta and gamma 4.2e-9,
    # their standard errors 1.3e-10, objective 4.2e-11
    _agree(pi=(ours.theta, reference.pi, 2e-9), pi_se=(ours.theta_se, reference.pi_se, 4e-9),
           beta_gamma=(ours.beta, np.r_[reference.beta.ravel(), reference.gamma.ravel()], 4e-8),
           beta_gamma_se=(ours.beta_se, np.r_[reference.beta_se.ravel(), reference.gamma_se.ravel()], 1.5e-9),
           objective=(ours.objective, reference.objective, 5e-10))


def test_one_step_unadjusted_standard_errors_with_a_supply_side_match_pyblp(blp):
    """With a supply side the one-step weights (blocks (Z_D'Z_D / N)^-1, (Z_S'Z_S / N)^-1) are not
    proportional to the inverse of the unadjusted S, so a sandwich with them (autopact until Dec 2026)
    differs from PyBLP's (G' S^-1 G)^-1 even in one step; demand alone they coincide."""
    ours, reference = _supply_estimates(blp, "linear", "1s", "robust", "unadjusted")
    # measured: pi 1.9e-10, beta and gamma 4.2e-9, objective 2.5e-14; the standard errors were 3.9e-2 (pi) and
    # 3.7e-2 apart with the sandwich
    _agree(pi=(ours.theta, reference.pi, 2e-9), pi_se=(ours.theta_se, reference.pi_se, 4e-9),
           beta_gamma=(ours.beta, np.r_[reference.beta.ravel(), reference.gamma.ravel()], 4e-8),
           beta_gamma_se=(ours.beta_se, np.r_[reference.beta_se.ravel(), reference.gamma_se.ravel()], 1.5e-9),
           objective=(ours.objective, reference.objective, 5e-10))


@pytest.mark.xfail(strict=True, raises=ConvergenceError, reason=(
    "log costs where the starting values give non-positive costs (1,798 of 2,217 products here): PyBLP "
    "reverts them to their last values, log(prices) before any evaluation, and evaluates; autopact keeps "
    "no value before its first valid evaluation (NaN), so it refuses the starting values, blaming the share "
    "inversion; estimating from them ends in KeyError 'jac' (one step) or that ConvergenceError (two steps)"))
def test_log_costs_at_starting_values_with_non_positive_costs_match_pyblp(blp):
    ours_problem, reference_problem = _supply_problems(*blp, "0 + prices", "log")
    sigma, pi = np.zeros((1, 1)), np.array([[-10.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = reference_problem.solve(sigma=sigma, pi=pi, method="1s", optimization=pyblp.Optimization("return"),
                                            iteration=SQUAREM)
    ours = estimate(ours_problem, sigma=sigma, pi=pi, method="1s", evaluate_only=True)
    # measured: nothing (autopact raises); PyBLP's objective 378.28
    _agree(objective=(ours.objective, reference.objective, 1e-10),
           gradient=(ours.details["gradient"], reference.gradient, 1e-8),
           beta_gamma=(ours.beta, np.r_[reference.beta.ravel(), reference.gamma.ravel()], 1e-8))


# ---------------------------------------------------------------------------------------------------
# (3) random coefficients nested logit, estimated

RCNL_X2 = "0 + prices + hpwt"


def _pyblp_rcnl(products, agents, x2, sigma, pi, rho):
    """PyBLP's one-step RCNL estimate from (sigma, pi, rho), stopped at gradient 1e-6 (ftol 0)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pyblp.Problem((pyblp.Formulation(X1), pyblp.Formulation(x2)), products, pyblp.Formulation(INCOME),
                             agents).solve(sigma=sigma, pi=pi, rho=rho, method="1s", iteration=SQUAREM,
                                           optimization=pyblp.Optimization("l-bfgs-b", {"gtol": 1e-6, "ftol": 0}))


def _rcnl(products):
    """Two nests by interior space, as in tests/fit/test_estimation.py's nested supply test."""
    return products.assign(nesting_ids=np.where(products["space"] > products["space"].median(), "large", "small"))


def test_rcnl_estimates_match_pyblp(blp):
    """One-step RCNL: a random taste for horsepower per weight (sigma), price sensitivity falling with
    income (pi) and rho, from rounded values of the optimum (18 of autopact's evaluations, 28 of
    PyBLP's). Both stop within the gradient tolerance 1e-6 (PyBLP with ftol 0, autopact's default)."""
    products, agents = blp
    products = _rcnl(products)
    sigma, pi, rho = np.diag([0.0, 1.5]), np.array([[-3.0], [0.0]]), 0.88
    reference = _pyblp_rcnl(products, agents, RCNL_X2, sigma, pi, rho)
    ours = estimate(Problem.build(products, X1, RCNL_X2, agents, INCOME), sigma=sigma, pi=pi, rho=rho, method="1s",
                    gtol=1e-6)
    assert ours.converged and reference.converged
    assert ours.labels == ["sigma[hpwt]", "pi[prices, I(1 / income)]", "rho"]
    # measured (two runs): theta 4.6e-8, their standard errors 3.0e-8, beta 1.4e-7, their standard errors
    # 1.5e-8, objective 4.0e-14 and 7.2e-14
    _agree(theta=(ours.theta, [reference.sigma[1, 1], reference.pi[0, 0], reference.rho[0, 0]], 5e-7),
           theta_se=(ours.theta_se, [reference.sigma_se[1, 1], reference.pi_se[0, 0], reference.rho_se[0, 0]], 3e-7),
           beta=(ours.beta, reference.beta, 1.5e-6), beta_se=(ours.beta_se, reference.beta_se, 1.5e-7),
           objective=(ours.objective, reference.objective, 1e-12))


@pytest.fixture(scope="module")
def random_price_coefficient(blp):
    """RCNL at fixed parameters with a random price coefficient (sigma and pi on price), rho 0.85: PyBLP's
    objective and gradient, and autopact's problem."""
    products, agents = blp
    products = _rcnl(products)
    start = {"sigma": np.array([[0.5]]), "pi": np.array([[-5.0]]), "rho": 0.85}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = pyblp.Problem((pyblp.Formulation(X1), pyblp.Formulation("0 + prices")), products,
                                  pyblp.Formulation(INCOME), agents).solve(
            **start, method="1s", optimization=pyblp.Optimization("return"), iteration=SQUAREM)
    assert reference.fp_converged.all()
    return Problem.build(products, X1, "0 + prices", agents, INCOME), start, reference


def _check_random_price_coefficient(ours, reference):
    # measured (inversion_tol 1e-12): objective 2.7e-13, gradient 1.4e-10, beta 2.9e-11
    _agree(objective=(ours.objective, reference.objective, 3e-12),
           gradient=(ours.details["gradient"], reference.gradient, 1.5e-9),
           beta=(ours.beta, reference.beta, 3e-10))


def test_rcnl_objective_and_gradient_at_a_random_price_coefficient_match_pyblp(random_price_coefficient):
    """With the share inversion's tolerance at 1e-12 in log shares (see the next test for 1e-14)."""
    problem, start, reference = random_price_coefficient
    ours = estimate(problem, **start, method="1s", evaluate_only=True, inversion_tol=1e-12)
    _check_random_price_coefficient(ours, reference)


@pytest.mark.xfail(strict=True, raises=ConvergenceError, reason=(
    "autopact's share inversion asks max |log s - log s_obs| < 1e-14 (inversion_tol's default), below the "
    "rounding floor of 8 of the 20 markets here (1.1e-14 to 4.1e-14 left after 5000 iterations), and refuses "
    "the starting values; PyBLP's SQUAREM (atol 1e-14 on delta) converges in every market, and with "
    "inversion_tol 1e-12 autopact agrees with it (the test above)"))
def test_rcnl_at_a_random_price_coefficient_with_the_default_inversion_tolerance_matches_pyblp(
        random_price_coefficient):
    problem, start, reference = random_price_coefficient
    ours = estimate(problem, **start, method="1s", evaluate_only=True)
    _check_random_price_coefficient(ours, reference)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("AUTOPACT_SLOW"), reason="two RCNL estimations, 45 s: set AUTOPACT_SLOW=1")
@pytest.mark.xfail(strict=True, raises=ConvergenceError, reason=(
    "RCNL with a random taste for air conditioning: the central difference for d delta / d rho meets a "
    "share inversion that fails (inversion_tol 1e-14 below the rounding floor) and gives a NaN gradient "
    "at a finite objective; L-BFGS-B then steps to NaN, where every evaluation returns the failure value "
    "1e10 with a zero gradient, which it takes for a stationary point. autopact returned pi = NaN, "
    "objective 1e10, converged=True until Dec 2026; it now refuses that end with a ConvergenceError that "
    "names the point and suggests inversion_tol 1e-12. PyBLP converges (objective 14.637, sigma 1.2126, "
    "pi -0.96087, rho 0.94466), and so does autopact with inversion_tol 1e-12 (measured: theta 3e-9 from "
    "PyBLP's, objective 1e-13)"))
def test_rcnl_with_a_random_taste_for_air_conditioning_matches_pyblp(blp):
    products, agents = blp
    products = _rcnl(products)
    x2, sigma, pi, rho = "0 + prices + air", np.diag([0.0, 1.0]), np.array([[-5.0], [0.0]]), 0.85
    reference = _pyblp_rcnl(products, agents, x2, sigma, pi, rho)
    assert reference.converged
    ours = estimate(Problem.build(products, X1, x2, agents, INCOME), sigma=sigma, pi=pi, rho=rho, method="1s", gtol=1e-6)
    # measured: nothing to measure (autopact stops with an error); the tolerances are those of the RCNL test above
    _agree(theta=(ours.theta, [reference.sigma[1, 1], reference.pi[0, 0], reference.rho[0, 0]], 5e-7),
           theta_se=(ours.theta_se, [reference.sigma_se[1, 1], reference.pi_se[0, 0], reference.rho_se[0, 0]], 3e-7),
           beta=(ours.beta, reference.beta, 1.5e-6), beta_se=(ours.beta_se, reference.beta_se, 1.5e-7),
           objective=(ours.objective, reference.objective, 1e-12))


def test_an_optimiser_that_ends_where_the_inversion_fails_is_refused_not_reported_converged(blp, monkeypatch):
    """Every share inversion after the first evaluation fails (as at a NaN step): each later evaluation
    returns the failure value with a zero gradient, which looks stationary to L-BFGS-B. The estimate must
    be refused with an error naming the point, not returned as converged at objective 1e10 (as it was
    until Dec 2026, the air-conditioning case above)."""
    from autopact.fit import rc_logit

    products, agents = blp
    terms, calls = rc_logit.terms, []

    def first_evaluation_only(*args, **kwargs):
        calls.append(1)
        if len(calls) > products["market_ids"].nunique():  # one evaluation: one call a market
            raise ConvergenceError("the share inversion did not converge (test)")
        return terms(*args, **kwargs)

    monkeypatch.setattr(rc_logit, "terms", first_evaluation_only)
    problem = Problem.build(products, X1, "0 + prices", agents, INCOME)
    with pytest.raises(ConvergenceError, match=r"^the optimiser stopped at pi\[prices, I\(1 / income\)\]=-5, where "):
        estimate(problem, sigma=np.zeros((1, 1)), pi=np.array([[-5.0]]), method="1s")
    assert len(calls) > products["market_ids"].nunique()  # the later evaluations were asked for, and failed
