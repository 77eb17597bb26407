"""The REST API of ``autopact serve`` (issue 15) through FastAPI's test client: every endpoint, the
same JSON and messages as the CLI, and each class of bad input answered with a 4xx naming the field."""

import json

import pytest
import yaml

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from autopact.data import policy_parameters  # noqa: E402
from autopact.errors import ScenarioError  # noqa: E402
from autopact.interfaces.cli import app as cli_app  # noqa: E402  (every command registered)
from autopact.interfaces.web_api import create_app  # noqa: E402
from autopact.interfaces.web_schema import bundled_document  # noqa: E402
from autopact.interfaces.web_service import Settings  # noqa: E402
from autopact.outcomes.definitions import HEADLINE  # noqa: E402
from autopact.policy.scenario import parse_scenario  # noqa: E402
from web_checks import cli_json, wait  # noqa: E402


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return tmp_path_factory.mktemp("web") / "results.duckdb"


@pytest.fixture(scope="module")
def client(store):
    with TestClient(create_app(Settings(store=store, warm=False))) as c:
        yield c


@pytest.fixture(scope="module")
def jv_run(client):
    response = client.post("/api/run", json={"scenario": "ford-byd-jv"})
    assert response.status_code == 200, response.text
    return response.json()


def without_run_id(document: dict) -> dict:
    return {k: v for k, v in document.items() if k != "run_id"}


def test_scenarios_lists_the_bundled_ones_and_serves_their_documents(client):
    names = {s["name"] for s in client.get("/api/scenarios").json()}
    assert {"ford-byd-jv", "baseline-2025", "partner-comparison"} <= names
    document = client.get("/api/scenarios/ford-byd-jv").json()
    assert document["name"] == "ford-byd-jv" and len(document["entrants"]) == 3


@pytest.mark.parametrize("name, status", [("no-such-scenario", 404), ("a b", 422), (".hidden", 422)])
def test_a_scenario_that_is_not_bundled_is_refused_by_name(client, name, status):
    response = client.get(f"/api/scenarios/{name}")
    assert response.status_code == status and "name" in response.json()["detail"]


def test_the_schema_carries_every_policy_parameter_with_its_range_and_source(client):
    schema = client.get("/api/schema").json()
    table = policy_parameters()
    parameters = schema["properties"]["parameters"]["properties"]
    assert set(parameters) == set(table.index)
    assert parameters["connected_vehicle_threshold"]["maximum"] == 1
    assert parameters["section_301_china_ev_pct"]["default"] == table.at["section_301_china_ev_pct", "value"]
    assert parameters["section_301_china_ev_pct"]["x-source"] == table.at["section_301_china_ev_pct", "source"]
    entrant = schema["$defs"]["Entrant"]["properties"]
    assert "byd--dolphin--active-44-9-kwh" in entrant["candidate"]["enum"] and "BYD" in entrant["maker"]["enum"]
    assert "Ford Motor Co." in entrant["partner"]["anyOf"][0]["enum"]
    assert schema["x-form"][:2] == ["name", "description"]


def test_the_schema_guides_a_form_maker_by_candidate_holders_labels_and_uncertainty(client):
    """What a first-time user could not tell from the form: which maker makes a candidate, who may
    hold a profit share, what a parameter is; and the uncertainty section had no controls."""
    schema = client.get("/api/schema").json()
    entrant = schema["$defs"]["Entrant"]["properties"]
    by = entrant["maker"]["x-options-by"]
    assert by["field"] == "candidate" and by["options"]["byd--dolphin--active-44-9-kwh"] == ["BYD"]
    assert set(by["options"]) == set(entrant["candidate"]["enum"])
    for candidate, makers in by["options"].items():  # each offered maker is the one the validator accepts
        document = {"name": "m", "entrants": [{"candidate": candidate, "maker": makers[0]}]}
        assert client.post("/api/validate", json={"document": document}).status_code == 200, candidate
    assert entrant["profit_shares"]["x-keys-from"] == ["maker", "partner"]
    parameters = schema["properties"]["parameters"]["properties"]
    labels = [p["x-label"] for p in parameters.values()]
    assert len(set(labels)) == len(labels) == len(policy_parameters())  # one readable label each, none twice
    assert parameters["section_301_china_ev_pct"]["x-label"] == "Section 301 China EV"
    assert parameters["mfn_passenger_pct"]["description"].startswith("mfn_passenger_pct (% ad valorem). MFN column 1")
    assert "uncertainty" in schema["x-form"] and schema["properties"]["uncertainty"]["x-folded"]
    chosen = schema["$defs"]["UncertainInput"]["properties"]["parameter"]["anyOf"][0]["enum"]
    assert chosen == list(parameters)


