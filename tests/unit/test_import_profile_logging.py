"""The cpu profile counts the quantizer's expected warnings instead of printing hundreds of them."""

from __future__ import annotations

import logging

from clinserve_runtime.importers.profiles import _UntypedTensorWarnings


def test_only_the_untyped_tensor_warnings_are_swallowed_and_counted(caplog):
    with caplog.at_level(logging.WARNING), _UntypedTensorWarnings() as untyped:
        logging.warning("Failed to infer data type of tensor: 'layer0.probs'. Please add data type info")
        logging.warning("Failed to infer data type of tensor: 'layer0.ctx'. Please add data type info")
        logging.warning("something else went wrong")
    assert untyped.count == 2
    assert [r.getMessage() for r in caplog.records] == ["something else went wrong"]
    logging.warning("Failed to infer data type of tensor: 'after'")  # the filter is gone afterwards
    assert caplog.records[-1].getMessage() == "Failed to infer data type of tensor: 'after'"
