"""The cpu profile keeps the quantizer's misleading pre-processing advice off the user's screen."""

from __future__ import annotations

import logging

from clinserve_runtime.importers.profiles import _PreprocessingAdvice


def test_only_the_preprocessing_advice_is_dropped_while_quantizing(caplog):
    with caplog.at_level(logging.WARNING), _PreprocessingAdvice():
        logging.warning("Please consider to run pre-processing before quantization. Refer to example: …")
        logging.warning("Please consider pre-processing before quantization. See …")
        logging.warning("something else went wrong")
    assert [r.getMessage() for r in caplog.records] == ["something else went wrong"]
    logging.warning("Please consider pre-processing before quantization.")  # the filter is gone afterwards
    assert caplog.records[-1].getMessage() == "Please consider pre-processing before quantization."
