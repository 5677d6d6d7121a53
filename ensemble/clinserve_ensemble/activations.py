"""Numerically stable activations with a guard against non-finite logits."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


class NonFiniteLogitsError(ValueError):
    """The model produced NaN or infinite logits; no label can be trusted."""


def _check_finite(logits: npt.NDArray[np.floating[Any]]) -> None:
    if not np.all(np.isfinite(logits)):
        raise NonFiniteLogitsError("the model returned NaN or infinite logits")


def softmax(logits: npt.NDArray[np.floating[Any]], axis: int = -1) -> npt.NDArray[np.float32]:
    """Softmax over ``axis`` (max-subtracted, so large logits do not overflow)."""
    _check_finite(logits)
    shifted = logits.astype(np.float64) - np.max(logits, axis=axis, keepdims=True)
    exp = np.exp(shifted)
    result: npt.NDArray[np.float32] = (exp / np.sum(exp, axis=axis, keepdims=True)).astype(np.float32)
    return result


def sigmoid(logits: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
    """Element-wise logistic function, stable for large negative logits."""
    _check_finite(logits)
    x = logits.astype(np.float64)
    out = np.empty_like(x)
    positive = x >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-x[positive]))
    exp = np.exp(x[~positive])
    out[~positive] = exp / (1.0 + exp)
    return out.astype(np.float32)
