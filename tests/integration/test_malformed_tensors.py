"""Malformed tensors sent straight to every model in the repository get errors, never crashes.

Callers normally reach only the ensembles, but Triton exposes every composing model too; a
hostile or buggy caller must not be able to take a stub down or fail other callers' requests.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException, triton_to_np_dtype

from clinserve_preprocess.contract import SEQUENCE_INFO_WIDTH, SequenceColumn
from tests.integration.triton_calls import infer, onnx_inputs

pytestmark = pytest.mark.integration

WRONG_TYPE = {"TYPE_STRING": "FP32", "TYPE_INT64": "FP32", "TYPE_INT32": "FP32", "TYPE_FP32": "INT64"}


@pytest.fixture(scope="module")
def client(triton_server):
    with grpcclient.InferenceServerClient(triton_server.grpc_url) as c:
        yield c


def all_model_names(catalog) -> list[str]:
    return [name for spec in catalog.values() for name in spec.triton_models]


def tensor(name: str, data_type: str, shape: list[int]) -> grpcclient.InferInput:
    """A well-formed tensor of the given Triton config type and shape."""
    if data_type in ("TYPE_STRING", "BYTES"):
        data = np.full(shape, b"text", dtype=np.object_)
        wire = "BYTES"
    else:
        wire = data_type.removeprefix("TYPE_")
        data = np.ones(shape, dtype=triton_to_np_dtype(wire))
    item = grpcclient.InferInput(name, shape, wire)
    item.set_data_from_numpy(data)
    return item


def valid_shape(config: dict, dims: list[int]) -> list[int]:
    shape = [2 if d == -1 else d for d in dims]
    return [1, *shape] if int(config.get("max_batch_size", 0)) > 0 else shape


def malformed_requests(config: dict) -> dict[str, list[grpcclient.InferInput]]:
    inputs = config["input"]
    good = [
        tensor(i["name"], i["data_type"], valid_shape(config, [int(d) for d in i["dims"]])) for i in inputs
    ]
    cases = {"missing input": good[1:], "extra input": [*good, tensor("BOGUS", "TYPE_FP32", [1])]}
    first = inputs[0]
    shape = valid_shape(config, [int(d) for d in first["dims"]])
    cases["wrong type"] = [tensor(first["name"], f"TYPE_{WRONG_TYPE[first['data_type']]}", shape), *good[1:]]
    cases["wrong rank"] = [tensor(first["name"], first["data_type"], [*shape, 1]), *good[1:]]
    return cases


def test_every_model_refuses_malformed_tensors_and_keeps_serving(client, catalog):
    checked = 0
    for name in all_model_names(catalog):
        config = client.get_model_config(name, as_json=True)["config"]
        for case, inputs in malformed_requests(config).items():
            with pytest.raises(InferenceServerException) as info:
                client.infer(name, inputs)
            assert info.value.status() in ("StatusCode.INVALID_ARGUMENT", "StatusCode.INTERNAL"), (name, case)
            checked += 1
        assert client.is_model_ready(name), name
    assert checked == 4 * len(all_model_names(catalog))
    (result,) = infer(client, "drug_development_trials", ["In June 2003, 23 patients received topotecan."])
    assert "entities" in result


def test_out_of_range_token_ids_fail_only_their_own_request(client):
    """A bad request batched with good ones must not fail them (the stand-in isolates it)."""
    good_ids = np.full((1, 16), 1000, dtype=np.int64)
    bad_ids = np.full((1, 16), 10**9, dtype=np.int64)
    outcomes: dict[int, Any] = {}
    done = threading.Semaphore(0)

    def callback(index):
        def record(result, error):
            outcomes[index] = error if error is not None else result.as_numpy("logits")
            done.release()

        return record

    for index in range(24):
        ids = bad_ids if index % 6 == 0 else good_ids
        client.async_infer("treatment_changes_onnx", onnx_inputs(ids), callback=callback(index))
    for _ in range(24):
        assert done.acquire(timeout=60)
    for index, outcome in outcomes.items():
        if index % 6 == 0:
            assert isinstance(outcome, InferenceServerException), index
            assert "refused the inputs" in str(outcome)
        else:
            assert isinstance(outcome, np.ndarray) and outcome.shape == (1, 2), (index, outcome)


def postprocess_inputs(logits: np.ndarray, text_index: list[int]) -> list[grpcclient.InferInput]:
    """The post-processor's inputs for ``logits`` [S, C], sequence ``i`` of text ``text_index[i]``."""
    info = np.zeros((len(text_index), SEQUENCE_INFO_WIDTH), dtype=np.int32)
    info[:, SequenceColumn.TEXT] = text_index
    values = {
        "sequence_info": info,
        "sequence_text": np.array([[b""]] * len(text_index), dtype=np.object_),
        "logits": logits.astype(np.float32),
    }
    items = []
    for name, data in values.items():
        item = grpcclient.InferInput(
            name,
            list(data.shape),
            "BYTES" if data.dtype == object else str(data.dtype).upper().replace("FLOAT", "FP"),
        )
        item.set_data_from_numpy(data)
        items.append(item)
    return items


@pytest.mark.parametrize(
    ("logits", "text_index", "message"),
    [
        (np.zeros((1, 2)), [5], "inconsistent post-processor inputs"),
        # Rows of the batched step must agree: Triton refuses before the step runs.
        (np.zeros((2, 2)), [0], "batch size does not match other inputs"),
        (np.full((1, 2), np.nan), [0], "NaN or infinite logits"),
    ],
)
def test_inconsistent_post_processor_inputs_get_an_error(client, logits, text_index, message):
    with pytest.raises(InferenceServerException) as info:
        client.infer("treatment_changes_postprocess", postprocess_inputs(logits, text_index))
    assert message in str(info.value)
    assert client.is_model_ready("treatment_changes_postprocess")


def test_a_broken_post_processor_request_fails_alone_beside_good_ones(client):
    """Requests the post-processor's batcher merges: the NaN one fails, the others are answered."""
    outcomes: dict[int, Any] = {}
    done = threading.Semaphore(0)

    def finish(index, result, error):
        outcomes[index] = error if error is not None else result.as_numpy("RESULT")
        done.release()

    for index in range(24):
        logits = np.full((1, 2), np.nan) if index == 11 else np.array([[0.0, float(index)]])
        client.async_infer(
            "treatment_changes_postprocess",
            postprocess_inputs(logits, [0]),
            callback=lambda result, error, index=index: finish(index, result, error),
        )
    for _ in range(24):
        assert done.acquire(timeout=60)
    assert isinstance(outcomes[11], InferenceServerException) and "NaN" in str(outcomes[11])
    good = [i for i in outcomes if i != 11]
    assert all(not isinstance(outcomes[i], Exception) and len(outcomes[i]) == 1 for i in good)
