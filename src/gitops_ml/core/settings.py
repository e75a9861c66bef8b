"""Typed settings read from ``params.yaml``: every knob of the pipeline, checked before any work.

Unknown keys and wrong types are rejected with the dotted key named, so a typo in a pull request
fails the stage with a one-line message instead of a traceback half-way through training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from gitops_ml import NAME
from gitops_ml.core.errors import DataError, SettingsError

PARAMS_FILE = Path("params.yaml")
NO_SUITE = "required with data.source: file (`python -m gitops_ml suggest-suite` drafts one from the data)"
TABLE_SUFFIXES = (".csv", ".parquet")


def _label(value: Any) -> Any:
    """A True/False class is the text ingest stores a True/False column as."""
    return str(value) if isinstance(value, bool) else value


Label = Annotated[str | int, BeforeValidator(_label)]
FeatureType = Literal["numeric", "categorical"]
Probability = Annotated[float, Field(gt=0.0, lt=1.0)]


class Section(BaseModel):
    """Base of every settings block: unknown keys are errors and values cannot be reassigned."""

    # A field's docstring is its description: the parameter reference (docs/parameters.md) is made from them.
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class SyntheticSettings(Section):
    rows: Annotated[int, Field(ge=10)] = 5_000
    """Rows of the synthetic table."""
    seed: int = 0
    """Seed of the synthetic table."""


Task = Literal["binary", "multiclass", "regression"]
Source = Literal["breast_cancer", "wine", "diabetes", "synthetic", "file"]

# What each embedded source fills in for the keys left null: switching source is one params change.
EMBEDDED_SOURCES: dict[str, dict[str, Any]] = {
    "breast_cancer": {
        "target": "diagnosis", "positive_class": "malignant", "negative_class": "benign", "id_columns": ["sample_id"],
    },
    "wine": {"target": "cultivar", "id_columns": ["sample_id"]},
    "diabetes": {"target": "progression", "id_columns": ["patient_id"]},
}  # fmt: skip
# The synthetic table's target follows data.task (binary when null); its rows do not.
SYNTHETIC_TARGETS: dict[str, dict[str, Any]] = {
    "binary": {"target": "churned", "positive_class": "yes", "negative_class": "no"},
    "multiclass": {"target": "satisfaction"},
    "regression": {"target": "lifetime_value"},
}


def embedded_preset(data: dict[str, Any]) -> dict[str, Any]:
    """What a source fills in for the keys left null (nothing but empty id columns for a file)."""
    source = data.get("source", "breast_cancer")
    if source == "synthetic":
        targets = SYNTHETIC_TARGETS.get(data.get("task") or "binary", SYNTHETIC_TARGETS["binary"])
        return {**targets, "id_columns": ["customer_id"]}  # an unknown task is reported by its field
    return EMBEDDED_SOURCES.get(source, {"id_columns": []})


def embedded_suite(data: DataSettings) -> str | None:
    """The name of an embedded source's own expectation suite (pipeline/suites/), used where validate.suite is null."""
    if data.source == "file":
        return None
    return f"synthetic_{data.task or 'binary'}" if data.source == "synthetic" else data.source


