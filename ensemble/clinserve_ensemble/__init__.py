"""Model catalog and post-processing: logits to labels, scores and entity chunks.

The Triton post-processor models re-export ``triton_postprocess.TritonPythonModel``; the
decoding functions here are plain numpy and are unit-tested without a server.
"""

from clinserve_ensemble.catalog import ModelSpec, get_model, load_catalog

__all__ = ["ModelSpec", "get_model", "load_catalog"]
