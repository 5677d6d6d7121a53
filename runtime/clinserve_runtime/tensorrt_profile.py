"""The gpu profile's TensorRT shapes: one optimization profile per ONNX model, sized by the token budget.

ONNX Runtime's TensorRT provider builds one engine per model for a box of input shapes
(``trt_profile_min_shapes`` .. ``trt_profile_max_shapes``, tuned for ``trt_profile_opt_shapes``).
Without explicit shapes it widens the box one dimension at a time to every shape it sees and
rebuilds the engine each time (minutes); with them it builds once, and TensorRT pre-allocates
each execution context for the box's largest corner. The box is therefore the largest shape that
can really arrive, not the product of the widest batch and the longest sequence:

- its length is the model's ``max_tokens`` (the tokenizer never pads beyond it), its shortest
  length the shortest padding bucket the tokenizer can choose;
- its batch is the token budget of one ONNX execution
  (``ServingSettings.max_padded_tokens_per_request``) divided by that length, so no shape in the
  box, and no batch the dynamic batcher can merge, holds more token positions than one request
  may; the ONNX step's ``max_batch_size`` and the tokenizer's sequence limit are this batch.

TensorRT refuses tensors of more than 2^31-1 elements (NVIDIA/TensorRT#1948); the largest is
the attention scores, batch x heads x length x length, which this module reports for the demo
``base`` shape (BERT-base, 12 heads) so tests and docs can check it.

Shapes are written in the provider's syntax, ``name:dim1xdim2`` joined by commas
(microsoft/onnxruntime#15546); Triton's onnxruntime backend passes the three keys through
unchanged (onnxruntime_backend#237).
"""

from __future__ import annotations

from dataclasses import dataclass

from clinserve_ensemble.catalog import ModelSpec

# Largest element count TensorRT accepts in one tensor (it indexes with signed 32-bit integers).
TENSORRT_MAX_TENSOR_ELEMENTS = 2**31 - 1


@dataclass(frozen=True)
class Shape:
    """One (batch, length) input shape of the ONNX step."""

    batch: int
    length: int

    @property
    def tokens(self) -> int:
        """Token positions the shape computes (padding included)."""
        return self.batch * self.length

    def attention_elements(self, heads: int) -> int:
        """Elements of one layer's attention scores at this shape: batch x heads x length^2."""
        return self.batch * heads * self.length * self.length

    def dims(self, input_names: tuple[str, ...]) -> str:
        """The shape for every input in the TensorRT provider's syntax (``a:8x16,b:8x16``)."""
        return ",".join(f"{name}:{self.batch}x{self.length}" for name in input_names)


@dataclass(frozen=True)
class TensorRTProfile:
    """The optimization profile of one model: every shape the ONNX step can receive lies in it."""

    min: Shape
    opt: Shape
    max: Shape

    def parameters(self, input_names: tuple[str, ...]) -> dict[str, str]:
        """The three ``trt_profile_*_shapes`` accelerator parameters."""
        return {
            "trt_profile_min_shapes": self.min.dims(input_names),
            "trt_profile_opt_shapes": self.opt.dims(input_names),
            "trt_profile_max_shapes": self.max.dims(input_names),
        }

    def contains(self, shape: Shape) -> bool:
        """Whether ``shape`` lies in the box (TensorRT runs it without a rebuild)."""
        return (
            self.min.batch <= shape.batch <= self.max.batch
            and self.min.length <= shape.length <= self.max.length
        )


def padded_lengths(max_tokens: int, buckets: tuple[int, ...]) -> tuple[int, ...]:
    """Every length the tokenizer can pad a sequence to (``clinserve_preprocess.encoding.bucket_length``)."""
    return tuple(sorted({b for b in buckets if b <= max_tokens} | {max_tokens}))


def max_batch_for(max_tokens: int, token_budget: int, batch_limit: int) -> int:
    """Largest batch whose longest sequences stay within the token budget.

    Raises:
        ValueError: When not even one sequence of ``max_tokens`` fits the budget.
    """
    batch = min(batch_limit, token_budget // max_tokens)
    if batch < 1:
        raise ValueError(
            f"a token budget of {token_budget} positions per execution cannot hold one sequence of"
            f" {max_tokens} tokens; raise ServingSettings.max_padded_tokens_per_request"
        )
    return batch


def tensorrt_profile(
    spec: ModelSpec,
    *,
    buckets: tuple[int, ...],
    token_budget: int,
    batch_limit: int,
    opt_batch: int,
    opt_tokens: int,
) -> TensorRTProfile:
    """The profile of one model.

    Args:
        spec: The catalog entry (its ``max_tokens``).
        buckets: The tokenizer's padding lengths.
        token_budget: Token positions one ONNX execution may compute.
        batch_limit: Upper bound on the batch whatever the budget (``max_batch_size``).
        opt_batch: Batch the engine is tuned for (the batcher's preferred batch).
        opt_tokens: Length the engine is tuned for (the common text length).
    """
    lengths = padded_lengths(spec.max_tokens, buckets)
    largest = Shape(max_batch_for(spec.max_tokens, token_budget, batch_limit), spec.max_tokens)
    smallest = Shape(1, lengths[0])
    # The tuned shape must lie in the box: clamp it, and pad it to a length the tokenizer sends.
    opt_length = next((n for n in lengths if n >= min(opt_tokens, spec.max_tokens)), spec.max_tokens)
    opt = Shape(max(1, min(opt_batch, largest.batch)), opt_length)
    return TensorRTProfile(min=smallest, opt=opt, max=largest)