class DataSettings(Section):
    source: Source = "breast_cancer"
    """Where the data comes from: scikit-learn's `breast_cancer` (binary), `wine` (multiclass) or `diabetes`
    (regression), a `synthetic` customer table (its target follows `task`: churned, satisfaction or
    lifetime_value), or a `file`. An embedded source fills in `target`, the classes and `id_columns` where
    they are null, and brings its own expectation suite."""
    task: Task | None = None
    """`binary`, `multiclass` or `regression`; null: inferred from the target (2 values: binary; text or up
    to 20 whole numbers: multiclass; other numbers: regression) and printed by the validate stage. With
    `source: synthetic` it also chooses the table's target (null: binary)."""
    path: Path = Path("data/external")
    """With `source: file`: the `.csv` or `.parquet` file to ingest (a DVC dependency)."""
    synthetic: SyntheticSettings = SyntheticSettings()
    """The synthetic table, with `source: synthetic`."""
    target: str
    """The column to predict (required with `source: file`)."""
    positive_class: Label | None = None
    """Binary only: the positive label (a string or an integer), which metrics and probabilities refer to;
    null with 0/1, True/False or yes/no targets: 1, True or yes."""
    negative_class: Label | None = None
    """Binary only: the other label."""
    id_columns: tuple[str, ...] = ()
    """Columns unique per row (checked), never used as features, kept in the predictions."""
    feature_types: dict[str, FeatureType] = {}
    """`column: numeric` or `categorical`, where inference (numbers are numeric, the rest categorical) is not wanted."""
    missing_values: tuple[str, ...] = ("", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "#N/A")
    """The texts that mark a missing value in a CSV file, and only these; ingest counts each one it reads, by column."""

    @model_validator(mode="after")
    def _consistent(self) -> DataSettings:
        if self.positive_class is not None and str(self.positive_class) == str(self.negative_class):
            raise ValueError("positive_class and negative_class must differ")
        if self.task in ("multiclass", "regression") and (self.positive_class, self.negative_class) != (None, None):
            raise ValueError(
                f"positive_class and negative_class are for a binary task, not {self.task}: set them to null"
            )
        reserved = {self.target, *self.id_columns}
        clash = sorted(reserved & set(self.feature_types))
        if clash:
            raise ValueError(f"feature_types names the target or an id column: {clash}")
        if self.target in self.id_columns:
            raise ValueError(f"target {self.target!r} is also listed in id_columns")
        return self


class ValidateSettings(Section):
    suite: Path | None = None
    """The checked-in expectation suite; null: the embedded source's own (required with `data.source: file`:
    `python -m gitops_ml suggest-suite` drafts one)."""
    min_rows: Annotated[int, Field(ge=1)] = 100
    """Fewer rows fail validation."""


class SplitSettings(Section):
    test_size: Probability = 0.2
    """Share of the rows held out for the test set."""
    seed: int = 42
    """Seed of the split."""


class PreprocessSettings(Section):
    numeric_imputation: Literal["mean", "median"] = "median"
    """How missing numbers are filled."""
    scale_numeric: bool = True
    """Standard-scale numeric columns."""
    categorical_min_frequency: Annotated[int, Field(ge=1)] = 1
    """Categories rarer than this are grouped as infrequent."""


class LinearSettings(Section):
    C: Annotated[float, Field(gt=0)] = 1.0
    """Inverse regularization strength: scikit-learn's `LogisticRegression` for classes, `Ridge` with
    `alpha = 1 / (2 C)` (the same penalty on a squared loss) for regression."""
    max_iter: Annotated[int, Field(ge=1)] = 1_000
    """Solver iterations at most (classes only; `Ridge` solves in closed form)."""
    class_weight: Literal["balanced"] | None = None
    """Classes only: `balanced` weighs the classes by their inverse frequency."""


class GradientBoostingSettings(Section):
    learning_rate: Annotated[float, Field(gt=0, le=1)] = 0.1
    """Of scikit-learn's `HistGradientBoostingClassifier` or `...Regressor` (no early stopping: the test
    split is the hold-out)."""
    max_iter: Annotated[int, Field(ge=1)] = 200
    """Boosting iterations."""
    max_depth: Annotated[int, Field(ge=1)] | None = None
    """Depth of each tree at most; null: no limit."""
    max_leaf_nodes: Annotated[int, Field(ge=2)] = 31
    """Leaves of each tree at most."""
    min_samples_leaf: Annotated[int, Field(ge=1)] = 20
    """Rows in a leaf at least."""
    l2_regularization: Annotated[float, Field(ge=0)] = 0.0
    """L2 penalty on the leaf values."""
    class_weight: Literal["balanced"] | None = None
    """Classes only: `balanced` weighs the classes by their inverse frequency."""


