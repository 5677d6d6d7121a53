"""Readers for the two Spark NLP layouts.

- ``loadSavedModel`` import folder: ``model.onnx``, ``assets/vocab.txt``, ``assets/labels.txt``
  (id = line index). It states neither casing nor length: the catalog or flags must.
- Saved annotator folder (what ``pretrained()`` leaves in ``~/cache_pretrained/<name>_<lang>_…``):
  ``bert_classification_onnx`` (a zip with one entry, the ONNX bytes), ``fields/vocabulary`` and
  ``fields/labels`` (``saveAsObjectFile`` output: SequenceFiles of Java-serialized
  ``Array[(String, Int)]``), ``metadata/part-00000`` (Spark ML params JSON, one line).
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

from clinserve_preprocess.vocabulary import REQUIRED_SPECIAL_TOKENS, read_vocabulary
from clinserve_runtime.importers.errors import ImportFailure
from clinserve_runtime.importers.java_pairs import decode_pairs, pairs_to_index
from clinserve_runtime.importers.progress import Progress
from clinserve_runtime.importers.sequencefile import SequenceFileError, read_object_file
from clinserve_runtime.importers.source import SourceInfo

ONNX_ARCHIVE = "bert_classification_onnx"
TENSORFLOW_ARCHIVE = "bert_classification_tensorflow"


def _read_labels_txt(path: Path) -> tuple[str, ...]:
    if not path.is_file():
        raise ImportFailure(
            f"{path} is missing: the import folder needs assets/labels.txt (one label a line)"
        )
    labels = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    while labels and not labels[-1]:
        labels.pop()
    if not labels or any(not label for label in labels):
        raise ImportFailure(f"{path}: labels must be one non-empty label per line")
    return tuple(labels)


def read_import_folder(path: Path) -> SourceInfo:
    """Read a ``loadSavedModel`` import folder."""
    model = path / "model.onnx"
    if not model.is_file():
        raise ImportFailure(f"{model} is missing: a Spark NLP import folder holds model.onnx")
    vocab_path = path / "assets" / "vocab.txt"
    if not vocab_path.is_file():
        raise ImportFailure(f"{vocab_path} is missing: the import folder needs assets/vocab.txt")
    try:
        vocab = read_vocabulary(vocab_path)
    except ValueError as exc:
        raise ImportFailure(str(exc)) from exc
    labels = _read_labels_txt(path / "assets" / "labels.txt")

    def materialize(work: Path, progress: Progress) -> Path:
        return model

    return SourceInfo(
        kind="sparknlp-import",
        path=path,
        labels=labels,
        vocab=vocab,
        cased=None,
        max_tokens=None,
        max_positions=None,
        token_level=None,
        multi_label=None,
        description=f"sparknlp-import:{path.name}",
        materialize=materialize,
    )


def _read_metadata(path: Path) -> dict[str, Any]:
    metadata_dir = path / "metadata"
    parts = sorted(metadata_dir.glob("part-*")) if metadata_dir.is_dir() else []
    if not parts:
        raise ImportFailure(f"{metadata_dir}/part-00000 is missing: a saved annotator keeps its params there")
    lines = [line for line in parts[0].read_text(encoding="utf-8").splitlines() if line.strip()]
    try:
        metadata = json.loads(lines[0]) if lines else None
    except json.JSONDecodeError as exc:
        raise ImportFailure(f"{parts[0]}: not Spark ML params JSON ({exc})") from exc
    if not isinstance(metadata, dict):
        raise ImportFailure(f"{parts[0]}: expected one JSON object with 'class' and 'paramMap'")
    return metadata


def _param(metadata: dict[str, Any], name: str) -> Any:
    for key in ("paramMap", "defaultParamMap"):
        values = metadata.get(key) or {}
        if name in values:
            return values[name]
    return None


def _read_map_feature(path: Path, field: str) -> dict[str, int]:
    folder = path / "fields" / field
    if not folder.is_dir():
        raise ImportFailure(
            f"{folder} is missing: a saved BERT classifier keeps its {field} there"
            " (is the folder complete? re-download it with pretrained())"
        )
    pairs: list[tuple[str, int]] = []
    try:
        for number, payload in enumerate(read_object_file(folder)):
            pairs.extend(decode_pairs(payload, where=f"{folder} record {number}"))
    except SequenceFileError as exc:
        raise ImportFailure(f"{folder}: {exc}") from exc
    return pairs_to_index(pairs, what=str(folder))


def _extract_onnx(path: Path, work: Path) -> Path:
    archive_path = path / ONNX_ARCHIVE
    if not archive_path.is_file():
        if (path / TENSORFLOW_ARCHIVE).exists():
            raise ImportFailure(
                f"{path} holds a TensorFlow graph ({TENSORFLOW_ARCHIVE}); only ONNX models are served:"
                " use the model's _onnx variant"
            )
        raise ImportFailure(f"{archive_path} is missing: the saved annotator has no ONNX graph")
    if not zipfile.is_zipfile(archive_path):
        raise ImportFailure(f"{archive_path} is not a zip archive (Spark NLP zips the ONNX bytes)")
    with zipfile.ZipFile(archive_path) as archive:
        entries = [i for i in archive.infolist() if not i.is_dir() and not i.filename.endswith("onnx_data")]
        if len(entries) != 1:
            raise ImportFailure(
                f"{archive_path}: expected one ONNX entry, found {[e.filename for e in entries]}"
            )
        target = work / "source.onnx"
        with archive.open(entries[0]) as source, target.open("wb") as sink:
            shutil.copyfileobj(source, sink)
    # Large graphs keep their weights in a sibling ``<name>.onnx_data`` file.
    for data in path.glob("*onnx_data"):
        shutil.copyfile(data, work / data.name)
    return target


def read_saved_annotator(path: Path) -> SourceInfo:
    """Read a saved (``pretrained()``) BERT classifier folder."""
    metadata = _read_metadata(path)
    annotator = str(metadata.get("class", ""))
    if not annotator.endswith(("ForSequenceClassification", "ForTokenClassification")):
        raise ImportFailure(
            f"{path}: the annotator is {annotator or 'unknown'}; only BertForSequenceClassification"
            " and BertForTokenClassification are supported"
        )
    vocab = _read_map_feature(path, "vocabulary")
    missing = [t for t in REQUIRED_SPECIAL_TOKENS if t not in vocab]
    if missing:
        raise ImportFailure(f"{path}/fields/vocabulary lacks BERT's special tokens {missing}")
    label_index = _read_map_feature(path, "labels")
    labels = tuple(sorted(label_index, key=label_index.__getitem__))
    case_sensitive = _param(metadata, "caseSensitive")
    max_length = _param(metadata, "maxSentenceLength")
    notes: tuple[str, ...] = ()
    if _param(metadata, "coalesceSentences"):
        notes = (
            "the source sets coalesceSentences=true (one averaged answer per document); the server"
            " answers per text, or per sentence for per_sentence models",
        )

    def materialize(work: Path, progress: Progress) -> Path:
        return _extract_onnx(path, work)

    return SourceInfo(
        kind="sparknlp-saved",
        path=path,
        labels=labels,
        vocab=vocab,
        cased=None if case_sensitive is None else bool(case_sensitive),
        max_tokens=None if max_length is None else int(max_length),
        max_positions=None,
        token_level=annotator.endswith("ForTokenClassification"),
        multi_label=None,
        description=f"sparknlp-saved:{path.name}",
        materialize=materialize,
        notes=notes,
    )
