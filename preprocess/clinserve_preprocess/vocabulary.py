"""Build a BERT WordPiece ``tokenizers.Tokenizer`` from a ``vocab.txt``.

The Triton tokenizer step loads a ``tokenizer.json``; both the demo-weights builder and the
importers write it with this function so that casing is set in exactly one way.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordPiece

REQUIRED_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")


def read_vocabulary(path: str | Path) -> dict[str, int]:
    """Read ``vocab.txt`` (one token a line, id = line number).

    Raises:
        ValueError: When a special token BERT needs is missing or a token repeats.
    """
    tokens = Path(path).read_text(encoding="utf-8").splitlines()
    vocab: dict[str, int] = {}
    for index, token in enumerate(tokens):
        if token in vocab:
            raise ValueError(f"{path}: token {token!r} repeats on lines {vocab[token] + 1} and {index + 1}")
        vocab[token] = index
    missing = [t for t in REQUIRED_SPECIAL_TOKENS if t not in vocab]
    if missing:
        raise ValueError(f"{path}: the vocabulary lacks BERT's special tokens {missing}")
    return vocab


def build_wordpiece_tokenizer(vocab: dict[str, int], *, cased: bool) -> Tokenizer:
    """A BERT tokenizer equivalent to Spark NLP's / Hugging Face's for this vocabulary.

    Args:
        vocab: Token to id.
        cased: False lowercases and strips accents, as uncased BERT vocabularies expect.
    """
    tokenizer = Tokenizer(WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))  # noqa: S106
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=not cased, lowercase=not cased
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tokenizer
