"""The asyncio client (on ``tritonclient.grpc.aio``), the twin of :class:`~clinserve.ClinServeClient`.

gRPC's asyncio channels belong to the event loop they are created in, so the channels are
opened on first use inside the running loop, not in the constructor.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from types import TracebackType
from typing import Any, cast

from clinserve.batching import CallResults, Chunk, plan_requests, resplit, validate_texts
from clinserve.client import (
    DEFAULT_READY_TIMEOUT_S,
    MIN_RPC_TIMEOUT_S,
    READY_POLL_INTERVAL_S,
    READY_PROBE_TIMEOUT_S,
    ProgressCallback,
)
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
from clinserve.retry import Deadline, call_with_retry_async
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

__all__ = ["AsyncClinServeClient"]


class AsyncClinServeClient:
    """Asyncio client for the clinserve models; same arguments and calls as the sync client.

    Example:
        >>> async with AsyncClinServeClient("127.0.0.1:8001") as client:  # doctest: +SKIP
        ...     results = await client.extract_entities("drug_development_trials", texts)
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
        if self.options.tls is not None:
            self.options.tls.read()  # fail now, not on first use, when a certificate is unreadable
        self._headers = dict(self.options.headers)
        self._pool: EndpointPool[Any] | None = None
        self._models: dict[str, ModelInfo] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.targets!r})"

    @property
    def _endpoints(self) -> EndpointPool[Any]:
        if self._pool is None:
            self._pool = EndpointPool(
                [(target, make_client(target, self.options, aio=True)) for target in self.targets],
                self.options.endpoint_cooldown_s,
            )
        return self._pool

    # -- lifecycle ---------------------------------------------------------------------------

    async def close(self) -> None:
        """Close every channel."""
        if self._pool is not None:
            for _, client in self._pool.endpoints:
                await client.close()
            self._pool = None

    async def __aenter__(self) -> AsyncClinServeClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- health ------------------------------------------------------------------------------

    async def is_ready(self, *, timeout_s: float = READY_PROBE_TIMEOUT_S) -> bool:
        """True when at least one endpoint reports the server ready."""
        reasons = await asyncio.gather(
            *(self._not_ready_reason(t, client, (), timeout_s) for t, client in self._endpoints.endpoints)
        )
        return any(reason is None for reason in reasons)

    async def wait_until_ready(
        self, timeout_s: float = DEFAULT_READY_TIMEOUT_S, *, models: Sequence[str] = ()
    ) -> None:
        """Wait until every endpoint is ready (and serves ``models``, when given).

        Raises:
            DeadlineExceededError: After ``timeout_s``, naming what each endpoint still lacks.
        """
        deadline = Deadline(timeout_s)
        pending = dict(self._endpoints.endpoints)
        reasons: dict[str, str] = {}
        while True:
            for target, client in list(pending.items()):
                probe = min(READY_PROBE_TIMEOUT_S, max(deadline.remaining(), MIN_RPC_TIMEOUT_S))
                reason = await self._not_ready_reason(target, client, models, probe)
                if reason is None:
                    del pending[target]
                else:
                    reasons[target] = reason
            if not pending:
                return
            if deadline.remaining() <= 0:
                detail = "; ".join(f"{target}: {reasons[target]}" for target in pending)
                raise DeadlineExceededError(f"not ready after {timeout_s:g}s: {detail}")
            await asyncio.sleep(min(READY_POLL_INTERVAL_S, max(deadline.remaining(), 0.0)))

    async def _not_ready_reason(
        self, target: str, client: Any, models: Sequence[str], timeout_s: float
    ) -> str | None:
        try:
            if not await client.is_server_ready(headers=self._headers, client_timeout=timeout_s):
                return "server not ready"
            for model in models:
                if not await client.is_model_ready(model, headers=self._headers, client_timeout=timeout_s):
                    return f"model {model!r} not ready"
        except InferenceServerException as exc:
            return str(translate(exc, target, tls=self.options.tls is not None))
        return None

    # -- models ------------------------------------------------------------------------------

    async def model_info(
        self, model: str, *, refresh: bool = False, timeout_s: float | None = None
    ) -> ModelInfo:
        """What ``model`` is; cached after the first call. See the sync client."""
        return await self._model_info(model, Deadline(timeout_s or self.options.timeout_s), refresh=refresh)

    async def _model_info(
        self, model: str, deadline: Deadline, *, refresh: bool = False, explain: bool = True
    ) -> ModelInfo:
        info = None if refresh else self._models.get(model)
        if info is None:
            try:
                response = await self._call("get_model_config", model, deadline=deadline, as_json=True)
            except ModelNotFoundError as error:
                if explain:
                    hint = unknown_model_hint(model, await self._served_names(deadline))
                    error.message += f"; {hint}" if hint else ""
                raise
            info = ModelInfo.from_config(response["config"])
            self._models[model] = info
        return info

    async def _served_names(self, deadline: Deadline) -> list[str]:
        """Names of the served clinserve models, or none when they cannot be listed."""
        try:
            return [info.name for info in await self._list_models(deadline)]
        except ClinServeError:
            return []

    async def list_models(self, *, timeout_s: float | None = None) -> list[ModelInfo]:
        """The clinserve models the server serves, with their labels. See the sync client."""
        return await self._list_models(Deadline(timeout_s or self.options.timeout_s))

    async def _list_models(self, deadline: Deadline) -> list[ModelInfo]:
        try:
            index = await self._call("get_model_repository_index", deadline=deadline, as_json=True)
            names = [m["name"] for m in index.get("models", []) if m.get("state", "READY") == "READY"]
        except PermissionDeniedError:
            names = list(KNOWN_MODELS)
        infos = []
        for name in names:
            try:
                infos.append(await self._model_info(name, deadline, refresh=True, explain=False))
            except ModelNotFoundError:
                continue
        return sorted(infos, key=lambda info: info.name)

    # -- inference ---------------------------------------------------------------------------

    async def predict(
        self,
        model: str,
        texts: Sequence[str],
        *,
        mode: str | None = None,
        timeout_s: float | None = None,
        on_progress: ProgressCallback | None = None,
        traceparent: str | None = None,
    ) -> list[Result]:
        """Run any clinserve model; the result type follows the model. See the sync client."""
        return await self._run(model, texts, None, mode, timeout_s, on_progress, traceparent)

    async def classify(
        self,
        model: str,
        texts: Sequence[str],
        *,
        mode: str | None = None,
        timeout_s: float | None = None,
        traceparent: str | None = None,
    ) -> list[ClassificationResult]:
        """Single-label classification."""
        results = await self._run(model, texts, ResultKind.CLASSIFICATION, mode, timeout_s, None, traceparent)
        return cast("list[ClassificationResult]", results)

    async def classify_multi_label(
        self,
        model: str,
        texts: Sequence[str],
        *,
        mode: str | None = None,
        timeout_s: float | None = None,
        traceparent: str | None = None,
    ) -> list[MultiLabelResult]:
        """Multi-label classification."""
        results = await self._run(model, texts, ResultKind.MULTI_LABEL, mode, timeout_s, None, traceparent)
        return cast("list[MultiLabelResult]", results)

    async def classify_sentences(
        self,
        model: str,
        texts: Sequence[str],
        *,
        mode: str | None = None,
        timeout_s: float | None = None,
        traceparent: str | None = None,
    ) -> list[SentenceResult]:
        """Per-sentence classification."""
        results = await self._run(model, texts, ResultKind.SENTENCES, mode, timeout_s, None, traceparent)
        return cast("list[SentenceResult]", results)

    async def extract_entities(
        self,
        model: str,
        texts: Sequence[str],
        *,
        mode: str | None = None,
        timeout_s: float | None = None,
        traceparent: str | None = None,
    ) -> list[EntitiesResult]:
        """Entities with offsets and confidence."""
        results = await self._run(model, texts, ResultKind.ENTITIES, mode, timeout_s, None, traceparent)
        return cast("list[EntitiesResult]", results)

    async def _run(
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
        headers = with_trace(self._headers, trace_headers(traceparent))
        timeout = timeout_s or self.options.timeout_s
        deadline = Deadline(timeout)
        info = await self._model_info(model, deadline)
        info.check_mode(mode)
        if expected_kind is not None:
            info.require_kind(expected_kind, mode)
        plan = plan_requests(
            checked, info.max_texts_per_request, document_limit(info, mode, self.options.max_document_chars)
        )
        results: CallResults[Result] = CallResults(len(checked))
        limit = asyncio.Semaphore(self.options.max_concurrent_requests)
        done = 0

        def progress(count: int) -> None:
            nonlocal done
            done += count
            if on_progress is not None:
                on_progress(done, len(checked))

        async def run_chunk(chunk: Chunk) -> None:
            async with limit:
                answers = await self._infer_chunk(info, chunk, mode, deadline, len(checked), headers)
            results.fill(chunk, answers)
            progress(len(chunk))

        tasks = [asyncio.ensure_future(run_chunk(chunk)) for chunk in plan.chunks]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
        for index, refusal in results.documents(plan.documents):
            results.set(
                index, await self._run_document(info, index, checked[index], mode, timeout, refusal, headers)
            )
            progress(1)
        return results.done()

    async def _infer_chunk(
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
            response = await self._call(
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
                results.extend(await self._infer_chunk(info, part, mode, deadline, total, headers))
            return results
        except ClinServeError as error:
            if len(chunk) < total:
                error.message = f"texts[{chunk.start}:{chunk.end}]: {error.message}"
            raise
        elements = result_elements(response, len(chunk), info.name)
        return list(parse_results(elements, info.kind_for(mode), model=info.name, first_index=chunk.start))

    async def _run_document(
        self,
        info: ModelInfo,
        index: int,
        text: str,
        mode: str | None,
        timeout_s: float,
        refusal: RequestTooLargeError | None,
        headers: dict[str, str],
    ) -> Result:
        """One text sent in parts, up to ``max_concurrent_requests`` at once. See the sync client."""
        try:
            run = DocumentRun(
                text,
                info,
                mode,
                max_document_chars=self.options.max_document_chars,
                first_target=first_part_chars(len(text), refusal),
            )
            in_flight: deque[tuple[Part, asyncio.Task[Result] | None]] = deque()
            try:
                while True:
                    while len(in_flight) < self.options.max_concurrent_requests:
                        part = run.next_part()
                        if part is None:
                            break
                        part_text = run.part_text(part)
                        task = None
                        if part_text is not None:
                            task = asyncio.ensure_future(
                                self._infer_part(info, part_text, run.request_mode, timeout_s, headers)
                            )
                        in_flight.append((part, task))
                    if not in_flight:
                        return run.result()
                    part, task = in_flight.popleft()
                    if not run.is_current(part):
                        if task is not None:
                            task.cancel()  # planned before a restart: its answer is not needed
                        continue
                    try:
                        result = await task if task is not None else None
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

    async def _infer_part(
        self, info: ModelInfo, text: str, request_mode: str, timeout_s: float, headers: dict[str, str]
    ) -> Result:
        """One part of a document, in the mode its merge needs."""
        response = await self._call(
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

    def _fail_over(self, error: ClinServeError) -> bool:
        pool = self._endpoints
        return isinstance(error, UnavailableError) and len(pool) > 1 and pool.has_available()

    async def _call(
        self,
        method: str,
        *args: Any,
        deadline: Deadline,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """One RPC on the next endpoint in turn, retried per the policy (see the sync client)."""
        pool = self._endpoints
        sent = self._headers if headers is None else headers

        async def attempt(remaining_s: float) -> Any:
            target, client = pool.pick()
            try:
                result = await getattr(client, method)(
                    *args, headers=sent, client_timeout=max(remaining_s, MIN_RPC_TIMEOUT_S), **kwargs
                )
            except InferenceServerException as exc:
                error = translate(exc, target, tls=self.options.tls is not None)
                if isinstance(error, UnavailableError):
                    pool.mark_unavailable(target)
                raise error from exc
            pool.mark_available(target)
            return result

        return await call_with_retry_async(attempt, self.retry, deadline, fail_over=self._fail_over)
