"""Put ``PYTHONPATH`` on ``sys.path`` inside Triton's Python backend stub (local runtime only).

The stub embeds CPython 3.11 through pybind11 with an *isolated* configuration, in which
CPython ignores ``PYTHONPATH`` even with ``use_environment=1`` (cpython issue #101471). The
environment variable still reaches the process, so this module, which the launcher copies next
to ``triton_python_backend_utils.py`` (a directory the stub always puts on ``sys.path``), applies
it by hand: entries go in front of the standard library's site directories, as PYTHONPATH would,
and ``site.addsitedir`` processes their ``.pth`` files (editable installs rely on those).

In the NGC image the packages are installed into the system interpreter and this module is
absent; the model adapters import it only if it exists.
"""

import os
import site
import sys


def _apply() -> None:
    entries = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    before = list(sys.path)
    for entry in entries:
        site.addsitedir(entry)
    added = [p for p in sys.path if p not in before]
    sys.path[:] = added + before


_apply()