class TrainSettings(Section):
    model: Literal["linear", "gradient_boosting"] = "linear"
    """The model family, a classifier or a regressor by the task; its block below holds its hyperparameters."""
    seed: int = 42
    """The model's random state."""
    preprocess: PreprocessSettings = PreprocessSettings()
    """How features are prepared, for either family."""
    linear: LinearSettings = LinearSettings()
    """Hyperparameters with `model: linear`."""
    gradient_boosting: GradientBoostingSettings = GradientBoostingSettings()
    """Hyperparameters with `model: gradient_boosting`."""

    @property
    def hyperparameters(self) -> LinearSettings | GradientBoostingSettings:
        """The block of the selected model family."""
        block: LinearSettings | GradientBoostingSettings = getattr(self, self.model)
        return block


class EvaluateSettings(Section):
    threshold: Probability = 0.5
    """Probability at or above which a record is predicted positive."""
    calibration_bins: Annotated[int, Field(ge=2, le=100)] = 10
    """Bins of the calibration curve."""
    curve_points: Annotated[int, Field(ge=10, le=10_000)] = 200
    """ROC and PR curves are thinned to this many points, so committed plot files stay small."""


class TrackingSettings(Section):
    enabled: bool = True
    """Log runs to MLflow."""
    experiment: str | None = None
    """MLflow experiment name; null: the project's name."""
    default_uri: str = "sqlite:///mlflow.db"
    """Tracking store when `MLFLOW_TRACKING_URI` is not set."""

    @property
    def experiment_name(self) -> str:
        return self.experiment or NAME


MetricName = Literal["accuracy", "precision", "recall", "f1", "roc_auc", "average_precision", "log_loss"]
MulticlassMetricName = Literal[
    "accuracy", "balanced_accuracy", "macro_f1", "weighted_f1", "macro_precision", "macro_recall", "log_loss",
    "roc_auc_ovr",
]  # fmt: skip
RegressionMetricName = Literal["mae", "rmse", "r2"]
AnyMetricName = MetricName | MulticlassMetricName | RegressionMetricName
Change = Annotated[float, Field(ge=0)]


class Thresholds(Section):
    """Per task: the metrics that decide the pull-request verdict, each with the smallest change that counts."""

    binary: dict[MetricName, Change] = {"roc_auc": 0.005, "f1": 0.01}
    """For a binary task."""
    multiclass: dict[MulticlassMetricName, Change] = {"macro_f1": 0.01, "roc_auc_ovr": 0.005}
    """For a multiclass task."""
    regression: dict[RegressionMetricName, Change] = {"r2": 0.005}
    """For a regression task (R² is scale-free; MAE and RMSE are in the target's unit)."""

    @model_validator(mode="after")
    def _decides_on_something(self) -> Thresholds:
        empty = [task for task, chosen in self.model_dump().items() if not chosen]
        if empty:
            raise ValueError(f"{', '.join(empty)}: name at least one metric, or no change could be judged")
        return self


class Shown(Section):
    """Per task: the rows of the report's metric table, in order."""

    binary: tuple[MetricName, ...] = (
        "roc_auc",
        "average_precision",
        "f1",
        "precision",
        "recall",
        "accuracy",
        "log_loss",
    )
    """For a binary task."""
    multiclass: tuple[MulticlassMetricName, ...] = (
        "macro_f1", "roc_auc_ovr", "accuracy", "balanced_accuracy", "weighted_f1", "macro_precision", "macro_recall",
        "log_loss",
    )  # fmt: skip
    """For a multiclass task."""
    regression: tuple[RegressionMetricName, ...] = ("r2", "rmse", "mae")
    """For a regression task."""


