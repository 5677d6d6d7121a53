"""clinserve: the client library of the clinical BERT models served by Triton.

Typical use::

    from clinserve import ClinServeClient

    with ClinServeClient("127.0.0.1:8001") as client:
        for result in client.classify("treatment_changes", ["I stopped taking ambien."]):
            print(result.label, result.score)

:class:`AsyncClinServeClient` offers the same calls for asyncio. Every error is a
:class:`ClinServeError`; results are frozen dataclasses (:mod:`clinserve.results`).
"""

from __future__ import annotations

from clinserve.aio import AsyncClinServeClient
from clinserve.batching import Chunk, split
from clinserve.client import ClinServeClient
from clinserve.errors import (
    CancelledError,
    ClinServeError,
    DeadlineExceededError,
    InvalidInputError,
    ModelNotFoundError,
    OverloadedError,
    PermissionDeniedError,
    RequestTooLargeError,
    ResultFormatError,
    ServerError,
    TimeoutError,
    UnavailableError,
)
from clinserve.model_info import KNOWN_MODELS, ModelInfo
from clinserve.options import ChannelOptions, RetryPolicy, TLSConfig, admin_headers
from clinserve.results import (
    ClassificationResult,
    EntitiesResult,
    Entity,
    LabelScore,
    MultiLabelResult,
    Result,
    ResultKind,
    SentencePrediction,
    SentenceResult,
)

__version__ = "0.1.0"

__all__ = [
    "KNOWN_MODELS",
    "AsyncClinServeClient",
    "CancelledError",
    "ChannelOptions",
    "Chunk",
    "ClassificationResult",
    "ClinServeClient",
    "ClinServeError",
    "DeadlineExceededError",
    "EntitiesResult",
    "Entity",
    "InvalidInputError",
    "LabelScore",
    "ModelInfo",
    "ModelNotFoundError",
    "MultiLabelResult",
    "OverloadedError",
    "PermissionDeniedError",
    "RequestTooLargeError",
    "Result",
    "ResultFormatError",
    "ResultKind",
    "RetryPolicy",
    "SentencePrediction",
    "SentenceResult",
    "ServerError",
    "TLSConfig",
    "TimeoutError",
    "UnavailableError",
    "__version__",
    "admin_headers",
    "split",
]
