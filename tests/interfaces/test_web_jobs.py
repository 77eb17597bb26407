"""The web API's background jobs beyond draws (issue 15): a sensitivity analysis, a sweep (bundled
or inline) and a yearly projection, each giving the CLI's JSON; progress by polling and by
server-sent events; cancelling; the 2026 baseline of a run; and each class of bad request answered
with a 4xx naming the field."""

import json

import pytest
import yaml

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from autopact.interfaces.web_api import create_app  # noqa: E402
from autopact.interfaces.web_service import Settings  # noqa: E402
from autopact.policy.scenario import bundled_scenarios  # noqa: E402
from web_checks import cli_json, wait  # noqa: E402

SWEEP = {"name": "two-tariffs", "scenario": "ford-byd-jv", "grid": {"parameters.section_301_china_ev_pct": [0, 100]},
         "outcomes": ["total_units", "consumer_surplus_usd"]}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    store = tmp_path_factory.mktemp("web") / "results.duckdb"
    with TestClient(create_app(Settings(store=store, warm=False))) as c:
        yield c


def events(client, job_id: str) -> list[dict]:
    """The job's server-sent events, read to the end of the stream."""
    seen, kind = [], None
    with client.stream("GET", f"/api/jobs/{job_id}/events") as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                assert kind == "job"
                seen.append(json.loads(line.removeprefix("data: ")))
    return seen


def small(name: str = "ford-byd-jv", inputs: int = 2) -> dict:
    """A bundled scenario's document with only its first ``inputs`` uncertain inputs (a short analysis)."""
    document = yaml.safe_load(bundled_scenarios()[name].read_text())
    document["uncertainty"]["inputs"] = document["uncertainty"]["inputs"][:inputs]
    return document


def test_a_sensitivity_job_gives_the_clis_tornado_and_streams_its_progress(client, tmp_path):
    document = small()
    started = client.post("/api/jobs/sensitivity", json={"document": document, "outcomes": ["total_units"]})
    assert started.status_code == 202 and started.json()["kind"] == "sensitivity"
    stream = events(client, started.json()["job_id"])
    assert stream[-1]["state"] == "done" and stream[-1]["done"] == stream[-1]["total"] == 4
    done = [e["done"] for e in stream]
    assert done == sorted(done) and len(stream) >= 2  # running or some progress, then done
    result = client.get(stream[-1]["result"]).json()
    file = tmp_path / "small.yaml"
    file.write_text(yaml.safe_dump(document))
    expected = cli_json(tmp_path, "sensitivity", str(file), "--outcome", "total_units", "--serial")
    assert result["variants"][0]["tornado"] == expected["variants"][0]["tornado"]
    report = client.get(f"/api/jobs/{started.json()['job_id']}/report")
    assert report.status_code == 200 and report.text.lstrip().lower().startswith("<!doctype html")


def test_an_inline_sweep_gives_the_clis_surfaces(client, tmp_path):
    started = client.post("/api/jobs/sweep", json={"document": SWEEP})
    assert started.status_code == 202, started.text
    job = wait(client, started.json()["job_id"])
    assert job["state"] == "done" and job["done"] == job["total"] == 2, job
    result = client.get(job["result"]).json()
    file = tmp_path / "two-tariffs.yaml"
    file.write_text(yaml.safe_dump(SWEEP))
    expected = cli_json(tmp_path, "sweep", str(file), "--serial")
    assert result["surfaces"] == expected["surfaces"]
    assert [p["change"] for p in result["points"]] == [p["change"] for p in expected["points"]]


