"""The floor: the smallest reasonable Starlette app serving the same model (parse, frame, predict, JSON).

Stands in for "a Python HTTP service here" in ``make bench``: our service is compared with it.
Run as ``uvicorn tests.benchmarks.minimal_app:app`` with ``GITOPS_ML_BENCH_MODEL`` naming the joblib file.
"""

from __future__ import annotations

import os

import joblib
import pandas as pd
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

model = joblib.load(os.environ["GITOPS_ML_BENCH_MODEL"])
columns = list(model.feature_names_in_)


async def predict(request: Request) -> JSONResponse:
    records = (await request.json())["records"]
    probability = model.predict_proba(pd.DataFrame.from_records(records, columns=columns))[:, 1]
    return JSONResponse([{"probability": float(p)} for p in probability])


app = Starlette(routes=[Route("/predict", predict, methods=["POST"])])
