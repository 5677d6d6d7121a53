"""A Python-based Triton backend named ``onnxruntime``: the CPU development stand-in.

The ``nvidia-pytriton`` wheel ships Triton's server and Python backend but not the native
ONNX Runtime backend. Triton 23.10+ serves every model whose config names backend ``X`` with
``<backend-dir>/X/model.py`` when no ``libtriton_X.so`` exists, so this module lets the very
``config.pbtxt`` the NGC image's native backend loads run here unchanged.

Where it matters it behaves like the native backend:

- it loads ``<version>/<default_model_filename>`` (``model.onnx`` by default);
- it checks every config input and output against the graph (name, type, rank, fixed dims)
  and refuses to load on any mismatch, with a message naming both sides;
- it runs the whole batch Triton's dynamic batcher hands it as **one** ONNX Runtime call and
  splits the outputs back per request;
- it reads the native backend's thread parameters (``intra_op_thread_count``,
  ``inter_op_thread_count``);
- it picks execution providers the way the native backend does (``clinserve_runtime.ort_providers``):
  ``KIND_CPU`` runs on the CPU; ``KIND_GPU`` on TensorRT when the config's accelerator asks for it
  (its precision, profile shapes and engine cache mapped to the provider's options), then CUDA,
  when the installed ONNX Runtime is the GPU build (``make serve ORT=gpu``); it logs the provider
  each instance runs on, and warns when it had to fall back;
- on the CPU its instances share the cores the way the native backend's global thread pool
  does: a run alone uses every thread, a run beside another instance's uses its share of the
  cores (``clinserve_runtime.core_sharing``). That is the stand-in's own default; the
  stand-in-only parameter ``share_cores: "false"``, which no generated config carries, turns it
  off (``clinserve_runtime.ort_options.SHARE_CORES``).
"""

from __future__ import annotations

import json
import os
from contextlib import nullcontext
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import triton_python_backend_utils as pb_utils

from clinserve_runtime.core_sharing import RunningInstances, counter_path, remove_orphans
from clinserve_runtime.graph_check import check_against_graph, config_tensors
from clinserve_runtime.ort_options import session_options, shared_thread_count
from clinserve_runtime.ort_providers import CPU, active_provider, providers_for_config, running_message


