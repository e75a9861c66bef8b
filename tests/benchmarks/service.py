"""Service benchmark: our Bento against a minimal Starlette app and the in-process model, in one run.

Both servers run one worker on this machine and serve the same model; the load comes from an
asyncio client on the same host, so the ratios matter more than the absolute figures.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import joblib
import pandas as pd

from gitops_ml import NAME
from gitops_ml.core import paths
from gitops_ml.team.stack import free_port
from tests.support import copy_project, tool_env

CONCURRENCY = (1, 8, 32)
SECONDS_PER_LEVEL = 8.0
BATCH_ROWS = 1_000
TARGETS = {"p50_ratio": 1.5, "throughput_ratio_c32": 0.7, "batch_rows_per_second": 50_000, "ready_seconds": 5.0,
           "bento_bytes": 1_000_000, "log_cost": 0.10, "readyz_under_abuse_seconds": 1.0,
           "recovery_seconds": 5.0, "soak_rss_growth": 0.10}  # fmt: skip
# The soak's length: 10 minutes by default (BENCH_SOAK_SECONDS=0 skips it).
SOAK_SECONDS = float(os.environ.get("BENCH_SOAK_SECONDS", "600"))


def bench_bento(folder: Path) -> tuple[Path, dict[str, str], pd.DataFrame]:
    """The default pipeline run and built as ``gitops-ml:bench``: the project, its tools' environment,
    and the test set's features."""
    project = copy_project(folder / "service")
    env = tool_env(project)
    for command in (["dvc", "repro"], ["python", "-m", "gitops_ml", "bento", "--version", "bench"]):
        subprocess.run(command, cwd=project, env=env, check=True, capture_output=True)
    test = pd.read_parquet(project / paths.TEST_DATA)
    return project, env, test.drop(columns=["sample_id", "diagnosis"])


BENCH_BENTO = ["bentoml", "serve", f"{NAME}:bench", "--host", "127.0.0.1", "--port", "{port}"]


