"""Stage 2, validate: check the raw table against a Great Expectations suite before anything learns from it.

The suite is the checked-in file named by ``validate.suite`` plus the expectations that follow from
``params.yaml`` (target labels, ids, row count). On failure the stage writes the report, prints a
readable summary and exits non-zero, so DVC runs nothing downstream and the last model stays.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from gitops_ml.core import paths
from gitops_ml.core.errors import DataError, DataValidationError
from gitops_ml.core.files import read_table, write_json, write_text
from gitops_ml.core.markdown import table
from gitops_ml.core.settings import NO_SUITE, Settings, embedded_suite
from gitops_ml.core.target import Target, decide

SAMPLE_SIZE = 5
MIN_CLASS_ROWS = 2
NUMBERS = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64"]
TYPE_EXPECTATIONS = ("expect_column_values_to_be_in_type_list", "expect_column_values_to_be_of_type")
# The embedded sources' own suites: part of the platform, as their data is.
SUITES = Path(__file__).with_name("suites")

DESCRIPTIONS = {
    "expect_table_columns_to_match_set": "table must have exactly the expected columns",
    "expect_table_row_count_to_be_between": "row count out of range",
    "expect_column_values_to_not_be_null": "values must not be missing",
    "expect_column_values_to_be_between": "values out of range",
    "expect_column_values_to_be_in_set": "values outside the allowed set",
    "expect_column_values_to_be_in_type_list": "values of the wrong type",
    "expect_column_values_to_be_of_type": "values of the wrong type",
    "expect_column_values_to_be_unique": "values must be unique",
    "expect_compound_columns_to_be_unique": "id combinations must be unique",
}


@dataclass(frozen=True)
class Failure:
    expectation: str
    column: str | None
    description: str
    expected: dict[str, Any]
    unexpected_count: int | None
    sample_values: list[Any] = field(default_factory=list)
    observed: Any = None


@dataclass(frozen=True)
class Report:
    success: bool
    data: str
    rows: int
    columns: int
    suite: str
    evaluated: int
    failures: list[Failure]
    target: dict[str, Any] | None = None  # the task and its classes (core.target), read by every later stage


def run(settings: Settings) -> Report:
    frame = read_table(paths.RAW_DATA)
    report = validate(frame, settings, data_path=paths.RAW_DATA)
    write_json(paths.VALIDATION_JSON, asdict(report))
    write_text(paths.VALIDATION_MARKDOWN, render_markdown(report))
    if not report.success:
        raise DataValidationError(render_summary(report))
    print(f"validate: {report.evaluated} expectations passed on {report.rows} rows -> {paths.VALIDATION_JSON}")
    return report


def suite_file(settings: Settings) -> tuple[Path, str]:
    """Where the suite is read from, and how reports name it: ``validate.suite``, else the embedded source's own
    (named by its place in the project, the same on every machine)."""
    if settings.validate_.suite is not None:
        return settings.validate_.suite, str(settings.validate_.suite)
    name = embedded_suite(settings.data)
    if name is None:
        raise DataError(f"validate.suite: {NO_SUITE}")
    return SUITES / f"{name}.json", f"src/gitops_ml/pipeline/suites/{name}.json"


def expectations(settings: Settings, target: Target | None = None) -> list[dict[str, Any]]:
    """The checked-in suite's expectations followed by those derived from params.yaml and the target."""
    suite_path, _ = suite_file(settings)
    try:
        suite = json.loads(suite_path.read_text())
        listed = [{"type": e["type"], "kwargs": e.get("kwargs", {})} for e in suite["expectations"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"validate.suite: {suite_path} is not a readable expectation suite: {exc}") from exc

    data = settings.data
    derived: list[dict[str, Any]] = [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": settings.validate_.min_rows}},
        {"type": "expect_column_to_exist", "kwargs": {"column": data.target}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": data.target}},
    ]
    if target is not None and target.task == "binary":
        derived.append(
            {
                "type": "expect_column_values_to_be_in_set",
                "kwargs": {"column": data.target, "value_set": list(target.classes)},
            }
        )
    elif target is not None and target.task == "regression":
        derived.append(
            {"type": "expect_column_values_to_be_in_type_list", "kwargs": {"column": data.target, "type_list": NUMBERS}}
        )
    derived += [{"type": "expect_column_to_exist", "kwargs": {"column": c}} for c in data.id_columns]
    if len(data.id_columns) == 1:
        derived.append({"type": "expect_column_values_to_be_unique", "kwargs": {"column": data.id_columns[0]}})
    elif data.id_columns:
        derived.append(
            {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": list(data.id_columns)}}
        )
    return listed + derived


def validate(frame: pd.DataFrame, settings: Settings, *, data_path: Path) -> Report:
    column = settings.data.target
    # Without the target's values (no column, no rows) the expectations say what is wrong.
    target = decide(settings.data, frame[column]) if column in frame.columns and frame[column].notna().any() else None
    configs = expectations(settings, target)
    results = _run_gx(frame, configs)
    missing = sorted({c for cfg in configs if (c := cfg["kwargs"].get("column")) and c not in frame.columns})
    mistyped = {
        cfg["kwargs"]["column"]
        for cfg, result in zip(configs, results, strict=True)
        if cfg["type"] in TYPE_EXPECTATIONS and not result.success
    }
    # A missing or mistyped column makes every other expectation on it fail as well; report the cause once.
    failures = [_missing_column(column) for column in missing] + [
        _failure(cfg, result, frame)
        for cfg, result in zip(configs, results, strict=True)
        if not result.success
        and cfg["kwargs"].get("column") not in missing
        and (cfg["type"] in TYPE_EXPECTATIONS or cfg["kwargs"].get("column") not in mistyped)
    ]
    if target is not None and target.is_classification and not failures:
        failures += _rare_classes(frame[column])
    return Report(
        success=not failures,
        data=str(data_path),
        rows=len(frame),
        columns=frame.shape[1],
        suite=suite_file(settings)[1],
        evaluated=len(configs) + bool(target and target.is_classification),
        failures=failures,
        target=target.as_json() if target is not None and not failures else None,
    )


def _rare_classes(values: pd.Series) -> list[Failure]:
    """A class with one row cannot be in both splits (the split is stratified): one failure naming them."""
    counts = values.astype(str).value_counts()
    rare = counts[counts < MIN_CLASS_ROWS]
    if rare.empty:
        return []
    return [
        Failure(
            expectation="each class has at least 2 rows",
            column=str(values.name),
            description=f"classes with fewer than {MIN_CLASS_ROWS} rows (one for each split)",
            expected={"min_rows_per_class": MIN_CLASS_ROWS},
            unexpected_count=int(rare.sum()),
            sample_values=sorted(rare.index)[:SAMPLE_SIZE],
        )
    ]


def _missing_column(column: str) -> Failure:
    return Failure(
        expectation="expect_column_to_exist",
        column=column,
        description="column is missing",
        expected={},
        unexpected_count=None,
    )


def _run_gx(frame: pd.DataFrame, configs: list[dict[str, Any]]) -> list[Any]:
    # Imported here: Great Expectations takes seconds to import and only this stage needs it.
    import great_expectations as gx
    from great_expectations.core import ExpectationSuite
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # keep DVC's log readable
    batch = context.data_sources.add_pandas("pipeline").add_dataframe_asset("raw")
    definition = batch.add_batch_definition_whole_dataframe("whole")
    # GX does not return results in suite order: tag each expectation with its index to match them back.
    suite = context.suites.add(
        ExpectationSuite(
            name="pipeline",
            expectations=[
                ExpectationConfiguration(**cfg, meta={"index": index}).to_domain_obj()
                for index, cfg in enumerate(configs)
            ],
        )
    )
    validation = gx.ValidationDefinition(name="raw", data=definition, suite=suite)
    outcome = validation.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")
    return sorted(outcome.results, key=lambda result: result.expectation_config.meta["index"])


def _failure(cfg: dict[str, Any], result: Any, frame: pd.DataFrame) -> Failure:
    kwargs = cfg["kwargs"]
    column = kwargs.get("column")
    details = result.result or {}
    samples = list(details.get("partial_unexpected_list") or [])
    unexpected_count = details.get("unexpected_count")
    if cfg["type"] in TYPE_EXPECTATIONS:
        # GX counts every value of a text-typed column as wrong, numbers included; show the text ones.
        text = _non_numeric_values(frame, column)
        if len(text):
            samples, unexpected_count = text.head(50).tolist(), len(text)
    observed = details.get("observed_value")
    if cfg["type"] == "expect_table_columns_to_match_set":
        observed = details.get("details", {}).get("mismatched", observed)
    return Failure(
        expectation=cfg["type"],
        column=column,
        description=DESCRIPTIONS.get(cfg["type"], cfg["type"].removeprefix("expect_").replace("_", " ")),
        expected={k: v for k, v in kwargs.items() if k != "column"},
        unexpected_count=unexpected_count,
        sample_values=_distinct([v for v in map(_plain, samples) if v is not None])[:SAMPLE_SIZE],
        observed=_plain(observed),
    )


def _non_numeric_values(frame: pd.DataFrame, column: str | None) -> pd.Series:
    if column is None or column not in frame:
        return pd.Series(dtype=object)
    values = frame[column].dropna()
    return values[pd.to_numeric(values, errors="coerce").isna()]


def _distinct(values: list[Any]) -> list[Any]:
    seen: list[Any] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


def _plain(value: Any) -> Any:
    """JSON-safe scalars (NaN becomes None, NumPy numbers become Python ones)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def examples_text(failure: Failure) -> str:
    """Some of the values that broke the expectation, or what was observed instead."""
    if failure.sample_values:
        return ", ".join(map(str, failure.sample_values))
    return "" if failure.observed is None else str(failure.observed)


def expected_text(failure: Failure) -> str:
    return ", ".join(f"{k}={_brief(v)}" for k, v in failure.expected.items()) or "-"


def _brief(value: Any) -> str:
    if isinstance(value, list) and len(value) > SAMPLE_SIZE:
        return f"[{', '.join(map(repr, value[:SAMPLE_SIZE]))}, ... ({len(value)} values)]"
    return repr(value) if isinstance(value, str) else str(value)


def render_summary(report: Report) -> str:
    failed = len(report.failures)
    lines = [f"validation failed: {failed} of {report.evaluated} expectations on {report.data} ({report.rows} rows)"]
    for f in report.failures:
        where = f"column {f.column!r}" if f.column else "table"
        line = f"  - {where}: {f.description} ({f.expectation}; expected {expected_text(f)})"
        if f.unexpected_count is not None:
            line += f"; {f.unexpected_count} unexpected"
        if f.sample_values:
            line += f", e.g. {f.sample_values}"
        elif f.observed is not None:
            line += f"; observed {f.observed}"
        lines.append(line)
    lines.append(f"full report: {paths.VALIDATION_MARKDOWN}")
    return "\n".join(lines)


def render_markdown(report: Report) -> str:
    status = "passed" if report.success else "FAILED"
    lines = [
        f"### Data validation {status}",
        "",
        f"{report.evaluated - len(report.failures)} of {report.evaluated} expectations passed on "
        f"`{report.data}` ({report.rows} rows, {report.columns} columns), suite `{report.suite}`.",
    ]
    if report.failures:
        rows = [
            [
                f.column or "(table)",
                f.description,
                _cell(expected_text(f)),
                "" if f.unexpected_count is None else str(f.unexpected_count),
                _cell(examples_text(f)),
            ]
            for f in report.failures
        ]
        lines += ["", table(["Column", "Problem", "Expected", "Unexpected", "Examples"], rows, align="lllrl")]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 80 else text[:77] + "..."
