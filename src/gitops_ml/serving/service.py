"""The BentoML service: the pipeline's model behind a typed, validated, observable HTTP API.

Routes: ``POST /predict`` (one or a few records per request; concurrent requests share model calls),
``POST /predict_batch`` (up to ``GITOPS_ML_MAX_RECORDS`` records in one call), ``GET /model``
(what is being served), ``GET /model/card`` (its model card, Markdown), plus BentoML's ``/docs``,
``/healthz``, ``/livez``, ``/readyz`` and ``/metrics``. A client's mistake is answered 4xx with the
field and the reason and logged as one line; it never produces a 500. Ships in the Bento: imports
only serving packages.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import MutableMapping
from pathlib import Path
from typing import Annotated, Any, NoReturn, cast

import bentoml
import orjson
from pydantic import ConfigDict, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gitops_ml import NAME
from gitops_ml.serving import prediction_log
from gitops_ml.serving.answers import Answerer, value_buckets
from gitops_ml.serving.api_schema import (
    openapi_document,
    prediction_model,
    record_ids,
    record_model,
    records_columns,
    records_frame,
    records_type,
)
from gitops_ml.serving.batching import Batcher
from gitops_ml.serving.drain import Drain, DrainPolicy, DrainSettingError
from gitops_ml.serving.prometheus import observe_all
from gitops_ml.serving.shadow import REQUEST_ID_HEADER, RUNS_HEADER, Shadow, ShadowError, expand, parse_runs, request_id

# Under BentoML's logger, so that its handlers and level (INFO) apply.
logger = logging.getLogger("bentoml.gitops_ml")
MAX_RECORDS = int(os.environ.get("GITOPS_ML_MAX_RECORDS", "1000"))
MAX_BATCH_RECORDS = 256  # records per model call from joined /predict requests (one larger request goes alone)
# Generous per-record allowance for JSON; a body larger than this is refused before it is parsed.
MAX_BODY_BYTES = MAX_RECORDS * 4096
BUILD_INFO = Path(__file__).with_name("build_info.json")
MODEL_CARD = Path(__file__).with_name("model_card.md")
# Written by `python -m gitops_ml bento` and fixed for the Bento's life: read once.
BUILD: dict[str, Any] = json.loads(BUILD_INFO.read_text()) if BUILD_INFO.is_file() else {}
# The model this Bento was built with (build_info.json; the build sets the variable): never whichever
# model of the name is newest in the store.
MODEL_TAG = os.environ.get("GITOPS_ML_MODEL_TAG") or BUILD.get("model_tag", "")


def _model(tag: str) -> Any:
    """The Bento's model in the store; a start-up that cannot have it ends with one line naming the tag."""
    if not tag:
        raise SystemExit("gitops-ml: no model tag (GITOPS_ML_MODEL_TAG, or build_info.json in the Bento)")
    try:
        reference = bentoml.models.BentoModel(tag)
        reference.stored.info  # noqa: B018 (resolves the tag in the store now, not at the first request)
    except Exception as error:  # BentoML's NotFound, or a store it cannot read
        raise SystemExit(f"gitops-ml: model {tag} is not in the BentoML store: {error}") from None
    return reference


def _checked_prediction_log_path() -> None:
    """Fix the prediction log's path, or end start-up with one line naming it (read-only, a file for a folder).

    A relative path is taken under BentoML's home folder: the service runs in the Bento's folder in
    the store, which a rebuild deletes, and the records with it.
    """
    path = prediction_log.configured_path()
    if path is None:
        return
    if not path.is_absolute():
        path = Path(os.environ.get("BENTOML_HOME", "~/bentoml")).expanduser().absolute() / path
        os.environ[prediction_log.PATH_VARIABLE] = str(path)
    try:
        prediction_log.check_writable(path)
    except prediction_log.PredictionLogError as error:
        raise SystemExit(f"gitops-ml: {error} (set GITOPS_ML_PREDICTION_LOG to a writable file, or off)") from None


