"""Shadow benchmark: what copying every model call to a candidate costs the champion's answers.

Two champions serve the same Bento with the prediction log on, one with ``GITOPS_ML_SHADOW_URL``
set; they take turns under the same loads, and the cost is the median over rounds of each round's
own latency ratio (the machine's slower spells weigh on both sides). The candidate is a sink that
answers at once: in a cluster it runs on its own pods, so what it computes is not the champion's
cost; here, on the same two cores, it would be.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gitops_ml import NAME
from tests.benchmarks.service import BENCH_BENTO, bench_bento, load, server

LEVELS = (1, 8)
ROUNDS, SECONDS_PER_TURN = 12, 2.0
TARGET_COST = 0.05


async def _sink(request: Request) -> Response:
    await request.body()
    return Response(b"[]", media_type="application/json")


sink = Starlette(routes=[Route("/predict_batch", _sink, methods=["POST"])])


def run(folder: Path) -> dict[str, Any]:
    _, env, features = bench_bento(folder)
    body = {"records": json.loads(features.head(1).to_json(orient="records"))}
    serve_env = {k: v for k, v in env.items() if k != "PYTHONPATH"}
    quiet = serve_env | {"BENTOML_CONFIG_OPTIONS": f'services."{NAME}".logging.access.enabled=false'}
    sink_cmd = [sys.executable, "-m", "uvicorn", "tests.benchmarks.shadow:sink", "--host", "127.0.0.1",
                "--port", "{port}", "--log-level", "warning"]  # fmt: skip
    with server(sink_cmd, {**serve_env, "PYTHONPATH": str(Path.cwd())}, Path.cwd(), "/predict_batch") as (sink_url, _):
        shadowed = quiet | {"GITOPS_ML_SHADOW_URL": sink_url}
        with (
            server(BENCH_BENTO, quiet, folder, "/readyz") as (plain, _),
            server(BENCH_BENTO, shadowed, folder, "/readyz") as (copying, _),
        ):
            runs: dict[int, dict[str, list[dict[str, float]]]] = {c: {"off": [], "on": []} for c in LEVELS}
            for round_ in range(ROUNDS):
                for level in LEVELS:
                    turns = [("off", plain), ("on", copying)]
                    for side, url in turns if round_ % 2 else turns[::-1]:  # neither always goes first
                        runs[level][side].append(asyncio.run(load(url + "/predict", body, level, SECONDS_PER_TURN)))
    results: dict[str, Any] = {"target_cost": TARGET_COST}
    for level, sides in runs.items():
        paired = [on["p50_ms"] / off["p50_ms"] - 1 for on, off in zip(sides["on"], sides["off"], strict=True)]
        results[f"c{level}"] = {
            "p50_ms_without": round(statistics.median(r["p50_ms"] for r in sides["off"]), 2),
            "p50_ms_with": round(statistics.median(r["p50_ms"] for r in sides["on"]), 2),
            "p99_ms_without": round(statistics.median(r["p99_ms"] for r in sides["off"]), 2),
            "p99_ms_with": round(statistics.median(r["p99_ms"] for r in sides["on"]), 2),
            "p50_cost": round(statistics.median(paired), 3),
        }
    print_table(results)
    return results


def print_table(results: dict[str, Any]) -> None:
    print("\nShadow copy's cost to the champion (/predict, one record per request; paired rounds)")
    print(f"{'conc.':>6}{'p50 without':>13}{'p50 with':>10}{'p99 without':>13}{'p99 with':>10}{'p50 cost':>10}")
    for level in LEVELS:
        row = results[f"c{level}"]
        print(f"{level:>6}{row['p50_ms_without']:>13}{row['p50_ms_with']:>10}{row['p99_ms_without']:>13}"
              f"{row['p99_ms_with']:>10}{row['p50_cost']:>10.1%}")  # fmt: skip
    print(f"target: p50 cost <= {results['target_cost']:.0%}")