def test_a_projection_job_gives_the_clis_years(client, tmp_path):
    started = client.post("/api/jobs/projection", json={"scenario": "ford-byd-jv", "start": 2026, "to": 2027})
    assert started.status_code == 202, started.text
    job = wait(client, started.json()["job_id"])
    assert job["state"] == "done" and job["done"] == job["total"] == 2, job
    result = client.get(job["result"]).json()
    expected = cli_json(tmp_path, "project", "ford-byd-jv", "--from", "2026", "--to", "2027")
    assert [r["year"] for r in result["records"]] == [2026, 2027]
    assert result["records"] == expected["records"] and result["totals"] == expected["totals"]
    report = client.get(f"/api/jobs/{job['job_id']}/report")
    assert report.status_code == 200 and "autopact projection: ford-byd-jv, 2026-2027" in report.text


def test_a_run_against_the_2026_baseline_is_the_clis(client, tmp_path):
    response = client.post("/api/run", json={"scenario": "ford-byd-jv", "baseline_year": 2026})
    assert response.status_code == 200, response.text
    expected = cli_json(tmp_path, "simulate", "ford-byd-jv", "--baseline", "2026")
    shown = response.json()
    assert shown["market"]["baseline_label"] == expected["market"]["baseline_label"]
    assert shown["market"]["baseline_label"].startswith("2026 baseline")
    assert shown["change"] == expected["change"]


def test_a_sensitivity_job_can_be_cancelled_and_has_no_result(client):
    started = client.post("/api/jobs/sensitivity", json={"document": small(inputs=8)}).json()
    assert client.delete(f"/api/jobs/{started['job_id']}").status_code == 200
    assert wait(client, started["job_id"])["state"] == "cancelled"
    refused = client.get(f"/api/jobs/{started['job_id']}/result")
    assert refused.status_code == 409 and "cancelled" in refused.json()["detail"]
    assert events(client, started["job_id"])[-1]["state"] == "cancelled"


def test_the_bundled_sweeps_are_listed(client):
    sweep = {s["name"]: s for s in client.get("/api/sweeps").json()}["chinese-ev-tariff"]
    assert sweep["scenario"] == "partner-comparison" and sweep["points"] == 32 and sweep["draws"] == 0


@pytest.mark.parametrize("path, body, field", [
    ("/api/jobs/sweep", {"sweep": "no-such-sweep"}, "sweep"),
    ("/api/jobs/sweep", {"sweep": "../../etc/passwd"}, "sweep"),
    ("/api/jobs/sweep", {"document": {**SWEEP, "scenario": "/etc/passwd.yaml"}}, "scenario"),
    ("/api/jobs/sweep", {"document": {**SWEEP, "grid": {}}}, "grid"),
    ("/api/jobs/sweep", {"sweep": "chinese-ev-tariff", "draws": 100}, "evaluations"),
    ("/api/jobs/sweep", {"sweep": "chinese-ev-tariff", "document": SWEEP}, "exactly one"),
    ("/api/jobs/sensitivity", {"scenario": "no-section-232"}, "uncertain"),
    ("/api/jobs/sensitivity", {"scenario": "ford-byd-jv", "outcomes": ["no_such_metric"]}, "outcomes.0"),
    ("/api/jobs/projection", {"scenario": "ford-byd-jv", "to": 2040}, "to"),
    ("/api/jobs/projection", {"scenario": "ford-byd-jv", "start": 2030, "to": 2027}, "start"),
    ("/api/jobs/projection", {"scenario": "ford-byd-jv", "compare": "no-such"}, "scenario"),
    ("/api/run", {"scenario": "ford-byd-jv", "baseline_year": 2027}, "baseline_year"),
    ("/api/jobs", {"scenario": "ford-byd-jv", "baseline_year": "soon", "draws": 2}, "baseline_year")])
def test_bad_job_requests_are_422_naming_the_field(client, path, body, field):
    response = client.post(path, json=body)
    assert response.status_code == 422 and field in response.json()["detail"], response.text


def test_unknown_jobs_and_events(client):
    assert client.get("/api/jobs/0123456789ab/events").status_code == 404
    assert client.get("/api/jobs/0123456789ab/result").status_code == 404
    assert client.get("/api/jobs/not-hex/result").status_code == 422
