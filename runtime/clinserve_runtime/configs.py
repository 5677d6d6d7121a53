"""Render the four Triton model configs of a catalog entry.

Configs are built as ``ModelConfig`` protobuf messages (from tritonclient's generated
``model_config_pb2``) and written with protobuf's text format, so a field name or enum value
that Triton would reject fails here, at build time. Every tensor between the steps comes from
the one declaration in ``clinserve_preprocess.contract``.

Ensemble tensor contract (documented in docs/tensor-contract.md):

- ``TEXT``: TYPE_STRING, dims ``[-1]``: the texts of one request, UTF-8.
- ``RESULT``: TYPE_STRING, dims ``[-1]``: one JSON document per text, same order.

The ensemble keeps ``max_batch_size: 0`` (a request is a list of texts). Its steps batch along
their own first dimension (``ServingSettings.python_batching``): texts for the tokenizer (the
ensemble's input ``reshape`` hands it ``[N, 1]``), model sequences for the ONNX step and the
post-processor, so Triton's dynamic batcher gives each Python step many requests per execution
(docs/tensor-contract.md, "Why this shape").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format, text_format
from tritonclient.grpc import model_config_pb2

from clinserve_ensemble.catalog import ModelSpec
from clinserve_preprocess.contract import (
    MODEL_INPUTS,
    RESULT_OUTPUT,
    TEXT_INPUT,
    Step,
    StepTensor,
    consumed_by,
    produced_by,
    tensor,
)
from clinserve_preprocess.encoding import DEFAULT_BUCKETS
from clinserve_preprocess.modes import default_mode, modes_for
from clinserve_runtime.tensorrt_profile import TensorRTProfile, max_batch_for, tensorrt_profile

# Padding lengths per execution profile. Triton merges only requests of equal shape, and only
# consecutive ones in its queue, so with mixed text lengths batches stay small whatever the
# buckets; on a CPU the padded positions then cost their full share, and buckets 8 tokens apart
# beat doubling ones in throughput and latency (`make bench`, docs/benchmarks.md). A GPU has
# compute to spare for padding and gains more from merging: it keeps the doubling buckets.
CPU_LENGTH_BUCKETS: tuple[int, ...] = (*range(8, 129, 8), *range(160, 257, 32), *range(320, 513, 64))
PROFILE_LENGTH_BUCKETS: dict[str, tuple[int, ...]] = {"cpu": CPU_LENGTH_BUCKETS, "gpu": DEFAULT_BUCKETS}
# Token positions one request may use. It bounds the ONNX step's time per request, and so how
# long a small request beside it may wait (the reliability scenario `heavy`, docs/reliability.md):
# a CPU computes a few thousand positions a second for BERT-base, a GPU 65,536 in milliseconds,
# and the gpu profile's TensorRT engines are sized by it (docs/deploy.md). Longer documents go as
# several requests (the client library splits them).
PROFILE_TOKEN_BUDGET: dict[str, int] = {"cpu": 4_096, "gpu": 65_536}
# Extra padding the tokenizer accepts so that requests of one pass merge in the ONNX step
# (clinserve_preprocess.merging). Chosen with `make bench` (docs/benchmarks.md).
PROFILE_MERGE_PADDING_RATIO: dict[str, float] = {"cpu": 1.5, "gpu": 2.0}
EXECUTION_PROFILES = ("cpu", "gpu")
# Where the gpu profile's TensorRT engine cache lives in the container (a writable volume;
# deploy/k8s/overlays/gpu mounts one here). One folder per ONNX model under it.
DEFAULT_TRT_CACHE_DIR = "/var/cache/clinserve/tensorrt"


@dataclass(frozen=True)
class ServingSettings:
    """Knobs that are about serving, not about the model (same for every catalog entry).

    Attributes:
        max_batch_size: Largest ONNX batch, and the most model sequences (sentences, windows)
            one request may need: it bounds the longest document one request can carry. The
            ``gpu`` profile lowers it per model to fit the token budget
            (:func:`onnx_max_batch_size`).
        preferred_batch_size: Batch size the dynamic batcher aims for when merging requests.
        max_texts_per_request: Texts one request may hold.
        max_padded_tokens_per_request: Sequences x padded length one request may need; bounds
            the ONNX step's work and memory for one request. ``None`` (the default) means the
            execution profile's (``PROFILE_TOKEN_BUDGET``). Use :meth:`token_budget`.
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
            single instance then picks up queued requests only when a new one arrives, and a
            burst waits seconds for work that takes a fraction of one (docs/reliability.md,
            "Burst", has the figures and the command).
        onnx_intra_op_threads: ONNX Runtime intra-op threads per instance (0 = all cores).
        python_instances: Instances of each tokenizer and post-processor (2: see
            ``onnx_instances``).
        python_batching: The Python steps batch along their first dimension, so Triton hands
            each execution every request queued for it (``True``); ``False`` gives them
            ``max_batch_size: 0`` and one request per execution (the design before
            December 2026, kept as the benchmark's ``previous`` variant).
        tokenizer_max_batch_texts: Most texts one tokenizer execution takes (its
            ``max_batch_size``); requests beyond ``max_texts_per_request`` are refused by the
            step with its own message up to this count.
        max_text_chars: Longest text accepted, in characters.
        max_request_chars: Most characters of one request, its texts together: bounds the
            tokenizer's CPU time per request (docs/long-documents.md gives the figures).
        max_chars_per_pass: Characters the tokenizer encodes in one pass before it sends that
            pass's responses (``clinserve_preprocess.merging``).
        merge_padding_ratio: How much extra padding the tokenizer accepts to give requests of
            one pass a shared length, so they merge in the ONNX step; ``None`` (the default)
            means the execution profile's (``PROFILE_MERGE_PADDING_RATIO``). Use
            :meth:`padding_ratio`.
        length_buckets: Padding lengths the tokenizer chooses from; empty (the default) means
            the execution profile's (``PROFILE_LENGTH_BUCKETS``). Use :meth:`buckets`.
        execution_profile: ``cpu`` or ``gpu`` (instance kind and accelerators).
        trim_padding: On the ``cpu`` profile, write ONNX graphs that compute only up to their
            batch's longest real sequence (``clinserve_runtime.padding_trim``): requests still
            merge by length bucket, but no execution pays for bucket padding. Use
            :meth:`trims_padding`.
        trt_cache_dir: Root of the TensorRT engine cache (gpu profile only).
        gpu_onnx_instances: ONNX instances per model on the ``gpu`` profile (1). One
            instance means one TensorRT execution context per model, each pre-allocated for
            the profile's largest shape; a second would double that GPU memory and race the
            first to create the engine cache folder (ONNX Runtime's TensorRT provider checks and
            creates it without a lock while Triton initialises instances in parallel). With one
            instance the ONNX step gets no queue policy (see ``onnx_instances``: on Triton 2.51
            a policy stalls a single instance); the Python steps keep theirs.
        gpu_opt_tokens: Sequence length the gpu profile's TensorRT engines are tuned for (the
            batch they are tuned for is ``preferred_batch_size``); any length up to the model's
            ``max_tokens`` still runs.
        cpu_limit: CPUs the server may use (the Kubernetes pod's CPU limit); 0 = not known
            (a local run: ONNX Runtime counts the machine's cores). The native backend sizes
            each session's thread pool by the node's cores unless told otherwise
            (onnxruntime_backend#245), which throttles a pod with a CPU limit: with a limit,
            each cpu-profile ONNX instance gets ``cpu_limit // onnx_instances`` threads. See
            :func:`onnx_intra_op_threads`.
    """

    max_batch_size: int = 1024
    preferred_batch_size: int = 64
    max_texts_per_request: int = 64
    max_padded_tokens_per_request: int | None = None
    max_queue_delay_us: int = 0
    # Chosen with `make reliability` (docs/reliability.md): at twice capacity every step's queue
    # limit sheds the excess with a clear error, and its timeout bounds how long an accepted
    # request waits; two instances per step keep the queue policies from stalling bursts.
    max_queue_size: int = 128
    queue_timeout_us: int = 2_000_000
    python_max_queue_size: int = 128
    onnx_instances: int = 2
    onnx_intra_op_threads: int = 0
    python_instances: int = 2
    python_batching: bool = True
    tokenizer_max_batch_texts: int = 1024
    max_text_chars: int = 50_000
    max_request_chars: int = 50_000
    max_chars_per_pass: int = 65_536
    merge_padding_ratio: float | None = None
    length_buckets: tuple[int, ...] = ()
    execution_profile: str = "cpu"
    trt_cache_dir: str = DEFAULT_TRT_CACHE_DIR
    trim_padding: bool = True
    gpu_onnx_instances: int = 1
    gpu_opt_tokens: int = 128
    cpu_limit: int = 0

    def buckets(self) -> tuple[int, ...]:
        """The padding lengths in force: ``length_buckets``, else the profile's default."""
        return self.length_buckets or PROFILE_LENGTH_BUCKETS.get(self.execution_profile, DEFAULT_BUCKETS)

    def token_budget(self) -> int:
        """The token positions one request may use: ``max_padded_tokens_per_request``, else the profile's."""
        if self.max_padded_tokens_per_request is not None:
            return self.max_padded_tokens_per_request
        return PROFILE_TOKEN_BUDGET.get(self.execution_profile, PROFILE_TOKEN_BUDGET["cpu"])

    def padding_ratio(self) -> float:
        """The merge padding ratio in force: ``merge_padding_ratio``, else the profile's."""
        if self.merge_padding_ratio is not None:
            return self.merge_padding_ratio
        return PROFILE_MERGE_PADDING_RATIO.get(self.execution_profile, 1.0)

    def trims_padding(self) -> bool:
        """Whether the ONNX graphs are written trimmed of padding.

        ``trim_padding``, on the ``cpu`` profile only: TensorRT cannot take shapes computed
        from tensor values.
        """
        return self.trim_padding and self.execution_profile == "cpu"


@dataclass(frozen=True)
class Provenance:
    """Where the weights of a model directory came from, and which version serves them.

    Attributes:
        weights: Where the weights came from (``demo-tiny``, ``huggingface:<name>``, ...).
        untrained: True for generated demo weights.
        version: The version the steps serve (their ``version_policy``, ``clinserve_runtime.versions``).
        digest: ``sha256:<16 hex>`` of the served graph ("" where not known yet).
    """

    weights: str
    untrained: bool
    version: int = 1
    digest: str = ""


def _served_version(provenance: Provenance) -> dict[str, Any]:
    """A step's ``version_policy``: exactly the served version is loaded.

    ``specific`` rather than Triton's default ``latest`` so that a rollback is a config switch
    that keeps the newer version's files in place (docs/import.md, "Versions and rollback");
    the ensemble's steps keep ``model_version: -1``, the most recent version Triton serves,
    which is then this one.
    """
    return {"version_policy": {"specific": {"versions": [provenance.version]}}}


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
    """Dynamic batching and queue policy of a Python step.

    Batched (``python_batching``), Triton hands an execution every request queued for the step,
    up to its ``max_batch_size``, without waiting for more (a wait would only add latency: the
    steps take requests as fast as they come). Unbatched (``max_batch_size: 0``) the
    ``dynamic_batching`` block only gives the queue a size limit and a timeout, and requests run
    one at a time per instance. Either way keep two instances (see
    ``ServingSettings.onnx_instances``).
    """
    batching: dict[str, Any] = {}
    if settings.python_batching:
        batching["max_queue_delay_microseconds"] = 0
    if settings.python_max_queue_size:
        batching["default_queue_policy"] = _queue_policy(settings.python_max_queue_size, settings)
    return {"dynamic_batching": batching} if batching else {}


def _step_tensor(
    item: StepTensor, spec: ModelSpec, *, batched: bool, ragged: bool = False, leading: int = -1
) -> dict[str, Any]:
    """A contract tensor as a Triton input or output of a step.

    A batched step states a row's dimensions (Triton adds the batch dimension); an unbatched one
    states the whole shape, the leading dimension included. ``ragged`` lets Triton's batcher
    merge requests whose rows differ in length (``allow_ragged_batch``).
    """
    row = item.row_dims(token_level=spec.is_token_classifier, labels=len(spec.labels))
    # A batched step's row of one scalar (a text) is [1]; Triton needs at least one dimension.
    config = _tensor(item.name, item.triton_type, (row or [1]) if batched else [leading, *row])
    if ragged and batched and item.varies_in_length(token_level=spec.is_token_classifier):
        config["allow_ragged_batch"] = True
    return config


def tokenizer_config(
    spec: ModelSpec, settings: ServingSettings, provenance: Provenance | None = None
) -> dict[str, Any]:
    """Config of ``<name>_tokenizer`` (Python backend)."""
    batched = settings.python_batching
    return {
        "name": spec.tokenizer_model,
        "backend": "python",
        **_served_version(provenance or Provenance("", False)),
        "max_batch_size": settings.tokenizer_max_batch_texts if batched else 0,
        "input": [_step_tensor(t, spec, batched=batched) for t in consumed_by(Step.TOKENIZER)],
        "output": [_step_tensor(t, spec, batched=batched) for t in produced_by(Step.TOKENIZER)],
        "instance_group": [{"kind": "KIND_CPU", "count": settings.python_instances}],
        **_python_scheduling(settings),
        "parameters": _params(
            {
                "max_tokens": str(spec.max_tokens),
                "task": spec.task,
                "per_sentence": _bool(spec.per_sentence),
                **_limit_parameters(spec, settings),
                "max_chars_per_pass": str(settings.max_chars_per_pass),
                "merge_padding_ratio": str(settings.padding_ratio()),
                "length_buckets": list(settings.buckets()),
            }
        ),
    }


def _limit_parameters(spec: ModelSpec, settings: ServingSettings) -> dict[str, str]:
    """The per-request limits, as the tokenizer enforces them and clients read them.

    A request's sequences are one ONNX request: never more than the ONNX step's batch.
    """
    return {
        "max_texts_per_request": str(settings.max_texts_per_request),
        "max_text_chars": str(settings.max_text_chars),
        "max_request_chars": str(settings.max_request_chars),
        "max_sequences_per_request": str(onnx_max_batch_size(spec, settings)),
        "max_padded_tokens_per_request": str(settings.token_budget()),
    }


def onnx_config(
    spec: ModelSpec, settings: ServingSettings, provenance: Provenance | None = None
) -> dict[str, Any]:
    """Config of ``<name>_onnx`` (ONNX Runtime backend, dynamic batching)."""
    gpu = _is_gpu(settings)
    instances = onnx_instance_count(settings)
    batching: dict[str, Any] = {
        # A long document may arrive as one request of up to max_batch_size windows; merged
        # batches of small requests aim for the preferred size.
        "preferred_batch_size": [min(settings.preferred_batch_size, onnx_max_batch_size(spec, settings))],
        "max_queue_delay_microseconds": settings.max_queue_delay_us,
    }
    # On Triton 2.51 a queue policy stalls a step with one instance (ServingSettings.onnx_instances):
    # the gpu profile's single instance goes without (ServingSettings.gpu_onnx_instances).
    if not gpu or instances >= 2:
        batching["default_queue_policy"] = _queue_policy(settings.max_queue_size, settings)
    config: dict[str, Any] = {
        "name": spec.onnx_model,
        "backend": "onnxruntime",
        **_served_version(provenance or Provenance("", False)),
        "max_batch_size": onnx_max_batch_size(spec, settings),
        "default_model_filename": "model.onnx",
        "input": [_step_tensor(t, spec, batched=True) for t in consumed_by(Step.ONNX)],
        "output": [_step_tensor(t, spec, batched=True) for t in produced_by(Step.ONNX)],
        "dynamic_batching": batching,
        "instance_group": [{"kind": "KIND_GPU" if gpu else "KIND_CPU", "count": instances}],
        # Only what the native onnxruntime backend reads: the production image loads this file.
        "parameters": _params({"intra_op_thread_count": str(onnx_intra_op_threads(settings))}),
    }
    if gpu:
        config["optimization"] = _tensorrt_optimization(spec, settings)
        config["model_warmup"] = _shape_range_warmup(spec, settings)
    return config


def _is_gpu(settings: ServingSettings) -> bool:
    if settings.execution_profile not in EXECUTION_PROFILES:
        raise ValueError(
            f"execution_profile must be one of {', '.join(EXECUTION_PROFILES)},"
            f" not {settings.execution_profile!r}"
        )
    return settings.execution_profile == "gpu"


def onnx_max_batch_size(spec: ModelSpec, settings: ServingSettings) -> int:
    """The ONNX step's ``max_batch_size``, and the most model sequences one request may need.

    On the ``gpu`` profile it is the token budget divided by the model's longest sequence, so
    that no batch Triton can form (a request's own, or several merged) holds more token
    positions than one request may: TensorRT sizes its engine and its memory by that shape.
    """
    if not _is_gpu(settings):
        return settings.max_batch_size
    return max_batch_for(spec.max_tokens, settings.token_budget(), settings.max_batch_size)


def onnx_instance_count(settings: ServingSettings) -> int:
    """ONNX Runtime instances per model: ``gpu_onnx_instances`` on the gpu profile."""
    count = settings.gpu_onnx_instances if _is_gpu(settings) else settings.onnx_instances
    if count < 1:
        raise ValueError(f"an ONNX model needs at least one instance, not {count}")
    return count


def onnx_intra_op_threads(settings: ServingSettings) -> int:
    """``intra_op_thread_count`` of every ONNX model (0 = one thread per core ONNX Runtime sees).

    An explicit ``onnx_intra_op_threads`` wins. On the ``gpu`` profile TensorRT computes the
    whole graph and the pool only runs what is left on the CPU: one thread, so that the
    sessions do not compete with the Python steps for the pod's CPUs. On the ``cpu`` profile
    with a known ``cpu_limit``, one model's instances together use the limit.
    """
    if settings.onnx_intra_op_threads:
        return settings.onnx_intra_op_threads
    if _is_gpu(settings):
        return 1
    if settings.cpu_limit:
        return max(1, settings.cpu_limit // onnx_instance_count(settings))
    return 0


def gpu_profile(spec: ModelSpec, settings: ServingSettings) -> TensorRTProfile:
    """The TensorRT optimization profile of one model (``clinserve_runtime.tensorrt_profile``)."""
    return tensorrt_profile(
        spec,
        buckets=settings.buckets(),
        token_budget=settings.token_budget(),
        batch_limit=settings.max_batch_size,
        opt_batch=settings.preferred_batch_size,
        opt_tokens=settings.gpu_opt_tokens,
    )


def _tensorrt_optimization(spec: ModelSpec, settings: ServingSettings) -> dict[str, Any]:
    """TensorRT execution provider of the native onnxruntime backend: FP16, one engine, cached.

    Keys are the onnxruntime backend's (Triton 24.10, onnxruntime_backend#237). The explicit
    profile makes ONNX Runtime build the engine once, while the model loads, for every shape the
    tokenizer and the batcher can produce; the engine cache makes later loads on the same GPU
    model and image take seconds, and the timing cache (written beside the engines when no
    ``trt_timing_cache_path`` is given) speeds up a rebuild after a profile change. Builds are
    one at a time: ONNX Runtime serialises them behind one process-wide lock.
    """
    parameters = {
        "precision_mode": "FP16",
        "trt_engine_cache_enable": "1",
        "trt_engine_cache_path": f"{settings.trt_cache_dir.rstrip('/')}/{spec.onnx_model}",
        "trt_timing_cache_enable": "1",
        **gpu_profile(spec, settings).parameters(MODEL_INPUTS),
    }
    return {
        "execution_accelerators": {
            "gpu_execution_accelerator": [{"name": "tensorrt", "parameters": parameters}]
        }
    }


def _shape_range_warmup(spec: ModelSpec, settings: ServingSettings) -> list[dict[str, Any]]:
    """Warm-up requests at the two corners of the TensorRT profile.

    The engine is built while the session is created; running its smallest and largest shapes
    before the server reports ready allocates the execution context's memory for the largest
    one and fails the load (not a request) if that shape cannot run.
    """
    profile = gpu_profile(spec, settings)
    samples = (("profile_min_shape", profile.min), ("profile_max_shape", profile.max))
    return [
        {
            "name": name,
            "batch_size": shape.batch,
            "inputs": {
                n: {"data_type": "TYPE_INT64", "dims": [shape.length], "zero_data": True}
                for n in MODEL_INPUTS
            },
        }
        for name, shape in samples
    ]


def postprocess_config(spec: ModelSpec, settings: ServingSettings, provenance: Provenance) -> dict[str, Any]:
    """Config of ``<name>_postprocess`` (Python backend).

    Its batch dimension is the model sequence, like the ONNX step's; its one output has one
    element per *text* (fewer than its sequences), which Triton passes through as the step
    returns it.
    """
    batched = settings.python_batching
    inputs = consumed_by(Step.POSTPROCESS, token_level=spec.is_token_classifier)
    (result,) = produced_by(Step.POSTPROCESS)
    return {
        "name": spec.postprocess_model,
        "backend": "python",
        **_served_version(provenance),
        "max_batch_size": onnx_max_batch_size(spec, settings) if batched else 0,
        "input": [_step_tensor(t, spec, batched=batched, ragged=True) for t in inputs],
        "output": [_tensor(result.name, result.triton_type, [-1])],
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
        **_limit_parameters(spec, settings),
        "default_mode": default_mode(token_level=spec.is_token_classifier, per_sentence=spec.per_sentence),
        "modes": sorted(modes_for(spec.is_token_classifier)),
        "source_model": spec.source_model,
        "weights": provenance.weights,
        "untrained": _bool(provenance.untrained),
        "model_version": str(provenance.version),
        "weights_digest": provenance.digest,
    }
    if spec.threshold is not None:
        values["threshold"] = str(spec.threshold)
    return values


def ensemble_config(spec: ModelSpec, settings: ServingSettings, provenance: Provenance) -> dict[str, Any]:
    """Config of the public ensemble ``<name>``: tokenizer -> ONNX -> post-processor.

    Its ``parameters`` describe the model to clients (task, labels, limits, provenance),
    which is how the client library discovers what a served model returns. Each step's inputs
    and outputs are mapped by name, as ``clinserve_preprocess.contract`` declares them.
    """
    token_level = spec.is_token_classifier
    text: dict[str, Any] = _tensor(TEXT_INPUT, tensor(TEXT_INPUT).triton_type, [-1])
    if settings.python_batching:
        # The public [N] becomes [N, 1] for the tokenizer, whose batch dimension is the text.
        text["reshape"] = {"shape": [-1, 1]}

    def step(model: str, kind: Step) -> dict[str, Any]:
        return {
            "model_name": model,
            "model_version": -1,
            "input_map": {t.name: t.name for t in consumed_by(kind, token_level=token_level)},
            "output_map": {t.name: t.name for t in produced_by(kind, token_level=token_level)},
        }

    return {
        "name": spec.name,
        "platform": "ensemble",
        "max_batch_size": 0,
        "input": [text],
        "output": [_tensor(RESULT_OUTPUT, tensor(RESULT_OUTPUT).triton_type, [-1])],
        "ensemble_scheduling": {
            "step": [
                step(spec.tokenizer_model, Step.TOKENIZER),
                step(spec.onnx_model, Step.ONNX),
                step(spec.postprocess_model, Step.POSTPROCESS),
            ]
        },
        "parameters": _params(_public_parameters(spec, settings, provenance)),
    }


def render_all(spec: ModelSpec, settings: ServingSettings, provenance: Provenance) -> dict[str, str]:
    """Triton model name -> ``config.pbtxt`` text, for the four models of one entry."""
    configs = (
        ensemble_config(spec, settings, provenance),
        tokenizer_config(spec, settings, provenance),
        onnx_config(spec, settings, provenance),
        postprocess_config(spec, settings, provenance),
    )
    return {c["name"]: _to_pbtxt(c) for c in configs}
