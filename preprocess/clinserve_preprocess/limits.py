"""What one request may ask of the tokenizer step, checked from the cheapest check up.

Every limit is checked before the work it bounds, so that a request that will be refused costs
little and no request holds a step for long:

1. the number of texts and their characters (free);
2. a lower bound of the token positions the request needs: every run of letters and digits
   becomes at least one word-piece (one regular-expression pass, far cheaper than tokenizing:
   docs/long-documents.md, "Limits", has the cost of each), so a request whose texts hold more words
   than positions allowed is refused before the tokenizer runs;
3. after splitting and WordPiece, the exact count of model sequences and padded positions.

``segment_within_limits`` and ``plan_within_limits`` run these checks in that order around the
encoding; the tokenizer step and ``tools/request_cost.py`` both call them. Refusals name the limit
that was passed, with the request's figure and the limit; the wording of the last two is read by
the client library (``clinserve.errors``), which splits a refused list
of texts by the share that fits (docs/tensor-contract.md, "Errors").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from clinserve_preprocess.encoding import SequencePlan, Span, TextEncoder, TextPieces, padded_positions
from clinserve_preprocess.modes import Mode
from clinserve_preprocess.validation import InputError, InputErrorKind

# Runs of letters and digits. BERT's normaliser keeps them (it drops control and format
# characters only) and its pre-tokeniser never joins two runs, so each becomes one word-piece at
# least: their count is a lower bound of the real tokens of any mode that drops nothing.
_WORD_RUN = re.compile(r"[^\W_]+")


def word_lower_bound(text: str) -> int:
    """A lower bound of the word-pieces BERT's tokenizer makes of ``text`` (runs of letters and digits)."""
    return len(_WORD_RUN.findall(text))


@dataclass(frozen=True)
class RequestLimits:
    """The per-request limits of one tokenizer step (rendered from ``ServingSettings``).

    Attributes:
        max_texts: Texts per request.
        max_text_chars: Characters per text.
        max_request_chars: Characters per request, all texts together: bounds the tokenizer's
            CPU time per request.
        max_sequences: Model sequences (texts, sentences, windows) per request.
        max_positions: Padded token positions (sequences × padded length) per request: bounds
            the ONNX step's work and memory per request.
    """

    max_texts: int
    max_text_chars: int
    max_request_chars: int
    max_sequences: int
    max_positions: int

    def check_count(self, count: int, model: str) -> None:
        """Refuse a request with more texts than allowed."""
        if count > self.max_texts:
            raise InputError(
                f"TEXT holds {count} texts; {model} takes at most {self.max_texts} per request"
                " (the client library splits longer lists)",
                InputErrorKind.TOO_MANY_TEXTS,
            )

    def check_chars(self, lengths: Sequence[int]) -> None:
        """Refuse texts too long, alone or together (characters)."""
        for index, length in enumerate(lengths):
            if length > self.max_text_chars:
                raise InputError(
                    f"TEXT[{index}] has {length:,} characters, more than the {self.max_text_chars:,}"
                    " one text may have: split the document (the client library does;"
                    " docs/long-documents.md)",
                    InputErrorKind.TOO_MANY_CHARS,
                )
        total = sum(lengths)
        if total > self.max_request_chars:
            raise InputError(
                f"the request's texts have {total:,} characters together, more than the"
                f" {self.max_request_chars:,} one request may have: send fewer texts per request",
                InputErrorKind.TOO_MANY_CHARS,
            )

    def check_word_bound(self, texts: Sequence[str], mode: str) -> None:
        """Refuse a request whose words alone need more positions than allowed (drop-nothing modes)."""
        words = sum(word_lower_bound(text) for text in texts)
        if words > self.max_positions:
            raise InputError(
                f"in mode {mode!r} the request needs at least {words:,} token positions (one per"
                f" word), more than the {self.max_positions:,} one request may use: send fewer or"
                " shorter texts (docs/long-documents.md)",
                InputErrorKind.TOO_MANY_TOKENS,
            )

    def check_sentence_count(self, sentences: int, mode: str) -> None:
        """Refuse a request with more sentences than sequences allowed (each needs one at least)."""
        if sentences > self.max_sequences:
            raise InputError(
                f"in mode {mode!r} the request needs at least {sentences:,} model sequences (one per"
                f" sentence), more than the {self.max_sequences:,} one request may use: send fewer or"
                " shorter texts (docs/long-documents.md)",
                InputErrorKind.TOO_MANY_SEQUENCES,
            )

    def check_sequences(self, sequences: int, length: int, mode: str) -> None:
        """Refuse a request whose model sequences or padded positions pass the limits."""
        positions = sequences * length
        if sequences > self.max_sequences:
            raise InputError(
                f"in mode {mode!r} the request needs {sequences:,} model sequences, more than the"
                f" {self.max_sequences:,} one request may use: send fewer or shorter texts"
                " (docs/long-documents.md)",
                InputErrorKind.TOO_MANY_SEQUENCES,
            )
        if positions > self.max_positions:
            raise InputError(
                f"in mode {mode!r} the request needs {positions:,} token positions ({sequences:,}"
                f" model sequences of {length} tokens), more than the {self.max_positions:,} one"
                " request may use: send fewer or shorter texts (docs/long-documents.md)",
                InputErrorKind.TOO_MANY_TOKENS,
            )


def segment_within_limits(
    encoder: TextEncoder, limits: RequestLimits, texts: Sequence[str], mode: Mode
) -> list[list[Span]]:
    """The cheap checks of one request's texts, then each text's segments (sentences or whole).

    Raises:
        InputError: For the first limit the texts pass (characters, words, sentences).
    """
    limits.check_chars([len(text) for text in texts])
    if mode.segmentation.windowed:
        limits.check_word_bound(texts, mode.name)
    segments = [encoder.segments(text, mode.segmentation) for text in texts]
    if mode.segmentation.splits_sentences:
        limits.check_sentence_count(sum(len(s) for s in segments), mode.name)
    return segments


def plan_within_limits(
    encoder: TextEncoder,
    limits: RequestLimits,
    pieces: Sequence[TextPieces],
    segments: Sequence[Sequence[Span]],
    mode: Mode,
) -> tuple[list[SequencePlan], tuple[int, int]]:
    """One request's model sequences and its ``(sequences, padded length)``, checked exactly.

    Raises:
        InputError: When the sequences or their padded positions pass the limits.
    """
    plans = [
        plan
        for index, (text_pieces, text_segments) in enumerate(zip(pieces, segments, strict=True))
        for plan in encoder.plan(
            index, text_pieces, text_segments, mode.segmentation, quote_text=mode.quotes_text
        )
    ]
    shape = padded_positions(plans, encoder.max_tokens, encoder.buckets)
    limits.check_sequences(*shape, mode.name)
    return plans, shape
