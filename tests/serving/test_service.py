"""The real Bento over HTTP: built offline from a reproduced project, served by ``bentoml serve``.

The project uses the synthetic source, so the served model has numeric and categorical features
with missing values. The Bento is served from outside the source tree, proving it is self-contained.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pytest
import yaml

from gitops_ml import NAME
from gitops_ml.core import paths
from gitops_ml.pipeline.package import model_tag
from gitops_ml.release import steps
from gitops_ml.serving import prediction_log
from gitops_ml.team.stack import free_port
from tests import container_engine
from tests.support import (
    ROOT,
    SYNTHETIC,
    copy_project,
    edit_params,
    git,
    tool_env,
    unmeasured,
    wait_until_healthy,
    write_params,
)

# Real servers, act or dvc repro: left out by make test-fast.
pytestmark = pytest.mark.integration

MAX_RECORDS = 50
READY_SECONDS = 90
BENTO_TAG = f"{NAME}:under-test"


@dataclass(frozen=True)
class Server:
    url: str
    project: Path
    home: Path
    log: Path
    ready_seconds: float
    process: subprocess.Popen[bytes]

    @property
    def prediction_log(self) -> Path:
        """Where the service logs when GITOPS_ML_PREDICTION_LOG is not set: under BentoML's home, not the Bento."""
        return self.home / "prediction-log" / "predictions.jsonl"


