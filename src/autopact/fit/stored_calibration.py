"""A calibration stored and found again: the fingerprint of what it was fitted on, the record saved
as JSON (``autopact calibrate --save``) and ``calibrated_market``, which reuses a stored record's
parameters where its fingerprint matches and calibrates afresh otherwise.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from autopact.data import Market, bundled_path
from autopact.fit.calibration import (FIT_HOUSEHOLDS, FORMS, CalibrationResult, _bound_warnings, calibrate,
                                      load_targets)


def fingerprint(market: Market, targets: pd.DataFrame, draws: int, seed: int, form: str = "income",
                fit_draws: int | None = None) -> str:
    """Hash of everything a calibration depends on: products, assumptions, targets, draws, seed and
    the price form with its parameters and bounds (so no stored fit of one form, or of an earlier
    parameter set such as the one before ``bev_income``, is reused for another)."""
    import hashlib

    digest = hashlib.sha256()
    digest.update(market.products.to_csv(index=False).encode())
    digest.update(repr(sorted((a.name, a.value) for a in market.assumptions.values())).encode())
    digest.update(targets.to_csv(index=False).encode())
    digest.update(f"{draws}:{seed}".encode() + (f":fit {fit_draws}".encode() if fit_draws and fit_draws > draws else b""))
    digest.update(repr((form, FORMS[form])).encode())
    return digest.hexdigest()[:16]


def calibration_record(result: CalibrationResult, market: Market) -> dict[str, Any]:
    """The calibrated parameters and the fingerprint of what they were fitted on, as saved (``save_calibration``)."""
    return {"fingerprint": fingerprint(market, result.targets, len(result.households.weights), result.households.seed,
                                       result.form, result.fit_draws),
            **({} if result.form == "income" else {"price_form": result.form}),
            "draws": len(result.households.weights), "fit_draws": result.fit_draws, "seed": result.households.seed,
            "parameters": result.parameters, "achieved": dict(zip(result.targets["name"], result.achieved.tolist())),
            "optimizer": result.optimizer}


def save_calibration(result: CalibrationResult, market: Market, path: str) -> None:
    """Write ``calibration_record`` as JSON (the CLI's ``calibrate --save`` writes it through its output checks)."""
    import json
    from pathlib import Path

    Path(path).write_text(json.dumps(calibration_record(result, market), indent=2, default=str))


def calibrated_market(market: Market, draws: int = 1000, seed: int = 0, stored: str | None = None,
                      form: str | None = None, fit_draws: int = FIT_HOUSEHOLDS) -> CalibrationResult:
    """The market calibrated to the bundled targets, reusing stored parameters when they were fitted
    on exactly this market, these assumptions, targets, draws and seed (``fingerprint``).

    Looks in ``stored`` (a JSON from ``save_calibration``), then the bundled
    ``calibration_2025.json``; otherwise calibrates from scratch (a minute or two on ``FIT_HOUSEHOLDS``).
    Reusing parameters still inverts shares and recovers costs, so the fit is exact either way.
    ``form`` is the price form (``price_forms.FORMS``); None takes the bundled record's.
    """
    import json
    from pathlib import Path

    targets = load_targets()
    bundled = bundled_path(f"calibration_{market.facts.year}.json")
    if form is None:
        form = json.loads(Path(bundled).read_text()).get("price_form", "income") if Path(bundled).exists() else "income"
    wanted = fingerprint(market, targets, draws, seed, form, fit_draws)
    for candidate in (stored, str(bundled)):
        if candidate and Path(candidate).exists():
            record = json.loads(Path(candidate).read_text())
            if record.get("fingerprint") == wanted:
                result = calibrate(market, targets=targets, fixed=record["parameters"], draws=draws, seed=seed, form=form,
                                   fit_draws=fit_draws)
                result.fixed = {}
                result.warnings += _bound_warnings(result.parameters, list(FORMS[form].parameters), form)  # as the fit
                result.optimizer = {**record["optimizer"], "stored": candidate}
                return result
    return calibrate(market, targets=targets, draws=draws, seed=seed, form=form, fit_draws=fit_draws)
