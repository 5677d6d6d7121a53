"""Decode Java-serialized ``Array[(String, Int)]`` (Spark NLP's vocabulary and labels).

Parsing uses ``javaobj-py3`` (a pure-Python implementation of the Java Object Serialization
Stream Protocol); this module only checks the shape: an array of ``scala.Tuple2`` whose
``_1`` is a string and ``_2`` an ``Integer``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from clinserve_runtime.importers.errors import ImportFailure, missing_extra


def _fields(instance: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for class_fields in instance.field_data.values():
        for field, value in class_fields.items():
            values[field.name] = value
    return values


def decode_pairs(payload: bytes, *, where: str) -> list[tuple[str, int]]:
    """The ``(string, int)`` tuples of one serialized array.

    Raises:
        ImportFailure: When the payload is not an array of ``scala.Tuple2(String, Integer)``.
    """
    try:
        from javaobj.v2.beans import JavaString
        from javaobj.v2.main import loads
        from javaobj.v2.transformers import JavaInt
    except ImportError:
        raise missing_extra("javaobj-py3") from None
    try:
        array = loads(payload)
    except Exception as exc:  # the library raises several kinds on malformed streams
        raise ImportFailure(f"{where}: not a Java-serialized object stream ({exc})") from exc
    if not isinstance(array, list):
        raise ImportFailure(f"{where}: expected a serialized array of tuples, found {type(array).__name__}")
    pairs = []
    for element in array:
        name = getattr(getattr(element, "classdesc", None), "name", None)
        if name != "scala.Tuple2":
            raise ImportFailure(
                f"{where}: expected scala.Tuple2 elements, found {name or type(element).__name__}"
            )
        fields = _fields(element)
        first, second = fields.get("_1"), fields.get("_2")
        boxed = getattr(getattr(second, "classdesc", None), "name", None)
        if (
            not isinstance(first, JavaString)
            or not isinstance(second, JavaInt)
            or boxed != "java.lang.Integer"
        ):
            raise ImportFailure(f"{where}: a tuple is not (String, Int): ({first!r}, {second!r})")
        pairs.append((str(first), int(second)))
    return pairs


def pairs_to_index(pairs: Iterable[tuple[str, int]], *, what: str) -> dict[str, int]:
    """A ``name -> id`` map whose ids must be exactly ``0..n-1``.

    Raises:
        ImportFailure: On a repeated name or a gap/repeat in the ids.
    """
    index: dict[str, int] = {}
    for name, value in pairs:
        if name in index:
            raise ImportFailure(f"{what}: {name!r} appears twice")
        index[name] = value
    ids = sorted(index.values())
    if ids != list(range(len(ids))):
        raise ImportFailure(f"{what}: ids are not 0..{len(ids) - 1} without gaps")
    return index