def request(server: Server, path: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(server.url + path, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    project = copy_project(tmp_path_factory.mktemp("service") / "project")
    overrides = yaml.safe_load(yaml.safe_dump(SYNTHETIC))
    overrides["data"]["synthetic"] = {"rows": 2_000, "seed": 3}
    write_params(project, **overrides)
    env = tool_env(project)
    # The stages' code is measured by their own tests; the build and the service are this module's.
    for command, run_env in (
        (["dvc", "repro"], unmeasured(env)),
        (["python", "-m", "gitops_ml", "bento", "--version", BENTO_TAG.split(":")[1]], env),
    ):
        result = subprocess.run(command, cwd=project, env=run_env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout + result.stderr

    # A newer model of the same name in the store must not change what the built Bento serves.
    newer = f"import bentoml\nwith bentoml.models.create('{NAME}:zzz-newer-model'): pass"
    subprocess.run([sys.executable, "-c", newer], env=env, check=True, capture_output=True, timeout=120)

    port = free_port()
    log = project.parent / "serve.log"
    serve_env = serving_env(project)
    started = time.monotonic()
    with log.open("w") as sink:
        process = subprocess.Popen(
            ["bentoml", "serve", BENTO_TAG, "--host", "127.0.0.1", "--port", str(port)],
            cwd=project.parent,  # not the project: the Bento must carry its own code
            env=serve_env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(f"{url}/readyz", process, log, READY_SECONDS)
        yield Server(url, project, Path(env["BENTOML_HOME"]), log, time.monotonic() - started, process)
    finally:
        process.terminate()
        process.wait(timeout=60)


def serving_env(project: Path, **changes: str) -> dict[str, str]:
    env = {k: v for k, v in tool_env(project).items() if k not in ("PYTHONPATH", "GITOPS_ML_PREDICTION_LOG")}
    return env | {"GITOPS_ML_MAX_RECORDS": str(MAX_RECORDS), "GITOPS_ML_DRAIN_SECONDS": "1"} | changes


@contextmanager
def another_server(server: Server, name: str, tag: str = BENTO_TAG, **changes: str) -> Iterator[Server]:
    """One more ``bentoml serve`` of a Bento in the module's store, its output in ``<name>.log``.

    Its own BentoML home, sharing the store's Bentos and models: each ``bentoml serve`` empties the
    Prometheus folder of its home at start, which would reset another server's metrics."""
    port = free_port()
    log, home = server.project.parent / f"{name}.log", server.project.parent / f"{name}-bentoml"
    home.mkdir()
    for shared in ("bentos", "models"):
        (home / shared).symlink_to(server.home / shared)
    with log.open("w") as sink:
        process = subprocess.Popen(
            ["bentoml", "serve", tag, "--host", "127.0.0.1", "--port", str(port)],
            cwd=server.project.parent, env=serving_env(server.project, BENTOML_HOME=str(home), **changes),
            stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}/readyz", process, log, READY_SECONDS)
        yield Server(f"http://127.0.0.1:{port}", server.project, server.home, log, 0, process)
    finally:
        process.terminate()
        process.wait(timeout=60)


@pytest.fixture(scope="module")
def test_records(server: Server) -> pd.DataFrame:
    return pd.read_parquet(server.project / paths.TEST_DATA)


def features_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Records as a client sends them: JSON null for missing values."""
    features = frame.drop(columns=["customer_id", "churned"])
    return json.loads(features.to_json(orient="records"))


def test_predictions_match_the_models_in_process_predictions(server: Server, test_records: pd.DataFrame) -> None:
    model = joblib.load(server.project / paths.MODEL)
    expected = model.predict_proba(test_records[list(model.feature_names_in_)])[:, 1]
    records = features_of(test_records)
    assert test_records.drop(columns=["customer_id", "churned"]).isna().any().any()  # gaps are exercised

    served: list[dict[str, Any]] = []
    for start in range(0, len(records), MAX_RECORDS):
        status, body = request(server, "/predict_batch", {"records": records[start : start + MAX_RECORDS]})
        assert status == 200, body
        served += body
    assert [p["probability"] for p in served] == pytest.approx(list(expected), abs=1e-6)
    assert [p["label"] for p in served] == ["yes" if p >= 0.5 else "no" for p in expected]

    for path, one_record in (("/predict", records[0]), ("/predict", records[:1]), ("/predict_batch", records[:1])):
        status, single = request(server, path, {"records": one_record})
        assert status == 200 and [(p["label"], p["probability"]) for p in single] == [
            (served[0]["label"], served[0]["probability"])
        ]


def test_each_prediction_echoes_the_records_id_or_a_generated_one(server: Server, test_records: pd.DataFrame) -> None:
    with_ids = json.loads(test_records.head(3).drop(columns=["churned"]).to_json(orient="records"))
    for path in ("/predict", "/predict_batch"):
        status, body = request(server, path, {"records": with_ids})
        assert status == 200, body
        assert [p["id"] for p in body] == [r["customer_id"] for r in with_ids]
    generated = [request(server, "/predict", {"records": features_of(test_records.head(2))})[1] for _ in range(2)]
    ids = [p["id"] for answer in generated for p in answer]
    assert len(set(ids)) == 4 and all(isinstance(i, str) for i in ids)


def test_an_unseen_category_is_handled_as_in_training(server: Server, test_records: pd.DataFrame) -> None:
    record = features_of(test_records.head(1))[0]
    status, body = request(server, "/predict", {"records": [record | {"plan": "enterprise"}, record | {"plan": None}]})
    assert status == 200
    assert all(0 <= p["probability"] <= 1 for p in body)


def record_with(test_records: pd.DataFrame, **changes: Any) -> dict[str, Any]:
    return features_of(test_records.head(1))[0] | changes


BAD_REQUESTS: dict[str, tuple[Any, int, str]] = {
    "missing field": ("drop:age", 400, "records.0.age"),
    "extra field": ({"colour": "red"}, 400, "records.0.colour"),
    "wrong type": ({"tenure_months": "long"}, 400, "records.0.tenure_months"),
    "text for a category": ({"plan": 3}, 400, "records.0.plan"),
}


@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_a_bad_record_is_a_4xx_naming_the_field(server: Server, test_records: pd.DataFrame, case: str) -> None:
    change, expected_status, field = BAD_REQUESTS[case]
    record = features_of(test_records.head(1))[0]
    if change == "drop:age":
        record.pop("age")
    else:
        record |= change
    for path, records in (("/predict", [record]), ("/predict", record), ("/predict_batch", [record])):
        status, body = request(server, path, {"records": records})
        assert status == expected_status, body
        assert field in {".".join(map(str, d["loc"])) for d in body["detail"]}


def problems(body: dict[str, Any]) -> set[str]:
    """Each reported problem as ``field:type`` (the field dotted, empty for the whole body)."""
    return {".".join(map(str, d["loc"])) + ":" + d["type"] for d in body["detail"]}


def send(
    server: Server, path: str, raw: bytes, content_type: str = "application/json", chunked: bool = False
) -> tuple[int, bytes]:
    """POST raw bytes, with or without Content-Length (chunked); the status and the whole answer."""
    import http.client

    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = {"Content-Type": content_type} if content_type else {}
    if chunked:
        pieces = (raw[i : i + 65_536] for i in range(0, len(raw), 65_536))
        connection.request("POST", path, body=pieces, headers=headers, encode_chunked=True)
    else:
        connection.request("POST", path, body=raw, headers=headers)
    response = connection.getresponse()
    answer = response.status, response.read()
    connection.close()
    return answer


@contextmanager
def readyz_latencies(url: str) -> Iterator[list[float]]:
    """The latency of each /readyz poll (every 20 ms) while the block runs; infinite for an error answer."""
    import threading

    latencies: list[float] = []
    done = threading.Event()

    def probe() -> None:
        while not done.is_set():
            started = time.monotonic()
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=5):
                    latencies.append(time.monotonic() - started)
            except OSError:  # an error answer or none: counts as never
                latencies.append(float("inf"))
            time.sleep(0.02)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        yield latencies
    finally:
        done.set()
        prober.join()


LIMIT = MAX_RECORDS * 4096  # the service's body limit for MAX_RECORDS


def abuse(record: dict[str, Any]) -> dict[str, tuple[dict[str, Any], int, str | None]]:
    """A hostile client's requests made from a good record: send()'s arguments, the status and the problem expected."""

    def body(value: Any) -> bytes:
        return json.dumps(value).encode()

    every_field_wrong = {name: "x" if isinstance(value, float | int) else 1 for name, value in record.items()}
    return {
        "multipart without a boundary": ({"raw": b"--x\r\n", "content_type": "multipart/form-data"}, 415, None),
        "text/plain": ({"raw": b"{}", "content_type": "text/plain"}, 415, None),
        "no content type": ({"raw": b"{}", "content_type": ""}, 415, None),
        "finite but huge number": (
            {"raw": body({"records": [record | {"tenure_months": 3e306}]})},
            400,
            "records.0.tenure_months:less_than_equal",
        ),
        "NaN": ({"raw": b'{"records": [{"age": NaN}]}'}, 400, "records.0.age:finite_number"),
        "infinity": ({"raw": b'{"records": [{"age": 1e999}]}'}, 400, "records.0.age:finite_number"),
        "text for a number": ({"raw": body({"records": [record | {"age": "12.5"}]})}, 400, "records.0.age:float_type"),
        "true for a number": ({"raw": body({"records": [record | {"age": True}]})}, 400, "records.0.age:float_type"),
        "empty list": ({"raw": b'{"records": []}'}, 400, "records:too_short"),
        "malformed JSON": ({"raw": b'{"records": ['}, 400, ":json_invalid"),
        "not an object": ({"raw": b"[1, 2]"}, 400, ":model_type"),
        "nested 100,000 deep": ({"raw": b'{"records": ' + b"[" * 100_000}, 400, ":json_invalid"),
        "unknown top-level key": ({"raw": body({"records": [record], "debug": True})}, 400, "debug:extra_forbidden"),
        "one record over the cap": ({"raw": body({"records": [record] * (MAX_RECORDS + 1)})}, 400, "records:too_long"),
        "empty records x1000 the cap": ({"raw": body({"records": [{}] * MAX_RECORDS * 1000})}, 400, "records:too_long"),
        "150 KB unknown key": ({"raw": body({"records": [record | {"k" * 150_000: 1}]})}, 400, None),
        "5,000-character category": (
            {"raw": body({"records": [record | {"plan": "x" * 5_000}]})},
            400,
            "records.0.plan:string_too_long",
        ),
        "every field of every record wrong": ({"raw": body({"records": [every_field_wrong] * MAX_RECORDS})}, 400, None),
        "body over the limit": ({"raw": b" " * (LIMIT + 1)}, 413, None),
        "chunked body over the limit": ({"raw": b" " * (LIMIT * 4), "chunked": True}, 413, None),
    }


ABUSE_CASES = list(abuse({"age": 1.0}))


@pytest.mark.parametrize("case", ABUSE_CASES)
def test_abuse_is_a_bounded_4xx_and_never_stalls_the_service(
    server: Server, test_records: pd.DataFrame, case: str
) -> None:
    """Each hostile request, on both routes: the expected 4xx with a short body naming the problem,
    while /readyz keeps answering within 1 s; the next honest request is answered at once."""
    arguments, expected, problem = abuse(features_of(test_records.head(1))[0])[case]
    honest = {"records": features_of(test_records.head(1))}
    for path in ("/predict", "/predict_batch"):
        with readyz_latencies(server.url) as readyz:
            status, raw = send(server, path, **arguments)
        assert status == expected, (path, raw[:300])
        assert len(raw) < 2_000, (path, len(raw))
        answer = json.loads(raw)
        assert set(answer) <= {"error", "detail", "more"} and answer["detail"], answer
        if problem is not None:
            assert problem in problems(answer), (path, problems(answer))
        assert max(readyz, default=0) < 1, readyz
        started = time.monotonic()
        assert request(server, "/predict", honest)[0] == 200
        assert time.monotonic() - started < 1


def test_the_errors_of_a_request_are_counted_beyond_the_first_five(server: Server, test_records: pd.DataFrame) -> None:
    records = [{"k" * 3_000: 1}] * MAX_RECORDS  # every field missing and one unknown, in every record
    for path in ("/predict", "/predict_batch"):
        status, body = request(server, path, {"records": records})
        assert status == 400 and body["error"] == "invalid request"
        assert len(body["detail"]) == 5 and body["more"] > 300
        assert all(len(str(part)) <= 120 for problem in body["detail"] for part in problem["loc"])


def test_a_poisoned_record_fails_only_its_own_request(server: Server, test_records: pd.DataFrame) -> None:
    """Batching joins concurrent requests: a record that would overflow the model must not
    reach the batch, or it fails the honest requests it was joined with."""
    from concurrent.futures import ThreadPoolExecutor

    honest = {"records": features_of(test_records.head(1))}
    poisoned = {"records": [record_with(test_records, tenure_months=3e306)]}

    def send(body: dict[str, Any]) -> int:
        return request(server, "/predict", body)[0]

    bodies = [poisoned if n % 3 == 0 else honest for n in range(240)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(send, bodies))
    assert {s for s, b in zip(statuses, bodies, strict=True) if b is honest} == {200}
    assert {s for s, b in zip(statuses, bodies, strict=True) if b is poisoned} == {400}


def test_client_errors_are_logged_as_one_line_and_the_server_keeps_serving(
    server: Server, test_records: pd.DataFrame
) -> None:
    request(server, "/predict", {"records": [{"age": "old"}]})
    status, _ = request(server, "/predict", {"records": features_of(test_records.head(2))})
    assert status == 200
    log = server.log.read_text()
    assert "client error on /predict: records.0.age" in log
    assert "Traceback" not in log
    assert not re.search(r"status=5\d\d", log)


def scrape(server: Server) -> dict[str, float]:
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("gitops_ml_")
    }


def test_metrics_count_predictions_by_class_and_probability(server: Server, test_records: pd.DataFrame) -> None:
    before = scrape(server)
    status, body = request(server, "/predict_batch", {"records": features_of(test_records.head(10))})
    assert status == 200
    after = scrape(server)
    for label in ("yes", "no"):
        key = f'gitops_ml_predictions_total{{label="{label}"}}'
        assert after.get(key, 0) - before.get(key, 0) == sum(p["label"] == label for p in body)
    assert after["gitops_ml_positive_probability_count"] - before.get("gitops_ml_positive_probability_count", 0) == 10


def logged(server: Server, count: int) -> pd.DataFrame:
    """The module server's prediction log once it holds at least ``count`` records."""
    return read_log_once(server.prediction_log, count, seconds=10)


def read_log_once(path: Path, count: int, seconds: float) -> pd.DataFrame:
    """A prediction log once it holds at least ``count`` records (a background thread writes it), or after
    ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        frame = prediction_log.read(path) if path.is_file() else pd.DataFrame()
        if len(frame) >= count or time.monotonic() > deadline:
            return frame
        time.sleep(0.1)


def settled_log(server: Server) -> pd.DataFrame:
    """The prediction log once the records of requests already answered are in it: the writer thread
    wakes every 50 ms, so a log that has not grown for half a second holds them all."""
    frame = logged(server, 0)
    while True:
        time.sleep(0.5)
        again = logged(server, 0)
        if len(again) == len(frame):
            return again
        frame = again


def test_predictions_are_logged_with_their_features_and_ids(server: Server, test_records: pd.DataFrame) -> None:
    before = len(settled_log(server))
    records = json.loads(test_records.head(3).drop(columns=["churned"]).to_json(orient="records"))
    status, predicted = request(server, "/predict_batch", {"records": records})
    assert status == 200
    entries = logged(server, before + 3).tail(3)
    sent = pd.DataFrame(records)
    # As sent, missing values included.
    pd.testing.assert_frame_equal(entries[list(sent.columns)].reset_index(drop=True), sent, check_dtype=False)
    assert entries["prediction_id"].tolist() == [p["id"] for p in predicted] == sent["customer_id"].tolist()
    assert entries["prediction_label"].tolist() == [p["label"] for p in predicted]
    assert entries["prediction_probability"].tolist() == [p["probability"] for p in predicted]


def test_the_drift_stage_reads_the_prediction_log(server: Server, test_records: pd.DataFrame) -> None:
    records = features_of(test_records.head(150))
    before = len(settled_log(server))
    for start in range(0, len(records), MAX_RECORDS):
        assert request(server, "/predict_batch", {"records": records[start : start + MAX_RECORDS]})[0] == 200
    total = len(logged(server, before + len(records)))
    current = server.project / "data" / "current"
    current.mkdir(parents=True, exist_ok=True)
    shutil.copy(server.prediction_log, current)

    result = subprocess.run(
        ["dvc", "repro", "monitoring/dvc.yaml"], cwd=server.project, env=tool_env(server.project),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    summary = json.loads((server.project / "reports" / "monitoring" / "drift.json").read_text())
    assert (result.returncode != 0) == summary["drift"], result.stdout + result.stderr  # drift fails the stage
    assert summary["data"]["current"]["rows"] == total >= len(records)
    assert summary["prediction"]["source"] == "logged by the service"
    assert set(summary["features"]) == {f for f in test_records.columns if f not in ("customer_id", "churned")}


def test_dashboards_and_scrape_config_refer_only_to_metrics_the_service_exports(
    server: Server, test_records: pd.DataFrame
) -> None:
    # Labelled series appear only once observed: one single-record prediction and one rejected request.
    assert request(server, "/predict", {"records": features_of(test_records.head(1))[0]})[0] == 200
    assert 400 <= request(server, "/predict", {"records": {}})[0] < 500
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as response:
        scraped = response.read().decode()
    exported = {line.split("{")[0].split()[0] for line in scraped.splitlines() if line and not line.startswith("#")}
    monitoring = ROOT / "monitoring"
    dashboard = json.loads((monitoring / "grafana" / "dashboards" / "service.json").read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = {name for query in queries for name in re.findall(r"\b((?:bentoml|gitops_ml)_\w+)", query)}
    assert used and used <= exported, used - exported
    titles = " ".join(panel["title"].lower() for panel in dashboard["panels"])
    for topic in ("requests", "latency", "errors", "class mix", "probability"):
        assert topic in titles, topic

    scrape = yaml.safe_load((monitoring / "prometheus" / "prometheus.yml").read_text())
    [job] = scrape["scrape_configs"]
    assert job["metrics_path"] == "/metrics" and job["static_configs"][0]["targets"] == ["service:3000"]
    compose = yaml.safe_load((monitoring / "docker-compose.yml").read_text())
    assert compose["services"]["service"]["ports"] == ["3000:3000"]  # the port the scrape config names
    provisioned = yaml.safe_load(
        (monitoring / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    assert {d["uid"] for d in provisioned["datasources"]} == {p["datasource"]["uid"] for p in dashboard["panels"]}


def test_model_route_tells_what_is_served(server: Server) -> None:
    status, info = request(server, "/model")
    assert status == 200
    bundle = json.loads((server.project / paths.BENTO_METADATA).read_text())
    assert info["model_tag"] == model_tag(server.project / paths.BENTO_BUNDLE)  # not the newer one in the store
    said = f"serving model {info['model_tag']} (MD5 {info['model_md5']}); prediction log: {server.prediction_log}"
    assert said in server.log.read_text()  # at start
    assert info["model_md5"] == bundle["model_md5"]
    assert info["metrics"] == json.loads((server.project / paths.METRICS).read_text())["test"]
    assert (
        info["build"]["git_commit"]
        == subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=server.project, capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    assert [f["name"] for f in info["features"]][:2] == ["age", "tenure_months"]

    with urllib.request.urlopen(server.url + "/model/card", timeout=10) as response:
        card = response.read().decode()
        assert response.headers["Content-Type"].startswith("text/markdown")
    assert card.startswith(f"# Model card: {NAME} classifier")
    assert f"| **Version** | {BENTO_TAG.split(':')[1]} |" in card  # the card of this very Bento


def test_openapi_documents_the_records_and_the_error_answers(server: Server) -> None:
    status, docs = request(server, "/docs.json")
    assert status == 200
    record = docs["components"]["schemas"]["Record"]
    assert set(record["properties"]) >= {"age", "plan", "region", "customer_id"}
    assert "customer_id" not in record["required"] and "age" in record["required"]
    assert record["additionalProperties"] is False
    for path in ("/predict", "/predict_batch"):
        operation = docs["paths"][path]["post"]
        assert operation["requestBody"]["required"] is True
        errors = {
            code: answer["content"]["application/json"]["schema"]["$ref"]
            for code, answer in operation["responses"].items()
            if code != "200"
        }
        assert errors["400"] == errors["413"] == errors["415"] == "#/components/schemas/ClientError"
    body = docs["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["records"]["description"].startswith("one record, or a list of records")


def test_a_schema_fuzzer_finds_no_5xx_and_no_answer_the_document_does_not_declare(server: Server) -> None:
    """Schemathesis generates valid and invalid requests from /docs.json for every operation and checks
    each answer: no 5xx, a declared status and content type, a body matching its declared schema."""
    fuzz = [
        str(Path(sys.executable).parent / "st"), "run", f"{server.url}/docs.json", "--checks", "all",
        "--max-examples", "25", "--seed", "11", "--workers", "2", "--no-color", "--request-timeout", "10",
    ]  # fmt: skip
    # In the test's folder: schemathesis keeps a cache (.schemathesis/) where it runs.
    result = subprocess.run(fuzz, cwd=server.project.parent, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"\d+ generated, \d+ passed", result.stdout), result.stdout[-2000:]


def test_the_bento_carries_the_model_pinned_serving_packages_and_no_training_ones(server: Server) -> None:
    bento = server.home / "bentos" / NAME / BENTO_TAG.split(":")[1]
    manifest = yaml.safe_load((bento / "bento.yaml").read_text())
    assert [m["tag"] for m in manifest["services"][0]["models"]] == [model_tag(server.project / paths.BENTO_BUNDLE)]
    requirements = (bento / "env" / "python" / "requirements.txt").read_text().split()
    pinned = [line for line in requirements if not line.startswith(("#", ";")) and "==" in line]
    assert {"scikit-learn", "pandas", "bentoml"} <= {line.split("==")[0] for line in pinned}
    assert not {"dvc", "mlflow", "great-expectations"} & {line.split("==")[0] for line in pinned}
    shipped = sorted(p.relative_to(bento / "src").as_posix() for p in (bento / "src").rglob("*.py"))
    source = server.project / "src"
    serving = sorted(p.relative_to(source).as_posix() for p in (source / "gitops_ml" / "serving").glob("*.py"))
    assert shipped == ["gitops_ml/__init__.py", *serving]  # the serving folder, and of the rest only NAME
    assert (bento / "src" / "gitops_ml" / "serving" / "model_card.md").read_text().startswith("# Model card")
    size = sum(p.stat().st_size for p in bento.rglob("*") if p.is_file())
    assert size < 1_000_000


def test_the_container_image_logs_predictions_on_a_declared_volume(server: Server) -> None:
    """The Dockerfile the release builds from declares the volume and writes to it as its own user (the next test
    runs the image)."""
    dockerfile = (server.home / "bentos" / NAME / BENTO_TAG.split(":")[1] / "env" / "docker" / "Dockerfile").read_text()
    volume = "/var/lib/prediction-log"
    assert f"ARG GITOPS_ML_PREDICTION_LOG={volume}/predictions.jsonl" in dockerfile
    assert "ENV GITOPS_ML_PREDICTION_LOG=$GITOPS_ML_PREDICTION_LOG" in dockerfile
    lines = dockerfile.splitlines()
    declared = lines.index(f"VOLUME {volume}")
    assert any(f"chown bentoml:bentoml {volume}" in line for line in lines[:declared])  # writable by the service
    assert lines.index("USER bentoml") > declared


def answers_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
            return response.status == 200
    except OSError:  # not listening yet, or 503 while it starts
        return False


def test_the_release_image_runs_in_a_real_container_engine(
    server: Server, test_records: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built as the release builds it (steps.build_image on the exported Bento), then run: ready, the
    release's model, its predictions, the log on the declared volume, and a clean stop on SIGTERM."""
    engine, missing = container_engine.find()
    missing = missing or (container_engine.ensure_base_image(engine, tmp_path) if engine else "")
    if engine is None or missing:
        pytest.skip(missing)
    short = git(server.project, "rev-parse", "--short=7", "HEAD").strip()
    version = f"v2026.11.27-g{short}"
    dist = tmp_path / "dist"
    dist.mkdir()
    exported = dist / f"{NAME}-{version}.bento"
    subprocess.run(["bentoml", "export", BENTO_TAG, str(exported)], env=tool_env(server.project) | {
        "BENTOML_HOME": str(server.home)}, check=True, capture_output=True, timeout=300)  # fmt: skip
    (dist / "version.txt").write_text(version + "\n")
    monkeypatch.chdir(server.project)
    for name, value in {"DOCKER": engine.command, "GITHUB_REPOSITORY": "example/gitops-ml", **engine.env}.items():
        monkeypatch.setenv(name, value)
    tags = steps.build_image(dist)
    assert tags == [f"ghcr.io/example/gitops-ml:{version}", f"ghcr.io/example/gitops-ml:{short}"]

    volume = tmp_path / "volume"
    volume.mkdir(mode=0o777)
    volume.chmod(0o777)  # the image's user (uid 1034) writes there
    port = free_port()
    name = f"gitops-ml-test-{port}"
    started = engine.run("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:3000",
                         "-v", f"{volume}:/var/lib/prediction-log", tags[0])  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        contained = Server(f"http://127.0.0.1:{port}", server.project, server.home, volume, 0, None)  # type: ignore[arg-type]
        deadline = time.monotonic() + 120
        while not answers_ready(contained.url):
            assert time.monotonic() < deadline, engine.run("logs", name).stdout[-3000:]
            time.sleep(0.5)
        assert request(contained, "/model")[1]["model_tag"] == request(server, "/model")[1]["model_tag"]
        body = {"records": features_of(test_records.head(20))}
        status, answers = request(contained, "/predict_batch", body)
        assert status == 200
        unnamed = [
            {k: v for k, v in answer.items() if k != "id"} for answer in request(server, "/predict_batch", body)[1]
        ]
        assert [{k: v for k, v in answer.items() if k != "id"} for answer in answers] == unnamed  # ids: generated
        stopping = time.monotonic()
        assert engine.run("stop", "-t", "30", name, timeout=60).returncode == 0
        stopped_after = time.monotonic() - stopping
        exit_code = engine.run("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
        logs = engine.run("logs", name)
    finally:
        engine.run("rm", "-f", name)
        engine.run("rmi", *tags)
    assert exit_code == "0" and stopped_after < 20, (exit_code, stopped_after)  # drained, not killed at 30 s
    assert "Completed cleanup hook: _close_prediction_log" in logs.stdout + logs.stderr
    logged = prediction_log.read(volume / "predictions.jsonl")
    assert list(logged[prediction_log.ID_FIELD]) == [answer["id"] for answer in answers]


def test_concurrent_clients_are_all_served(server: Server, test_records: pd.DataFrame) -> None:
    """Batching under load: every request answered 200, none refused with 503."""
    from concurrent.futures import ThreadPoolExecutor

    body = {"records": features_of(test_records.head(1))}
    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(pool.map(lambda _: request(server, "/predict", body)[0], range(640)))
    assert set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}


def test_building_again_for_the_same_commit_reuses_the_bento(server: Server) -> None:
    result = subprocess.run(
        ["python", "-m", "gitops_ml", "bento", "--version", BENTO_TAG.split(":")[1]],
        cwd=server.project, env=tool_env(server.project), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(f"bento: {BENTO_TAG} is up to date")


def test_served_within_seconds_of_start(server: Server) -> None:
    # A generous bound for a loaded CI machine; `make bench` reports the measured figure.
    assert server.ready_seconds < 30


def test_sigterm_under_load_answers_every_request_sent_before_routing_stopped(
    server: Server, test_records: pd.DataFrame
) -> None:
    """Stops the server: the last test of this module to use it.

    32 clients send without pause. SIGTERM comes; like Kubernetes removing the pod from its endpoints,
    the clients stop sending once /readyz fails. Every request sent until then is answered 200 (none
    reset or refused), the server exits 0 and the prediction log holds every answered record.
    """
    import signal
    import threading

    body = {"records": features_of(test_records.head(5))}
    logged_before = len(settled_log(server))
    outcomes: list[int | str] = []
    routing = threading.Event()
    routing.set()

    def client() -> None:
        while routing.is_set():
            try:
                outcomes.append(request(server, "/predict_batch", body)[0])
            except (urllib.error.URLError, ConnectionError) as error:
                outcomes.append(type(getattr(error, "reason", error)).__name__)

    clients = [threading.Thread(target=client) for _ in range(32)]
    for thread in clients:
        thread.start()
    time.sleep(2)
    server.process.send_signal(signal.SIGTERM)
    signalled = len(outcomes)
    while routing.is_set():
        try:
            urllib.request.urlopen(server.url + "/readyz", timeout=5).close()
            time.sleep(0.05)
        except OSError:
            routing.clear()
    for thread in clients:
        thread.join(timeout=60)

    assert set(outcomes) == {200}, {o: outcomes.count(o) for o in set(outcomes)}
    assert len(outcomes) > signalled + 16, "the clients' requests in flight at SIGTERM are among those answered"
    assert server.process.wait(timeout=60) == 0
    served = server.log.read_text()
    assert "SIGTERM: not ready; serving on (at least 1.0 s, until no request for 1.0 s, at most 20.0 s)" in served
    stopped = re.search(r"drained: stopping ([\d.]+) s after SIGTERM, ([\d.]+) s after the last request", served)
    assert stopped and float(stopped[2]) >= 1.0, served[-3000:]
    assert len(logged(server, 0)) == logged_before + 5 * len(outcomes)


def start_up_output(server: Server, seconds: float = 60, **changes: str) -> subprocess.CompletedProcess[str]:
    """``bentoml serve`` of the Bento under test with changed environment, expected to end by itself."""
    return subprocess.run(
        ["bentoml", "serve", BENTO_TAG, "--host", "127.0.0.1", "--port", str(free_port())],
        cwd=server.project.parent, env=serving_env(server.project, **changes),
        capture_output=True, text=True, timeout=seconds,
    )  # fmt: skip


def stored_bundle(server: Server, name: str, model: bytes, recorded_md5: str | None = None) -> str:
    """A copy of the model bundle in the store with other model bytes; its tag."""
    import hashlib

    bundle = server.project.parent / name
    shutil.copytree(server.project / paths.BENTO_BUNDLE, bundle)
    (bundle / "model.joblib").write_bytes(model)
    metadata = json.loads((bundle / "metadata.json").read_text())
    metadata["model_md5"] = recorded_md5 or hashlib.md5(model).hexdigest()
    (bundle / "metadata.json").write_text(json.dumps(metadata))
    save = f"import pathlib, gitops_ml.pipeline.package as p; print(p.save_to_store(pathlib.Path({str(bundle)!r})))"
    result = subprocess.run(
        [sys.executable, "-c", save], env=tool_env(server.project), capture_output=True, text=True, check=True
    )
    return result.stdout.strip().splitlines()[-1]


def test_start_up_faults_end_the_server_with_one_line_naming_the_path_or_tag(server: Server) -> None:
    (server.project.parent / "a-file").write_text("not a folder")
    model = (server.project / paths.BENTO_BUNDLE / "model.joblib").read_bytes()
    recorded = json.loads((server.project / paths.BENTO_METADATA).read_text())["model_md5"]
    truncated = stored_bundle(server, "truncated", model[: len(model) // 2], recorded_md5=recorded)
    unreadable = stored_bundle(server, "unreadable", b"not a model")
    faults = {
        "log under a file": (
            {"GITOPS_ML_PREDICTION_LOG": str(server.project.parent / "a-file" / "p.jsonl")},
            rf"gitops-ml: prediction log {server.project.parent}/a-file/p.jsonl cannot be written: "
            r".*a-file is a file, not a folder",
        ),
        "log on a read-only file system": (
            {"GITOPS_ML_PREDICTION_LOG": "/sys/gitops-ml/p.jsonl"},
            r"gitops-ml: prediction log /sys/gitops-ml/p.jsonl cannot be written",
        ),
        "model not in the store": (
            {"GITOPS_ML_MODEL_TAG": "gitops-ml:not-in-the-store"},
            r"gitops-ml: model gitops-ml:not-in-the-store is not in the BentoML store",
        ),
        "model file cut short": (
            {"GITOPS_ML_MODEL_TAG": truncated},
            rf"gitops-ml: model {truncated} in the BentoML store is corrupt: .*model.joblib has MD5 \w+, "
            rf"the pipeline recorded {recorded}",
        ),
        "model file scikit-learn cannot read": (
            {"GITOPS_ML_MODEL_TAG": unreadable},
            rf"gitops-ml: cannot load model {unreadable} from .*model.joblib: \w+",
        ),
    }
    for name, (changes, line) in faults.items():
        ended = start_up_output(server, **changes)
        ours = [text for text in ended.stderr.splitlines() if text.startswith("gitops-ml:")]
        assert len(ours) == 1 and re.fullmatch(line + ".*", ours[0]), (name, ended.stderr[-3000:])
        assert "Traceback" not in ended.stderr, (name, ended.stderr[-3000:])


def test_a_full_disk_drops_log_records_counted_in_metrics_while_predictions_go_on(
    server: Server, test_records: pd.DataFrame
) -> None:
    with another_server(server, "full-disk", GITOPS_ML_PREDICTION_LOG="/dev/full") as full:
        for _ in range(3):
            assert request(full, "/predict_batch", {"records": features_of(test_records.head(4))})[0] == 200
        deadline = time.monotonic() + 10
        while scrape(full).get("gitops_ml_prediction_log_dropped_total", 0) < 12 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert scrape(full)["gitops_ml_prediction_log_dropped_total"] == 12
    warnings = [line for line in full.log.read_text().splitlines() if "prediction log /dev/full" in line]
    assert len(warnings) == 1 and "No space left on device" in warnings[0], warnings
    assert "Traceback" not in full.log.read_text()


def test_the_prediction_log_survives_a_rebuilt_bento(server: Server, test_records: pd.DataFrame) -> None:
    """After the server above stopped: the Bento is deleted and built again, served again, and the
    records logged before are still there, with the new ones after them."""
    before = len(settled_log(server))
    assert before > 0
    env = tool_env(server.project)
    subprocess.run(["bentoml", "delete", "--yes", BENTO_TAG], env=env, check=True, capture_output=True, timeout=120)
    build = ["python", "-m", "gitops_ml", "bento", "--version", BENTO_TAG.split(":")[1]]
    subprocess.run(build, cwd=server.project, env=env, check=True, capture_output=True, timeout=300)
    with another_server(server, "rebuilt", GITOPS_ML_PREDICTION_LOG=str(server.prediction_log)) as rebuilt:
        assert request(rebuilt, "/predict_batch", {"records": features_of(test_records.head(2))})[0] == 200
        assert len(logged(server, before + 2)) == before + 2


def log_ids(path: Path, count: int) -> list[str]:
    """The record ids of a prediction log once it holds at least ``count`` records (or after 30 s)."""
    return [str(i) for i in read_log_once(path, count, seconds=30).get(prediction_log.ID_FIELD, [])]


@pytest.fixture(scope="module")
def retrained(server: Server, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A Bento in the module's store of the same pipeline with ``train.linear.C`` so small that the model
    predicts the same class for every record: a candidate that should never reach production."""
    copy = shutil.copytree(server.project, tmp_path_factory.mktemp("constant") / "project", symlinks=True)
    edit_params(copy / "params.yaml", {"train.linear.C": 1e-6})
    env = unmeasured(tool_env(copy)) | {"BENTOML_HOME": str(server.home)}
    for command in (["dvc", "repro"], ["python", "-m", "gitops_ml", "bento", "--version", "constant"]):
        done = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
    return f"{NAME}:constant"


def test_a_shadow_candidate_gets_a_copy_logged_under_the_champions_ids_and_compare_live_joins_them(
    server: Server, retrained: str, test_records: pd.DataFrame, tmp_path: Path
) -> None:
    logs = {side: tmp_path / f"{side}.jsonl" for side in ("champion", "candidate")}
    with (
        another_server(server, "candidate", retrained, GITOPS_ML_PREDICTION_LOG=str(logs["candidate"])) as shadow,
        another_server(
            server, "champion", GITOPS_ML_PREDICTION_LOG=str(logs["champion"]), GITOPS_ML_SHADOW_URL=shadow.url
        ) as champion,
    ):
        with_ids = json.loads(test_records.head(40).drop(columns=["churned"]).to_json(orient="records"))
        status, answered = request(champion, "/predict_batch", {"records": with_ids})
        assert status == 200 and [a["id"] for a in answered] == list(test_records.head(40)["customer_id"])
        # Without an id column: the caller's X-Request-ID names the records; a hostile one is replaced.
        for header, rows in (("checkout-7", slice(40, 60)), ("../../etc passwd", slice(60, 70))):
            body = json.dumps({"records": features_of(test_records.iloc[rows])}).encode()
            sent = urllib.request.Request(champion.url + "/predict_batch", data=body, headers={
                "Content-Type": "application/json", "X-Request-ID": header})  # fmt: skip
            with urllib.request.urlopen(sent, timeout=30) as response:
                ids = [a["id"] for a in json.loads(response.read())]
            named = [i.startswith(f"{header}-") if header == "checkout-7" else ".." not in i for i in ids]
            assert all(named), ids
        for record in features_of(test_records.iloc[70:80]):
            assert request(champion, "/predict", {"records": record})[0] == 200
        champion_ids = log_ids(logs["champion"], 80)
        assert len(champion_ids) == 80 and "checkout-7-0" in champion_ids
        assert sorted(log_ids(logs["candidate"], 80)) == sorted(champion_ids)  # every copy, under the same ids
        assert scrape(champion)['gitops_ml_shadow_records_total{outcome="sent"}'] == 80
        assert "gitops_ml_shadow_records_total" not in str(scrape(shadow))  # the candidate copies nothing on

        # A candidate that is down costs the champion nothing but the copies, which are counted.
        shadow.process.terminate()
        shadow.process.wait(timeout=60)
        assert request(champion, "/predict_batch", {"records": features_of(test_records.head(3))})[0] == 200
        failed, deadline = 'gitops_ml_shadow_records_total{outcome="failed"}', time.monotonic() + 10
        while scrape(champion).get(failed, 0) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert scrape(champion)[failed] == 3

    outcomes = tmp_path / "outcomes.csv"
    test_records[["customer_id", "churned"]].to_csv(outcomes, index=False)
    compared = subprocess.run(
        ["python", "-m", "gitops_ml", "compare-live", "--champion", str(logs["champion"]), "--candidate",
         str(logs["candidate"]), "--outcomes", str(outcomes), "--out", str(tmp_path / "live.md")],
        cwd=server.project, env=tool_env(server.project), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert compared.returncode == 0, compared.stderr
    text = (tmp_path / "live.md").read_text()
    assert "80 records answered by both, joined by id: 96.4% of the champion's 83" in text  # 3 sent while it was down
    assert re.search(r"\| Same predicted class \| \d+\.\d\d% \|", text)
    labels = pd.Series([a["label"] for a in answered])
    champion_accuracy = (labels == test_records.head(40)["churned"].to_numpy()).mean()
    assert "On the 40 records whose outcome has arrived" in text  # those sent with their customer_id
    assert re.search(rf"\| accuracy \| {champion_accuracy:.4f} \| \d\.\d{{4}} \| [+-]\d\.\d{{4}} \|", text), text


PROMETHEUS = shutil.which("prometheus")
ANALYSIS = ROOT / "deploy" / "overlays" / "production" / "analysis.yaml"
DASHBOARDS = ROOT / "monitoring" / "grafana" / "dashboards"


@contextmanager
def prometheus_scraping(folder: Path, targets: dict[str, str]) -> Iterator[str]:
    """A real Prometheus scraping each server every second, labelled as Kubernetes pod discovery labels a
    canary's and the stable pods (``rollouts_pod_template_hash``)."""
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "gitops-ml", "static_configs": [
            {"targets": [url.removeprefix("http://")], "labels": {"rollouts_pod_template_hash": name}}
            for name, url in targets.items()]}],
    }  # fmt: skip
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = folder / "prometheus.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [str(PROMETHEUS), f"--config.file={folder / 'prometheus.yml'}", f"--storage.tsdb.path={folder / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}/-/ready", process, log, 60)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=60)


def promql(prometheus: str, query: str) -> list[float]:
    """The values of an instant query (Prometheus refuses a malformed one: the test fails with its reason)."""
    url = f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise AssertionError(f"Prometheus refused {query!r}: {error.read().decode()}") from None
    assert answer["status"] == "success", answer
    return [float(sample["value"][1]) for sample in answer["data"]["result"]]


def analysis(prometheus: str, canary: str) -> dict[str, tuple[float, bool]]:
    """Each metric of the AnalysisTemplate as Argo Rollouts runs it: its args filled in, the query's first
    value, and whether the success condition holds."""
    template = yaml.safe_load(ANALYSIS.read_text())["spec"]
    args = {"canary-hash": canary, "stable-hash": "stable"}
    measured = {}
    for metric in template["metrics"]:
        query = re.sub(r"{{args\.([\w-]+)}}", lambda m: args[m[1]], metric["provider"]["prometheus"]["query"])
        condition = re.fullmatch(r"result\[0\] (<=|>=) ([\d.]+)", metric["successCondition"])
        assert condition, f"{metric['name']}: a success condition this test does not read"
        [value] = promql(prometheus, query)
        limit = float(condition[2])
        measured[metric["name"]] = (value, value <= limit if condition[1] == "<=" else value >= limit)
    return measured


@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed (.ci/run installs Debian's)")
def test_the_canary_analysis_on_a_real_prometheus_passes_a_faithful_canary_and_fails_a_constant_one(
    server: Server, retrained: str, test_records: pd.DataFrame, tmp_path: Path
) -> None:
    # A canary of a release that predicts as production does (the same model), and the one-class model.
    tags = {"stable": BENTO_TAG, "faithful": BENTO_TAG, "constant": retrained}
    records = features_of(test_records)
    with contextlib.ExitStack() as running:
        servers = {
            name: running.enter_context(another_server(server, f"pods-{name}", tag, GITOPS_ML_PREDICTION_LOG="off"))
            for name, tag in tags.items()
        }
        prometheus = running.enter_context(prometheus_scraping(tmp_path, {n: v.url for n, v in servers.items()}))
        for served in servers.values():  # every counter exists before the traffic: rate() needs two samples
            assert request(served, "/predict_batch", {"records": records[:4]})[0] == 200
        time.sleep(3)
        for _ in range(4):
            for served in servers.values():
                for start in range(0, 200, 10):
                    assert request(served, "/predict", {"records": records[start : start + 10]})[0] == 200
            time.sleep(1)
        time.sleep(3)
        verdicts = {canary: analysis(prometheus, canary) for canary in ("faithful", "constant")}
        # The queries read real series, not their `or vector(0)` fallback.
        canary = 'rollouts_pod_template_hash="faithful"'
        answered = f'sum(rate(bentoml_service_request_total{{{canary},http_response_code="200"}}[2m]))'
        latency = f'bentoml_service_request_duration_seconds_bucket{{{canary},endpoint=~"/predict.*"}}'
        assert promql(prometheus, answered)[0] > 0
        assert promql(prometheus, f"histogram_quantile(0.99, sum by (le) (rate({latency}[2m])))")[0] > 0
        panels = {expr: promql(prometheus, expr.replace("$__rate_interval", "1m")) for expr in dashboard_queries()}

    assert all(passed for _, passed in verdicts["faithful"].values()), verdicts["faithful"]
    mix, mix_passed = verdicts["constant"]["predicted-class-mix"]
    assert not mix_passed and mix > 0.1, verdicts  # one class for every record: its mix is far from stable's
    assert verdicts["constant"]["server-error-share"] == (0.0, True) and verdicts["constant"]["p99-latency-seconds"][1]
    # Every panel's query is valid; each has data but the error shares (no request was answered 4xx or 5xx).
    assert [expr for expr, values in panels.items() if not values and '_code=~"' not in expr] == []


def dashboard_queries() -> list[str]:
    return [target["expr"] for path in sorted(DASHBOARDS.glob("*.json"))
            for panel in json.loads(path.read_text())["panels"] for target in panel.get("targets", [])]  # fmt: skip
