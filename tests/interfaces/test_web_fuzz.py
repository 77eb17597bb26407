"""Property-based fuzzing of the REST API from its own OpenAPI schema (schemathesis, issue 15): for
requests generated from the schema, no answer is a 5xx, and every answer's status code, content type
and body match what the schema documents. Bounded: a few examples per operation (well under a
minute here); the draws jobs it may start are short and capped at one at a time."""

import tempfile
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")
pytest.importorskip("fastapi")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis import checks  # noqa: E402

from autopact.interfaces.web_api import create_app  # noqa: E402
from autopact.interfaces.web_service import Settings  # noqa: E402


# built at import: schemathesis collects one test per operation from the schema (its store: a fresh folder)
STORE = Path(tempfile.mkdtemp(prefix="autopact-fuzz-")) / "results.duckdb"
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(Settings(store=STORE, max_draws=3, rate_per_minute=100_000, warm=False)))


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_answers_match_the_schema(case):
    case.call_and_validate(checks=[checks.not_a_server_error, checks.status_code_conformance,
                                   checks.content_type_conformance, checks.response_schema_conformance])
