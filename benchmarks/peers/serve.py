"""Run a peer under uvicorn, or start one as a child process from the orchestrator.

    python -m benchmarks.peers.serve --kind onnx --repository build/bench/weights/base \
        --model treatment_changes --port 9100 [--profile gpu]
    python -m benchmarks.peers.serve --kind transformers --checkpoint build/bench/hf/base/treatment_changes \
        --repository build/bench/weights/base --model treatment_changes --port 9101

One uvicorn worker process, access log off (Triton logs no requests either), loopback only.

Started by :class:`PeerServer`, the child serves on a listening socket the parent opened and
hands over (``--fd``): a port picked free and bound only later, after the ``transformers`` peer
has converted its checkpoint, was once taken in between (``[Errno 98] address already in use``;
outgoing connections draw their local ports from the same range).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO

from clinserve_runtime.configs import EXECUTION_PROFILES
from clinserve_runtime.process_group import stop_group

KINDS = ("transformers", "onnx")
HOST = "127.0.0.1"


class PeerError(RuntimeError):
    """A peer server did not start."""


class PeerServer:
    """A peer server child process on a free loopback port."""

    def __init__(
        self,
        kind: str,
        *,
        model: str,
        repository: Path | None = None,
        checkpoint: Path | None = None,
        threads: int = 0,
        profile: str = "cpu",
        log_path: Path | None = None,
    ) -> None:
        """Prepare (not start) a peer; ``threads`` 0 means one per core; ``profile`` the execution profile."""
        if kind not in KINDS:
            raise ValueError(f"peer kind must be one of {KINDS}, got {kind!r}")
        self.kind, self.model, self.threads, self.profile = kind, model, threads, profile
        self.repository, self.checkpoint, self.log_path = repository, checkpoint, log_path
        self.port = 0
        # What the peer's /health says it runs on (framework, device or provider), once ready.
        self.runs_on = ""
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        """The server's process id (0 before :meth:`start`)."""
        return self.process.pid if self.process is not None else 0

    @property
    def url(self) -> str:
        """The load generator's target."""
        return f"http://{HOST}:{self.port}/predict"

    def command(self) -> list[str]:
        """The child's command line."""
        command = [sys.executable, "-m", "benchmarks.peers.serve", "--kind", self.kind, "--model", self.model]
        command += ["--threads", str(self.threads), "--profile", self.profile]
        if self.repository is not None:
            command += ["--repository", str(self.repository)]
        if self.checkpoint is not None:
            command += ["--checkpoint", str(self.checkpoint)]
        return command

    def start(self) -> None:
        """Open a listening socket on a free loopback port and start the child serving on it."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind((HOST, 0))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        env = dict(os.environ)
        # As in Triton's stub processes: tokenizers' pool bounded, the model owns the cores.
        env.update({"RAYON_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"})
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                [*self.command(), "--fd", str(listener.fileno())],
                env=env,
                stdout=self._log,
                stderr=subprocess.STDOUT if self._log else None,
                start_new_session=True,
                pass_fds=(listener.fileno(),),
            )
        finally:
            listener.close()  # the child holds its own copy

    def wait_until_ready(self, timeout_s: float = 180.0) -> None:
        """Poll ``/health`` until it answers 200; keep what it says the peer runs on."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                hint = f"; see {self.log_path}" if self.log_path else ""
                raise PeerError(f"{self.kind} peer exited with code {self.process.returncode}{hint}")
            try:
                with urllib.request.urlopen(f"http://{HOST}:{self.port}/health", timeout=2) as response:
                    if response.status == 200:
                        self.runs_on = str(json.load(response).get("runs_on", ""))
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        raise PeerError(f"{self.kind} peer was not ready after {timeout_s:.0f}s")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 15 s; whatever is left of its process group too."""
        if self.process is not None:
            stop_group(self.process, timeout_s=15)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> PeerServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: serve one peer until SIGTERM."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kind", choices=KINDS, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--repository", type=Path, help="model repository (onnx peer)")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="Hugging Face checkpoint folder (transformers peer); with --repository, (re)converted"
        " from the served ONNX weights when missing or stale",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", type=int, help="bind this loopback port")
    where.add_argument("--fd", type=int, help="serve on this inherited listening socket")
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (0: one per core)")
    parser.add_argument(
        "--profile", choices=EXECUTION_PROFILES, default="cpu", help="execution profile: gpu runs on the GPU"
    )
    args = parser.parse_args(argv)

    import uvicorn

    from clinserve_ensemble.catalog import load_catalog

    if args.kind == "transformers":
        if args.checkpoint is None:
            parser.error("--checkpoint is required for the transformers peer")
        from benchmarks.peers.transformers_app import create_app as create_transformers_app

        if args.repository is not None:
            # Convert here rather than in a process of its own: PyTorch and transformers load once.
            from benchmarks.peers.hf_checkpoint import convert, up_to_date

            spec = load_catalog()[args.model]
            if not up_to_date(args.repository, spec, args.checkpoint):
                convert(args.repository, spec, args.checkpoint)

        threads = args.threads or (os.cpu_count() or 1)
        max_tokens = load_catalog()[args.model].max_tokens
        app = create_transformers_app(
            args.checkpoint, max_tokens=max_tokens, threads=threads, profile=args.profile
        )
    else:
        if args.repository is None:
            parser.error("--repository is required for the onnx peer")
        from benchmarks.peers.onnx_app import create_app as create_onnx_app

        app = create_onnx_app(args.repository, args.model, threads=args.threads, profile=args.profile)
    if args.fd is not None:
        config = uvicorn.Config(app, log_level="warning", access_log=False)
        uvicorn.Server(config).run(sockets=[socket.socket(fileno=args.fd)])
    else:
        uvicorn.run(app, host=HOST, port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
