"""Documents sent in parts and merged back (no server).

The fake "servers" below answer a part the way the real one does where it matters here: the
sentences come from the server's own splitter, and every prediction depends only on what it
reads (a sentence's text, a word), so a merge that joins parts at the right places gives
exactly the answer one request over the whole text gives.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import zlib
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from clinserve.documents import DocumentRun, document_limit
from clinserve.errors import InvalidInputError, RequestTooLargeError, ResultFormatError
from clinserve.model_info import ModelInfo
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
from clinserve.splitting import Part, PartPlanner, paragraph_cut, whitespace_cut
from clinserve_preprocess.sentences import split_sentences
from tests.conftest import FIXTURES
from tools.client_long_document import clinical_note

COMMON: dict[str, Any] = {"model": "m", "untrained": True, "weights": "demo-tiny"}
KEPT = 6  # word-pieces one "whole" sequence of the fake model holds


def info(task: str = "single_label", *, labels: tuple[str, ...] = ("0", "1"), **limits: int) -> ModelInfo:
    token = task == "token_classification"
    return ModelInfo(
        name="m",
        task=task,
        labels=labels,
        per_sentence=False,
        max_tokens=KEPT + 2,
        max_texts_per_request=64,
        source_model="seed",
        weights="demo-tiny",
        untrained=True,
        threshold=0.5 if task == "multi_label" else None,
        modes=("sentences", "windows") if token else ("document", "sentences", "whole"),
        default_mode="windows" if token else "whole",
        max_text_chars=limits.get("max_text_chars", 1_000_000),
        max_sequences_per_request=limits.get("max_sequences_per_request", 1024),
        max_padded_tokens_per_request=limits.get("max_padded_tokens_per_request", 65536),
    )


def scores_of(text: str, count: int) -> tuple[LabelScore, ...]:
    """Deterministic float32 probabilities that depend on the text only."""
    raw = np.frombuffer(zlib.crc32(text.encode()).to_bytes(4, "little") * 4, dtype=np.uint8)[:count]
    probs = (raw.astype(np.float32) + 1) / np.float32(raw.sum() + count)
    return tuple(LabelScore(str(i), float(p)) for i, p in enumerate(probs))


def fake_sentences(text: str, *, multi_label: bool = False) -> SentenceResult:
    sentences = []
    for index, (begin, end) in enumerate(split_sentences(text)):
        scores = scores_of(text[begin:end], 2)
        best = max(scores, key=lambda s: s.score)
        sentences.append(
            SentencePrediction(
                index=index,
                begin=begin,
                end=end,
                text=text[begin:end],
                label=None if multi_label else best.label,
                score=None if multi_label else best.score,
                scores=scores,
                truncated=end - begin > 300,
                dropped_tokens=max(0, end - begin - 300),
                labels=tuple(s for s in scores if s.score > 0.5) if multi_label else (),
                threshold=0.5 if multi_label else None,
            )
        )
    return SentenceResult(
        **COMMON, truncated=False, dropped_tokens=0, mode="sentences", sentences=tuple(sentences)
    )


WORD = re.compile(r"\S+")


CAPITALISED_RUN = re.compile(r"[A-Z][\w-]*(?: [A-Z][\w-]*)*")


def fake_entities(text: str) -> EntitiesResult:
    """Every capitalised word is an entity; a run of them is one entity (like I- tags continuing)."""
    entities = [Entity("Term", m.group(), m.start(), m.end(), 0.5, 0) for m in CAPITALISED_RUN.finditer(text)]
    return EntitiesResult(
        **COMMON,
        truncated=False,
        dropped_tokens=0,
        mode="windows",
        entities=tuple(entities),
        sentence_count=1,
    )


def fake_entity_sentences(text: str) -> EntitiesResult:
    """Entities per sentence of the server's splitter; a confidence that depends on the sentence.

    A part that split a sentence differently from the whole text would give its entities other
    confidences (and other sentence numbers), so only a merge that joins at the right sentence
    starts equals one request.
    """
    spans = split_sentences(text)
    entities = []
    for index, (begin, end) in enumerate(spans):
        confidence = scores_of(text[begin:end], 2)[0].score
        for m in CAPITALISED_RUN.finditer(text, begin, end):
            entities.append(Entity("Term", m.group(), m.start(), m.end(), confidence, index))
    return EntitiesResult(
        **COMMON, truncated=False, dropped_tokens=0, mode="sentences", entities=tuple(entities),
        sentence_count=len(spans), sentence_spans=tuple(spans),
    )  # fmt: skip


def fake_whole(text: str) -> ClassificationResult:
    """Word-pieces are words; the prediction reads the first ``KEPT`` of them."""
    words = WORD.findall(text)
    scores = scores_of(" ".join(words[:KEPT]), 2)
    best = max(scores, key=lambda s: s.score)
    dropped = max(0, len(words) - KEPT)
    return ClassificationResult(
        **COMMON, truncated=dropped > 0, dropped_tokens=dropped, mode="whole", label=best.label,
        score=best.score, scores=scores,
    )  # fmt: skip


Answer = Callable[[str, str], Result]


def answer_like_the_server(mode: str, text: str) -> Result:
    if mode == "sentences":
        return fake_sentences(text)
    return fake_entities(text) if mode == "windows" else fake_whole(text)


def answer_like_the_token_server(mode: str, text: str) -> Result:
    assert mode == "sentences", "entities per sentence are sent in parts in their own mode"
    return fake_entity_sentences(text)


def drive(run: DocumentRun, answer: Answer = answer_like_the_server, in_flight: int = 4) -> Result:
    """What the clients do: parts planned ahead, answers taken in order, stale parts skipped."""
    pending: deque[Part] = deque()
    while True:
        while len(pending) < in_flight and (part := run.next_part()) is not None:
            pending.append(part)
        if not pending:
            return run.result()
        part = pending.popleft()
        if not run.is_current(part):
            continue
        text = run.part_text(part)
        try:
            result = answer(run.request_mode, text) if text is not None else None
        except RequestTooLargeError as error:
            run.refused(part, error)
            continue
        run.accept(part, result)


def test_paragraph_cut_is_the_end_of_the_last_blank_line_run_in_reach():
    text = "One.\n\nTwo.\n \t\nThree.\n\n\n\nFour."
    assert paragraph_cut(text, 0, len(text)) == text.index("Four")
    assert paragraph_cut(text, 0, text.index("Three")) == text.index("Three")
    assert paragraph_cut(text, 0, text.index("Four") - 2) == text.index("Four") - 2  # inside a run
    assert paragraph_cut("no blank line\nhere", 0, 18) is None


def test_whitespace_cut_prefers_a_line_break_near_the_end_and_never_cuts_a_word():
    text = "alpha beta\ngamma delta epsilon"
    assert whitespace_cut(text, 0, len(text)) == text.index("gamma")
    assert whitespace_cut(text, text.index("gamma"), len(text)) == text.index("epsilon")
    assert whitespace_cut("x" * 5000, 0, 5000) is None
    far = "word " + "x" * 10_000
    assert whitespace_cut(far, 0, len(far)) == 5


@pytest.mark.parametrize("paragraphs", [True, False])
def test_the_planner_covers_the_text_in_order_with_parts_no_longer_than_the_target(paragraphs):
    text = clinical_note(50_000, paragraphs=paragraphs)
    planner = PartPlanner(text, 5000, overlap=1000, paragraphs=True)
    parts = list(iter(planner.next_part, None))
    assert parts[0].begin == 0 and parts[0].exact_begin and parts[-1].end == len(text)
    assert all(len(p) <= 5000 for p in parts)
    for earlier, later in itertools.pairwise(parts):
        assert later.begin == (earlier.next_begin if earlier.next_begin is not None else earlier.end)
        assert later.exact_begin == (earlier.next_begin is None)
        assert text[later.begin - 1].isspace()
    if paragraphs:  # every join at a blank line: no overlap at all
        assert all(p.next_begin is None for p in parts)
    else:
        assert all(p.end - p.next_begin >= 1000 for p in parts[:-1] if p.next_begin is not None)


def test_a_restart_makes_earlier_parts_stale():
    planner = PartPlanner("word " * 1000, 500, overlap=0, paragraphs=False)
    first = planner.next_part()
    assert first is not None
    planner.restart(100, exact=True, target=50, once=True)
    second, third = planner.next_part(), planner.next_part()
    assert second is not None and third is not None
    assert second.generation == third.generation == first.generation + 1
    assert second.begin == 100 and len(second) <= 50 and len(third) > 50


def gold_texts() -> list[str]:
    texts = []
    for name in ("sentences_gold.jsonl", "sentences_heldout.jsonl"):
        for line in Path(FIXTURES / name).read_text(encoding="utf-8").splitlines():
            texts.append(json.loads(line)["text"])
    return texts


def test_the_server_splits_text_cut_at_blank_lines_exactly_as_the_whole_text():
    # What the paragraph cut rests on: the server's splitter ends a sentence at a blank line and
    # decides nothing across it. If the splitter changes so that this no longer holds, this fails.
    texts = [*gold_texts(), clinical_note(200_000)]
    document = "\n\n".join(texts)
    planner = PartPlanner(document, 3000, overlap=0, paragraphs=True)
    joined: list[tuple[int, int]] = []
    for part in iter(planner.next_part, None):
        assert part.exact_begin and part.next_begin is None, "a join that is not a blank line"
        joined += [
            (b + part.begin, e + part.begin) for b, e in split_sentences(document[part.begin : part.end])
        ]
    assert joined == split_sentences(document)


@pytest.mark.parametrize("paragraphs", [True, False])
@pytest.mark.parametrize("target", [700, 3000, 20_000])
def test_sentences_of_a_document_in_parts_equal_one_request(paragraphs, target):
    text = clinical_note(60_000, paragraphs=paragraphs)
    run = DocumentRun(text, info(), "sentences", max_document_chars=target, overlap=target // 4)
    merged = drive(run)
    assert merged == fake_sentences(text)


def test_a_join_the_two_parts_disagree_on_restarts_at_a_sentence_the_earlier_part_vouches_for():
    text = clinical_note(30_000, paragraphs=False)
    joins = 0

    def disagreeing(mode: str, part: str) -> Result:
        nonlocal joins
        result = fake_sentences(part)
        if joins == 0 and not part.startswith(text[:20]):
            joins += 1  # the second part's sentences all start one character late: no common start
            moved = [
                dataclasses.replace(s, begin=s.begin + 1, text=part[s.begin + 1 : s.end])
                for s in result.sentences
            ]
            return SentenceResult(
                **COMMON, truncated=False, dropped_tokens=0, mode="sentences", sentences=tuple(moved)
            )
        return result

    run = DocumentRun(text, info(), "sentences", max_document_chars=4000, overlap=1000)
    assert drive(run, disagreeing) == fake_sentences(text)
    assert joins == 1


@pytest.mark.parametrize("multi_label", [False, True])
def test_document_mode_in_parts_is_the_float32_mean_of_every_sentence(multi_label):
    text = clinical_note(40_000)
    task = "multi_label" if multi_label else "single_label"
    run = DocumentRun(text, info(task), "document", max_document_chars=3000)
    merged = drive(run, lambda mode, part: fake_sentences(part, multi_label=multi_label))
    sentences = fake_sentences(text).sentences
    rows = np.asarray([[s.score for s in sentence.scores] for sentence in sentences], dtype=np.float32)
    mean = np.mean(rows, axis=0)  # what the server's document mode computes
    assert isinstance(merged, (ClassificationResult, MultiLabelResult))
    assert [s.score for s in merged.scores] == [float(p) for p in mean]
    assert merged.sentence_count == len(sentences) and merged.mode == "document"
    assert merged.dropped_tokens == sum(s.dropped_tokens for s in sentences)
    if multi_label:
        assert isinstance(merged, MultiLabelResult)
        assert [s.label for s in merged.labels] == [
            str(i) for i in np.argsort(-mean, kind="stable") if mean[i] > 0.5
        ]
    else:
        assert isinstance(merged, ClassificationResult)
        assert merged.label == str(int(np.argmax(mean)))


@pytest.mark.parametrize("target", [500, 4000])
def test_entities_of_a_document_in_parts_are_each_reported_once_in_order(target):
    text = clinical_note(30_000, paragraphs=False)
    merged = drive(DocumentRun(text, info("token_classification"), None, max_document_chars=target))
    assert merged == fake_entities(text)


def test_an_entity_across_a_join_belongs_to_the_part_it_begins_in():
    text = ("lower case words here " * 40) + "Alpha Beta Gamma " + ("more lower words " * 40)
    seen = []

    def answer(mode: str, part: str) -> Result:
        seen.append(part)
        return fake_entities(part)

    run = DocumentRun(text, info("token_classification"), None, max_document_chars=1000, overlap=200)
    merged = drive(run, answer)
    assert isinstance(merged, EntitiesResult)
    assert [e.text for e in merged.entities] == ["Alpha Beta Gamma"]
    assert len(seen) > 1


@pytest.mark.parametrize("target", [90, 300, 4000])
def test_whole_mode_in_parts_reads_the_first_pieces_and_counts_every_dropped_one(target):
    text = " ".join(f"w{i}" for i in range(300)) + "   \n  " + " ".join(f"v{i}" for i in range(7))
    merged = drive(DocumentRun(text, info(), "whole", max_document_chars=target))
    assert merged == fake_whole(text)


def test_whole_mode_repeats_a_part_too_short_to_count_until_its_count_is_exact():
    text = "a b c d e f g h i j" + " " * 300 + "k l"  # the last part holds two words: ambiguous
    sent = []

    def answer(mode: str, part: str) -> Result:
        sent.append(part)
        return fake_whole(part)

    merged = drive(DocumentRun(text, info(), "whole", max_document_chars=200), answer)
    assert merged == fake_whole(text)
    assert sent[-2:] == ["k l k l", "k l k l k l k l"]  # 4 then 8 pieces: the second is truncated


def test_whole_mode_reads_its_prediction_from_a_first_part_long_enough():
    text = "a b " + " " * 150 + " ".join(f"w{i}" for i in range(40))  # the first part holds 2 words
    merged = drive(DocumentRun(text, info(), "whole", max_document_chars=200))
    assert merged == fake_whole(text)


def test_a_part_the_server_refuses_is_planned_again_smaller():
    text = clinical_note(50_000, paragraphs=False)
    refused = 0

    def small_server(mode: str, part: str) -> Result:
        nonlocal refused
        if len(part) > 6000:
            refused += 1
            raise RequestTooLargeError("in mode 'sentences' the request needs too many sequences")
        return fake_sentences(part)

    run = DocumentRun(text, info(), "sentences", max_document_chars=20_000)
    assert drive(run, small_server) == fake_sentences(text)
    assert refused >= 1 and run.planner.target <= 6000


@pytest.mark.parametrize("paragraphs", [True, False])
@pytest.mark.parametrize("target", [700, 3000, 20_000])
def test_entities_per_sentence_of_a_document_in_parts_equal_one_request(paragraphs, target):
    text = clinical_note(60_000, paragraphs=paragraphs)
    run = DocumentRun(
        text, info("token_classification"), "sentences", max_document_chars=target, overlap=target // 4
    )
    assert run.request_mode == "sentences"
    merged = drive(run, answer_like_the_token_server)
    whole = fake_entity_sentences(text)
    assert merged == whole
    assert isinstance(merged, EntitiesResult) and merged.sentence_count == len(split_sentences(text))


def test_entities_per_sentence_restart_where_two_parts_share_no_sentence_start():
    text = clinical_note(30_000, paragraphs=False)
    joins = 0

    def disagreeing(mode: str, part: str) -> Result:
        nonlocal joins
        result = fake_entity_sentences(part)
        if joins == 0 and not part.startswith(text[:20]):
            joins += 1  # the second part's sentences all start one character late: no common start
            assert result.sentence_spans is not None
            moved = tuple((b + 1, e) for b, e in result.sentence_spans)
            return dataclasses.replace(result, sentence_spans=moved)
        return result

    run = DocumentRun(text, info("token_classification"), "sentences", max_document_chars=4000, overlap=1000)
    assert drive(run, disagreeing) == fake_entity_sentences(text)
    assert joins == 1


def test_entities_per_sentence_from_a_server_without_sentence_spans_ask_for_windows():
    run = DocumentRun(
        clinical_note(10_000), info("token_classification"), "sentences", max_document_chars=3000
    )

    def older_server(mode: str, part: str) -> Result:
        return dataclasses.replace(fake_entity_sentences(part), sentence_count=None, sentence_spans=None)

    with pytest.raises(RequestTooLargeError, match=r"do not say where their sentences are.*mode='windows'"):
        drive(run, older_server)


def test_an_entity_in_a_sentence_the_result_does_not_list_is_a_format_error():
    run = DocumentRun(
        clinical_note(10_000), info("token_classification"), "sentences", max_document_chars=3000
    )

    def inconsistent(mode: str, part: str) -> Result:
        result = fake_entity_sentences(part)
        assert result.sentence_spans is not None
        return dataclasses.replace(result, sentence_spans=result.sentence_spans[:1], sentence_count=1)

    with pytest.raises(ResultFormatError, match="an entity names sentence 1; the result has 1"):
        drive(run, inconsistent)


def test_a_document_without_whitespace_cannot_be_cut():
    run = DocumentRun("x" * 10_000, info(), "sentences", max_document_chars=1000)
    with pytest.raises(InvalidInputError, match="no whitespace"):
        drive(run)


def test_document_limit_follows_the_mode_and_the_published_limits():
    model = info(max_text_chars=50_000, max_padded_tokens_per_request=4096, max_sequences_per_request=1024)
    assert document_limit(model, "whole", None) == 50_000  # one sequence per text: characters only
    assert document_limit(model, "sentences", None) == 4096 * 2
    assert document_limit(model, "sentences", 1000) == 1000
    token = info("token_classification", max_padded_tokens_per_request=4096)
    assert document_limit(token, None, None) == 4096 * 2 * 2  # windows: tried whole a little longer
    assert document_limit(token, "sentences", None) == 4096 * 2  # split exactly: in parts at once


def test_the_numbers_docs_long_documents_quotes_are_the_clients(catalog):
    from clinserve.documents import (
        DEFAULT_OVERLAP_CHARS,
        OPTIMISTIC_FACTOR,
        PLANNING_CHARS_PER_POSITION,
        REFUSAL_SAFETY,
        estimated_part_chars,
    )
    from clinserve_runtime.configs import Provenance, ServingSettings, ensemble_config
    from tests.conftest import PROJECT_ROOT

    page = " ".join((PROJECT_ROOT / "docs" / "long-documents.md").read_text(encoding="utf-8").split())
    estimates = {
        estimated_part_chars(
            ModelInfo.from_config(ensemble_config(spec, ServingSettings(), Provenance("w", True)))
        )
        for spec in catalog.values()
    }
    assert len(estimates) == 1
    assert f"({estimates.pop():,} characters for every catalog model)" in page
    assert f"starts {DEFAULT_OVERLAP_CHARS:,} characters earlier" in page
    assert f"an estimate of {PLANNING_CHARS_PER_POSITION} characters per token position" in page
    assert f"({REFUSAL_SAFETY:.0%} of it)" in page.replace(" %", "%")
    assert OPTIMISTIC_FACTOR == 2 and "up to twice the planning estimate" in page