def _drain() -> Drain:
    """How the service stops on SIGTERM (drain.py), or start-up ends with one line naming the variable."""
    try:
        return Drain(DrainPolicy.from_environment())
    except DrainSettingError as error:
        raise SystemExit(f"gitops-ml: {error}") from None


def _checked_model_file(reference: Any, metadata: dict[str, Any]) -> Path:
    """The model file, whole: its MD5 must be the one the pipeline recorded, or start-up ends naming both."""
    import hashlib

    path = Path(reference.stored.path_of("model.joblib"))
    try:
        digest = hashlib.md5(path.read_bytes()).hexdigest()
    except OSError as error:
        raise SystemExit(f"gitops-ml: model {reference.tag}: cannot read {path}: {error.strerror}") from None
    if digest != metadata["model_md5"]:
        raise SystemExit(
            f"gitops-ml: model {reference.tag} in the BentoML store is corrupt: {path} has MD5 {digest}, "
            f"the pipeline recorded {metadata['model_md5']}"
        )
    return path


model_ref = _model(MODEL_TAG)
METADATA: dict[str, Any] = model_ref.stored.info.metadata
FEATURES: list[dict[str, Any]] = METADATA["features"]
ID_COLUMNS: list[str] = list(METADATA.get("id_columns", []))
MODEL_FILE = _checked_model_file(model_ref, METADATA)
_checked_prediction_log_path()
DRAIN = _drain()
Record = record_model(FEATURES, ID_COLUMNS)
OneOrMoreRecords = records_type(Record, MAX_RECORDS)
# Plain list for the bulk route: a one-or-list union makes pydantic parse the JSON twice.
Records = Annotated[list[Record], Field(min_length=1, max_length=MAX_RECORDS)]  # type: ignore[valid-type]


class PredictInput(bentoml.IODescriptor):  # type: ignore[misc]
    """``{"records": ...}`` and nothing else: an unknown top-level key is a 400 naming it."""

    model_config = ConfigDict(extra="forbid")
    records: OneOrMoreRecords  # type: ignore[valid-type]


class PredictBatchInput(bentoml.IODescriptor):  # type: ignore[misc]
    model_config = ConfigDict(extra="forbid")
    records: Records


