"""ONNX Runtime sessions of the benchmark's own processes, on the provider the served path uses.

The limit (``benchmarks.limit``), the interleaved single-text run (``benchmarks.paired``) and the
ONNX Runtime peer run the served ``model.onnx`` in-process. On the ``gpu`` execution profile
they run it where ``clinserve_runtime.ort_providers.local_providers`` says (CUDA when this
ONNX Runtime build and this machine have a GPU), on the ``cpu`` profile on the CPU provider, so
they run on the GPU exactly when the served path's ``KIND_GPU`` instances do. Each records the
provider its session actually got (:func:`runs_on`): ONNX Runtime drops a provider it cannot
create instead of failing.
"""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort

from clinserve_runtime.configs import EXECUTION_PROFILES
from clinserve_runtime.ort_options import session_options
from clinserve_runtime.ort_providers import (
    CPU,
    ProviderChoice,
    active_provider,
    local_providers,
    onnxruntime_build,
)


def session_providers(profile: str) -> ProviderChoice:
    """The providers an in-process session of the ``profile`` benchmark asks for.

    Raises:
        ValueError: For a profile that is not one of ``EXECUTION_PROFILES``.
    """
    if profile not in EXECUTION_PROFILES:
        raise ValueError(f"execution profile must be one of {', '.join(EXECUTION_PROFILES)}, not {profile!r}")
    if profile == "gpu":
        return local_providers()
    return ProviderChoice([CPU], f"{profile} profile")


def open_session(path: Path, profile: str, *, threads: int = 0) -> ort.InferenceSession:
    """A session of ``path`` with the stand-in's session options, on ``profile``'s providers.

    ``threads`` is the intra-op thread count (0: one per core), as the served config's
    ``intra_op_thread_count``.
    """
    return ort.InferenceSession(
        str(path),
        sess_options=session_options({"intra_op_thread_count": str(threads)}),
        providers=session_providers(profile).providers,
    )


def runs_on(session: ort.InferenceSession) -> dict[str, str]:
    """Where the session runs, for the results: its first provider and the ONNX Runtime build."""
    return {"provider": active_provider(session), "onnxruntime": onnxruntime_build()}