class CompareSettings(Section):
    """How a pull request's model is judged against the base branch's."""

    thresholds: Thresholds = Thresholds()
    """Per task, the metrics that decide the verdict, each with the smallest change that counts."""
    shown: Shown = Shown()
    """Per task, the rows of the report's metric table, in order."""
    bootstrap_rounds: Annotated[int, Field(ge=100, le=100_000)] = 2_000
    """Rounds of the paired bootstrap interval of each change (and of the model card's intervals)."""
    confidence: Annotated[float, Field(gt=0.5, lt=1)] = 0.95
    """Confidence of those intervals."""
    seed: int = 0
    """Seed of the bootstrap."""

    def deciding(self, task: Task) -> dict[AnyMetricName, float]:
        chosen: dict[AnyMetricName, float] = getattr(self.thresholds, task)
        return chosen

    def listed(self, task: Task) -> tuple[AnyMetricName, ...]:
        chosen: tuple[AnyMetricName, ...] = getattr(self.shown, task)
        return chosen


class ModelCardSettings(Section):
    """What the model card adds to the pipeline's own figures."""

    intended_use: Path = Path("docs/intended-use.md")
    """The card's "Intended use and limitations" text: a checked-in file, yours to edit."""
    slices: tuple[str, ...] = ()
    """Columns whose slices get their own test metrics in the card: each category, or each quartile of a number."""


# Evidently's drift tests by the column kinds they accept (evidently.legacy.calculations.stattests).
NumericDriftTest = Literal[
    "ks", "wasserstein", "psi", "kl_div", "jensenshannon", "hellinger", "anderson", "cramer_von_mises",
    "mannw", "t_test", "ed", "es", "empirical_mmd",
]  # fmt: skip
CategoricalDriftTest = Literal[
    "chisquare", "z", "psi", "kl_div", "jensenshannon", "hellinger", "TVD", "g_test", "fisher_exact"
]


class MonitorSettings(Section):
    """How ``monitor`` judges current (production) data against the training data."""

    drift_share: Annotated[float, Field(gt=0, le=1)] = 0.25
    """Dataset drift when at least this share of the features drift (Evidently's default, 0.5, would stay
    silent while 3 of 7 features moved)."""
    numeric_test: NumericDriftTest | None = None
    """The Evidently drift test for numeric columns; null: Evidently's choice by size (K-S p-values up
    to 1,000 reference rows, normed Wasserstein distances above)."""
    categorical_test: CategoricalDriftTest | None = None
    """The same for categorical columns; null: chi-square or Jensen-Shannon by size."""
    numeric_threshold: Annotated[float, Field(gt=0)] | None = None
    """The numeric test's threshold (a p-value or a distance); null: the test's default."""
    categorical_threshold: Annotated[float, Field(gt=0)] | None = None
    """The categorical test's threshold; null: the test's default."""
    prediction_drift_alerts: bool = True
    """A shift of the predicted probabilities alone counts as drift."""
    min_rows: Annotated[int, Field(ge=1)] = 100
    """Fewer current rows cannot show drift: an error rather than a verdict."""


class ReproducibilitySettings(Section):
    """What counts as reproducing committed results on another machine (docs/pipeline.md, "Reproducibility")."""

    metric_tolerance: Annotated[float, Field(ge=0, lt=0.01)] = 1e-4
    """Two values of a metric agree when they differ by at most this much (relative for values above 1):
    below every compare threshold, above a BLAS kernel's last-bit noise."""


class Settings(Section):
    data: DataSettings
    validate_: ValidateSettings = Field(alias="validate")
    split: SplitSettings = SplitSettings()
    train: TrainSettings = TrainSettings()
    evaluate: EvaluateSettings = EvaluateSettings()
    tracking: TrackingSettings = TrackingSettings()
    compare: CompareSettings = CompareSettings()
    model_card: ModelCardSettings = ModelCardSettings()
    monitor: MonitorSettings = MonitorSettings()
    reproducibility: ReproducibilitySettings = ReproducibilitySettings()

    @model_validator(mode="before")
    @classmethod
    def _embedded_source_fills_in(cls, raw: Any) -> Any:
        """The keys left null take the embedded source's values; with a file, a null target is missing."""
        if not isinstance(raw, dict) or not isinstance(raw.get("data", {}), dict):
            return raw
        data = dict(raw.get("data", {}))
        check = dict(raw["validate"]) if isinstance(raw.get("validate"), dict) else {}
        for key, value in embedded_preset(data).items():
            if data.get(key) is None:
                data[key] = value
        if "target" in data and data["target"] is None:
            del data["target"]  # reported as a required key
        return {**raw, "data": data, "validate": check}