ANSWERER = Answerer(METADATA)
Prediction = prediction_model(ANSWERER.task, [str(label) for label in ANSWERER.classes])
PREDICTED = bentoml.metrics.Counter(
    name="gitops_ml_predictions", documentation="Records predicted, by predicted class", labelnames=["label"]
)
PROBABILITY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)
# The task's histogram of predictions: what the dashboard draws.
OBSERVED = {
    "binary": lambda: bentoml.metrics.Histogram(
        name="gitops_ml_positive_probability",
        documentation="Predicted probability of the positive class",
        buckets=PROBABILITY_BUCKETS,
    ),
    "multiclass": lambda: bentoml.metrics.Histogram(
        name="gitops_ml_predicted_class_probability",
        documentation="Probability of the predicted (most probable) class",
        buckets=PROBABILITY_BUCKETS,
    ),
    "regression": lambda: bentoml.metrics.Histogram(
        name="gitops_ml_predicted_value",
        documentation="Predicted value; the buckets span the training range of the target",
        buckets=value_buckets(METADATA.get("target_range")),
    ),
}[ANSWERER.task]()
BATCHED = bentoml.metrics.Histogram(
    name="gitops_ml_batched_requests",
    documentation="Requests to /predict answered by one model call",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
LOG_DROPPED = bentoml.metrics.Counter(
    name="gitops_ml_prediction_log_dropped",
    documentation="Predicted records the prediction log could not write (see the service's warnings)",
)
SHADOW_RECORDS = bentoml.metrics.Counter(
    name="gitops_ml_shadow_records",
    documentation="Records copied to the shadow candidate (GITOPS_ML_SHADOW_URL), by outcome: sent, failed, dropped",
    labelnames=["outcome"],
)


class ClientErrorLogFilter(logging.Filter):
    """BentoML logs a rejected request at ERROR with a traceback; log a client's mistake as one warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and _is_client_error(error):
            path = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.msg, record.args = "client error on %s: %s", (path, _one_line(error))
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _is_client_error(error: BaseException) -> bool:
    from pydantic import ValidationError

    code = getattr(getattr(error, "error_code", None), "value", 500)
    return isinstance(error, ValidationError) or 400 <= code < 500


def _one_line(error: BaseException) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        return "; ".join(": ".join(filter(None, [".".join(map(str, e["loc"])), e["msg"]])) for e in errors())
    return str(error).replace("\n", " ")


class RequestGuard:
    """Limits that hold on every request to the prediction routes, before BentoML sees it.

    - JSON only: another content type (a multipart body without a boundary crashed BentoML's parser
      with a 500) is answered 415.
    - The body is counted as it streams in, with or without ``Content-Length`` (chunked bodies
      too); past the limit reading stops and the answer is 413. The body is then handed on whole.
    - A 4xx answer from BentoML is bounded: its first ``MAX_ERRORS_SHOWN`` problems, each field
      path part and message cut short, and the count of the rest; the input is never echoed.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, paths: tuple[str, ...]) -> None:
        self.app, self.max_bytes, self.paths = app, max_bytes, paths
        self._document: bytes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            DRAIN.saw(scope["path"])
        if scope["type"] == "http" and scope["path"] == "/readyz" and DRAIN.draining:
            await JSONResponse({"error": "shutting down"}, 503)(scope, receive, send)
            return
        if scope["type"] == "http" and scope["path"] == "/docs.json" and scope["method"] in ("GET", "HEAD"):
            await Response(self.document(), media_type="application/json")(scope, receive, send)
            return
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if media_type != b"application/json":
            shown = media_type.decode(errors="replace")[:60] or "none"
            await client_error(415, "unsupported media type", f"expected application/json, got {shown}")(
                scope, receive, send
            )
            return
        body = await self._read(receive)
        if body is None:
            limit = f"request body over the limit of {self.max_bytes} bytes"
            await client_error(413, "payload too large", limit)(scope, receive, send)
            return
        await self.app(scope, _replay(body), _bounded_errors(send))

    def document(self) -> bytes:
        """The OpenAPI document (``/docs.json``) as the guarded routes really answer; made once."""
        if self._document is None:
            limits = f"Limits: {MAX_RECORDS} records, {self.max_bytes} bytes of JSON per request."
            spec = ModelService.openapi_spec.asdict()  # type: ignore[attr-defined]
            self._document = json.dumps(openapi_document(spec, self.paths, limits)).encode()
        return self._document

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it passes the limit (the rest is not read)."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


MAX_ERRORS_SHOWN = 5
VALIDATION_ERROR = re.compile(r"\d+ validation errors? for ")
MAX_TEXT = 120


