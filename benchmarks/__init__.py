"""Benchmarks of the serving path: the limit, the served ensembles and their peers, side by side.

``make bench`` (``python -m benchmarks``) runs everything in one bounded run and writes
``benchmarks/reports/REPORT.md`` with PNG plots. Each module has one job (the texts come from ``lab.corpus``):

- ``stats``: percentiles and the summary of one measurement (pure);
- ``limit``: the same ONNX model run in-process by ONNX Runtime with the best batching;
- ``loadgen``: the load generator, a separate client process (gRPC to Triton, HTTP to peers);
- ``triton_stats``: per-stage timings from Triton's statistics extension;
- ``repository``: the benchmark model repository and its serving-settings variants;
- ``peers``: a FastAPI + ``transformers`` pipeline server and a FastAPI + ONNX Runtime server;
- ``long_docs``: cost of token classification as documents grow;
- ``report`` and ``plots``: the Markdown report and its figures;
- ``run``: the orchestration and its time budget.
"""