# The data keys an embedded source fills in where params.yaml leaves them null (Settings._embedded_source_fills_in).
FILLED_IN = ("target", "positive_class", "negative_class", "id_columns")


def default_params() -> dict[str, Any]:
    """The params a new project starts from: every key at its default, and null where the source fills in.

    The template's params.yaml holds exactly these values; a test of the template checks it.
    """
    defaults: dict[str, Any] = Settings.model_validate({"data": {}}).model_dump(mode="json", by_alias=True)
    defaults["data"] |= dict.fromkeys(FILLED_IN)
    return defaults


# The project's DVC pipelines, beside params.yaml: the main one and the optional drift stage's.
PIPELINES = (Path("dvc.yaml"), Path("monitoring/dvc.yaml"))


def check_stage_keys(path: Path = PARAMS_FILE) -> None:
    """Raise SettingsError naming each key a pipeline stage reads that ``path`` lacks, before DVC refuses to run.

    The settings model has a default for every key, but DVC reads the file itself and needs each key a stage
    lists under ``params`` (removing ``data.positive_class`` for a regression stops every stage)."""
    raw = parse_params(path.read_text(), path)
    lines = []
    for pipeline in (path.parent / name for name in PIPELINES):
        if pipeline.is_file():
            declared = parse_params(pipeline.read_text(), pipeline)
            lines += missing_stage_keys(raw if isinstance(raw, dict) else {}, declared or {}, Path(path.name))
    if lines:
        lines = sorted(set(lines))
        raise SettingsError("\n".join([f"{path}: {len(lines)} key(s) the pipeline reads are missing:", *lines]))


def missing_stage_keys(raw: dict[str, Any], pipeline: dict[str, Any], params_file: Path = PARAMS_FILE) -> list[str]:
    """The keys of ``params_file`` that a stage of ``pipeline`` (a dvc.yaml's content) reads but ``raw`` lacks,
    each with the stages that read it: DVC refuses to run any stage until they are there."""
    readers: dict[str, list[str]] = {}
    for name, stage in (pipeline.get("stages") or {}).items():
        for entry in stage.get("params", []) if isinstance(stage, dict) else []:
            keys = entry.get(str(params_file), []) if isinstance(entry, dict) else [entry]
            for key in keys:
                readers.setdefault(str(key), []).append(str(name))
    missing = []
    for key, stages in readers.items():
        section: Any = raw
        for part in key.split("."):
            if not isinstance(section, dict) or part not in section:
                readers_ = ", ".join(sorted(set(stages)))
                missing.append(f"  {key}: required key is missing (the stage {readers_} reads it; null when unused)")
                break
            section = section[part]
    return missing


