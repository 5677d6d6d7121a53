from __future__ import annotations

import pytest
from tokenizers import Tokenizer

from clinserve_preprocess.vocabulary import build_wordpiece_tokenizer, read_vocabulary
from clinserve_runtime.build_demo import demo_vocabulary_path


@pytest.fixture(scope="session")
def demo_vocab() -> dict[str, int]:
    return read_vocabulary(demo_vocabulary_path())


@pytest.fixture
def uncased_tokenizer(demo_vocab) -> Tokenizer:
    return build_wordpiece_tokenizer(demo_vocab, cased=False)


@pytest.fixture
def cased_tokenizer(demo_vocab) -> Tokenizer:
    return build_wordpiece_tokenizer(demo_vocab, cased=True)