def client_error(status: int, error: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"error": error, "detail": [{"loc": [], "msg": detail, "type": error.replace(" ", "_")}]}, status
    )


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> MutableMapping[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _bounded_errors(send: Send) -> Send:
    """Pass the response on; a 4xx JSON one is rewritten to at most MAX_ERRORS_SHOWN short problems."""
    held: dict[str, MutableMapping[str, Any]] = {}
    chunks: list[bytes] = []

    async def bounded(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start" and 400 <= message["status"] < 500:
            held["start"] = message
            return
        if "start" not in held or message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = _shorten(b"".join(chunks))
        headers = [(k, v) for k, v in held["start"]["headers"] if k.lower() != b"content-length"]
        await send({**held["start"], "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    return bounded


def _shorten(body: bytes) -> bytes:
    try:
        answer = json.loads(body)
    except ValueError:
        return body[:1000]
    answer = answer[0] if isinstance(answer, list) and len(answer) == 1 and isinstance(answer[0], dict) else answer
    if not isinstance(answer, dict):
        return body[:1000]
    detail = answer.get("detail")
    problems = detail if isinstance(detail, list) else [{"loc": [], "msg": str(detail or answer.get("error", ""))}]
    shown = [
        {
            "loc": [part if isinstance(part, int) else str(part)[:MAX_TEXT] for part in problem.get("loc", [])][:10],
            "msg": str(problem.get("msg", ""))[:MAX_TEXT],
            "type": str(problem.get("type", ""))[:MAX_TEXT],
        }
        for problem in problems[:MAX_ERRORS_SHOWN]
        if isinstance(problem, dict)
    ]
    error = str(answer.get("error", ""))
    # BentoML names its input model ("2 validation errors for PredictBatchInput"): one wording for both routes.
    error = "invalid request" if VALIDATION_ERROR.match(error) else error[:MAX_TEXT]
    bounded: dict[str, Any] = {"error": error, "detail": shown}
    if len(problems) > MAX_ERRORS_SHOWN:
        bounded["more"] = len(problems) - MAX_ERRORS_SHOWN
    return json.dumps(bounded).encode()


def model_info(_: Request) -> JSONResponse:
    keys = ("name", "model_md5", "target", "task", "classes", "positive_class", "negative_class", "threshold",
            "target_range", "metrics", "params", "data")  # fmt: skip
    return JSONResponse(
        {
            "model_tag": str(model_ref.tag),
            **{key: METADATA[key] for key in keys if key in METADATA},
            "features": FEATURES,
            "build": BUILD,
        }
    )


def model_card(_: Request) -> Response:
    if not MODEL_CARD.is_file():
        return JSONResponse({"error": "not found", "detail": "this Bento was built without a model card"}, 404)
    return Response(MODEL_CARD.read_text(), media_type="text/markdown; charset=utf-8")


logging.getLogger("bentoml._internal.server.http_app").addFilter(ClientErrorLogFilter())


# Mounted at the root after BentoML's own routes, so it adds GET /model and shadows nothing.
@bentoml.asgi_app(
    Starlette(routes=[Route("/model", model_info, methods=["GET"]), Route("/model/card", model_card, methods=["GET"])]),
    path="/",
)
@bentoml.service(name=NAME, workers=1, traffic={"timeout": 30})
class ModelService:
    model = model_ref

    def __init__(self) -> None:
        # Here, not at the top: the launcher process imports this module too and never loads the model.
        import joblib

        try:
            self.pipeline = joblib.load(MODEL_FILE)
        except Exception as error:  # a file this scikit-learn cannot read, though its checksum is right
            _end_start_up(f"gitops-ml: cannot load model {MODEL_TAG} from {MODEL_FILE}: {type(error).__name__} {error}")
        try:
            self.prediction_log = prediction_log.PredictionLog.from_environment(on_dropped=LOG_DROPPED.inc)
        except prediction_log.PredictionLogError as error:
            _end_start_up(f"gitops-ml: {error}")
        try:
            self.shadow = Shadow.from_environment(
                lambda outcome, count: SHADOW_RECORDS.labels(outcome=outcome).inc(count)
            )
        except ShadowError as error:
            _end_start_up(f"gitops-ml: {error}")
        # Modules and model live as long as the process: keeping them out of the garbage collector's
        # full passes removes the long pauses that otherwise hit an occasional request.
        gc.freeze()
        DRAIN.install()
        self.batcher = Batcher(self._predict, MAX_BATCH_RECORDS, lambda requests, _: BATCHED.observe(requests))
        log_path = self.prediction_log.path if self.prediction_log is not None else "off"
        logger.info("serving model %s (MD5 %s); prediction log: %s", MODEL_TAG, METADATA["model_md5"], log_path)

    # The routes are async so the model runs on the event loop: a predict takes a few milliseconds, and
    # handing each one to a thread (and the GIL back and forth) cost more than that (the benchmark's
    # throughput at 32 clients; docs/benchmarks.md). Concurrent requests are joined by our Batcher
    # (batching.py), not BentoML's adaptive batcher, whose learnt waits kept lone requests waiting for
    # minutes after a burst.
    @bentoml.api(input_spec=PredictInput)
    async def predict(self, records: OneOrMoreRecords) -> list[Prediction]:  # type: ignore[valid-type]
        """Predict one record, or a few, per request; concurrent requests are batched together."""
        return self._answer(await self.batcher(records))

    @bentoml.api(input_spec=PredictBatchInput)
    async def predict_batch(self, records: Records, ctx: bentoml.Context) -> list[Prediction]:  # type: ignore[valid-type]
        """Predict up to GITOPS_ML_MAX_RECORDS records in one call. A record without an id column gets the id
        `<X-Request-ID>-<position>` when the request sends that header (letters, digits, `._-`; at most 64
        characters), else a generated one."""
        headers = ctx.request.headers
        return self._answer(self._predict(records, headers.get(REQUEST_ID_HEADER), headers.get(RUNS_HEADER)))

    def _predict(
        self, records: list[dict[str, Any]], sent_id: str | None = None, sent_runs: str | None = None
    ) -> list[dict[str, Any]]:
        columns = records_columns(records, FEATURES)
        started = time.perf_counter()
        answers = ANSWERER(self.pipeline, records_frame(columns))
        model_ms = (time.perf_counter() - started) * 1000
        if answers.labels is not None:
            for label, count in Counter(map(str, answers.labels)).items():
                PREDICTED.labels(label=label).inc(count)
        if answers.observed is not None:
            observe_all(OBSERVED, answers.observed)
        runs = parse_runs(sent_runs, len(records)) or [
            (request_id(sent_id, lambda: uuid.uuid4().hex[:16]), len(records))
        ]
        ids = record_ids(records, ID_COLUMNS, expand(runs))
        if self.prediction_log is not None:
            # The arrays the model read (orjson copies NumPy arrays whole), the ids as sent, the predictions.
            columns |= {name: [record.get(name) for record in records] for name in ID_COLUMNS}
            timing = {prediction_log.MODEL_MS_FIELD: [round(model_ms, 3)] * len(records)}
            self.prediction_log.add(columns | {prediction_log.ID_FIELD: ids} | answers.logged | timing)
        if self.shadow is not None:
            self.shadow.copy(records, runs)  # the candidate logs them under the same ids
        names = list(answers.fields)
        return [
            {"id": id_, **dict(zip(names, values, strict=True))}
            for id_, *values in zip(ids, *answers.fields.values(), strict=True)
        ]

    def _answer(self, predictions: list[dict[str, Any]]) -> list[Prediction]:  # type: ignore[valid-type]
        """The answer, serialized here: BentoML's generic path (models, then a JSON schema of the output for
        its media type, then json.dumps) cost more than the model on a one-record request; orjson a few
        microseconds. BentoML sends a Response as it is; the routes' annotation still documents the body.
        """
        return cast("list[Prediction]", Response(orjson.dumps(predictions), media_type="application/json"))  # type: ignore[valid-type]

    @bentoml.on_shutdown
    def _close_prediction_log(self) -> None:
        if self.shadow is not None:
            self.shadow.close()
        if self.prediction_log is not None:
            self.prediction_log.close()


def _end_start_up(line: str) -> NoReturn:
    """Stop the whole server, not just this worker, which BentoML would restart forever; one line, no traceback."""
    import signal
    import sys

    print(line, file=sys.stderr, flush=True)
    os.kill(os.getppid(), signal.SIGTERM)
    os._exit(1)


# @bentoml.service turned the class into a bentoml Service, which takes ASGI middleware.
ModelService.add_asgi_middleware(  # type: ignore[attr-defined]
    RequestGuard, max_bytes=MAX_BODY_BYTES, paths=("/predict", "/predict_batch")
)
