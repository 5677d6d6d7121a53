"""FastAPI + ONNX Runtime: the served ``model.onnx`` run once per request, no batching.

Same tokenizer file, same session options (``clinserve_runtime.ort_options``) and thread count
as the served ONNX model; each request is padded to its own longest text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI

from benchmarks.limit import WholeTextTokenizer, pad_batch
from benchmarks.peers.transformers_app import PredictRequest
from clinserve_ensemble.catalog import load_catalog
from clinserve_runtime.ort_options import session_options


def create_app(repository: Path, model: str, *, threads: int) -> FastAPI:
    """The app serving ``model`` from a model repository."""
    spec = load_catalog()[model]
    tokenizer = WholeTextTokenizer(
        repository / spec.tokenizer_model / "1" / "tokenizer.json", spec.max_tokens
    )
    session = ort.InferenceSession(
        str(repository / spec.onnx_model / "1" / "model.onnx"),
        sess_options=session_options({"intra_op_thread_count": str(threads)}),
        providers=["CPUExecutionProvider"],
    )
    labels = spec.labels
    app = FastAPI(title="ONNX Runtime peer")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/predict")
    def predict(request: PredictRequest) -> dict[str, Any]:
        sequences = tokenizer.encode(request.texts)
        feeds = pad_batch(sequences, max(len(s) for s in sequences), tokenizer.pad_id)
        (logits,) = session.run(["logits"], feeds)
        shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
        probabilities = shifted / shifted.sum(axis=-1, keepdims=True)
        best = probabilities.argmax(axis=-1)
        return {
            "results": [
                {"label": labels[int(i)], "score": float(p[int(i)])}
                for i, p in zip(best, probabilities, strict=True)
            ]
        }

    return app
