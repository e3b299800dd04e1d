"""Recipes: one YAML file describes a whole staged run (base model, LoRA, stages, data).

Validated with pydantic so that a typo fails at load time, naming the key and the
allowed keys or values, rather than at hour 3 of a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from amigo.errors import ConfigError

STAGE_KINDS = ("sft", "dpo")
PRECISIONS = ("bf16", "fp16", "fp32")
BENCHMARKS = ("humaneval", "mbpp", "humanevalfix", "quixbugs", "debugbench")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoraSpec(_Strict):
    """LoRA settings shared by every stage (each stage trains a fresh adapter)."""

    r: int = Field(16, ge=1, le=1024)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: str | list[str] = "all-linear"


class TrainSpec(_Strict):
    """Optimisation settings; recipe-level defaults, overridable per stage."""

    learning_rate: float = Field(2e-4, gt=0, lt=1)
    epochs: float = Field(1.0, gt=0)
    max_steps: int = -1
    max_length: int = Field(2048, ge=16)
    per_device_batch_size: int = Field(1, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    warmup_ratio: float = Field(0.03, ge=0, lt=1)
    lr_scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = "cosine"
    weight_decay: float = Field(0.0, ge=0)
    packing: bool = False
    save_steps: int = Field(100, ge=1)
    logging_steps: int = Field(10, ge=1)
    eval_fraction: float = Field(0.0, ge=0, lt=1)
    beta: float = Field(0.1, gt=0)  # DPO only
    # DPO only: weight of a plain SFT loss on the chosen answers beside the DPO loss (RPO). DPO alone
    # may lower the chosen answer's likelihood as long as the rejected one falls faster; on a small
    # model that unlearns the edit format itself. 0: DPO alone.
    sft_weight: float = Field(0.0, ge=0)


class DataSource(_Strict):
    """One input of a stage: a registry name, or a local/hub file with an adapter."""

    dataset: str | None = None
    path: str | None = None
    adapter: str | None = None
    split: str | None = None
    max_examples: int | None = Field(None, ge=1)
    weight: float = Field(1.0, gt=0)

    @model_validator(mode="after")
    def _one_source(self) -> "DataSource":
        if (self.dataset is None) == (self.path is None):
            raise ValueError("give exactly one of `dataset` (a registry name) or `path` (a file)")
        if self.path is not None and self.adapter is None:
            raise ValueError("a `path` source needs an `adapter` (see `amigo data check --list`)")
        return self


class StageSpec(_Strict):
    """One stage: SFT on prompt/completion examples or DPO on preference pairs."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    kind: Literal["sft", "dpo"] = "sft"
    description: str = ""
    data: list[DataSource] = Field(min_length=1)
    train: dict[str, Any] = Field(default_factory=dict)


class DecontamSpec(_Strict):
    """Which evaluation sets to keep out of training, and how strictly."""

    benchmarks: list[Literal["humaneval", "mbpp", "humanevalfix", "quixbugs", "debugbench"]] = (
        Field(default_factory=lambda: list(BENCHMARKS))
    )
    ngram: int = Field(13, ge=4, le=64)
    data_dir: str | None = None
    required: bool = False


class Recipe(_Strict):
    """A whole staged run."""

    name: str
    base_model: str
    output_dir: str
    seed: int = 42
    precision: Literal["bf16", "fp16", "fp32"] = "bf16"
    gradient_checkpointing: bool = True
    # live curves: TensorBoard (stages/<name>/checkpoints/runs) or trackio; metrics.jsonl and loss.png are written either way
    report_to: Literal["none", "tensorboard", "trackio"] = "none"
    lora: LoraSpec = LoraSpec()
    defaults: TrainSpec = TrainSpec()
    decontaminate: DecontamSpec = DecontamSpec()
    stages: list[StageSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_stages(self) -> "Recipe":
        names = [s.name for s in self.stages]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"stage names must be unique; repeated: {', '.join(dupes)}")
        for stage in self.stages:
            unknown = sorted(set(stage.train) - set(TrainSpec.model_fields))
            if unknown:
                raise ValueError(
                    f"stages[{stage.name}].train: unknown key(s) {', '.join(unknown)}; "
                    f"allowed: {', '.join(TrainSpec.model_fields)}"
                )
            self.train_for(stage)  # validates the merged values now
        return self

    def train_for(self, stage: StageSpec) -> TrainSpec:
        """The recipe defaults with the stage's overrides applied (validated)."""
        return TrainSpec.model_validate({**self.defaults.model_dump(), **stage.train})

    def stage(self, name: str) -> StageSpec:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise ConfigError(
            f"no stage named {name!r}; this recipe has: {', '.join(s.name for s in self.stages)}"
        )


def _allowed_for(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """The allowed keys at ``loc``'s parent, walking the pydantic models."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return None
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        inner = next((a for a in (annotation, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if inner is None:
            return None
        current = inner
    return list(getattr(current, "model_fields", {}))


def format_errors(exc: ValidationError, source: str) -> str:
    """Pydantic errors -> one line each: where, what, what is allowed."""
    lines = [f"{source}: invalid recipe"]
    for err in exc.errors():
        loc = tuple(err["loc"])
        where = ".".join(str(p) for p in loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            allowed = _allowed_for(Recipe, loc) or []
            lines.append(f"  {where}: unknown key; allowed keys: {', '.join(allowed)}")
        elif err["type"] == "literal_error":
            expected = err.get("ctx", {}).get("expected", "")
            lines.append(f"  {where}: {err['input']!r} is not allowed; allowed values: {expected}")
        else:
            lines.append(f"  {where}: {err['msg']}")
    return "\n".join(lines)


def parse_recipe(data: Any, source: str = "<recipe>") -> Recipe:
    """Validate an already-parsed mapping."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a recipe is a YAML mapping (name, base_model, stages, ...)")
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, source)) from None


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a YAML recipe; relative data paths are resolved against it."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"recipe {path} does not exist; see recipes/ for examples")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_recipe(data, str(path))