class TritonPythonModel:
    """ONNX Runtime execution of one model directory."""

    def initialize(self, args: dict[str, str]) -> None:
        """Load the graph and refuse to start on any config/graph mismatch."""
        config = json.loads(args["model_config"])
        self.model_name = args["model_name"]
        self.batched = int(config.get("max_batch_size", 0)) > 0
        parameters = {k: v.get("string_value", "") for k, v in (config.get("parameters") or {}).items()}
        filename = config.get("default_model_filename") or "model.onnx"
        path = os.path.join(args["model_repository"], args["model_version"], filename)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"{self.model_name}: {path} is missing; build the repository (make repository)"
                " or import weights (clinserve import)"
            )
        choice = providers_for_config(
            config, ort.get_available_providers(), device_id=int(args.get("model_instance_device_id", 0) or 0)
        )
        self.session = ort.InferenceSession(
            path, sess_options=session_options(parameters), providers=choice.providers
        )
        running = active_provider(self.session)
        pb_utils.Logger.log_info(running_message(self.model_name, running, choice.reason))
        for note in choice.notes:
            pb_utils.Logger.log_warn(f"{self.model_name}: {note}")
        if running != choice.names[0]:
            # ONNX Runtime drops a provider it cannot create (no driver, missing CUDA libraries).
            pb_utils.Logger.log_warn(
                f"{self.model_name}: asked for {choice.names[0]}, ONNX Runtime runs it on {running}"
            )
        # A second session on this instance's share of the cores, for runs beside another
        # instance's (see clinserve_runtime.core_sharing): it costs the graph's memory once more.
        # Without sharing both names are the one session and no count is kept.
        self.shared_session = self.session
        self.running: RunningInstances | None = None
        instances = sum(int(group.get("count", 1)) for group in config.get("instance_group") or [{}])
        # Sharing cores is about CPU runs only.
        shared_threads = shared_thread_count(parameters, instances) if running == CPU else 0
        if shared_threads:
            try:
                server_pid = os.getppid()
                if server_pid <= 1:
                    raise OSError("the server process is gone (this stub was reparented)")
                remove_orphans()
                self.running = RunningInstances(counter_path(self.model_name, server_pid))
            except OSError as exc:
                # Sharing is a speed-up, never a reason to refuse the model.
                pb_utils.Logger.log_warn(
                    f"{self.model_name}: instances will not share the cores, the running count"
                    f" cannot be kept ({type(exc).__name__}: {exc})"
                )
            else:
                shared_options = session_options({**parameters, "intra_op_thread_count": str(shared_threads)})
                self.shared_session = ort.InferenceSession(path, sess_options=shared_options, providers=[CPU])
        self.inputs = config_tensors(config, "input")
        self.outputs = config_tensors(config, "output")
        check_against_graph(self.model_name, self.inputs, self.session.get_inputs(), "input", self.batched)
        check_against_graph(self.model_name, self.outputs, self.session.get_outputs(), "output", self.batched)
        self.output_names = [t.name for t in self.outputs]

    def execute(self, requests: list[Any]) -> list[Any]:
        """Run all requests of this call as one ONNX Runtime batch.

        If the merged batch fails (a request with out-of-range token ids, say), the requests are
        run one by one so that only the faulty request gets the error: a caller that sends bad
        tensors straight to this model must not fail the callers batched with it.
        """
        feeds_per_request = [
            {spec.name: pb_utils.get_input_tensor_by_name(r, spec.name).as_numpy() for spec in self.inputs}
            for r in requests
        ]
        if self.batched and len(requests) > 1:
            # The dynamic batcher only merges requests whose non-batch shapes are equal, so a plain
            # concatenation along the batch axis is one valid ORT input.
            sizes = [next(iter(feeds.values())).shape[0] for feeds in feeds_per_request]
            merged = {
                spec.name: np.concatenate([feeds[spec.name] for feeds in feeds_per_request])
                for spec in self.inputs
            }
            try:
                outputs = self._run(merged)
            except Exception as exc:
                # Only the exception type: ORT messages can quote input values (request content).
                pb_utils.Logger.log_warn(
                    f"{self.model_name}: a merged batch of {len(requests)} requests failed"
                    f" ({type(exc).__name__}); running them one by one"
                )
            else:
                bounds = np.cumsum(sizes)[:-1]
                split = {name: np.split(value, bounds) for name, value in outputs.items()}
                return [
                    self._respond({name: parts[i] for name, parts in split.items()})
                    for i in range(len(requests))
                ]
        return [self._run_one(feeds) for feeds in feeds_per_request]

    def _run_one(self, feeds: dict[str, npt.NDArray[Any]]) -> Any:
        try:
            return self._respond(self._run(feeds))
        except Exception as exc:  # every request gets an answer, never a crash
            message = f"{self.model_name}: ONNX Runtime refused the inputs: {exc}"
            error = pb_utils.TritonError(message, pb_utils.TritonError.INVALID_ARG)
            return pb_utils.InferenceResponse(output_tensors=[], error=error)

    def _run(self, feeds: dict[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
        with self.running.running() if self.running else nullcontext(0) as others:
            session = self.shared_session if others else self.session
            values = session.run(self.output_names, feeds)
        return dict(zip(self.output_names, values, strict=True))

    def finalize(self) -> None:
        """Close the running count; the first instance to stop removes its file (the others keep it open)."""
        if self.running:
            self.running.close(remove=True)

    @staticmethod
    def _respond(outputs: dict[str, npt.NDArray[Any]]) -> Any:
        return pb_utils.InferenceResponse(
            output_tensors=[pb_utils.Tensor(name, value) for name, value in outputs.items()]
        )
