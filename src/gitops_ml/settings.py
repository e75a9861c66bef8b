"""Typed settings read from ``params.yaml``: every knob of the pipeline, checked before any work.

Unknown keys and wrong types are rejected with the dotted key named, so a typo in a pull request
fails the stage with a one-line message instead of a traceback half-way through training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gitops_ml.errors import SettingsError

PARAMS_FILE = Path("params.yaml")
TABLE_SUFFIXES = (".csv", ".parquet")

Label = str | int
FeatureType = Literal["numeric", "categorical"]
Probability = Annotated[float, Field(gt=0.0, lt=1.0)]


class Section(BaseModel):
    """Base of every settings block: unknown keys are errors and values cannot be reassigned."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SyntheticSettings(Section):
    rows: Annotated[int, Field(ge=10)] = 5_000
    seed: int = 0


class DataSettings(Section):
    source: Literal["breast_cancer", "synthetic", "file"] = "breast_cancer"
    path: Path = Path("data/external")
    synthetic: SyntheticSettings = SyntheticSettings()
    target: str
    positive_class: Label
    negative_class: Label
    id_columns: tuple[str, ...] = ()
    feature_types: dict[str, FeatureType] = {}

    @model_validator(mode="after")
    def _consistent(self) -> DataSettings:
        if self.positive_class == self.negative_class:
            raise ValueError("positive_class and negative_class must differ")
        reserved = {self.target, *self.id_columns}
        clash = sorted(reserved & set(self.feature_types))
        if clash:
            raise ValueError(f"feature_types names the target or an id column: {clash}")
        if self.target in self.id_columns:
            raise ValueError(f"target {self.target!r} is also listed in id_columns")
        return self

    @property
    def classes(self) -> tuple[Label, Label]:
        """The two target labels, negative first, as scikit-learn orders predict_proba columns."""
        return (self.negative_class, self.positive_class)


class ValidateSettings(Section):
    suite: Path
    min_rows: Annotated[int, Field(ge=1)] = 50


class SplitSettings(Section):
    test_size: Probability = 0.2
    seed: int = 42


class PreprocessSettings(Section):
    numeric_imputation: Literal["mean", "median"] = "median"
    scale_numeric: bool = True
    categorical_min_frequency: Annotated[int, Field(ge=1)] = 1


class LogisticRegressionSettings(Section):
    C: Annotated[float, Field(gt=0)] = 1.0
    max_iter: Annotated[int, Field(ge=1)] = 1_000
    class_weight: Literal["balanced"] | None = None


class GradientBoostingSettings(Section):
    learning_rate: Annotated[float, Field(gt=0, le=1)] = 0.1
    max_iter: Annotated[int, Field(ge=1)] = 200
    max_depth: Annotated[int, Field(ge=1)] | None = None
    max_leaf_nodes: Annotated[int, Field(ge=2)] = 31
    min_samples_leaf: Annotated[int, Field(ge=1)] = 20
    l2_regularization: Annotated[float, Field(ge=0)] = 0.0
    class_weight: Literal["balanced"] | None = None


class TrainSettings(Section):
    model: Literal["logistic_regression", "gradient_boosting"] = "logistic_regression"
    seed: int = 42
    preprocess: PreprocessSettings = PreprocessSettings()
    logistic_regression: LogisticRegressionSettings = LogisticRegressionSettings()
    gradient_boosting: GradientBoostingSettings = GradientBoostingSettings()

    @property
    def hyperparameters(self) -> LogisticRegressionSettings | GradientBoostingSettings:
        """The block of the selected model family."""
        block: LogisticRegressionSettings | GradientBoostingSettings = getattr(self, self.model)
        return block


class EvaluateSettings(Section):
    threshold: Probability = 0.5
    calibration_bins: Annotated[int, Field(ge=2, le=100)] = 10
    curve_points: Annotated[int, Field(ge=10, le=10_000)] = 200


class TrackingSettings(Section):
    enabled: bool = True
    experiment: str = "gitops-ml"
    default_uri: str = "sqlite:///mlflow.db"


MetricName = Literal["accuracy", "precision", "recall", "f1", "roc_auc", "average_precision", "log_loss"]


class CompareSettings(Section):
    """How a pull request's model is judged against the base branch's."""

    thresholds: dict[MetricName, Annotated[float, Field(ge=0)]] = {"roc_auc": 0.005, "f1": 0.01}
    shown: tuple[MetricName, ...] = (
        "roc_auc",
        "average_precision",
        "f1",
        "precision",
        "recall",
        "accuracy",
        "log_loss",
    )
    bootstrap_rounds: Annotated[int, Field(ge=100, le=100_000)] = 2_000
    confidence: Annotated[float, Field(gt=0.5, lt=1)] = 0.95
    seed: int = 0

    @model_validator(mode="after")
    def _decides_on_something(self) -> CompareSettings:
        if not self.thresholds:
            raise ValueError("thresholds must name at least one metric, or no change could be judged")
        return self


class ModelCardSettings(Section):
    """What the model card adds to the pipeline's own figures."""

    intended_use: Path = Path("docs/intended-use.md")  # checked-in, editable text
    slices: tuple[str, ...] = ()  # categorical columns whose categories get their own test metrics


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

    # Dataset drift when at least this share of the features drift (Evidently's default, 0.5, would
    # stay silent while 3 of 7 features moved).
    drift_share: Annotated[float, Field(gt=0, le=1)] = 0.25
    # null: Evidently picks by column kind and size (K-S / chi-square p-values up to 1,000 reference
    # rows, normed Wasserstein / Jensen-Shannon distances above), with its own thresholds.
    numeric_test: NumericDriftTest | None = None
    categorical_test: CategoricalDriftTest | None = None
    numeric_threshold: Annotated[float, Field(gt=0)] | None = None
    categorical_threshold: Annotated[float, Field(gt=0)] | None = None
    prediction_drift_alerts: bool = True  # a shift of the predicted probabilities alone is drift
    min_rows: Annotated[int, Field(ge=1)] = 100  # fewer current rows cannot show drift; an error


class ReproducibilitySettings(Section):
    """What counts as reproducing committed results on another machine (README, "Reproducibility")."""

    # Two values of a metric agree when they differ by at most this much, relative to their size
    # for values above 1: below every compare threshold, above a BLAS kernel's last-bit noise.
    metric_tolerance: Annotated[float, Field(ge=0, lt=0.01)] = 1e-4


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


def dotted(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested params mapping as dotted keys (``train.logistic_regression.C``); empty mappings stay values."""
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


def load_settings(path: Path = PARAMS_FILE, *, check_files: bool = True) -> Settings:
    """Read and check ``params.yaml``; raise SettingsError naming the key at fault.

    ``check_files`` also verifies that the files the params point at exist and are readable kinds.
    """
    try:
        text = path.read_text()
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read the params file ({exc.strerror})") from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise SettingsError(f"{path}: expected a mapping of sections, got {type(raw).__name__}")
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise SettingsError(_describe(path, exc)) from exc
    if check_files:
        _check_files(path, settings)
    return settings


def _check_files(path: Path, settings: Settings) -> None:
    data = settings.data
    if data.source == "file":
        if not data.path.is_file():
            raise SettingsError(f"{path}: data.path: file {str(data.path)!r} does not exist")
        if data.path.suffix.lower() not in TABLE_SUFFIXES:
            raise SettingsError(f"{path}: data.path: {str(data.path)!r} must end in one of {', '.join(TABLE_SUFFIXES)}")
    if not settings.validate_.suite.is_file():
        raise SettingsError(f"{path}: validate.suite: file {str(settings.validate_.suite)!r} does not exist")


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
