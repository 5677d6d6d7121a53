"""The model catalog: one validated record per served model, read from ``catalog.toml``.

Everything that states a fact about a model (Triton configs, tokenizer and post-processor
parameters, docs, tests) takes it from here, so a label order or a length limit is written once.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Literal

Task = Literal["single_label", "multi_label", "token_classification"]
Activation = Literal["softmax", "sigmoid"]

TASKS: tuple[Task, ...] = ("single_label", "multi_label", "token_classification")
ACTIVATIONS: tuple[Activation, ...] = ("softmax", "sigmoid")
DEFAULT_MULTI_LABEL_THRESHOLD = 0.5
# BERT's position table; no catalog entry may ask for more tokens than the model can embed.
MAX_POSITION_EMBEDDINGS = 512


class CatalogError(ValueError):
    """The catalog contradicts itself or names something unsupported."""


@dataclass(frozen=True)
class ModelSpec:
    """Facts about one served model.

    Attributes:
        name: Public name; the Triton ensemble callers address.
        source_model: The upstream model this entry stands for (Spark NLP or hub name).
        seed_card: File name of the model card in ``shared/seeds``.
        description: One line for humans.
        task: ``single_label``, ``multi_label`` or ``token_classification``.
        labels: Label names in the order of the model's output units (id2label).
        cased: Whether the vocabulary is cased (False lowercases and strips accents).
        max_tokens: Longest encoded sequence, ``[CLS]`` and ``[SEP]`` included.
        activation: ``softmax`` (one label wins) or ``sigmoid`` (independent labels).
        threshold: Multi-label cut-off; a label is returned when its score is > threshold.
        per_sentence: Classify each sentence of the text separately (Spark NLP's
            sentence detector in front of the classifier).
    """

    name: str
    source_model: str
    seed_card: str
    description: str
    task: Task
    labels: tuple[str, ...]
    cased: bool
    max_tokens: int
    activation: Activation
    threshold: float | None
    per_sentence: bool

    @property
    def tokenizer_model(self) -> str:
        """Triton name of the Python-backend tokenizer step."""
        return f"{self.name}_tokenizer"

    @property
    def onnx_model(self) -> str:
        """Triton name of the ONNX Runtime step."""
        return f"{self.name}_onnx"

    @property
    def postprocess_model(self) -> str:
        """Triton name of the Python-backend post-processing step."""
        return f"{self.name}_postprocess"

    @property
    def triton_models(self) -> tuple[str, str, str, str]:
        """Every Triton model this entry produces, ensemble first."""
        return (self.name, self.tokenizer_model, self.onnx_model, self.postprocess_model)

    @property
    def step_models(self) -> tuple[str, str, str]:
        """The three steps, whose version folders hold one model version together."""
        return (self.tokenizer_model, self.onnx_model, self.postprocess_model)

    @property
    def is_token_classifier(self) -> bool:
        """True for NER models, whose logits have a sequence axis."""
        return self.task == "token_classification"


def _parse_entry(name: str, raw: dict[str, object]) -> ModelSpec:
    known = {f for f in ModelSpec.__dataclass_fields__ if f != "name"}
    unknown = set(raw) - known
    if unknown:
        raise CatalogError(f"model {name!r}: unknown keys {sorted(unknown)}")
    missing = known - set(raw) - {"threshold"}
    if missing:
        raise CatalogError(f"model {name!r}: missing keys {sorted(missing)}")
    task = raw["task"]
    if task not in TASKS:
        raise CatalogError(f"model {name!r}: task {task!r} is not one of {TASKS}")
    activation = raw["activation"]
    if activation not in ACTIVATIONS:
        raise CatalogError(f"model {name!r}: activation {activation!r} is not one of {ACTIVATIONS}")
    labels = raw["labels"]
    if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, str) for x in labels):
        raise CatalogError(f"model {name!r}: labels must be a list of at least two strings")
    if len(set(labels)) != len(labels):
        raise CatalogError(f"model {name!r}: labels repeat")
    max_tokens = raw["max_tokens"]
    if not isinstance(max_tokens, int) or not 8 <= max_tokens <= MAX_POSITION_EMBEDDINGS:
        raise CatalogError(f"model {name!r}: max_tokens must be an integer in [8, {MAX_POSITION_EMBEDDINGS}]")
    threshold = raw.get("threshold")
    if task == "multi_label":
        if activation != "sigmoid":
            raise CatalogError(f"model {name!r}: multi_label needs the sigmoid activation")
        threshold = DEFAULT_MULTI_LABEL_THRESHOLD if threshold is None else float(str(threshold))
        if not 0.0 < threshold < 1.0:
            raise CatalogError(f"model {name!r}: threshold must lie strictly between 0 and 1")
    elif threshold is not None:
        raise CatalogError(f"model {name!r}: threshold only applies to multi_label models")
    if task == "token_classification":
        if raw["per_sentence"]:
            raise CatalogError(f"model {name!r}: per_sentence applies to sequence classifiers")
        bad = [x for x in labels if x not in ("O", "PAD") and not x.startswith(("B-", "I-"))]
        if bad:
            raise CatalogError(f"model {name!r}: token labels must be BIO tags, not {bad}")
    return ModelSpec(
        name=name,
        source_model=str(raw["source_model"]),
        seed_card=str(raw["seed_card"]),
        description=str(raw["description"]),
        task=task,
        labels=tuple(labels),
        cased=bool(raw["cased"]),
        max_tokens=max_tokens,
        activation=activation,
        threshold=threshold,
        per_sentence=bool(raw["per_sentence"]),
    )


def parse_catalog(text: str) -> dict[str, ModelSpec]:
    """Parse and validate catalog TOML text.

    Raises:
        CatalogError: When an entry is incomplete or inconsistent.
    """
    data = tomllib.loads(text)
    models = data.get("models")
    if not isinstance(models, dict) or not models:
        raise CatalogError("the catalog has no [models.*] tables")
    specs: dict[str, ModelSpec] = {}
    for name, raw in models.items():
        if not name.isidentifier() or name != name.lower():
            raise CatalogError(f"model name {name!r} must be a lower-case identifier")
        specs[name] = _parse_entry(name, raw)
    return specs


@lru_cache(maxsize=1)
def load_catalog() -> dict[str, ModelSpec]:
    """The packaged catalog, parsed once per process."""
    text = resources.files(__package__).joinpath("catalog.toml").read_text(encoding="utf-8")
    return parse_catalog(text)


def get_model(name: str) -> ModelSpec:
    """Look one model up by its public name.

    Raises:
        KeyError: With the known names, when ``name`` is not in the catalog.
    """
    catalog = load_catalog()
    try:
        return catalog[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; the catalog has {sorted(catalog)}") from None


def markdown_table(specs: dict[str, ModelSpec] | None = None) -> str:
    """The catalog as the Markdown table the README shows (a test keeps them identical)."""
    specs = specs or load_catalog()
    rows = [
        "| model (ensemble) | task | labels | cased | max tokens | per sentence | seed model |",
        "|---|---|---|---|---|---|---|",
    ]
    for spec in specs.values():
        labels = ", ".join(spec.labels) if len(spec.labels) <= 4 else f"{len(spec.labels)} labels"
        task = spec.task + (f" (sigmoid > {spec.threshold})" if spec.threshold is not None else "")
        rows.append(
            f"| `{spec.name}` | {task} | {labels} | {'yes' if spec.cased else 'no'} | {spec.max_tokens}"
            f" | {'yes' if spec.per_sentence else 'no'} | {spec.source_model} |"
        )
    return "\n".join(rows)
