"""FastAPI + ``transformers`` pipeline: the server a team writes first.

A plain synchronous endpoint (FastAPI runs it in its thread pool) calling a
``text-classification`` pipeline, truncating to the model's ``max_tokens`` like the served
tokenizer does. PyTorch uses as many intra-op threads as the served ONNX model. On the ``gpu``
profile it runs on the GPU when this PyTorch build can (the project installs the CPU wheel, so
there it stays on the CPU, and ``/health`` says so).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

MAX_TEXTS = 64


class PredictRequest(BaseModel):
    """The texts to classify."""

    texts: list[str] = Field(min_length=1, max_length=MAX_TEXTS)


def create_app(checkpoint: Path, *, max_tokens: int, threads: int, profile: str = "cpu") -> FastAPI:
    """The app serving ``checkpoint`` (a folder written by ``hf_checkpoint``); ``/health`` says where."""
    import torch
    from transformers import pipeline

    if threads > 0:
        torch.set_num_threads(threads)
    device = "cuda" if profile == "gpu" and torch.cuda.is_available() else "cpu"
    where = "GPU" if device == "cuda" else "CPU"
    classifier = pipeline(
        "text-classification", model=str(checkpoint), tokenizer=str(checkpoint), device=device
    )
    app = FastAPI(title="transformers peer")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "runs_on": f"PyTorch {torch.__version__} on the {where}"}

    @app.post("/predict")
    def predict(request: PredictRequest) -> dict[str, Any]:
        results = classifier(request.texts, truncation=True, max_length=max_tokens)
        return {"results": [{"label": r["label"], "score": float(r["score"])} for r in results]}

    return app
