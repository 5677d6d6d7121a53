"""The synchronous client (on ``tritonclient.grpc``).

One client holds one gRPC channel per endpoint for its whole life (channels are expensive to
open and multiplex any number of calls); share it between threads and close it at the end,
or use it as a context manager.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from types import TracebackType
from typing import Any, Callable, cast

from clinserve.batching import CallResults, Chunk, plan_requests, resplit, validate_texts
from clinserve.documents import DocumentRun, document_limit, first_part_chars
from clinserve.endpoints import EndpointPool, parse_targets
from clinserve.errors import (
    ClinServeError,
    DeadlineExceededError,
    ModelNotFoundError,
    PermissionDeniedError,
    RequestTooLargeError,
    UnavailableError,
)
from clinserve.model_info import KNOWN_MODELS, ModelInfo, unknown_model_hint
from clinserve.options import DEFAULT_URL, ChannelOptions, RetryPolicy
from clinserve.results import (
    ClassificationResult,
    EntitiesResult,
    MultiLabelResult,
    Result,
    ResultKind,
    SentenceResult,
    parse_results,
)
from clinserve.retry import Deadline, call_with_retry
from clinserve.splitting import Part
from clinserve.tracing import trace_headers, with_trace
from clinserve.transport import (
    InferenceServerException,
    build_inputs,
    build_outputs,
    make_client,
    request_parameters,
    result_elements,
    translate,
)

__all__ = ["DEFAULT_READY_TIMEOUT_S", "READY_POLL_INTERVAL_S", "ClinServeClient", "ProgressCallback"]

#: Default wait of :meth:`ClinServeClient.wait_until_ready`, in seconds.
DEFAULT_READY_TIMEOUT_S = 60.0
#: Pause between readiness polls.
READY_POLL_INTERVAL_S = 0.25
#: Longest single readiness probe.
READY_PROBE_TIMEOUT_S = 2.0
#: Shortest deadline given to one RPC (gRPC rejects zero and negative deadlines).
MIN_RPC_TIMEOUT_S = 0.001
#: Called with (texts done, texts in total) as requests of a long call complete.
ProgressCallback = Callable[[int, int], None]


class ClinServeClient:
    """Synchronous client for the clinserve models on one or more Triton servers.

    Args:
        url: ``host:port`` of the gRPC endpoint; a list (or comma-separated string) of them to
            round-robin over replicas; or a gRPC target resolving to many addresses, such as
            ``dns:///clinserve-headless.ns.svc:8001``.
        options: Deadline, TLS, headers, concurrency and load-balancing settings.
        retry: Retry policy for unavailable and overloaded servers.

    Example:
        >>> with ClinServeClient("127.0.0.1:8001") as client:  # doctest: +SKIP
        ...     [result] = client.classify("treatment_changes", ["I stopped taking ambien."])
        ...     result.label, result.score
    """

    def __init__(
        self,
        url: str | Sequence[str] = DEFAULT_URL,
        *,
        options: ChannelOptions | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.options = options or ChannelOptions()
        self.retry = retry or RetryPolicy()
        self.targets = parse_targets(url)
        self._headers = dict(self.options.headers)
        self._pool: EndpointPool[Any] = EndpointPool(
            [(target, make_client(target, self.options)) for target in self.targets],
            self.options.endpoint_cooldown_s,
        )
        self._models: dict[str, ModelInfo] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.targets!r})"

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close every channel and the request threads. The client is unusable afterwards."""
        with self._executor_lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None
        for _, client in self._pool.endpoints:
            client.close()

    def __enter__(self) -> ClinServeClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- health ------------------------------------------------------------------------------

    def is_ready(self, *, timeout_s: float = READY_PROBE_TIMEOUT_S) -> bool:
        """True when at least one endpoint reports the server ready."""
        return any(
            self._not_ready_reason(target, client, (), timeout_s) is None
            for target, client in self._pool.endpoints
        )

    def wait_until_ready(
        self, timeout_s: float = DEFAULT_READY_TIMEOUT_S, *, models: Sequence[str] = ()
    ) -> None:
        """Block until every endpoint is ready (and serves ``models``, when given).

        Raises:
            DeadlineExceededError: After ``timeout_s``, naming what each endpoint still lacks.
        """
        deadline = Deadline(timeout_s)
        pending = dict(self._pool.endpoints)
        reasons: dict[str, str] = {}
        while True:
            for target, client in list(pending.items()):
                probe = min(READY_PROBE_TIMEOUT_S, max(deadline.remaining(), MIN_RPC_TIMEOUT_S))
                reason = self._not_ready_reason(target, client, models, probe)
                if reason is None:
                    del pending[target]
                else:
                    reasons[target] = reason
            if not pending:
                return
            if deadline.remaining() <= 0:
                detail = "; ".join(f"{target}: {reasons[target]}" for target in pending)
                raise DeadlineExceededError(f"not ready after {timeout_s:g}s: {detail}")
            time.sleep(min(READY_POLL_INTERVAL_S, max(deadline.remaining(), 0.0)))

    def _not_ready_reason(
        self, target: str, client: Any, models: Sequence[str], timeout_s: float
    ) -> str | None:
        try:
            if not client.is_server_ready(headers=self._headers, client_timeout=timeout_s):
                return "server not ready"
            for model in models:
                if not client.is_model_ready(model, headers=self._headers, client_timeout=timeout_s):
                    return f"model {model!r} not ready"
        except InferenceServerException as exc:
            return str(translate(exc, target, tls=self.options.tls is not None))
        return None

    # -- models ------------------------------------------------------------------------------

    def model_info(self, model: str, *, refresh: bool = False, timeout_s: float | None = None) -> ModelInfo:
        """What ``model`` is (task, labels, limits, weights); cached after the first call.

        Raises:
            ModelNotFoundError: When no such model is served, or it is not a clinserve model.
        """
        return self._model_info(model, Deadline(timeout_s or self.options.timeout_s), refresh=refresh)

    def _model_info(
        self, model: str, deadline: Deadline, *, refresh: bool = False, explain: bool = True
    ) -> ModelInfo:
        info = None if refresh else self._models.get(model)
        if info is None:
            try:
                response = self._call("get_model_config", model, deadline=deadline, as_json=True)
            except ModelNotFoundError as error:
                if explain:
                    hint = unknown_model_hint(model, self._served_names(deadline))
                    error.message += f"; {hint}" if hint else ""
                raise
            info = ModelInfo.from_config(response["config"])
            self._models[model] = info
        return info

    def _served_names(self, deadline: Deadline) -> list[str]:
        """Names of the served clinserve models, or none when they cannot be listed."""
        try:
            return [info.name for info in self._list_models(deadline)]
        except ClinServeError:
            return []

    def list_models(self, *, timeout_s: float | None = None) -> list[ModelInfo]:
        """The clinserve models the server serves, with their labels, sorted by name.

        The server's model index is a restricted protocol: with the admin key in the headers
        (:func:`~clinserve.admin_headers`) every served clinserve model is listed, imported ones
        included; without it, the catalog's model names are probed.
        """
        return self._list_models(Deadline(timeout_s or self.options.timeout_s))

    def _list_models(self, deadline: Deadline) -> list[ModelInfo]:
        try:
            index = self._call("get_model_repository_index", deadline=deadline, as_json=True)
            names = [m["name"] for m in index.get("models", []) if m.get("state", "READY") == "READY"]
        except PermissionDeniedError:
            names = list(KNOWN_MODELS)
        infos = []
        for name in names:
            try:
                infos.append(self._model_info(name, deadline, refresh=True, explain=False))
            except ModelNotFoundError:
                continue
        return sorted(infos, key=lambda info: info.name)

    # -- inference ---------------------------------------------------------------------------

    def predict(
        self,
        model: str,
        texts: Sequence[str],
        *,
        mode: str | None = None,
        timeout_s: float | None = None,
        on_progress: ProgressCallback | None = None,
        traceparent: str | None = None,
    ) -> list[Result]:
        """Run any clinserve model; the result type follows the model (see :meth:`model_info`).

        Args:
            model: Public model name.
            texts: The texts, any number; long lists are split into concurrent requests and the
                results come back in the same order.
            mode: How the server segments each text, one of ``model_info(model).modes`` (default:
                the model's ``default_mode``); it decides the result type (``sentences`` gives
                per-sentence results, ``document`` one averaged result per text).
            timeout_s: Deadline of the whole call, retries included (default: the options').
            on_progress: Called with (texts done, total) as requests complete.
            traceparent: W3C trace context sent with every request of the call, so the server's
                spans join the caller's trace (default: the current OpenTelemetry span's, when
                the ``opentelemetry`` package is installed and a span is current; see
                :mod:`clinserve.tracing`).

        Raises:
            InvalidInputError: A text is empty, not a string, too long for the server, ...
            ModelNotFoundError: No such model.
            DeadlineExceededError: The deadline passed.
            OverloadedError, UnavailableError: Still so after the retries.
        """
        return self._run(model, texts, None, mode, timeout_s, on_progress, traceparent)

    def classify(
        self,
        model: str,
        texts: Sequence[str],
        *,
        mode: str | None = None,
        timeout_s: float | None = None,
        traceparent: str | None = None,
    ) -> list[ClassificationResult]:
        """Single-label classification: one label with its score, and every label's score."""
        results = self._run(model, texts, ResultKind.CLASSIFICATION, mode, timeout_s, None, traceparent)
        return cast("list[ClassificationResult]", results)

    def classify_multi_label(
        self,
        model: str,
        texts: Sequence[str],
        *,
        mode: str | None = None,
        timeout_s: float | None = None,
        traceparent: str | None = None,
    ) -> list[MultiLabelResult]:
        """Multi-label classification: every label above the model's threshold."""
        results = self._run(model, texts, ResultKind.MULTI_LABEL, mode, timeout_s, None, traceparent)
        return cast("list[MultiLabelResult]", results)

    def classify_sentences(
        self,
        model: str,
        texts: Sequence[str],
        *,
        mode: str | None = None,
        timeout_s: float | None = None,
        traceparent: str | None = None,
    ) -> list[SentenceResult]:
        """Per-sentence classification: each sentence's span and prediction."""
        results = self._run(model, texts, ResultKind.SENTENCES, mode, timeout_s, None, traceparent)
        return cast("list[SentenceResult]", results)

    def extract_entities(
        self,
        model: str,
        texts: Sequence[str],
        *,
        mode: str | None = None,
        timeout_s: float | None = None,
        traceparent: str | None = None,
    ) -> list[EntitiesResult]:
        """Entities with their type, character offsets and confidence."""
        results = self._run(model, texts, ResultKind.ENTITIES, mode, timeout_s, None, traceparent)
        return cast("list[EntitiesResult]", results)

    def _run(
        self,
        model: str,
        texts: Sequence[str],
        expected_kind: str | None,
        mode: str | None,
        timeout_s: float | None,
        on_progress: ProgressCallback | None,
        traceparent: str | None,
    ) -> list[Result]:
        checked = validate_texts(texts)
        # Read in the caller's thread: the current span does not follow the request threads.
        headers = with_trace(self._headers, trace_headers(traceparent))
        timeout = timeout_s or self.options.timeout_s
        deadline = Deadline(timeout)
        info = self._model_info(model, deadline)
        info.check_mode(mode)
        if expected_kind is not None:
            info.require_kind(expected_kind, mode)
        plan = plan_requests(
            checked, info.max_texts_per_request, document_limit(info, mode, self.options.max_document_chars)
        )
        results: CallResults[Result] = CallResults(len(checked))
        done = 0

        def progress(count: int) -> None:
            nonlocal done
            done += count
            if on_progress is not None:
                on_progress(done, len(checked))

        if len(plan.chunks) == 1:
            [chunk] = plan.chunks
            results.fill(chunk, self._infer_chunk(info, chunk, mode, deadline, len(checked), headers))
            progress(len(chunk))
        elif plan.chunks:
            executor = self._get_executor()
            futures: dict[Future[list[Result | RequestTooLargeError]], Chunk] = {
                executor.submit(self._infer_chunk, info, chunk, mode, deadline, len(checked), headers): chunk
                for chunk in plan.chunks
            }
            pending = set(futures)
            try:
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        results.fill(futures[future], future.result())
                        progress(len(futures[future]))
            finally:
                for future in pending:
                    future.cancel()
        for index, refusal in results.documents(plan.documents):
            results.set(
                index, self._run_document(info, index, checked[index], mode, timeout, refusal, headers)
            )
            progress(1)
        return results.done()

    def _infer_chunk(
        self,
        info: ModelInfo,
        chunk: Chunk,
        mode: str | None,
        deadline: Deadline,
        total: int,
        headers: dict[str, str],
    ) -> list[Result | RequestTooLargeError]:
        inputs = build_inputs(chunk.texts)
        try:
            response = self._call(
                "infer",
                info.name,
                inputs,
                deadline=deadline,
                outputs=build_outputs(),
                parameters=request_parameters(mode),
                headers=headers,
            )
        except RequestTooLargeError as error:
            if len(chunk) == 1:
                return [error]  # this text alone is too large: the caller sends it in parts
            results: list[Result | RequestTooLargeError] = []
            for part in resplit(chunk, error):
                results.extend(self._infer_chunk(info, part, mode, deadline, total, headers))
            return results
        except ClinServeError as error:
            if len(chunk) < total:
                error.message = f"texts[{chunk.start}:{chunk.end}]: {error.message}"
            raise
        elements = result_elements(response, len(chunk), info.name)
        return list(parse_results(elements, info.kind_for(mode), model=info.name, first_index=chunk.start))

    def _run_document(
        self,
        info: ModelInfo,
        index: int,
        text: str,
        mode: str | None,
        timeout_s: float,
        refusal: RequestTooLargeError | None,
        headers: dict[str, str],
    ) -> Result:
        """One text sent in parts, up to ``max_concurrent_requests`` at once, merged in order.

        Each part's request gets the call's timeout (a document of megabytes takes minutes).
        """
        try:
            run = DocumentRun(
                text,
                info,
                mode,
                max_document_chars=self.options.max_document_chars,
                first_target=first_part_chars(len(text), refusal),
            )
            in_flight: deque[tuple[Part, Future[Result] | None]] = deque()
            try:
                while True:
                    while len(in_flight) < self.options.max_concurrent_requests:
                        part = run.next_part()
                        if part is None:
                            break
                        part_text = run.part_text(part)
                        future = None
                        if part_text is not None:
                            future = self._get_executor().submit(
                                self._infer_part, info, part_text, run.request_mode, timeout_s, headers
                            )
                        in_flight.append((part, future))
                    if not in_flight:
                        return run.result()
                    part, future = in_flight.popleft()
                    if not run.is_current(part):
                        continue  # planned before a restart: its answer is not needed
                    try:
                        result = future.result() if future is not None else None
                    except RequestTooLargeError as error:
                        run.refused(part, error)
                        continue
                    except ClinServeError as error:
                        error.message = f"characters {part.begin:,}-{part.end:,}: {error.message}"
                        raise
                    run.accept(part, result)
            finally:
                for _, pending in in_flight:
                    if pending is not None:
                        pending.cancel()
        except ClinServeError as error:
            error.message = f"texts[{index}] ({len(text):,} characters, sent in parts): {error.message}"
            raise

    def _infer_part(
        self, info: ModelInfo, text: str, request_mode: str, timeout_s: float, headers: dict[str, str]
    ) -> Result:
        """One part of a document, in the mode its merge needs."""
        response = self._call(
            "infer",
            info.name,
            build_inputs([text]),
            deadline=Deadline(timeout_s),
            outputs=build_outputs(),
            parameters=request_parameters(request_mode),
            headers=headers,
        )
        elements = result_elements(response, 1, info.name)
        [result] = parse_results(elements, info.kind_for(request_mode), model=info.name)
        return result

    # -- plumbing ----------------------------------------------------------------------------

    def _get_executor(self) -> ThreadPoolExecutor:
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.options.max_concurrent_requests, thread_name_prefix="clinserve"
                )
            return self._executor

    def _fail_over(self, error: ClinServeError) -> bool:
        return isinstance(error, UnavailableError) and len(self._pool) > 1 and self._pool.has_available()

    def _call(
        self,
        method: str,
        *args: Any,
        deadline: Deadline,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """One RPC on the next endpoint in turn, retried per the policy.

        ``headers``: the call's metadata (the client's own headers when not given).
        """
        sent = self._headers if headers is None else headers

        def attempt(remaining_s: float) -> Any:
            target, client = self._pool.pick()
            try:
                result = getattr(client, method)(
                    *args, headers=sent, client_timeout=max(remaining_s, MIN_RPC_TIMEOUT_S), **kwargs
                )
            except InferenceServerException as exc:
                error = translate(exc, target, tls=self.options.tls is not None)
                if isinstance(error, UnavailableError):
                    self._pool.mark_unavailable(target)
                raise error from exc
            self._pool.mark_available(target)
            return result

        return call_with_retry(attempt, self.retry, deadline, fail_over=self._fail_over)
