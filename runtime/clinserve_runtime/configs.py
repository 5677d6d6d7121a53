"""Render the four Triton model configs of a catalog entry.

Configs are built as ``ModelConfig`` protobuf messages (from tritonclient's generated
``model_config_pb2``) and written with protobuf's text format, so a field name or enum value
that Triton would reject fails here, at build time.

Ensemble tensor contract (documented in docs/tensor-contract.md):

- ``TEXT``: TYPE_STRING, dims ``[-1]``: the texts of one request, UTF-8.
- ``RESULT``: TYPE_STRING, dims ``[-1]``: one JSON document per text, same order.

The ensemble and its Python steps use ``max_batch_size: 0`` because one text may become several
model sequences (one per sentence); only the ONNX step batches, which is where batching pays.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format, text_format
from tritonclient.grpc import model_config_pb2

from clinserve_ensemble.catalog import ModelSpec
from clinserve_preprocess.encoding import DEFAULT_BUCKETS
from clinserve_preprocess.modes import default_mode, modes_for
from clinserve_preprocess.validation import DEFAULT_MAX_TEXT_CHARS

# Padding lengths per execution profile. Triton merges only requests of equal shape, and only
# consecutive ones in its queue, so with mixed text lengths batches stay small whatever the
# buckets; on a CPU the padded positions then cost their full share, and buckets 8 tokens apart
# beat doubling ones in throughput and latency (`make bench`, docs/benchmarks.md). A GPU has
# compute to spare for padding and gains more from merging: it keeps the doubling buckets.
CPU_LENGTH_BUCKETS: tuple[int, ...] = (*range(8, 129, 8), *range(160, 257, 32), *range(320, 513, 64))
PROFILE_LENGTH_BUCKETS: dict[str, tuple[int, ...]] = {"cpu": CPU_LENGTH_BUCKETS, "gpu": DEFAULT_BUCKETS}

# Tokenizer outputs: name -> (Triton type, dims). The ONNX step consumes the first three.
TOKENIZER_OUTPUTS: dict[str, tuple[str, list[int]]] = {
    "input_ids": ("TYPE_INT64", [-1, -1]),
    "attention_mask": ("TYPE_INT64", [-1, -1]),
    "token_type_ids": ("TYPE_INT64", [-1, -1]),
    "token_offsets": ("TYPE_INT32", [-1, -1, 2]),
    "word_ids": ("TYPE_INT32", [-1, -1]),
    "sequence_text_index": ("TYPE_INT32", [-1]),
    "sequence_segment": ("TYPE_INT32", [-1]),
    "sequence_spans": ("TYPE_INT32", [-1, 2]),
    "sequence_pieces": ("TYPE_INT32", [-1, 2]),
    "dropped_tokens": ("TYPE_INT32", [-1]),
}
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
BOOKKEEPING = ("sequence_text_index", "sequence_segment", "sequence_spans", "dropped_tokens")
TOKEN_LEVEL_EXTRAS = ("token_offsets", "word_ids", "sequence_pieces")
EXECUTION_PROFILES = ("cpu", "gpu")
# Where the gpu profile's TensorRT engine cache lives in the container (a writable volume;
# deploy/k8s/overlays/gpu mounts one here). One folder per ONNX model under it.
DEFAULT_TRT_CACHE_DIR = "/var/cache/clinserve/tensorrt"


@dataclass(frozen=True)
class ServingSettings:
    """Knobs that are about serving, not about the model (same for every catalog entry).

    Attributes:
        max_batch_size: Largest ONNX batch, and the most model sequences (sentences, windows)
            one request may need: it bounds the longest document one request can carry.
        preferred_batch_size: Batch size the dynamic batcher aims for when merging requests.
        max_texts_per_request: Texts one request may hold.
        max_padded_tokens_per_request: Sequences x padded length one request may need; bounds
            the memory of one ONNX execution.
        max_queue_delay_us: How long the dynamic batcher waits to fill a batch. 0 (measured with
            `make bench`, docs/benchmarks.md): a BERT pass takes tens of milliseconds on a CPU, so
            requests queue up during it anyway, and a wait only adds latency.
        max_queue_size: Requests queued per ONNX model before new ones are rejected.
        queue_timeout_us: Longest a request may wait in a step's queue before Triton rejects it
            ("Request timeout expired"); 0 = no limit. A caller may ask for less, never more.
        python_max_queue_size: Requests queued per tokenizer and post-processor before new ones
            are rejected; 0 = no queue policy (Triton's default scheduler, an unbounded queue).
        onnx_instances: ONNX Runtime instances per model. At least 2 wherever a queue policy is
            set: on Triton 2.51 a queue policy turns off the batcher's prefetching, and a
            single instance then picks up queued requests only when a new one arrives (a burst
            of 96 requests took 5-28 s instead of 0.3 s; docs/reliability.md).
        onnx_intra_op_threads: ONNX Runtime intra-op threads per instance (0 = all cores).
        onnx_share_cores: On the ``cpu`` profile, the ONNX instances share the cores like the
            native backend's global thread pool: a run alone uses ``onnx_intra_op_threads``, a
            run beside another instance's its share of the cores. The stand-in does it with a
            second session per instance (the graph's memory once more,
            ``clinserve_runtime.core_sharing``); the native backend ignores the parameter and
            gets the same from ``--backend-config=onnxruntime,enable-global-threadpool=1``.
        python_instances: Instances of each tokenizer and post-processor (2: see
            ``onnx_instances``).
        max_text_chars: Longest text accepted, in characters.
        length_buckets: Padding lengths the tokenizer chooses from; empty (the default) means
            the execution profile's (``PROFILE_LENGTH_BUCKETS``). Use :meth:`buckets`.
        execution_profile: ``cpu`` or ``gpu`` (instance kind and accelerators).
        trim_padding: On the ``cpu`` profile, write ONNX graphs that compute only up to their
            batch's longest real sequence (``clinserve_runtime.padding_trim``): requests still
            merge by length bucket, but no execution pays for bucket padding. Use
            :meth:`trims_padding`.
        trt_cache_dir: Root of the TensorRT engine cache (gpu profile only).
    """

    max_batch_size: int = 1024
    preferred_batch_size: int = 64
    max_texts_per_request: int = 64
    max_padded_tokens_per_request: int = 65536
    max_queue_delay_us: int = 0
    # Chosen with `make reliability` (docs/reliability.md): at twice capacity every step's queue
    # limit sheds the excess with a clear error, and its timeout bounds how long an accepted
    # request waits; two instances per step keep the queue policies from stalling bursts.
    max_queue_size: int = 128
    queue_timeout_us: int = 2_000_000
    python_max_queue_size: int = 128
    onnx_instances: int = 2
    onnx_intra_op_threads: int = 0
    onnx_share_cores: bool = True
    python_instances: int = 2
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS
    length_buckets: tuple[int, ...] = ()
    execution_profile: str = "cpu"
    trt_cache_dir: str = DEFAULT_TRT_CACHE_DIR
    trim_padding: bool = True

    def buckets(self) -> tuple[int, ...]:
        """The padding lengths in force: ``length_buckets``, else the profile's default."""
        return self.length_buckets or PROFILE_LENGTH_BUCKETS.get(self.execution_profile, DEFAULT_BUCKETS)

    def trims_padding(self) -> bool:
        """Whether the ONNX graphs are written trimmed of padding.

        ``trim_padding``, on the ``cpu`` profile only: TensorRT cannot take shapes computed
        from tensor values.
        """
        return self.trim_padding and self.execution_profile == "cpu"


@dataclass(frozen=True)
class Provenance:
    """Where the weights of a model directory came from."""

    weights: str
    untrained: bool


def _params(values: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {k: {"string_value": v if isinstance(v, str) else json.dumps(v)} for k, v in values.items()}


def _tensor(name: str, data_type: str, dims: list[int]) -> dict[str, Any]:
    return {"name": name, "data_type": data_type, "dims": dims}


def _to_pbtxt(config: dict[str, Any]) -> str:
    message = json_format.ParseDict(config, model_config_pb2.ModelConfig())
    return str(text_format.MessageToString(message))


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _queue_policy(max_queue_size: int, settings: ServingSettings) -> dict[str, Any]:
    """A step's queue: bounded in size and in waiting time, the excess rejected with an error."""
    policy: dict[str, Any] = {"max_queue_size": max_queue_size}
    if settings.queue_timeout_us:
        policy |= {
            "default_timeout_microseconds": settings.queue_timeout_us,
            "timeout_action": "REJECT",
            "allow_timeout_override": True,
        }
    return policy


def _python_scheduling(settings: ServingSettings) -> dict[str, Any]:
    """Queue policy of a Python step (``max_batch_size: 0``).

    Without ``dynamic_batching`` Triton hands such a model's requests straight to its instances
    through an unbounded queue; with it (and no batching possible at ``max_batch_size: 0``) the
    queue gets a size limit and a timeout. Requests still run one at a time per instance; keep two
    instances (see ``ServingSettings.onnx_instances``).
    """
    if not settings.python_max_queue_size:
        return {}
    return {
        "dynamic_batching": {
            "default_queue_policy": _queue_policy(settings.python_max_queue_size, settings),
        }
    }


def tokenizer_config(spec: ModelSpec, settings: ServingSettings) -> dict[str, Any]:
    """Config of ``<name>_tokenizer`` (Python backend)."""
    return {
        "name": spec.tokenizer_model,
        "backend": "python",
        "max_batch_size": 0,
        "input": [_tensor("TEXT", "TYPE_STRING", [-1])],
        "output": [_tensor(n, t, d) for n, (t, d) in TOKENIZER_OUTPUTS.items()],
        "instance_group": [{"kind": "KIND_CPU", "count": settings.python_instances}],
        **_python_scheduling(settings),
        "parameters": _params(
            {
                "max_tokens": str(spec.max_tokens),
                "task": spec.task,
                "per_sentence": _bool(spec.per_sentence),
                "max_texts_per_request": str(settings.max_texts_per_request),
                "max_sequences_per_request": str(settings.max_batch_size),
                "max_padded_tokens_per_request": str(settings.max_padded_tokens_per_request),
                "max_text_chars": str(settings.max_text_chars),
                "length_buckets": list(settings.buckets()),
            }
        ),
    }


def onnx_config(spec: ModelSpec, settings: ServingSettings) -> dict[str, Any]:
    """Config of ``<name>_onnx`` (ONNX Runtime backend, dynamic batching)."""
    logits_dims = [-1, len(spec.labels)] if spec.is_token_classifier else [len(spec.labels)]
    if settings.execution_profile not in EXECUTION_PROFILES:
        raise ValueError(
            f"execution_profile must be one of {', '.join(EXECUTION_PROFILES)},"
            f" not {settings.execution_profile!r}"
        )
    gpu = settings.execution_profile == "gpu"
    config: dict[str, Any] = {
        "name": spec.onnx_model,
        "backend": "onnxruntime",
        "max_batch_size": settings.max_batch_size,
        "default_model_filename": "model.onnx",
        "input": [_tensor(n, "TYPE_INT64", [-1]) for n in MODEL_INPUTS],
        "output": [_tensor("logits", "TYPE_FP32", logits_dims)],
        "dynamic_batching": {
            # A long document may arrive as one request of up to max_batch_size windows; merged
            # batches of small requests aim for the preferred size.
            "preferred_batch_size": [settings.preferred_batch_size],
            "max_queue_delay_microseconds": settings.max_queue_delay_us,
            "default_queue_policy": _queue_policy(settings.max_queue_size, settings),
        },
        "instance_group": [{"kind": "KIND_GPU" if gpu else "KIND_CPU", "count": settings.onnx_instances}],
        "parameters": _params(
            {"intra_op_thread_count": str(settings.onnx_intra_op_threads)}
            | ({} if gpu else {"share_cores": _bool(settings.onnx_share_cores)})
        ),
    }
    if gpu:
        config["optimization"] = _tensorrt_optimization(spec, settings)
        config["model_warmup"] = _shape_range_warmup(spec, settings)
    return config


def _tensorrt_optimization(spec: ModelSpec, settings: ServingSettings) -> dict[str, Any]:
    """TensorRT execution provider of the native onnxruntime backend: FP16, engines cached on disk.

    Keys are the onnxruntime backend's (Triton 24.10); building an engine for BERT takes minutes,
    the cache makes later loads on the same GPU model take seconds.
    """
    parameters = {
        "precision_mode": "FP16",
        "trt_engine_cache_enable": "1",
        "trt_engine_cache_path": f"{settings.trt_cache_dir.rstrip('/')}/{spec.onnx_model}",
    }
    return {
        "execution_accelerators": {
            "gpu_execution_accelerator": [{"name": "tensorrt", "parameters": parameters}]
        }
    }


def _shape_range_warmup(spec: ModelSpec, settings: ServingSettings) -> list[dict[str, Any]]:
    """Warm-up requests at the smallest and largest shapes the tokenizer can send.

    ONNX Runtime's TensorRT provider builds its engine for the shape range it has seen and
    rebuilds it (for minutes) when a request falls outside; running both extremes while the
    model loads builds the final range before the server reports ready.
    """
    shortest = min([b for b in settings.buckets() if b <= spec.max_tokens] or [spec.max_tokens])
    # TensorRT sizes its profile per dimension, so the widest batch and the longest sequence the
    # request limits allow are warmed separately (their product may exceed the token limit).
    widest = min(settings.max_batch_size, settings.max_padded_tokens_per_request // shortest)
    longest_batch = min(settings.max_batch_size, settings.max_padded_tokens_per_request // spec.max_tokens)
    samples = (
        ("smallest_shape", 1, shortest),
        ("widest_batch", widest, shortest),
        ("longest_sequence", longest_batch, spec.max_tokens),
    )
    return [
        {
            "name": name,
            "batch_size": batch,
            "inputs": {
                n: {"data_type": "TYPE_INT64", "dims": [length], "zero_data": True} for n in MODEL_INPUTS
            },
        }
        for name, batch, length in samples
    ]


def postprocess_config(spec: ModelSpec, settings: ServingSettings, provenance: Provenance) -> dict[str, Any]:
    """Config of ``<name>_postprocess`` (Python backend)."""
    logits_dims = [-1, -1, len(spec.labels)] if spec.is_token_classifier else [-1, len(spec.labels)]
    inputs = [_tensor("TEXT", "TYPE_STRING", [-1]), _tensor("logits", "TYPE_FP32", logits_dims)]
    wired = BOOKKEEPING + (TOKEN_LEVEL_EXTRAS if spec.is_token_classifier else ())
    inputs += [_tensor(n, *TOKENIZER_OUTPUTS[n]) for n in wired]
    return {
        "name": spec.postprocess_model,
        "backend": "python",
        "max_batch_size": 0,
        "input": inputs,
        "output": [_tensor("RESULT", "TYPE_STRING", [-1])],
        "instance_group": [{"kind": "KIND_CPU", "count": settings.python_instances}],
        **_python_scheduling(settings),
        "parameters": _params(_public_parameters(spec, settings, provenance)),
    }


def _public_parameters(spec: ModelSpec, settings: ServingSettings, provenance: Provenance) -> dict[str, Any]:
    values: dict[str, Any] = {
        "public_model_name": spec.name,
        "task": spec.task,
        "labels": list(spec.labels),
        "per_sentence": _bool(spec.per_sentence),
        "max_tokens": str(spec.max_tokens),
        "max_texts_per_request": str(settings.max_texts_per_request),
        # The tokenizer's per-request limits, published so that clients can split documents
        # into requests that fit (the client library reads them; docs/long-documents.md).
        "max_text_chars": str(settings.max_text_chars),
        "max_sequences_per_request": str(settings.max_batch_size),
        "max_padded_tokens_per_request": str(settings.max_padded_tokens_per_request),
        "default_mode": default_mode(token_level=spec.is_token_classifier, per_sentence=spec.per_sentence),
        "modes": sorted(modes_for(spec.is_token_classifier)),
        "source_model": spec.source_model,
        "weights": provenance.weights,
        "untrained": _bool(provenance.untrained),
    }
    if spec.threshold is not None:
        values["threshold"] = str(spec.threshold)
    return values


def ensemble_config(spec: ModelSpec, settings: ServingSettings, provenance: Provenance) -> dict[str, Any]:
    """Config of the public ensemble ``<name>``: tokenizer -> ONNX -> post-processor.

    Its ``parameters`` describe the model to clients (task, labels, limits, provenance),
    which is how the client library discovers what a served model returns.
    """
    post_inputs = ("TEXT", "logits", *BOOKKEEPING) + (TOKEN_LEVEL_EXTRAS if spec.is_token_classifier else ())
    tokenizer_outputs = [n for n in TOKENIZER_OUTPUTS if n in MODEL_INPUTS or n in post_inputs]
    return {
        "name": spec.name,
        "platform": "ensemble",
        "max_batch_size": 0,
        "input": [_tensor("TEXT", "TYPE_STRING", [-1])],
        "output": [_tensor("RESULT", "TYPE_STRING", [-1])],
        "ensemble_scheduling": {
            "step": [
                {
                    "model_name": spec.tokenizer_model,
                    "model_version": -1,
                    "input_map": {"TEXT": "TEXT"},
                    "output_map": {n: n for n in tokenizer_outputs},
                },
                {
                    "model_name": spec.onnx_model,
                    "model_version": -1,
                    "input_map": {n: n for n in MODEL_INPUTS},
                    "output_map": {"logits": "logits"},
                },
                {
                    "model_name": spec.postprocess_model,
                    "model_version": -1,
                    "input_map": {n: n for n in post_inputs},
                    "output_map": {"RESULT": "RESULT"},
                },
            ]
        },
        "parameters": _params(_public_parameters(spec, settings, provenance)),
    }


def render_all(spec: ModelSpec, settings: ServingSettings, provenance: Provenance) -> dict[str, str]:
    """Triton model name -> ``config.pbtxt`` text, for the four models of one entry."""
    configs = (
        ensemble_config(spec, settings, provenance),
        tokenizer_config(spec, settings),
        onnx_config(spec, settings),
        postprocess_config(spec, settings, provenance),
    )
    return {c["name"]: _to_pbtxt(c) for c in configs}