def run(folder: Path) -> dict[str, Any]:
    project, env, features = bench_bento(folder)
    record = json.loads(features.head(1).to_json(orient="records"))
    batch = json.loads(
        pd.concat([features] * (BATCH_ROWS // len(features) + 1)).head(BATCH_ROWS).to_json(orient="records")
    )
    serve_env = {k: v for k, v in env.items() if k != "PYTHONPATH"}

    results: dict[str, Any] = {"targets": TARGETS}
    ours_cmd = BENCH_BENTO
    floor_cmd = ["bentoml", "serve", "tests.benchmarks.startup_floor:StartupFloor", "--host", "127.0.0.1",
                 "--port", "{port}"]  # fmt: skip
    ready, floor = [], []
    for _ in range(3):  # interleaved, so both see the same load on the machine
        ready.append(time_to_ready(ours_cmd, serve_env, folder))
        floor.append(time_to_ready(floor_cmd, serve_env, Path.cwd()))
    results["ready_seconds"], results["ready_floor_seconds"] = statistics.median(ready), statistics.median(floor)
    bento = Path(env["BENTOML_HOME"]) / "bentos" / NAME / "bench"
    results["bento_bytes"] = sum(p.stat().st_size for p in bento.rglob("*") if p.is_file())
    results["in_process"] = in_process(project / paths.MODEL, features.head(1))

    minimal_cmd = [sys.executable, "-m", "uvicorn", "tests.benchmarks.minimal_app:app", "--workers", "1",
                   "--log-level", "warning"]  # fmt: skip
    minimal_env = {**os.environ, "GITOPS_ML_BENCH_MODEL": str(project / paths.MODEL)}
    with server([*minimal_cmd, "--port", "{port}", "--host", "127.0.0.1"], minimal_env, Path.cwd(), "/predict") as (
        url,
        _,
    ):
        results["minimal_app"] = load_levels(url + "/predict", {"records": record})
    # Access logs off, as for the minimal app (uvicorn at warning level); a dashed name needs quotes.
    quiet = serve_env | {"BENTOML_CONFIG_OPTIONS": f'services."{NAME}".logging.access.enabled=false'}
    off = quiet | {"GITOPS_ML_PREDICTION_LOG": "off"}
    # The prediction log on (as by default) and off, both up at once: their runs alternate, so that
    # both see the same machine.
    with (
        server(ours_cmd, quiet, folder, "/readyz") as (url, process),
        server(ours_cmd, off, folder, "/readyz") as (
            off_url,
            _,
        ),
    ):
        # First, while both servers have the same history: the load levels below run on the logging one only.
        on_off = alternating(url, off_url, record, batch)
        results["service"] = load_levels(url + "/predict", {"records": record})
        results["batch"], results["batch_prediction_log_off"] = on_off["batch"]
        results["prediction_log_on"], results["prediction_log_off"] = on_off["single"]
        results["prediction_log_batch_cost"] = on_off["batch_cost"]
        results["abuse"] = readyz_under_abuse(url, record)
        results["recovery"] = recovery_after_a_maximal_request(url, record, batch)
        if SOAK_SECONDS > 0:
            results["soak"] = soak(url + "/predict", {"records": record}, process.pid, SOAK_SECONDS)
    results["ratios"] = ratios(results)
    print_table(results)
    return results


def time_to_ready(command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.monotonic()
    with server(command, env, cwd, "/readyz"):
        return round(time.monotonic() - started, 2)


@contextmanager
def server(
    command: list[str], env: dict[str, str], cwd: Path, probe: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    process = subprocess.Popen(
        [part.replace("{port}", str(port)) for part in command],
        cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url + probe, process, method="GET" if probe == "/readyz" else "POST")
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=60)


def wait_until_up(url: str, process: subprocess.Popen[bytes], method: str = "GET") -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            data = b'{"records": []}' if method == "POST" else None
            with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers: up
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} not up after 120 s")


def in_process(model_path: Path, one_row: pd.DataFrame) -> dict[str, float]:
    model = joblib.load(model_path)
    frame = one_row[list(model.feature_names_in_)]
    latencies = []
    deadline = time.monotonic() + SECONDS_PER_LEVEL / 2
    while time.monotonic() < deadline:
        start = time.perf_counter()
        model.predict_proba(frame)
        latencies.append(time.perf_counter() - start)
    return summary(latencies, sum(latencies))


def load_levels(url: str, body: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {str(level): asyncio.run(load(url, body, level)) for level in CONCURRENCY}


async def load(
    url: str, body: dict[str, Any], concurrency: int, seconds: float = SECONDS_PER_LEVEL
) -> dict[str, float]:
    payload = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    latencies: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        for _ in range(concurrency * 5):  # warm-up: connections open, batching settled
            await client.post(url, content=payload, headers=headers)
        deadline = time.monotonic() + seconds

        async def worker() -> None:
            nonlocal failures
            while time.monotonic() < deadline:
                start = time.perf_counter()
                try:
                    response = await client.post(url, content=payload, headers=headers)
                except httpx.HTTPError:  # a dropped connection counts against the server, not the run
                    failures += 1
                    continue
                latencies.append(time.perf_counter() - start)
                failures += response.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return summary(latencies, elapsed) | {"failures": failures}


def alternating(on: str, off: str, record: list[Any], batch: list[Any], rounds: int = 8) -> dict[str, Any]:
    """The prediction log's cost: the same loads on the server logging and the one not, taking turns.

    The cost is the median over rounds of each round's own ratio, so that a slower spell of the
    machine weighs on both sides of a ratio rather than on one server.
    """
    batches: dict[str, list[dict[str, float]]] = {on: [], off: []}
    singles: dict[str, list[dict[str, float]]] = {on: [], off: []}
    for _ in range(rounds):
        for url in (on, off):
            batches[url].append(batch_throughput(url + "/predict_batch", {"records": batch}))
            singles[url].append(asyncio.run(load(url + "/predict", {"records": record}, 1, 2.0)))

    def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
        return {key: round(statistics.median(run[key] for run in runs), 2) for key in runs[0]}

    paired = [1 - a["rows_per_second"] / b["rows_per_second"] for a, b in zip(batches[on], batches[off], strict=True)]
    return {
        "batch": (median_of(batches[on]), median_of(batches[off])),
        "single": ({"1": median_of(singles[on])}, {"1": median_of(singles[off])}),
        "batch_cost": round(statistics.median(paired), 3),
    }


def batch_throughput(url: str, body: dict[str, Any]) -> dict[str, float]:
    payload = json.dumps(body).encode()
    latencies = []
    with httpx.Client(timeout=60) as client:
        for round_ in range(22):
            start = time.perf_counter()
            response = client.post(url, content=payload, headers={"Content-Type": "application/json"})
            if round_ >= 2:  # two warm-up rounds
                latencies.append(time.perf_counter() - start)
            response.raise_for_status()
    median = statistics.median(latencies)
    return {"rows": BATCH_ROWS, "p50_ms": round(median * 1000, 2), "rows_per_second": round(BATCH_ROWS / median)}


def readyz_under_abuse(url: str, record: list[dict[str, Any]], rounds: int = 5) -> dict[str, float]:
    """The worst /readyz latency while the costliest bad request runs: every field of every one of the
    maximal number of records wrong (a problem per field to find, count and bound), sent back to back."""
    import threading

    wrong = {name: "x" if isinstance(value, int | float) else 1 for name, value in record[0].items()}
    payload = json.dumps({"records": [wrong] * 1_000}).encode()
    probes: list[float] = []
    done = threading.Event()

    def probe() -> None:
        with httpx.Client(timeout=30) as client:
            while not done.is_set():
                start = time.perf_counter()
                client.get(url + "/readyz")
                probes.append(time.perf_counter() - start)
                time.sleep(0.01)

    prober = threading.Thread(target=probe)
    prober.start()
    bad: list[float] = []
    with httpx.Client(timeout=60) as client:
        for _ in range(rounds):
            start = time.perf_counter()
            status = client.post(url + "/predict_batch", content=payload, headers={"Content-Type": "application/json"})
            bad.append(time.perf_counter() - start)
            assert status.status_code == 400, status.text[:200]
    done.set()
    prober.join()
    return {"bad_request_bytes": len(payload), "bad_request_p50_ms": round(statistics.median(bad) * 1000, 1),
            "readyz_max_ms": round(max(probes) * 1000, 1), "readyz_probes": len(probes)}  # fmt: skip


def recovery_after_a_maximal_request(url: str, record: list[dict[str, Any]], batch: list[Any]) -> dict[str, float]:
    """Lone-request latency before and after one maximal /predict (BentoML's batcher learns from it)."""
    headers = {"Content-Type": "application/json"}
    one, maximal = json.dumps({"records": record}).encode(), json.dumps({"records": batch}).encode()
    with httpx.Client(timeout=60) as client:

        def lone(seconds: float) -> list[tuple[float, float]]:
            timed, started = [], time.perf_counter()
            while time.perf_counter() - started < seconds:
                start = time.perf_counter()
                client.post(url + "/predict", content=one, headers=headers).raise_for_status()
                timed.append((start - started, time.perf_counter() - start))
            return timed

        before = statistics.median(latency for _, latency in lone(3))
        client.post(url + "/predict", content=maximal, headers=headers).raise_for_status()
        after = lone(10)
    # Recovered once every half-second window after it has a median within twice the p50 before.
    windows: dict[int, list[float]] = {}
    for at, latency in after:
        windows.setdefault(int(at * 2), []).append(latency)
    slow = [(window + 1) / 2 for window, latencies in windows.items() if statistics.median(latencies) > 2 * before]
    return {"p50_before_ms": round(before * 1000, 2),
            "p50_first_second_after_ms": round(statistics.median(lat for at, lat in after if at < 1) * 1000, 2),
            "p50_after_5s_ms": round(statistics.median(lat for at, lat in after if at >= 5) * 1000, 2),
            "recovery_seconds": round(max(slow, default=0.0), 2)}  # fmt: skip


def soak(url: str, body: dict[str, Any], pid: int, seconds: float) -> dict[str, float]:
    """Resident memory of the server's processes under c=32 for ``seconds``: sampled every tenth of it."""
    import psutil

    def rss() -> int:
        root = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])

    samples = [rss()]
    requests = 0
    for _ in range(10):
        level = asyncio.run(load(url, body, 32, seconds / 10))
        requests += int(level["requests"])
        samples.append(rss())
    # From the first tenth on: the first requests grow caches that then stay.
    growth = (samples[-1] - samples[1]) / samples[1]
    return {"seconds": seconds, "requests": requests, "rss_mb": [round(s / 1e6, 1) for s in samples],
            "rss_growth_after_warm_up": round(growth, 3)}  # fmt: skip


def summary(latencies: list[float], elapsed: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "p50_ms": round(ordered[len(ordered) // 2] * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        "requests_per_second": round(len(ordered) / elapsed, 1),
    }


def ratios(results: dict[str, Any]) -> dict[str, float]:
    ours, floor = results["service"], results["minimal_app"]
    figures: dict[str, float] = {}
    for c in CONCURRENCY:
        mine, base = ours[str(c)], floor[str(c)]
        figures[f"p50_ratio_c{c}"] = round(mine["p50_ms"] / base["p50_ms"], 2)
        figures[f"throughput_ratio_c{c}"] = round(mine["requests_per_second"] / base["requests_per_second"], 2)
    return figures


def print_table(results: dict[str, Any]) -> None:
    print("\nService benchmark (single record per request; client on the same 2 cores)")
    print(f"{'':<22}{'conc.':>6}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}{'fails':>7}")
    for name in ("service", "minimal_app"):
        for level, row in results[name].items():
            print(
                f"{name:<22}{level:>6}{row['p50_ms']:>9}{row['p99_ms']:>9}{row['requests_per_second']:>9}{row['failures']:>7}"
            )
    row = results["in_process"]
    print(
        f"{'in-process predict':<22}{'1':>6}{row['p50_ms']:>9}{row['p99_ms']:>9}{row['requests_per_second']:>9}{'':>7}"
    )
    r, t = results["ratios"], TARGETS
    print(
        "\np50 vs minimal app: "
        + ", ".join(f"c{c} {r[f'p50_ratio_c{c}']}x" for c in CONCURRENCY)
        + f" (target <= {t['p50_ratio']}x)"
    )
    print("throughput vs minimal app: " + ", ".join(f"c{c} {r[f'throughput_ratio_c{c}']}x" for c in CONCURRENCY)
          + f" (target at c32 >= {t['throughput_ratio_c32']}x)")  # fmt: skip
    batch = results["batch"]
    print(f"1,000-record batch: p50 {batch['p50_ms']} ms, {batch['rows_per_second']:,} rows/s (target >= 50,000)")
    print(f"ready after {results['ready_seconds']} s (target <= 5); a BentoML service that only imports "
          f"scikit-learn: {results['ready_floor_seconds']} s")  # fmt: skip
    print(f"Bento without the model: {results['bento_bytes']:,} bytes (target < 1,000,000)")
    on, off = results["prediction_log_on"]["1"]["p50_ms"], results["prediction_log_off"]["1"]["p50_ms"]
    batch_off = results["batch_prediction_log_off"]["rows_per_second"]
    cost = results["prediction_log_batch_cost"]
    print(f"prediction log: c1 p50 {on} ms on, {off} ms off ({on / off:.2f}x); 1,000-record batch "
          f"{results['batch']['rows_per_second']:,} rows/s on, {batch_off:,} off: costs {cost:.1%} "
          f"(median of paired rounds; target <= {t['log_cost']:.0%})")  # fmt: skip
    abuse = results["abuse"]
    print(f"/readyz while a maximal bad request ({abuse['bad_request_bytes']:,} bytes, answered 400 in "
          f"{abuse['bad_request_p50_ms']} ms) runs: worst {abuse['readyz_max_ms']} ms of {abuse['readyz_probes']} "
          f"probes (target < {t['readyz_under_abuse_seconds']:.0f} s)")  # fmt: skip
    rec = results["recovery"]
    print(f"lone /predict after a maximal one: p50 {rec['p50_before_ms']} ms before, "
          f"{rec['p50_first_second_after_ms']} ms in the first second, {rec['p50_after_5s_ms']} ms after 5 s; "
          f"half-second medians > 2x until {rec['recovery_seconds']} s "
          f"(target <= {t['recovery_seconds']:.0f} s)")  # fmt: skip
    if "soak" in results:
        soak_ = results["soak"]
        print(f"soak at c32 for {soak_['seconds']:.0f} s ({soak_['requests']:,} requests): RSS "
              f"{' -> '.join(map(str, soak_['rss_mb'][1::3]))} MB, {soak_['rss_growth_after_warm_up']:+.1%} "
              f"after the first tenth (target <= {t['soak_rss_growth']:+.0%})")  # fmt: skip
