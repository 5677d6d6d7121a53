"""Parity: the same texts through the original model and through what is served, compared.

Every side gets the *served* encoding (the tokenizer.json the Triton tokenizer step loads,
with the entry's length and sentence splitting), so differences come from the graph alone; the
source's own tokenizer is compared separately, id by id. Decisions are compared the way users
see them: the label of each text (or sentence), the label set of multi-label texts, the entity
chunks of NER texts (through the same post-processing code the server runs).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Tokenizer

from clinserve_ensemble.activations import softmax
from clinserve_ensemble.catalog import ModelSpec
from clinserve_ensemble.decoding import tag_words
from clinserve_ensemble.results import ResultContext, SequenceOutputs, build_results
from clinserve_preprocess.contract import MODEL_INPUTS, SequenceColumn
from clinserve_preprocess.encoding import EncodedBatch, TextEncoder
from clinserve_preprocess.modes import Mode, default_mode, modes_for
from clinserve_runtime.importers.errors import ImportFailure, missing_extra
from clinserve_runtime.ort_providers import CPU, ProviderChoice, active_provider

LOGIT_TOLERANCE = 1e-3
AGREEMENT_TARGET = 0.99
TEXTS_PER_CHUNK = 16
MAX_LISTED_MISMATCHES = 10
MIN_TIMING_PASSES = 3
MAX_TIMING_PASSES = 50

Logits = npt.NDArray[np.float32]
Runner = Callable[[EncodedBatch], Logits]


@dataclass(frozen=True)
class EncodedChunk:
    """Up to ``TEXTS_PER_CHUNK`` texts and their served encoding (in the model's default mode)."""

    texts: list[str]
    batch: EncodedBatch
    mode: Mode


def served_mode(spec: ModelSpec) -> Mode:
    """The mode a request gets when it names none, as the tokenizer step decides it."""
    modes = modes_for(spec.is_token_classifier)
    return modes[default_mode(token_level=spec.is_token_classifier, per_sentence=spec.per_sentence)]


def served_encoder(tokenizer_path: Path, spec: ModelSpec) -> tuple[TextEncoder, Mode]:
    """The encoder and the mode the served tokenizer step uses for ``spec``'s requests."""
    return TextEncoder(Tokenizer.from_file(str(tokenizer_path)), spec.max_tokens), served_mode(spec)


def encode_request(encoder: TextEncoder, texts: Sequence[str], mode: Mode) -> EncodedChunk:
    """``texts`` as one request in ``mode``, encoded as the tokenizer step encodes it."""
    part = list(texts)
    return EncodedChunk(
        part, encoder.encode(part, segmentation=mode.segmentation, quote_text=mode.quotes_text), mode
    )


def encode_chunks(
    tokenizer_path: Path, spec: ModelSpec, texts: Sequence[str], *, chunk: int = TEXTS_PER_CHUNK
) -> list[EncodedChunk]:
    """Encode ``texts`` as the served tokenizer step would, ``chunk`` texts per request."""
    encoder, mode = served_encoder(tokenizer_path, spec)
    return [
        encode_request(encoder, texts[start : start + chunk], mode) for start in range(0, len(texts), chunk)
    ]


def model_feeds(batch: EncodedBatch) -> dict[str, npt.NDArray[np.int64]]:
    """The graph's inputs, by name, from an encoded batch."""
    return {name: getattr(batch, name) for name in MODEL_INPUTS}


class OnnxRunner:
    """A graph run in-process by ONNX Runtime; ``provider`` says where it really runs."""

    def __init__(self, path: Path, *, threads: int = 0, providers: ProviderChoice | None = None) -> None:
        """Create the session; ``providers`` defaults to the CPU (ONNX Runtime drops unusable ones)."""
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self.choice = providers or ProviderChoice([CPU], "CPU")
        self.session = ort.InferenceSession(str(path), sess_options=options, providers=self.choice.providers)
        self.provider = active_provider(self.session)

    def __call__(self, batch: EncodedBatch) -> Logits:
        """Logits of one encoded batch."""
        (logits,) = self.session.run(["logits"], model_feeds(batch))
        return np.asarray(logits, dtype=np.float32)


def onnx_runner(path: Path, *, threads: int = 0, providers: ProviderChoice | None = None) -> OnnxRunner:
    """Run a graph in-process with ONNX Runtime, on the CPU unless ``providers`` say otherwise."""
    return OnnxRunner(path, threads=threads, providers=providers)


def torch_runner(model: Any) -> Runner:
    """Run a Hugging Face PyTorch model on the same inputs."""
    import torch

    def run(batch: EncodedBatch) -> Logits:
        with torch.no_grad():
            outputs = model(**{name: torch.from_numpy(getattr(batch, name)) for name in MODEL_INPUTS})
        return np.asarray(outputs.logits.float().numpy(), dtype=np.float32)

    return run


def _context(spec: ModelSpec) -> ResultContext:
    return ResultContext(
        model=spec.name,
        task=spec.task,
        labels=spec.labels,
        per_sentence=spec.per_sentence,
        threshold=spec.threshold,
        untrained=False,
        weights="parity",
    )


def results_for(spec: ModelSpec, chunk: EncodedChunk, logits: Logits) -> list[dict[str, Any]]:
    """The served result documents these logits would produce."""
    # Every tokenizer output the post-processor takes has the same name on the batch.
    tensors = {f.name: getattr(chunk.batch, f.name) for f in fields(SequenceOutputs) if f.name != "logits"}
    return build_results(_context(spec), SequenceOutputs(logits=logits, **tensors), chunk.mode)


def decisions(spec: ModelSpec, result: dict[str, Any]) -> list[Any]:
    """What a user acts on, per text (or per sentence): labels, label sets or entity chunks."""
    if spec.is_token_classifier:
        return [tuple((e["entity"], e["begin"], e["end"]) for e in result["entities"])]
    if spec.per_sentence:
        return [s["label"] for s in result["sentences"]]
    if spec.task == "multi_label":
        return [tuple(sorted(x["label"] for x in result["labels"]))]
    return [result["label"]]


def unit_labels(spec: ModelSpec, chunk: EncodedChunk, logits: Logits) -> list[Any]:
    """Finest-grained decisions for agreement rates: one per sequence, or per word for NER."""
    if spec.is_token_classifier:
        tags: list[Any] = []
        for row in range(logits.shape[0]):
            words = tag_words(
                softmax(logits[row]), chunk.batch.word_ids[row], chunk.batch.token_offsets[row], spec.labels
            )
            tags.extend(w.tag for w in words)
        return tags
    if spec.task == "multi_label":
        assert spec.threshold is not None
        probs = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
        return [tuple(np.flatnonzero(p > spec.threshold)) for p in probs]
    return [int(i) for i in np.argmax(logits, axis=-1)]


def _valid_positions(spec: ModelSpec, batch: EncodedBatch) -> npt.NDArray[np.bool_]:
    if spec.is_token_classifier:
        return batch.attention_mask.astype(bool)
    return np.ones(batch.num_sequences, dtype=bool)


def compare_runners(
    spec: ModelSpec, chunks: Sequence[EncodedChunk], reference: Runner, candidate: Runner
) -> dict[str, Any]:
    """Logit and decision agreement of ``candidate`` against ``reference``."""
    max_diff = 0.0
    agree = total = 0
    unit_agree = unit_total = 0
    mismatches: list[dict[str, Any]] = []
    text_offset = 0
    for chunk in chunks:
        ref, got = reference(chunk.batch), candidate(chunk.batch)
        if ref.shape != got.shape:
            raise ImportFailure(f"logit shapes differ: reference {ref.shape}, candidate {got.shape}")
        valid = _valid_positions(spec, chunk.batch)
        max_diff = max(max_diff, float(np.max(np.abs(ref[valid] - got[valid]))))
        ref_units, got_units = unit_labels(spec, chunk, ref), unit_labels(spec, chunk, got)
        unit_total += len(ref_units)
        unit_agree += sum(a == b for a, b in zip(ref_units, got_units, strict=True))
        for index, (expected, actual) in enumerate(
            zip(results_for(spec, chunk, ref), results_for(spec, chunk, got), strict=True)
        ):
            want, have = decisions(spec, expected), decisions(spec, actual)
            total += len(want)
            agree += sum(a == b for a, b in zip(want, have, strict=True))
            if want != have and len(mismatches) < MAX_LISTED_MISMATCHES:
                mismatches.append({"text": text_offset + index, "expected": want, "actual": have})
        text_offset += len(chunk.texts)
    report: dict[str, Any] = {
        "texts": text_offset,
        "sequences": sum(c.batch.num_sequences for c in chunks),
        "max_abs_logit_diff": max_diff,
        "decisions_compared": total,
        "decisions_differing": total - agree,
        "decision_agreement": agree / total if total else 1.0,
        "units_compared": unit_total,
        "units_differing": unit_total - unit_agree,
        "unit_agreement": unit_agree / unit_total if unit_total else 1.0,
        "units": "words" if spec.is_token_classifier else "sequences",
        "mismatches": mismatches,
    }
    return report


def tokenizer_agreement(source: Path, spec: ModelSpec, chunks: Sequence[EncodedChunk]) -> dict[str, Any]:
    """Compare the served encoding with the checkpoint's own Hugging Face tokenizer, id by id.

    Each served sequence holds a range of its text's word-pieces between ``[CLS]`` and
    ``[SEP]``; the source tokenizer's pieces of the whole text, cut to that range, must match.
    """
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise missing_extra("transformers") from None
    reference = AutoTokenizer.from_pretrained(str(source), local_files_only=True)
    compared = differing = 0
    examples: list[dict[str, Any]] = []
    for chunk in chunks:
        batch = chunk.batch
        pieces = [reference(text, add_special_tokens=False)["input_ids"] for text in chunk.texts]
        for row in range(batch.num_sequences):
            first, last = batch.window(row)
            text_index = int(batch.column(SequenceColumn.TEXT)[row])
            expected = [
                reference.cls_token_id,
                *pieces[text_index][first:last],
                reference.sep_token_id,
            ]
            served = batch.input_ids[row][batch.attention_mask[row].astype(bool)].tolist()
            compared += 1
            if expected != served:
                differing += 1
                if len(examples) < MAX_LISTED_MISMATCHES:
                    text = chunk.texts[text_index]
                    examples.append(
                        {"text": text[:120], "source_ids": expected[:20], "served_ids": served[:20]}
                    )
    return {"sequences": compared, "differing": differing, "examples": examples}


def pytorch_parity(
    source: Path, onnx_path: Path, tokenizer_path: Path, spec: ModelSpec, texts: Sequence[str]
) -> dict[str, Any]:
    """ONNX (in-process) against the original PyTorch checkpoint, fp32 targets included."""
    from clinserve_runtime.importers.huggingface import load_torch_model

    chunks = encode_chunks(tokenizer_path, spec, texts)
    model = load_torch_model(source, token_level=spec.is_token_classifier)
    candidate = onnx_runner(onnx_path)
    report = compare_runners(spec, chunks, torch_runner(model), candidate)
    report["tokenizer"] = tokenizer_agreement(source, spec, chunks)
    report["reference"] = f"PyTorch checkpoint {source} (CPU)"
    report["candidate"] = f"ONNX Runtime on {candidate.provider}: {onnx_path.name}"
    report["providers"] = {"reference": "PyTorch CPU", "candidate": candidate.provider}
    report["logit_tolerance"] = LOGIT_TOLERANCE
    report["passed"] = (
        report["max_abs_logit_diff"] <= LOGIT_TOLERANCE
        and report["decision_agreement"] == 1.0
        and report["tokenizer"]["differing"] == 0
    )
    return report


def _centered(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    centered: npt.NDArray[np.float64] = values - values.mean()
    return centered


def _score_logits(spec: ModelSpec, scores: Sequence[dict[str, Any]]) -> npt.NDArray[np.float64] | None:
    """Logits recovered from served scores: log-probabilities (centered) or log-odds."""
    probs = np.array([float(s["score"]) for s in scores], dtype=np.float64)
    if spec.task == "multi_label":
        if np.any(probs <= 1e-30) or np.any(probs >= 1.0 - 1e-6):
            return None  # saturated: the log-odds are not recoverable from a float32 score
        log_odds: npt.NDArray[np.float64] = np.log(probs) - np.log1p(-probs)
        return log_odds
    if np.any(probs <= 0.0):
        return None
    return _centered(np.log(probs))


def _expected_logits(spec: ModelSpec, logits: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    values = logits.astype(np.float64)
    return values if spec.task == "multi_label" else _centered(values)


def served_parity(
    server_url: str, source: Path, tokenizer_path: Path, spec: ModelSpec, texts: Sequence[str]
) -> dict[str, Any]:
    """The served ensemble (gRPC) against the original PyTorch checkpoint.

    Served results carry probabilities; logits are recovered from them (log-probabilities up to
    a constant for softmax, log-odds for sigmoid) and compared centered, so the reported
    difference is in logit units. NER results are compared by entity chunks and confidences.
    """
    from clinserve_runtime.importers.huggingface import load_torch_model

    chunks = encode_chunks(tokenizer_path, spec, texts)
    run_reference = torch_runner(load_torch_model(source, token_level=spec.is_token_classifier))
    served = infer_served(server_url, spec.name, [c.texts for c in chunks])
    max_logit = max_confidence = 0.0
    agree = total = 0
    mismatches: list[dict[str, Any]] = []
    text_offset = 0
    for chunk, results in zip(chunks, served, strict=True):
        expected_results = results_for(spec, chunk, run_reference(chunk.batch))
        for index, (expected, actual) in enumerate(zip(expected_results, results, strict=True)):
            want, have = decisions(spec, expected), decisions(spec, actual)
            total += len(want)
            agree += sum(a == b for a, b in zip(want, have, strict=True))
            if want != have and len(mismatches) < MAX_LISTED_MISMATCHES:
                mismatches.append({"text": text_offset + index, "expected": want, "actual": have})
            if spec.is_token_classifier:
                if want == have:
                    for e, a in zip(expected["entities"], actual["entities"], strict=True):
                        max_confidence = max(max_confidence, abs(e["confidence"] - a["confidence"]))
                continue
            pairs = (
                zip(expected["sentences"], actual["sentences"], strict=True)
                if spec.per_sentence
                else [(expected, actual)]
            )
            for want_unit, have_unit in pairs:
                ref_scores = _score_logits(spec, want_unit["scores"])
                got_scores = _score_logits(spec, have_unit["scores"])
                if ref_scores is not None and got_scores is not None:
                    max_logit = max(max_logit, float(np.max(np.abs(ref_scores - got_scores))))
        text_offset += len(chunk.texts)
    report: dict[str, Any] = {
        "reference": f"PyTorch checkpoint {source}",
        "candidate": f"served ensemble {spec.name} at {server_url}",
        "texts": text_offset,
        "decisions_compared": total,
        "decisions_differing": total - agree,
        "decision_agreement": agree / total if total else 1.0,
        "mismatches": mismatches,
    }
    if spec.is_token_classifier:
        report["max_abs_confidence_diff"] = max_confidence
    else:
        report["max_abs_logit_diff_from_scores"] = max_logit
        report["logit_tolerance"] = LOGIT_TOLERANCE
    return report


def infer_served(server_url: str, model: str, batches: Sequence[Sequence[str]]) -> list[list[dict[str, Any]]]:
    """Send each batch of texts to the ensemble over gRPC and parse the result documents."""
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    client = grpcclient.InferenceServerClient(url=server_url)
    answers = []
    try:
        for texts in batches:
            data = np.array([t.encode("utf-8") for t in texts], dtype=np.object_)
            tensor = grpcclient.InferInput("TEXT", [len(texts)], "BYTES")
            tensor.set_data_from_numpy(data)
            try:
                response = client.infer(model, [tensor], outputs=[grpcclient.InferRequestedOutput("RESULT")])
            except InferenceServerException as exc:
                raise ImportFailure(f"the server at {server_url} refused {model}: {exc.message()}") from exc
            raw = response.as_numpy("RESULT")
            if raw is None:
                raise ImportFailure(f"the server at {server_url} returned no RESULT for {model}")
            answers.append([json.loads(bytes(r).decode("utf-8")) for r in raw])
    finally:
        client.close()
    return answers


def profile_comparison(
    spec: ModelSpec,
    chunks: Sequence[EncodedChunk],
    fp32: Path,
    optimized: Path,
    *,
    seconds: float = 6.0,
    timed: bool = True,
    providers: ProviderChoice | None = None,
) -> dict[str, Any]:
    """Label agreement of an optimized graph with the fp32 one, and both speeds, side by side.

    Both sessions use the same threads and inputs. Passes over the text set alternate between
    the two, and each speed is taken from the median pass, so that load from other processes
    falls on both alike and a single disturbed pass does not decide. The fp32 reference runs on
    the CPU; the optimized graph on ``providers`` (the gpu profile's fp16 graph on the GPU where
    there is one); ``providers`` in the report says where each ran.
    """
    reference, candidate = onnx_runner(fp32), onnx_runner(optimized, providers=providers)
    report = compare_runners(spec, chunks, reference, candidate)
    report["providers"] = {"reference": reference.provider, "candidate": candidate.provider}
    report["agreement_target"] = AGREEMENT_TARGET
    report["passed"] = report["unit_agreement"] >= AGREEMENT_TARGET
    if not timed:
        return report
    sequences = sum(c.batch.num_sequences for c in chunks)
    passes: dict[str, list[float]] = {"fp32": [], "optimized": []}
    deadline = time.perf_counter() + seconds
    while len(passes["fp32"]) < MIN_TIMING_PASSES or time.perf_counter() < deadline:
        for name, runner in (("fp32", reference), ("optimized", candidate)):
            started = time.perf_counter()
            for chunk in chunks:
                runner(chunk.batch)
            passes[name].append(time.perf_counter() - started)
        if len(passes["fp32"]) >= MAX_TIMING_PASSES:
            break
    fp32_rate = sequences / float(np.median(passes["fp32"]))
    optimized_rate = sequences / float(np.median(passes["optimized"]))
    report.update(
        {
            "reference": f"ONNX Runtime fp32 ({fp32.name})",
            "candidate": f"ONNX Runtime optimized ({optimized.name})",
            "fp32_sequences_per_s": round(fp32_rate, 2),
            "optimized_sequences_per_s": round(optimized_rate, 2),
            "speedup": round(optimized_rate / fp32_rate, 2),
            "timing_passes": len(passes["fp32"]),
        }
    )
    return report
