"""The one error an import raises: the source cannot become the requested model as it is."""

from __future__ import annotations


class ImportFailure(Exception):
    """A source cannot be imported as asked; the message says what is wrong and what to fix.

    Raised before anything is written: an import that fails leaves the repository untouched.
    """


def missing_extra(module: str) -> ImportFailure:
    """The error for an optional dependency of the ``import`` extra that is not installed."""
    return ImportFailure(
        f"the Python package {module!r} is needed for this step; install the importer's extra:"
        " pip install -e '.[import]' (or make venv)"
    )
