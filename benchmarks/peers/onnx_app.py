"""FastAPI + ONNX Runtime: the served ``model.onnx`` run once per request, no batching.

Same tokenizer file, same session options (``clinserve_runtime.ort_options``) and thread count
as the served ONNX model, on the execution profile's provider (``benchmarks.sessions``); each
request is padded to its own longest text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI

from benchmarks.limit import WholeTextTokenizer, pad_batch
from benchmarks.peers.transformers_app import PredictRequest
from benchmarks.sessions import open_session, runs_on
from clinserve_ensemble.catalog import load_catalog


def create_app(repository: Path, model: str, *, threads: int, profile: str = "cpu") -> FastAPI:
    """The app serving ``model`` from a model repository; ``/health`` says where it runs."""
    spec = load_catalog()[model]
    tokenizer = WholeTextTokenizer(
        repository / spec.tokenizer_model / "1" / "tokenizer.json", spec.max_tokens
    )
    session = open_session(repository / spec.onnx_model / "1" / "model.onnx", profile, threads=threads)
    where = runs_on(session)
    labels = spec.labels
    app = FastAPI(title="ONNX Runtime peer")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "runs_on": where["provider"]}

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