def test_levers_list_ranges_and_sources(client):
    rows = {r["path"]: r for r in client.get("/api/levers").json()}
    assert rows["parameters.ieepa_china_pct"]["source"] and rows["parameters.ieepa_china_pct"]["unit"] == "% ad valorem"
    assert set(rows["entrants[].assembly"]["allowed"]) == {"import", "own_us_plant", "partner_us_plant"}
    assert rows["synergies[].change_pct"]["minimum"] == -90 and rows["synergies[].change_pct"]["maximum"] == 100


def test_metrics_are_the_headline_definitions(client):
    assert [m["key"] for m in client.get("/api/metrics").json()] == [m.key for m in HEADLINE]


def test_health(client):
    assert client.get("/api/health").json()["read_only"] is False


def test_a_valid_scenario_validates(client):
    response = client.post("/api/validate", json={"document": bundled_document("ford-byd-jv")})
    assert response.status_code == 200 and response.json()["scenario"]["name"] == "ford-byd-jv"


def test_an_invalid_lever_gets_the_clis_message(client, tmp_path):
    document = bundled_document("ford-byd-jv")
    document["entrants"][0]["capacity"] = -5
    response = client.post("/api/validate", json={"document": document})
    assert response.status_code == 422
    with pytest.raises(ScenarioError) as expected:
        parse_scenario(document, "document")
    assert response.json()["detail"] == str(expected.value)
    assert "entrants" in response.json()["detail"] and "capacity" in response.json()["detail"]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(document))
    done = CliRunner().invoke(cli_app, ["simulate", str(path)])
    assert done.exit_code == 2
    assert str(expected.value).removeprefix("document") in done.output.replace("\n", "")


@pytest.mark.parametrize("body, field", [
    ({}, "scenario"),  # neither a name nor a document
    ({"scenario": "ford-byd-jv", "document": {"name": "x"}}, "scenario"),  # both
    ({"scenario": "/etc/passwd"}, "scenario"),  # a path is never read
    ({"scenario": "ford-byd-jv", "path": "x.yaml"}, "path"),  # unknown field
    ({"document": [1, 2]}, "document"),
    ({"document": {"name": "x", "parameters": {"no_such": 1}}}, "parameters"),
    ({"document": {"name": "x", "parameters": {"ieepa_china_pct": "lots"}}}, "ieepa_china_pct"),
    ({"document": {"name": "x", "estimation": {"result": "/etc/passwd"}}}, "estimation"),
])
def test_bad_requests_are_422_naming_the_field(client, body, field):
    response = client.post("/api/validate", json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]


