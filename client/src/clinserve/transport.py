"""The seam to tritonclient: channels, request tensors, and error translation.

Everything tritonclient- and grpc-specific lives here so the clients read as plain logic.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from clinserve.errors import ClinServeError, error_from_status, explain_connection_failure
from clinserve.options import ChannelOptions

# gRPC's C core writes its own log lines to stderr (TLS handshake failures, unreadable
# certificates, ...). The client turns every failure into a ClinServeError that names the address
# and the likely cause, so those lines are silenced unless the caller chose a verbosity: gRPC
# reads GRPC_VERBOSITY once, when it is first imported (docs/client.md, "Logging").
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

try:
    import grpc
    import tritonclient.grpc as triton_grpc
    import tritonclient.grpc.aio as triton_grpc_aio
    from tritonclient.utils import InferenceServerException
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        "clinserve needs tritonclient's gRPC client: pip install 'tritonclient[grpc]'"
        " (or reinstall clinserve-client, which depends on it)"
    ) from exc

__all__ = [
    "RESULT_OUTPUT",
    "TEXT_INPUT",
    "InferenceServerException",
    "build_inputs",
    "build_outputs",
    "channel_arguments",
    "make_client",
    "request_parameters",
    "result_elements",
    "translate",
]

TEXT_INPUT = "TEXT"
RESULT_OUTPUT = "RESULT"
#: Request parameter that picks how the server segments texts (see ModelInfo.modes).
MODE_PARAMETER = "mode"
# tritonclient's own default message limit; passing channel_args replaces its defaults.
MAX_MESSAGE_BYTES = 2**31 - 1


def channel_arguments(options: ChannelOptions) -> list[tuple[str, Any]]:
    """GRPC channel arguments for every channel the client opens."""
    args: list[tuple[str, Any]] = [
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.lb_policy_name", options.lb_policy),
    ]
    if options.keepalive_time_ms is not None:
        args.append(("grpc.keepalive_time_ms", options.keepalive_time_ms))
    if options.tls is not None and options.tls.server_name:
        args.append(("grpc.ssl_target_name_override", options.tls.server_name))
    args.extend(options.channel_args)
    return args


def make_client(target: str, options: ChannelOptions, *, aio: bool = False) -> Any:
    """A tritonclient ``InferenceServerClient`` (sync or aio) for one gRPC target."""
    kwargs: dict[str, Any] = {"url": target, "channel_args": channel_arguments(options)}
    if options.tls is not None:
        root_ca, client_key, client_cert = options.tls.read()
        kwargs["creds"] = grpc.ssl_channel_credentials(
            root_certificates=root_ca, private_key=client_key, certificate_chain=client_cert
        )
    module = triton_grpc_aio if aio else triton_grpc
    return module.InferenceServerClient(**kwargs)


def build_inputs(texts: Sequence[str]) -> list[Any]:
    """The ``TEXT`` input tensor: one UTF-8 element per text."""
    data = np.array([text.encode("utf-8") for text in texts], dtype=np.object_)
    tensor = triton_grpc.InferInput(TEXT_INPUT, [len(texts)], "BYTES")
    tensor.set_data_from_numpy(data)
    return [tensor]


def build_outputs() -> list[Any]:
    """Ask for ``RESULT`` only."""
    return [triton_grpc.InferRequestedOutput(RESULT_OUTPUT)]


def request_parameters(mode: str | None) -> dict[str, str] | None:
    """Inference request parameters: the mode, when the caller chose one."""
    return {MODE_PARAMETER: mode} if mode is not None else None


def result_elements(response: Any, expected: int, model: str) -> list[bytes]:
    """The ``RESULT`` elements of a response, checked against the number of texts sent."""
    array = response.as_numpy(RESULT_OUTPUT)
    if array is None:
        raise ClinServeError(f"{model}: the response has no {RESULT_OUTPUT} output")
    elements = [bytes(item) for item in array.reshape(-1)]
    if len(elements) != expected:
        raise ClinServeError(f"{model}: {len(elements)} results for {expected} texts")
    return elements


def translate(
    exc: InferenceServerException, target: str | None = None, *, tls: bool = False
) -> ClinServeError:
    """The client error for a tritonclient exception (status and message kept).

    With ``target``, a connection failure also names the address and its likely cause
    (:func:`~clinserve.errors.explain_connection_failure`).
    """
    error = error_from_status(exc.status(), exc.message() or str(exc))
    if target is not None:
        explain_connection_failure(error, target, tls=tls)
    return error
