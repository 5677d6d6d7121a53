"""What the simulated users send: which models (and modes), how often, and which payloads.

A workload is a list of :class:`Target` entries, one per model (or model and mode), each with
a weight: a user's next call goes to a target with probability weight / sum of weights. The
command line names them in one string (``--models``)::

    treatment_changes:3,biomarker:1              # two models, 3:1
    biomarker/document:1,biomarker/sentences:1   # one model in two modes
    drug_development_trials                      # weight 1

Each target draws its texts from payload kinds (``--payloads`` overrides the defaults below,
which follow what each model meets in use: tweets for the treatment-change model, report
sentences for the response model, abstracts and notes for the others).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from clinserve import KNOWN_MODELS
from lab.corpus import KINDS

__all__ = [
    "DEFAULT_MODELS",
    "DEFAULT_PAYLOADS",
    "MODES",
    "Target",
    "Workload",
    "parse_models",
    "parse_payloads",
    "parse_weights",
]

#: Every mode a served model may offer (``ModelInfo.modes`` says which one a model has).
MODES = ("whole", "sentences", "document", "windows")
#: Default mix: short, frequent calls dominate; document-sized work is a fifth of the calls.
DEFAULT_MODELS = (
    "treatment_changes:3,response_to_treatment:3,biomarker:2,drug_development_trials:1,pubmed_multilabel:1"
)
DEFAULT_PAYLOADS: Mapping[str, Mapping[str, float]] = {
    "treatment_changes": {"tweet": 1.0},
    "response_to_treatment": {"sentence": 3.0, "abstract": 1.0},
    "biomarker": {"sentence": 1.0, "abstract": 2.0, "long": 1.0},
    "drug_development_trials": {"sentence": 1.0, "abstract": 2.0, "long": 1.0},
    "pubmed_multilabel": {"abstract": 4.0, "long": 1.0},
}


@dataclass(frozen=True)
class Target:
    """One model (in one mode) the users call, and its share of the calls."""

    model: str
    mode: str | None
    weight: float

    @property
    def name(self) -> str:
        """The name the statistics are reported under: ``model`` or ``model/mode``."""
        return self.model if self.mode is None else f"{self.model}/{self.mode}"


def _weight(text: str, where: str) -> float:
    try:
        weight = float(text)
    except ValueError:
        raise ValueError(f"{where}: weight {text!r} is not a number") from None
    if not math.isfinite(weight) or weight <= 0:
        raise ValueError(f"{where}: weight must be a positive number, got {text!r}")
    return weight


def parse_weights(spec: str, *, what: str) -> dict[str, float]:
    """``"a:3,b,c:0.5"`` -> ``{"a": 3.0, "b": 1.0, "c": 0.5}`` (a missing weight is 1).

    Raises:
        ValueError: On an empty spec, an empty item, a repeated name or a bad weight.
    """
    items = [item.strip() for item in spec.split(",")]
    if not spec.strip() or any(not item for item in items):
        raise ValueError(f"{what} {spec!r}: expected NAME[:WEIGHT] items separated by commas")
    weights: dict[str, float] = {}
    for item in items:
        name, _, weight = item.partition(":")
        name = name.strip()
        if not name:
            raise ValueError(f"{what} {spec!r}: {item!r} has no name")
        if name in weights:
            raise ValueError(f"{what} {spec!r}: {name!r} is listed twice")
        weights[name] = _weight(weight.strip(), f"{what} {name!r}") if weight else 1.0
    return weights


def parse_models(spec: str, known_models: Sequence[str] = KNOWN_MODELS) -> tuple[Target, ...]:
    """Parse ``--models``: ``MODEL[/MODE][:WEIGHT]`` items separated by commas.

    Raises:
        ValueError: Naming the unknown model or mode, or the malformed item.
    """
    targets = []
    for name, weight in parse_weights(spec, what="--models").items():
        model, slash, mode = name.partition("/")
        if model not in known_models:
            raise ValueError(f"--models: unknown model {model!r}; the models are {', '.join(known_models)}")
        if slash and mode not in MODES:
            raise ValueError(f"--models: {name!r} has mode {mode!r}; modes are {', '.join(MODES)}")
        targets.append(Target(model, mode if slash else None, weight))
    return tuple(targets)


def parse_payloads(spec: str) -> dict[str, float]:
    """Parse ``--payloads``: ``KIND[:WEIGHT]`` items (kinds: tweet, sentence, abstract, long)."""
    weights = parse_weights(spec, what="--payloads")
    for kind in weights:
        if kind not in KINDS:
            raise ValueError(f"--payloads: unknown payload kind {kind!r}; the kinds are {', '.join(KINDS)}")
    return weights


@dataclass(frozen=True)
class Workload:
    """The targets with their payload mixes; :meth:`pick` draws one call's target and kind."""

    targets: tuple[Target, ...]
    payloads: Mapping[str, Mapping[str, float]]

    def __post_init__(self) -> None:
        if not self.targets:
            raise ValueError("a workload needs at least one target")
        for target in self.targets:
            mix = self.payloads.get(target.model)
            if not mix:
                raise ValueError(f"no payload kinds for {target.model!r}")

    @classmethod
    def from_options(cls, models: str, payloads: str | None = None) -> Workload:
        """The workload of ``--models`` and ``--payloads`` (``None``: each model's default mix)."""
        targets = parse_models(models)
        override = parse_payloads(payloads) if payloads else None
        mixes = {t.model: override or DEFAULT_PAYLOADS.get(t.model, {"sentence": 1.0}) for t in targets}
        return cls(targets, mixes)

    def shares(self) -> dict[str, float]:
        """Each target's expected fraction of the calls."""
        total = sum(t.weight for t in self.targets)
        return {t.name: t.weight / total for t in self.targets}

    def pick(self, rng: random.Random) -> tuple[Target, str]:
        """The target of the next call and the payload kind to send it."""
        [target] = rng.choices(self.targets, weights=[t.weight for t in self.targets])
        mix = self.payloads[target.model]
        [kind] = rng.choices(list(mix), weights=list(mix.values()))
        return target, kind

    def describe(self) -> str:
        """One line per target: share of calls and payload mix."""
        shares = self.shares()
        lines = []
        for target in self.targets:
            mix = self.payloads[target.model]
            total = sum(mix.values())
            kinds = ", ".join(f"{kind} {weight / total:.0%}" for kind, weight in mix.items())
            lines.append(f"  {target.name:<34} {shares[target.name]:>5.1%} of calls; payloads: {kinds}")
        return "\n".join(lines)
