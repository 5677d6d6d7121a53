"""Raw tritonclient calls for the integration tests (the client library is tested on its own)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient


def text_input(texts: Sequence[str | bytes]) -> grpcclient.InferInput:
    data = np.array([t.encode("utf-8") if isinstance(t, str) else t for t in texts], dtype=np.object_)
    tensor = grpcclient.InferInput("TEXT", [len(texts)], "BYTES")
    tensor.set_data_from_numpy(data)
    return tensor


def infer(
    client: grpcclient.InferenceServerClient,
    model: str,
    texts: Sequence[str | bytes],
    *,
    parameters: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    response = client.infer(
        model,
        [text_input(texts)],
        outputs=[grpcclient.InferRequestedOutput("RESULT")],
        parameters=parameters,
    )
    return [json.loads(doc) for doc in response.as_numpy("RESULT")]


def onnx_inputs(ids: np.ndarray) -> list[grpcclient.InferInput]:
    """The ONNX step's three inputs for ``ids`` [batch, length]: all attended, one segment."""
    items = []
    for name, data in (
        ("input_ids", ids),
        ("attention_mask", np.ones_like(ids)),
        ("token_type_ids", np.zeros_like(ids)),
    ):
        item = grpcclient.InferInput(name, list(data.shape), "INT64")
        item.set_data_from_numpy(data)
        items.append(item)
    return items
