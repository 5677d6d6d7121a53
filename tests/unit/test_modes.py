from __future__ import annotations

import pytest

from clinserve_preprocess.modes import default_mode, requested_mode
from clinserve_preprocess.validation import InputError


def test_defaults_follow_the_catalog():
    assert default_mode(token_level=False, per_sentence=True) == "sentences"
    assert default_mode(token_level=False, per_sentence=False) == "whole"
    assert default_mode(token_level=True, per_sentence=False) == "windows"


def test_a_request_parameter_selects_the_mode():
    assert requested_mode('{"mode": "document"}', token_level=False, default="whole") == "document"
    assert requested_mode("{}", token_level=False, default="whole") == "whole"
    assert requested_mode("", token_level=True, default="windows") == "windows"


@pytest.mark.parametrize(("mode", "token_level"), [("windows", False), ("document", True), ("fast", False)])
def test_a_mode_the_model_does_not_offer_is_refused_naming_the_choices(mode, token_level):
    with pytest.raises(InputError, match="choose one of"):
        requested_mode(f'{{"mode": "{mode}"}}', token_level=token_level, default="whole")
