"""Triton Python-based backend ``onnxruntime``; the implementation is clinserve_runtime.onnx_backend."""

import contextlib

# Applies PYTHONPATH, which the stub's embedded Python ignores (see clinserve_site_path.py).
with contextlib.suppress(ImportError):
    import clinserve_site_path  # noqa: F401

from clinserve_runtime.onnx_backend import TritonPythonModel  # noqa: F401
