"""Merge the answers for a document's parts into the answer for the whole document.

Each merger takes the parts' results in document order (offsets relative to the part; ``None``
for a part that is only whitespace and was not sent) and builds the result one request over
the whole text would give:

- :class:`SentenceMerger` (``sentences`` mode): sentences with offsets into the document and
  numbered from 0 across parts. Where two parts overlap, the join is a sentence start that
  both parts report and both saw with context on either side;
- :class:`DocumentMerger` (``document`` mode): the same sentences, averaged at the end exactly
  as the server averages them (Spark NLP's ``coalesceSentences``);
- :class:`EntityMerger` (``windows`` mode): the overlap of two parts is cut at its midpoint, as
  the server cuts the overlap of two windows; an entity belongs to the part in which it begins
  and is reported once;
- :class:`EntitySentenceMerger` (entities in ``sentences`` mode): the sentences the parts report
  (``sentence_spans``), each with its entities, joined as :class:`SentenceMerger` joins them;
- :class:`WholeMerger` (``whole`` mode): the first part's prediction (the model reads only the
  first ``max_tokens`` word-pieces), with ``dropped_tokens`` counted over every part.

A merger may answer a part with a :class:`Restart`: plan again from a position (a join the
overlap could not decide, a part too short to count).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

import numpy as np

from clinserve.errors import InvalidInputError, RequestTooLargeError, ResultFormatError
from clinserve.results import (
    ClassificationResult,
    EntitiesResult,
    Entity,
    LabelScore,
    MultiLabelResult,
    Result,
    SentencePrediction,
    SentenceResult,
)
from clinserve.splitting import Part

__all__ = [
    "DocumentMerger",
    "EntityMerger",
    "EntitySentence",
    "EntitySentenceMerger",
    "Merger",
    "Restart",
    "SentenceMerger",
    "WholeMerger",
]


class Restart(NamedTuple):
    """Plan the document again from ``position``.

    Attributes:
        position: Where the next part starts.
        exact: Whether a sentence starts there for the whole document too.
        target: Length of the next part (``None``: the planner's).
    """

    position: int
    exact: bool
    target: int | None = None


class _Envelope:
    """The fields every result carries, taken from the first part that answered."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.fields: dict[str, Any] | None = None

    def note(self, result: Result | None) -> None:
        if result is not None and self.fields is None:
            # During a canary the parts of one document may reach replicas that serve different
            # versions; the merged result names the first part's (docs/deploy.md, canary).
            self.fields = {
                "model": result.model,
                "untrained": result.untrained,
                "weights": result.weights,
                "model_version": result.model_version,
                "weights_digest": result.weights_digest,
            }

    def build(self, *, truncated: bool, dropped_tokens: int) -> dict[str, Any]:
        if self.fields is None:
            raise InvalidInputError("the document holds nothing but whitespace: there is nothing to classify")
        return {**self.fields, "truncated": truncated, "dropped_tokens": dropped_tokens, "mode": self.mode}


class Merger:
    """Base of the mergers: results in, one result out."""

    def __init__(self, mode: str) -> None:
        self.envelope = _Envelope(mode)

    def accept(self, part: Part, result: Result | None) -> Restart | None:
        """Take the next part's result (offsets relative to the part)."""
        raise NotImplementedError

    def finish(self) -> Result:
        """The merged result, once every part was accepted."""
        raise NotImplementedError


@dataclass(frozen=True)
class EntitySentence:
    """One sentence of an entities-per-sentence result: its span and the entities found in it."""

    index: int
    begin: int
    end: int
    entities: tuple[Entity, ...]


#: What a sentence join works on: a sentence with its number, span and prediction(s).
Sentence = TypeVar("Sentence", SentencePrediction, EntitySentence)


class _SentenceJoiner(Merger, Generic[Sentence]):
    """Sentences of overlapping or adjacent parts, joined where both parts agree.

    Sentences a part reports within a quarter of an overlap from its edge are not trusted
    (the splitter looks at the text around a boundary); a join is a sentence start that both
    parts report in the middle half of their overlap, the one closest to its centre. When
    there is none, the merger restarts the plan at the last trusted sentence start of the
    earlier part, where a fresh part begins with a sentence the whole text has too.

    Subclasses say what a part's sentences are (:meth:`sentences_of`), how one is renumbered
    (:meth:`numbered`), and what becomes of the final ones (:meth:`take`, :meth:`finish`).
    """

    def __init__(self, mode: str) -> None:
        super().__init__(mode)
        self.emitted = 0
        self._pending: list[Sentence] = []
        self._previous: Part | None = None
        self._restart_point: int | None = None

    def sentences_of(self, result: Result | None, offset: int) -> list[Sentence]:
        """A part's sentences, in order, with offsets into the document (the part starts at ``offset``)."""
        raise NotImplementedError

    def numbered(self, sentence: Sentence, index: int) -> Sentence:
        """``sentence`` as the ``index``-th of the document."""
        raise NotImplementedError

    def take(self, sentence: Sentence) -> None:
        """Record one final sentence (numbered in document order)."""
        raise NotImplementedError

    def accept(self, part: Part, result: Result | None) -> Restart | None:
        """Keep the part's sentences that are final; hold those the next part decides."""
        self.envelope.note(result)
        found = self.sentences_of(result, part.begin)
        previous = self._previous
        if part.exact_begin or previous is None or previous.next_begin != part.begin:
            self._emit([s for s in self._pending if s.begin < part.begin])
            usable = found
        else:
            join = _join(self._pending, found, part.begin, previous.end)
            if join is None:
                return self._restart(previous)
            self._emit([s for s in self._pending if s.begin < join])
            usable = [s for s in found if s.begin >= join]
        self._pending = []
        self._previous = part
        if part.next_begin is None:
            self._emit(usable)
            self._restart_point = None
            return None
        margin = (part.end - part.next_begin) // 4
        trusted = [s.begin for s in usable if s.begin <= part.end - margin]
        self._restart_point = trusted[-1] if trusted else None
        hold = part.next_begin + margin
        if self._restart_point is not None:
            hold = min(hold, self._restart_point)
        self._emit([s for s in usable if s.begin < hold])
        self._pending = [s for s in usable if s.begin >= hold]
        return None

    def _restart(self, previous: Part) -> Restart:
        point = self._restart_point
        if point is None:
            raise InvalidInputError(
                f"no sentence boundary found near characters {previous.begin:,}-{previous.end:,}:"
                " the text cannot be split into requests there"
            )
        self._emit([s for s in self._pending if s.begin < point])
        self._pending = []
        self._previous = None
        if point <= previous.begin:
            # One sentence fills the whole part: the next try needs a longer part.
            return Restart(point, exact=True, target=2 * len(previous))
        return Restart(point, exact=True)

    def _emit(self, sentences: Sequence[Sentence]) -> None:
        for sentence in sentences:
            self.take(self.numbered(sentence, self.emitted))
            self.emitted += 1

    def _emit_pending(self) -> None:
        self._emit(self._pending)
        self._pending = []


class SentenceMerger(_SentenceJoiner[SentencePrediction]):
    """``sentences`` mode of a sequence classifier: every sentence's prediction, numbered from 0."""

    def __init__(self, mode: str = "sentences") -> None:
        super().__init__(mode)
        self.sentences: list[SentencePrediction] = []

    def sentences_of(self, result: Result | None, offset: int) -> list[SentencePrediction]:
        """The part's sentence predictions, shifted to document offsets."""
        return [_shift_sentence(s, offset) for s in _sentences_of(result)]

    def numbered(self, sentence: SentencePrediction, index: int) -> SentencePrediction:
        """The prediction with its document-wide index."""
        return dataclasses.replace(sentence, index=index)

    def take(self, sentence: SentencePrediction) -> None:
        """Keep the sentence."""
        self.sentences.append(sentence)

    def finish(self) -> Result:
        """Every sentence, numbered in document order."""
        self._emit_pending()
        dropped = sum(s.dropped_tokens for s in self.sentences)
        return SentenceResult(
            **self.envelope.build(truncated=dropped > 0, dropped_tokens=dropped),
            sentences=tuple(self.sentences),
        )


class DocumentMerger(SentenceMerger):
    """``document`` mode: the mean of every sentence's scores, as the server computes it.

    The sentences' scores are kept as float32 rows (what the server averages, exactly: each
    score on the wire is a float32 value) and averaged with numpy at the end, so the document
    scores equal a single request's.
    """

    def __init__(self) -> None:
        super().__init__("document")
        self._rows: list[list[float]] = []
        self._labels: tuple[str, ...] = ()
        self._threshold: float | None = None
        self._multi_label = False
        self._dropped = 0

    def take(self, sentence: SentencePrediction) -> None:
        """Keep the sentence's scores for the mean."""
        if not self._rows:
            self._labels = tuple(item.label for item in sentence.scores)
            self._multi_label = sentence.label is None
            self._threshold = sentence.threshold
        self._rows.append([item.score for item in sentence.scores])
        self._dropped += sentence.dropped_tokens

    def finish(self) -> Result:
        """One prediction from the mean of every sentence's scores."""
        self._emit_pending()
        if not self._rows:
            raise InvalidInputError("the document has no sentence: there is nothing to classify")
        mean = np.mean(np.asarray(self._rows, dtype=np.float32), axis=0).astype(np.float32)
        scores = tuple(LabelScore(label, float(p)) for label, p in zip(self._labels, mean))
        common = self.envelope.build(truncated=self._dropped > 0, dropped_tokens=self._dropped)
        if self._multi_label:
            threshold = self._threshold if self._threshold is not None else 0.5
            chosen = [int(i) for i in np.argsort(-mean, kind="stable") if mean[i] > threshold]
            return MultiLabelResult(
                **common,
                labels=tuple(scores[i] for i in chosen),
                scores=scores,
                threshold=threshold,
                sentence_count=len(self._rows),
            )
        best = int(np.argmax(mean))
        return ClassificationResult(
            **common,
            label=self._labels[best],
            score=float(mean[best]),
            scores=scores,
            sentence_count=len(self._rows),
        )


class EntityMerger(Merger):
    """Entities of overlapping parts, the overlap cut at its midpoint (as windows are)."""

    def __init__(self) -> None:
        super().__init__("windows")
        self.entities: list[Entity] = []
        self._cut = 0
        self._taken_until = 0
        self._counts_segments = False

    def accept(self, part: Part, result: Result | None) -> Restart | None:
        """Keep the entities that begin on this part's side of both overlap midpoints."""
        self.envelope.note(result)
        result = _entities_result(result)
        if result is not None and result.sentence_count is not None:
            self._counts_segments = True
        right = part.end if part.next_begin is None else (part.next_begin + part.end) // 2
        for entity in result.entities if result is not None else ():
            begin = entity.begin + part.begin
            if self._cut <= begin < right and begin >= self._taken_until:
                self.entities.append(dataclasses.replace(entity, begin=begin, end=entity.end + part.begin))
                self._taken_until = entity.end + part.begin
        self._cut = max(self._cut, right)
        return None

    def finish(self) -> Result:
        """Every entity once, in document order."""
        return EntitiesResult(
            **self.envelope.build(truncated=False, dropped_tokens=0),
            entities=tuple(self.entities),
            # One request reads the whole text as one segment (when the server counts them).
            sentence_count=1 if self._counts_segments else None,
        )


class EntitySentenceMerger(_SentenceJoiner[EntitySentence]):
    """Entities in ``sentences`` mode: the parts' sentences joined, their entities renumbered.

    The server reads each sentence on its own (windows inside the sentence), so a sentence that
    a part splits as the whole text does gets the same entities from the part; the parts' results
    say where their sentences are (``sentence_spans``), which is what a join needs.
    """

    def __init__(self) -> None:
        super().__init__("sentences")
        self.entities: list[Entity] = []
        self.spans: list[tuple[int, int]] = []

    def sentences_of(self, result: Result | None, offset: int) -> list[EntitySentence]:
        """The part's sentences with their entities, shifted to document offsets.

        Raises:
            RequestTooLargeError: When the result does not say where its sentences are (a server
                older than the field): the parts cannot be joined.
            ResultFormatError: When an entity names a sentence the result does not list.
        """
        result = _entities_result(result)
        if result is None:
            return []
        spans = result.sentence_spans
        if spans is None:
            raise RequestTooLargeError(
                f"{result.model}'s entity results do not say where their sentences are (a server"
                " without `sentence_spans`, docs/tensor-contract.md), so a text that needs several"
                " requests cannot be joined in mode 'sentences'; use mode='windows' (the default)"
                " or a newer server"
            )
        if result.sentence_count is not None and result.sentence_count != len(spans):
            raise ResultFormatError(
                f"{result.model}: sentence_count {result.sentence_count} but {len(spans)} sentence spans"
            )
        grouped: list[list[Entity]] = [[] for _ in spans]
        for entity in result.entities:
            if not 0 <= entity.sentence < len(spans):
                raise ResultFormatError(
                    f"{result.model}: an entity names sentence {entity.sentence}; the result has {len(spans)}"
                )
            grouped[entity.sentence].append(
                dataclasses.replace(entity, begin=entity.begin + offset, end=entity.end + offset)
            )
        return [
            EntitySentence(index, begin + offset, end + offset, tuple(found))
            for index, ((begin, end), found) in enumerate(zip(spans, grouped))
        ]

    def numbered(self, sentence: EntitySentence, index: int) -> EntitySentence:
        """The sentence and its entities with the document-wide sentence index."""
        if sentence.index == index:
            return sentence
        entities = tuple(dataclasses.replace(e, sentence=index) for e in sentence.entities)
        return dataclasses.replace(sentence, index=index, entities=entities)

    def take(self, sentence: EntitySentence) -> None:
        """Keep the sentence's span and entities."""
        self.spans.append((sentence.begin, sentence.end))
        self.entities.extend(sentence.entities)

    def finish(self) -> Result:
        """Every entity once, in document order, with every sentence's span."""
        self._emit_pending()
        return EntitiesResult(
            **self.envelope.build(truncated=False, dropped_tokens=0),
            entities=tuple(self.entities),
            sentence_count=len(self.spans),
            sentence_spans=tuple(self.spans),
        )


class WholeMerger(Merger):
    """``whole`` mode: the model reads the first word-pieces; every part counts its pieces.

    The first part with any word-piece gives the prediction (the model reads only the first
    ``kept`` pieces: ``max_tokens`` minus ``[CLS]`` and ``[SEP]``); when it holds fewer than
    that and more text follows, it is sent again twice as long. Every part counts its pieces:
    a truncated answer holds ``dropped_tokens + kept``. An answer that is not truncated holds
    at most ``kept``, an unknown number; such a part is sent again repeated (``copies_for``),
    twice as often each time, until the repeated text is truncated and the count is exact.
    """

    def __init__(self, text_length: int, kept: int) -> None:
        super().__init__("whole")
        self._length = text_length
        self._kept = kept
        self._pieces = 0
        self._first: Result | None = None
        self._copies: dict[int, int] = {}

    def copies_for(self, part: Part) -> int:
        """How many times ``part``'s text is sent, joined by spaces, to count its pieces."""
        return self._copies.get(part.begin, 1)

    def accept(self, part: Part, result: Result | None) -> Restart | None:
        """Count the part's word-pieces; keep the first part's prediction."""
        self.envelope.note(result)
        copies = self._copies.pop(part.begin, 1)
        if result is None:
            return None  # only whitespace: no word-piece
        if self._first is None:
            if not result.truncated and part.end < self._length:
                return Restart(part.begin, exact=False, target=2 * len(part))
            self._first = result
        if result.truncated:
            total = result.dropped_tokens + self._kept
            if total % copies:
                raise ResultFormatError(
                    f"{result.model}: {copies} copies of characters {part.begin:,}-{part.end:,} hold"
                    f" {total} word-pieces, not a multiple of {copies}"
                )
            self._pieces += total // copies
        elif result is not self._first and copies <= self._kept:
            self._copies[part.begin] = 2 * copies
            return Restart(part.begin, exact=False, target=len(part))
        # else: the first part alone, or more copies than pieces fit: no word-piece at all
        return None

    def finish(self) -> Result:
        """The first part's prediction with the whole document's truncation."""
        first = self._first
        if first is None:
            raise InvalidInputError("the document holds nothing but whitespace: there is nothing to classify")
        if not first.truncated:
            return first
        dropped = self._pieces - self._kept
        return dataclasses.replace(first, truncated=dropped > 0, dropped_tokens=max(dropped, 0))


def _sentences_of(result: Result | None) -> tuple[SentencePrediction, ...]:
    if result is None:
        return ()
    if not isinstance(result, SentenceResult):
        raise TypeError(f"expected per-sentence results for a part, got {type(result).__name__}")
    return result.sentences


def _entities_result(result: Result | None) -> EntitiesResult | None:
    if result is not None and not isinstance(result, EntitiesResult):
        raise TypeError(f"expected entity results for a part, got {type(result).__name__}")
    return result


def _shift_sentence(sentence: SentencePrediction, offset: int) -> SentencePrediction:
    return dataclasses.replace(sentence, begin=sentence.begin + offset, end=sentence.end + offset)


def _join(earlier: Sequence[Sentence], later: Sequence[Sentence], begin: int, end: int) -> int | None:
    """Where two parts that overlap on ``[begin, end)`` agree that a sentence starts.

    Only starts in the middle half of the overlap count: there both parts saw at least a
    quarter of the overlap of text on each side.
    """
    margin = (end - begin) // 4
    starts = {s.begin for s in earlier}
    common = [s.begin for s in later if begin + margin <= s.begin <= end - margin and s.begin in starts]
    if not common:
        return None
    centre = (begin + end) / 2
    return min(common, key=lambda start: abs(start - centre))