def dotted(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested params mapping as dotted keys (``train.linear.C``); empty mappings stay values."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat |= dotted(value, name + ".")
        else:
            flat[name] = value
    return flat


def training_params(settings: Settings) -> dict[str, Any]:
    """The knobs that shaped this model, flattened to MLflow's dotted keys."""
    flat: dict[str, Any] = {
        "data.source": settings.data.source,
        "split.test_size": settings.split.test_size,
        "split.seed": settings.split.seed,
        "train.model": settings.train.model,
        "train.seed": settings.train.seed,
    }
    for block, values in (
        ("preprocess", settings.train.preprocess),
        (settings.train.model, settings.train.hyperparameters),
    ):
        flat |= {f"train.{block}.{key}": value for key, value in values.model_dump().items()}
    return flat


def parse_params(text: str, path: Path = PARAMS_FILE) -> Any:
    """A params file's values as DVC reads them: YAML 1.2, with DVC's own call, so `yes` stays the text
    "yes" here as it does in ``dvc.lock`` (PyYAML's YAML 1.1 would read it as true)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe").load(text)
    except YAMLError as exc:
        raise SettingsError(f"{path}: not valid YAML: {exc}") from exc


def load_settings(path: Path = PARAMS_FILE, *, check_files: bool = True, pulled: bool = True) -> Settings:
    """Read and check ``params.yaml``; raise SettingsError naming the key at fault.

    ``check_files`` also verifies that the files the params point at exist and are readable kinds; without
    ``pulled``, a data file DVC tracks may be absent (a clone that has not pulled its data).
    """
    try:
        text = path.read_text()
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read the params file ({exc.strerror})") from exc
    raw = parse_params(text, path)
    if not isinstance(raw, dict):
        raise SettingsError(f"{path}: expected a mapping of sections, got {type(raw).__name__}")
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise SettingsError(_describe(path, exc)) from exc
    if check_files:
        _check_files(path, settings, pulled)
    return settings


def _check_files(path: Path, settings: Settings, pulled: bool) -> None:
    data = settings.data
    if data.source == "file":
        tracked = Path(f"{data.path}.dvc").is_file()
        if not data.path.is_file() and (pulled or not tracked):
            raise SettingsError(f"{path}: data.path: file {str(data.path)!r} does not exist")
        if data.path.suffix.lower() not in TABLE_SUFFIXES:
            raise SettingsError(f"{path}: data.path: {str(data.path)!r} must end in one of {', '.join(TABLE_SUFFIXES)}")
        if data.path.is_file():
            check_columns(path, settings)
    suite = settings.validate_.suite
    if suite is None and data.source == "file":
        raise SettingsError(f"{path}: validate.suite: {NO_SUITE}")
    if suite is not None and not suite.is_file():
        raise SettingsError(f"{path}: validate.suite: file {str(suite)!r} does not exist")


def check_columns(path: Path, settings: Settings) -> None:
    """Every column the data settings name (target, id columns, feature types) is in the data file's header: a
    misspelt name is told here, with the columns there are, rather than as a failed expectation two stages on.
    A file that cannot be read is left to ingest, which says why."""
    from gitops_ml.core.files import table_columns  # pandas: imported only where a data file is read

    data = settings.data
    try:
        columns = table_columns(data.path)
    except DataError:
        return
    named = {"data.target": [data.target], "data.id_columns": list(data.id_columns),
             "data.feature_types": list(data.feature_types)}  # fmt: skip
    for key, names in named.items():
        absent = [name for name in names if name not in columns]
        if absent:
            shown = ", ".join(columns[:30]) + (f", ... ({len(columns)} in all)" if len(columns) > 30 else "")
            raise SettingsError(
                f"{path}: {key}: no column {', '.join(map(repr, absent))} in {data.path} (its columns: {shown})"
            )


def _describe(path: Path, exc: ValidationError) -> str:
    lines = [f"{path}: {exc.error_count()} invalid setting(s):"]
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        if error["type"] == "extra_forbidden":
            allowed = _allowed_keys(error["loc"][:-1])
            hint = f"; expected one of: {', '.join(allowed)}" if allowed else ""
            lines.append(f"  {key}: unknown key{hint}")
        elif error["type"] == "missing":
            lines.append(f"  {key}: required key is missing")
        else:
            lines.append(f"  {key}: {error['msg']} (got {_short(error.get('input'))})")
    return "\n".join(lines)


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys a block accepts, found by walking the model classes along an error location."""
    model: Any = Settings
    for part in loc:
        field = next((f for name, f in model.model_fields.items() if (f.alias or name) == part), None)
        if field is None or not isinstance(field.annotation, type):
            return []
        model = field.annotation
        if not issubclass(model, BaseModel):
            return []
    return sorted(f.alias or name for name, f in model.model_fields.items())


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def changed_params(base: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """The dotted keys whose values differ, with both values (None where a side lacks the key), sorted."""
    missing = object()
    rows = []
    for key in sorted(base.keys() | new.keys()):
        before, after = base.get(key, missing), new.get(key, missing)
        if before != after:
            rows.append((key, None if before is missing else before, None if after is missing else after))
    return rows
