"""Documents of any length through the client library, against the session's real server.

A note longer than one request can carry is sent in parts and merged; these tests check the
merged result: every span is exact, spans are in order with none twice and reach the end, and a
document that one request could carry gives the same result split as whole.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from clinserve import (
    AsyncClinServeClient,
    ChannelOptions,
    ClassificationResult,
    ClinServeClient,
    EntitiesResult,
    MultiLabelResult,
)
from clinserve.results import parse_results
from tests.conftest import PROJECT_ROOT
from tests.integration.triton_calls import text_input
from tools.client_long_document import clinical_note

pytestmark = pytest.mark.integration

PER_PART_TIMEOUT_S = 300
#: Peak memory of the client process for a 5 MB note (measured about 180 MiB for the
#: per-sentence model and 350 MiB for the entities, which hold 460,000 results; docs/long-documents.md).
MAX_PEAK_RSS_MIB = 800
# A note one request carries under the cpu profile's limits (4,096 token positions: about
# 6,000 characters of this prose per sentence, 11,000 in windows).
ONE_REQUEST_CHARS = 5_000


@pytest.fixture(scope="module")
def client(triton_server):
    options = ChannelOptions(timeout_s=PER_PART_TIMEOUT_S)
    with ClinServeClient(triton_server.grpc_url, options=options) as c:
        c.wait_until_ready(timeout_s=60)
        yield c


def check_spans(text, spans):
    assert spans
    assert all(text[s.begin : s.end] == s.text for s in spans), "every span is text[begin:end]"
    assert all(a.end <= b.begin for a, b in itertools.pairwise(spans)), "in order, none twice"


def test_a_1mb_note_gives_every_entity_once_with_exact_offsets_to_its_end(client):
    text = clinical_note(1_000_000)
    [result] = client.extract_entities("drug_development_trials", [text])
    assert isinstance(result, EntitiesResult) and result.mode == "windows"
    check_spans(text, result.entities)
    assert result.entities[-1].end > len(text) - 500
    assert result.truncated is False and {e.sentence for e in result.entities} == {0}


def test_a_1mb_note_gives_every_sentence_in_order_to_its_end(client):
    text = clinical_note(1_000_000, paragraphs=False)  # no blank line: every join is an overlap
    [result] = client.classify_sentences("biomarker", [text])
    check_spans(text, result.sentences)
    assert [s.index for s in result.sentences] == list(range(len(result.sentences)))
    assert result.sentences[-1].end == len(text.rstrip())


def test_a_1mb_note_gives_every_entity_per_sentence_once_with_sentences_numbered_to_its_end(client):
    text = clinical_note(1_000_000, paragraphs=False)  # no blank line: every join is an overlap
    [result] = client.extract_entities("drug_development_trials", [text], mode="sentences")
    assert isinstance(result, EntitiesResult) and result.mode == "sentences"
    check_spans(text, result.entities)
    check_sentences(text, result)
    assert result.entities[-1].end > len(text) - 500


def check_sentences(text, result):
    """Sentence spans in order to the end of the text; every entity inside the sentence it names."""
    spans = result.sentence_spans
    assert spans and result.sentence_count == len(spans)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), "sentences in order, none twice"
    assert spans[-1][1] == len(text.rstrip())
    assert all(text[b:e].strip() == text[b:e] != "" for b, e in spans)
    numbers = [e.sentence for e in result.entities]
    assert numbers == sorted(numbers), "sentence numbers grow through the document"
    for entity in result.entities:
        begin, end = spans[entity.sentence]
        assert begin <= entity.begin and entity.end <= end, entity


def test_entities_per_sentence_do_not_depend_on_where_the_parts_are_cut(triton_server, client):
    # Longer than one request, no blank line: parts of 5,000 and of the default size join at
    # other sentences; both must give what one request without limits would.
    text = clinical_note(60_000, paragraphs=False)
    [default] = client.extract_entities("drug_development_trials", [text], mode="sentences")
    options = ChannelOptions(timeout_s=PER_PART_TIMEOUT_S, max_document_chars=5_000)
    with ClinServeClient(triton_server.grpc_url, options=options) as split:
        [small] = split.extract_entities("drug_development_trials", [text], mode="sentences")
    check_sentences(text, default)
    assert small == default


@pytest.mark.parametrize("model", ["drug_development_trials", "biomarker"])
def test_a_5mb_note_in_bounded_memory(triton_server, model):
    tool = PROJECT_ROOT / "tools" / "client_long_document.py"
    done = subprocess.run(
        [sys.executable, str(tool), "--model", model, "--chars", "5000000", "--url", triton_server.grpc_url],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=PROJECT_ROOT,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["exact"] and report["ordered"] and report["spans"] > 50_000, report
    assert report["last_end"] > report["text_end"] - 500, report
    assert report["peak_rss_mib"] < MAX_PEAK_RSS_MIB, report


def test_the_async_client_merges_a_long_note_as_the_sync_client_does(triton_server, client):
    text = clinical_note(250_000, paragraphs=False)

    async def in_parts():
        options = ChannelOptions(timeout_s=PER_PART_TIMEOUT_S)
        async with AsyncClinServeClient(triton_server.grpc_url, options=options) as aclient:
            return (
                await aclient.classify_sentences("biomarker", [text]),
                await aclient.extract_entities("drug_development_trials", [text]),
            )

    sentences, entities = asyncio.run(in_parts())
    assert sentences == client.classify_sentences("biomarker", [text])
    assert entities == client.extract_entities("drug_development_trials", [text])


def one_request(triton_server, model, text, mode):
    """The server's answer to one request over the whole text, read by the client's parser."""
    with grpcclient.InferenceServerClient(triton_server.grpc_url) as raw:
        response = raw.infer(model, [text_input([text])], parameters={"mode": mode})
    with ClinServeClient(triton_server.grpc_url) as described:
        kind = described.model_info(model).kind_for(mode)
    [result] = parse_results(response.as_numpy("RESULT"), kind, model=model)
    return result


@pytest.mark.parametrize("paragraphs", [True, False])
@pytest.mark.parametrize(
    ("model", "mode"),
    [
        ("biomarker", "sentences"),
        ("biomarker", "document"),
        ("pubmed_multilabel", "document"),
        ("pubmed_multilabel", "sentences"),
        ("treatment_changes", "whole"),
        ("drug_development_trials", "sentences"),
    ],
)
def test_a_note_one_request_carries_gives_the_same_result_split_into_parts(
    triton_server, model, mode, paragraphs
):
    text = clinical_note(ONE_REQUEST_CHARS, paragraphs=paragraphs)
    whole = one_request(triton_server, model, text, mode)
    options = ChannelOptions(timeout_s=PER_PART_TIMEOUT_S, max_document_chars=ONE_REQUEST_CHARS // 3)
    with ClinServeClient(triton_server.grpc_url, options=options) as split:
        [in_parts] = split.predict(model, [text], mode=mode)
    assert in_parts == whole
    if isinstance(whole, (ClassificationResult, MultiLabelResult)) and mode == "document":
        assert whole.sentence_count and whole.sentence_count > 50  # really averaged over many parts
    if isinstance(whole, EntitiesResult):
        assert whole.sentence_count and whole.sentence_count > 50 and len(whole.entities) > 100


def test_a_note_one_request_carries_is_sent_as_one_request(triton_server, client):
    text = clinical_note(ONE_REQUEST_CHARS)
    for model, mode in (("drug_development_trials", "windows"), ("biomarker", "sentences")):
        assert client.predict(model, [text], mode=mode) == [one_request(triton_server, model, text, mode)]


def test_entities_split_into_parts_equal_one_request_before_the_first_join(triton_server):
    # Each part aligns its own windows, so past the first join a word may be read with other
    # context than in one request; before it, the parts' windows are the request's windows.
    text = clinical_note(ONE_REQUEST_CHARS, paragraphs=False)
    whole = one_request(triton_server, "drug_development_trials", text, "windows")
    part = ONE_REQUEST_CHARS // 2
    options = ChannelOptions(timeout_s=PER_PART_TIMEOUT_S, max_document_chars=part)
    with ClinServeClient(triton_server.grpc_url, options=options) as split:
        [in_parts] = split.extract_entities("drug_development_trials", [text])
    check_spans(text, in_parts.entities)
    first_join = part - min(4_000, part // 4)  # a part overlaps the next by 4,000, a quarter at most
    before = [e for e in whole.entities if e.end < first_join // 2]
    assert before and [e for e in in_parts.entities if e.end < first_join // 2] == before
    found = np.array([e.begin for e in in_parts.entities])
    assert found.max() > len(text) - 500