def test_a_body_that_is_not_json_is_422(client):
    response = client.post("/api/validate", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422 and "detail" in response.json()


def test_a_central_run_is_the_clis_json(client, jv_run, tmp_path):
    assert without_run_id(jv_run) == without_run_id(cli_json(tmp_path, "simulate", "ford-byd-jv"))


def test_a_scenario_on_the_bundled_estimation_runs_by_name_and_as_a_document(client):
    by_name = client.post("/api/run", json={"scenario": "blp1995-import-tariff"})
    assert by_name.status_code == 200, by_name.text
    document = client.get("/api/scenarios/blp1995-import-tariff").json()
    inline = client.post("/api/run", json={"document": document})
    assert inline.status_code == 200, inline.text
    assert inline.json()["change"] == by_name.json()["change"]


def test_a_run_the_model_refuses_is_422_naming_it(client):
    document = {"name": "x", "entrants": [{"candidate": "no-such-model", "maker": "BYD"}]}
    response = client.post("/api/run", json={"document": document})
    assert response.status_code == 422 and "no-such-model" in response.json()["detail"]


def test_stored_runs_and_results_as_json_csv_and_report(client, jv_run):
    run_id = jv_run["run_id"]
    assert run_id in [r["run_id"] for r in client.get("/api/runs").json()]
    assert client.get(f"/api/runs/{run_id}").json() == jv_run
    assert client.get(f"/api/runs/{run_id[:8]}").json()["run_id"] == run_id  # a unique prefix
    rows = client.get(f"/api/runs/{run_id}/csv").text.splitlines()
    assert rows[0].startswith("variant,metric,unit,baseline,scenario,change")
    total = next(r for r in rows if ",total_units," in r).split(",")
    assert float(total[5]) == jv_run["change"]["total_units"]
    report = client.get(f"/api/runs/{run_id}/report")
    assert report.status_code == 200 and "<html" in report.text and "ford-byd-jv" in report.text


def test_a_stored_run_not_in_memory_is_rebuilt_from_the_store(store, jv_run):
    with TestClient(create_app(Settings(store=store, warm=False))) as fresh:
        rebuilt = fresh.get(f"/api/runs/{jv_run['run_id']}").json()
    assert rebuilt == jv_run


@pytest.mark.parametrize("path, status", [("/api/runs/0123456789ab", 404), ("/api/runs/NOT-AN-ID", 422),
                                          ("/api/runs/0123456789ab/csv", 404), ("/api/runs?limit=0", 422),
                                          ("/api/jobs/0123456789ab", 404), ("/api/jobs/x;y", 422)])
def test_unknown_or_malformed_ids(client, path, status):
    response = client.get(path)
    assert response.status_code == status and response.json()["detail"]


def test_a_draws_job_reports_progress_and_gives_bands(client):
    response = client.post("/api/jobs", json={"scenario": "ford-byd-jv", "draws": 3, "seed": 7})
    assert response.status_code == 202
    job = wait(client, response.json()["job_id"])
    assert job["state"] == "done" and job["done"] == job["total"] == 3
    document = client.get(f"/api/runs/{job['run_id']}").json()
    assert document["uncertainty"]["draws"] == 3 and document["bands"]["total_units"]["p05"] is not None
    assert job["job_id"] in [j["job_id"] for j in client.get("/api/jobs").json()]
    assert client.get(f"/api/runs/{job['run_id']}/csv").text.splitlines()[1].count(",") == 8


def test_a_job_can_be_cancelled_and_a_second_one_meanwhile_is_busy(client):
    first = client.post("/api/jobs", json={"scenario": "ford-byd-jv", "draws": 200}).json()
    busy = client.post("/api/jobs", json={"scenario": "ford-byd-jv", "draws": 2})
    assert busy.status_code == 429 and "busy" in busy.json()["detail"]
    assert client.delete(f"/api/jobs/{first['job_id']}").status_code == 200
    assert wait(client, first["job_id"])["state"] == "cancelled"


@pytest.mark.parametrize("body, field", [({"scenario": "ford-byd-jv", "draws": 0}, "draws"),
                                         ({"scenario": "ford-byd-jv", "draws": 10_000}, "draws"),
                                         ({"scenario": "no-section-232", "draws": 2}, "uncertain")])
def test_bad_jobs_are_refused(client, body, field):
    response = client.post("/api/jobs", json=body)
    assert response.status_code == 422 and field in response.json()["detail"]


def test_the_page_and_plotly_are_served_locally(client):
    page = client.get("/")
    assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    assert "http://" not in page.text.replace("http://127.0.0.1", "") and "https://" not in page.text
    script = client.get("/static/plotly.min.js")
    assert script.status_code == 200 and len(script.content) > 1_000_000
    for name in ("app.js", "form.js", "app.css"):
        assert client.get(f"/static/{name}").status_code == 200


def test_the_form_is_generated_not_written_per_lever(client):
    """No scenario lever's name appears in the page's scripts: the controls come from the schema."""
    scripts = client.get("/static/form.js").text + client.get("/static/app.js").text
    levers = [name for name in ("extra_tariffs", "quotas", "entrants", "profit_shares", "capacity", "ad_valorem_pct",
                                "candidate", "partner", "in_quota_pct", "connected_vehicle_rule")]
    assert not [name for name in levers if name in scripts]


def test_a_token_guards_the_api_but_not_the_page(store):
    with TestClient(create_app(Settings(store=store, token="s3cret", warm=False))) as c:
        assert c.get("/api/health").status_code == 401
        assert c.get("/api/health", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/api/health", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/").status_code == 200


def test_the_rate_limit_answers_429(store):
    with TestClient(create_app(Settings(store=store, rate_per_minute=3, warm=False))) as c:
        codes = [c.get("/api/health").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_a_body_over_the_limit_is_413_with_or_without_its_length(store):
    big = {"document": {"name": "x", "description": "y" * 5000}}
    with TestClient(create_app(Settings(store=store, max_body_bytes=2048, warm=False))) as c:
        assert c.post("/api/validate", json=big).status_code == 413
        chunks = (part for part in [json.dumps(big).encode()[:3000], json.dumps(big).encode()[3000:]])
        response = c.post("/api/validate", content=chunks, headers={"content-type": "application/json"})
        assert response.status_code == 413 and "body" in response.json()["detail"]


def test_read_only_mode_serves_stored_runs_only(store, jv_run):
    with TestClient(create_app(Settings(store=store, read_only=True, warm=False))) as c:
        assert c.post("/api/run", json={"scenario": "ford-byd-jv"}).status_code == 403
        assert c.post("/api/jobs", json={"scenario": "ford-byd-jv", "draws": 2}).status_code == 403
        assert jv_run["run_id"] in [r["run_id"] for r in c.get("/api/runs").json()]
        assert c.get(f"/api/runs/{jv_run['run_id']}/csv").status_code == 200


def test_read_only_without_a_store_lists_no_runs(tmp_path):
    with TestClient(create_app(Settings(store=tmp_path / "none.duckdb", read_only=True, warm=False))) as c:
        assert c.get("/api/runs").json() == []
        assert c.get("/api/runs/0123456789ab").status_code == 404
    assert not (tmp_path / "none.duckdb").exists()


def test_runs_beyond_the_queue_cap_are_busy(store):
    with TestClient(create_app(Settings(store=store, max_waiting=0, warm=False))) as c:
        response = c.post("/api/run", json={"scenario": "baseline-2025"})
    assert response.status_code == 429 and "busy" in response.json()["detail"]
