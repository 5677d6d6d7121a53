"""Peers: what a team would deploy instead of Triton, served on the same machine and weights.

- ``transformers_app``: FastAPI + a Hugging Face ``transformers`` text-classification pipeline
  on a checkpoint converted from the served ONNX weights (``hf_checkpoint``);
- ``onnx_app``: FastAPI + ONNX Runtime running the served ``model.onnx`` once per request;
- ``serve``: runs either under uvicorn (``python -m benchmarks.peers.serve``) and starts it
  from the orchestrator (:class:`~benchmarks.peers.serve.PeerServer`).

Both answer ``POST /predict {"texts": [...]}`` with ``{"results": [{"label", "score"}, ...]}``.
"""
