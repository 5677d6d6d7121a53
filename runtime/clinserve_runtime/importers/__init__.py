"""Import real weights (Hugging Face checkpoints, Spark NLP folders) into the model repository.

The command-line entry point is :mod:`clinserve_runtime.importer`; the steps live in:
``source``/``huggingface``/``spark_nlp`` (reading), ``validation`` (checks before writing),
``profiles`` (fp32 / cpu int8 / gpu fp16), ``parity`` (agreement with the original) and
``pipeline`` (one import end to end).
"""

from clinserve_runtime.importers.errors import ImportFailure
from clinserve_runtime.importers.pipeline import ImportRequest, import_model, read_source
from clinserve_runtime.importers.validation import NewModelOptions

__all__ = ["ImportFailure", "ImportRequest", "NewModelOptions", "import_model", "read_source"]
