"""``python -m clinserve_runtime.gpu_table`` prints the gpu profile's section of docs/deploy.md.

The numbers come from the config generator itself (``clinserve_runtime.configs``), so the docs
cannot drift from what the image serves; tests/unit/test_deploy_docs.py compares them.
"""

from __future__ import annotations

from google.protobuf import json_format, text_format
from tritonclient.grpc import model_config_pb2

from clinserve_ensemble.catalog import ModelSpec, load_catalog
from clinserve_runtime.configs import ServingSettings, gpu_profile, onnx_config, onnx_max_batch_size
from clinserve_runtime.demo_bert import DEMO_SIZES
from clinserve_runtime.tensorrt_profile import TENSORRT_MAX_TENSOR_ELEMENTS, Shape

GPU_SETTINGS = ServingSettings(execution_profile="gpu")
# The model whose ONNX config docs/deploy.md shows in full.
EXAMPLE_MODEL = "biomarker"
# What the example shows of that config: the parts the gpu profile changes.
EXAMPLE_FIELDS = ("max_batch_size", "instance_group", "dynamic_batching", "optimization", "parameters")


def _shape(shape: Shape) -> str:
    return f"{shape.batch} x {shape.length}"


def markdown_table(settings: ServingSettings = GPU_SETTINGS) -> str:
    """One row per model: batch limit, TensorRT profile, and the largest shape's size."""
    heads = DEMO_SIZES["base"].heads
    rows = [
        "| model | max tokens | `max_batch_size` (sequences per request) | TensorRT profile min / opt / max"
        f" | largest shape's tokens (budget {settings.token_budget():,})"
        f" | its attention scores ({heads} heads; limit {TENSORRT_MAX_TENSOR_ELEMENTS:,}) |",
        "|---|---|---|---|---|---|",
    ]
    for spec in load_catalog().values():
        profile = gpu_profile(spec, settings)
        corners = " / ".join(_shape(s) for s in (profile.min, profile.opt, profile.max))
        rows.append(
            f"| `{spec.name}` | {spec.max_tokens} | {onnx_max_batch_size(spec, settings)} | {corners}"
            f" | {profile.max.tokens:,} | {profile.max.attention_elements(heads):,} |"
        )
    return "\n".join(rows)


def example_config(spec: ModelSpec, settings: ServingSettings = GPU_SETTINGS) -> str:
    """The gpu-profile fields of one model's ``<name>_onnx/config.pbtxt``, as written."""
    full = json_format.ParseDict(onnx_config(spec, settings), model_config_pb2.ModelConfig())
    shown = model_config_pb2.ModelConfig()
    for field in EXAMPLE_FIELDS:
        if field == "max_batch_size":
            shown.max_batch_size = full.max_batch_size
        elif field == "parameters":
            for key, value in full.parameters.items():
                shown.parameters[key].CopyFrom(value)
        else:
            getattr(shown, field).MergeFrom(getattr(full, field))
    return str(text_format.MessageToString(shown)).rstrip("\n")


def deploy_doc_section(settings: ServingSettings = GPU_SETTINGS) -> str:
    """The generated part of docs/deploy.md's "The gpu profile"."""
    spec = load_catalog()[EXAMPLE_MODEL]
    return (
        f"{markdown_table(settings)}\n\n"
        f"`{spec.onnx_model}/config.pbtxt`, the fields the gpu profile sets (warm-ups at the"
        f" profile's min and max shapes follow them):\n\n```\n{example_config(spec, settings)}\n```"
    )


if __name__ == "__main__":
    print(deploy_doc_section())  # noqa: T201 - this module's whole job is to print the section
