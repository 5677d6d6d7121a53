from __future__ import annotations

import pytest

from clinserve_preprocess.modes import (
    CLASSIFIER_MODES,
    TOKEN_MODES,
    Combination,
    Segmentation,
    default_mode,
    requested_mode,
)
from clinserve_preprocess.validation import InputError


def test_defaults_follow_the_catalog():
    assert default_mode(token_level=False, per_sentence=True) == "sentences"
    assert default_mode(token_level=False, per_sentence=False) == "whole"
    assert default_mode(token_level=True, per_sentence=False) == "windows"


def test_a_request_parameter_selects_the_mode():
    assert requested_mode('{"mode": "document"}', token_level=False, default="whole").name == "document"
    assert requested_mode("{}", token_level=False, default="whole").name == "whole"
    assert requested_mode("", token_level=True, default="windows").name == "windows"


def test_every_mode_says_how_it_segments_and_combines():
    whole, sentences, document = (CLASSIFIER_MODES[m] for m in ("whole", "sentences", "document"))
    windows, token_sentences = TOKEN_MODES["windows"], TOKEN_MODES["sentences"]
    assert (whole.segmentation, whole.combination) == (Segmentation.WHOLE, Combination.SINGLE)
    assert (sentences.segmentation, sentences.combination) == (
        Segmentation.SENTENCES,
        Combination.PER_SENTENCE,
    )
    assert (document.segmentation, document.combination) == (
        Segmentation.SENTENCES,
        Combination.SENTENCE_MEAN,
    )
    assert windows.segmentation is Segmentation.WINDOWS and token_sentences.segmentation.windowed
    # Only results that quote text make the tokenizer send it on.
    assert [m.quotes_text for m in (whole, sentences, document, windows, token_sentences)] == [
        False,
        True,
        False,
        True,
        True,
    ]


def test_a_mode_that_is_not_a_string_is_refused_naming_the_choices():
    with pytest.raises(InputError, match="choose one of"):
        requested_mode('{"mode": 3}', token_level=False, default="whole")


@pytest.mark.parametrize("raw", ['["whole"]', "not json"])
def test_parameters_that_are_not_an_object_leave_the_default(raw):
    assert requested_mode(raw, token_level=False, default="whole").name == "whole"


@pytest.mark.parametrize(("mode", "token_level"), [("windows", False), ("document", True), ("fast", False)])
def test_a_mode_the_model_does_not_offer_is_refused_naming_the_choices(mode, token_level):
    with pytest.raises(InputError, match="choose one of"):
        requested_mode(f'{{"mode": "{mode}"}}', token_level=token_level, default="whole")
