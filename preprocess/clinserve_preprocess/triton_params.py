"""Read the ``parameters`` block of a Triton model config, failing loudly when one is missing.

Settings that differ per model (lengths, labels, limits) are rendered into ``config.pbtxt``
from the catalog; Python models read them here in ``initialize`` so a wrong or missing value
stops the model from loading instead of surfacing on the first request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class ModelParameters:
    """Typed access to a model config's string parameters."""

    def __init__(self, model_name: str, config: Mapping[str, Any]) -> None:
        """Wrap the parsed model config (``json.loads(args["model_config"])``)."""
        self.model_name = model_name
        raw = config.get("parameters") or {}
        self._values: dict[str, str] = {key: str(value.get("string_value", "")) for key, value in raw.items()}

    def _get(self, key: str) -> str:
        try:
            return self._values[key]
        except KeyError:
            raise ValueError(
                f"model {self.model_name!r}: config.pbtxt lacks the parameter {key!r}; "
                "rebuild the model repository (make repository)"
            ) from None

    def text(self, key: str) -> str:
        """A required string parameter."""
        return self._get(key)

    def integer(self, key: str) -> int:
        """A required integer parameter."""
        value = self._get(key)
        try:
            return int(value)
        except ValueError:
            raise ValueError(
                f"model {self.model_name!r}: parameter {key!r}={value!r} is not an integer"
            ) from None

    def number(self, key: str) -> float:
        """A required float parameter."""
        value = self._get(key)
        try:
            return float(value)
        except ValueError:
            raise ValueError(
                f"model {self.model_name!r}: parameter {key!r}={value!r} is not a number"
            ) from None

    def flag(self, key: str) -> bool:
        """A required boolean parameter (``true`` or ``false``)."""
        value = self._get(key).lower()
        if value not in ("true", "false"):
            raise ValueError(f"model {self.model_name!r}: parameter {key!r}={value!r} is not true/false")
        return value == "true"

    def json(self, key: str) -> Any:
        """A required JSON-encoded parameter."""
        return json.loads(self._get(key))

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> ModelParameters:
        """Build from the ``args`` dict Triton passes to ``initialize``."""
        return cls(args["model_name"], json.loads(args["model_config"]))
