"""What every reader learns about a source before anything is exported or written."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from clinserve_runtime.importers.errors import ImportFailure
from clinserve_runtime.importers.progress import Progress

SOURCE_KINDS = ("huggingface", "sparknlp-import", "sparknlp-saved")
# Special tokens are upper case in every BERT vocabulary ([CLS], [unused0], <S>): not evidence.
SPECIAL_TOKEN = re.compile(r"^\[[^\]]*\]$|^<[^>]*>$")
# A cased BERT vocabulary has thousands of capitalized pieces (a fifth of bert-base-cased's);
# an uncased one has none. Between "none" and this share, the vocabulary does not tell.
CASED_SHARE = 0.01


@dataclass(frozen=True)
class SourceInfo:
    """Facts a model source states about itself.

    Attributes:
        kind: One of ``SOURCE_KINDS``.
        path: The folder the user named.
        labels: Label names in the order of the model's output units.
        vocab: WordPiece token -> id.
        cased: Whether the vocabulary is cased; None when the source does not say.
        max_tokens: The sequence length the source was configured with (Spark NLP's
            ``maxSentenceLength``); None when it states only a limit.
        max_positions: The longest sequence the model can embed, when known.
        token_level: True for token classification, False for sequence classification,
            None when only the graph can tell.
        multi_label: True when the source says its head is multi-label (sigmoid).
        description: One line naming the weights, recorded as their provenance.
        materialize: Writes the fp32 ONNX graph into a work folder and returns its path.
        notes: Facts the user should read (recorded in the import report).
    """

    kind: str
    path: Path
    labels: tuple[str, ...]
    vocab: dict[str, int]
    cased: bool | None
    max_tokens: int | None
    max_positions: int | None
    token_level: bool | None
    multi_label: bool | None
    description: str
    materialize: Callable[[Path, Progress], Path]
    notes: tuple[str, ...] = ()


def detect_kind(path: Path) -> str:
    """Which reader a folder needs, from the files in it."""
    if not path.is_dir():
        raise ImportFailure(f"{path} is not a folder; name the model's folder")
    if (path / "config.json").is_file():
        return "huggingface"
    if (path / "bert_classification_onnx").exists() or (path / "metadata").is_dir():
        return "sparknlp-saved"
    if (path / "model.onnx").is_file() or (path / "assets").is_dir():
        return "sparknlp-import"
    raise ImportFailure(
        f"{path} holds no model this importer knows: expected a Hugging Face checkpoint (config.json),"
        " a Spark NLP import folder (model.onnx + assets/) or a saved Spark NLP annotator"
        " (bert_classification_onnx, fields/, metadata/)"
    )


@dataclass(frozen=True)
class VocabularyCasing:
    """What a vocabulary shows about casing: its upper-case word-pieces.

    Attributes:
        cased: True when at least ``CASED_SHARE`` of the pieces have upper-case letters, False
            when none has, None in between (the vocabulary does not tell).
        upper: Pieces with upper-case letters (special tokens not counted).
        pieces: Pieces counted.
    """

    cased: bool | None
    upper: int
    pieces: int

    def evidence(self) -> str:
        """The finding in words, for messages."""
        if self.upper == 0:
            return f"none of its {self.pieces:,} word-pieces has an upper-case letter"
        return f"{self.upper:,} of its {self.pieces:,} word-pieces have upper-case letters"


def vocabulary_casing(vocab: Mapping[str, int]) -> VocabularyCasing:
    """Whether ``vocab`` is cased, judged from its word-pieces."""
    pieces = [token for token in vocab if not SPECIAL_TOKEN.match(token)]
    upper = sum(1 for token in pieces if token != token.lower())
    cased: bool | None = None
    if upper == 0:
        cased = False
    elif upper >= CASED_SHARE * len(pieces):
        cased = True
    return VocabularyCasing(cased=cased, upper=upper, pieces=len(pieces))
