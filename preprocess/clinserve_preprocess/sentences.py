"""Rule-based sentence splitting tuned for clinical and biomedical prose.

Returns character spans into the original text, so every downstream offset stays exact.
A boundary is a run of ``.``, ``!`` or ``?`` (optionally followed by closing quotes or
brackets) then whitespace then a plausible sentence start, unless the word before the
period is a known abbreviation, an initial ("H. pylori"), or part of a number ("2.5 mg").
Blank lines and list items always start a new sentence.
"""

from __future__ import annotations

import re

# Lower-cased, without the final period. Multi-period forms ("e.g", "b.i.d") are matched on
# the whole token before the final period.
ABBREVIATIONS = frozenset(
    {
        # titles and addresses
        "dr",
        "drs",
        "mr",
        "mrs",
        "ms",
        "prof",
        "st",
        "jr",
        "sr",
        "rev",
        "gen",
        "col",
        "lt",
        # Latin and editorial
        "e.g",
        "i.e",
        "etc",
        "vs",
        "cf",
        "al",
        "et al",
        "approx",
        "ca",
        "viz",
        "fig",
        "figs",
        "no",
        "nos",
        "vol",
        "pp",
        "ref",
        "refs",
        "eq",
        "ed",
        "eds",
        "inc",
        "ltd",
        "co",
        "corp",
        # dosing and clinical shorthand
        "b.i.d",
        "t.i.d",
        "q.i.d",
        "q.d",
        "q.o.d",
        "p.o",
        "p.r.n",
        "h.s",
        "a.c",
        "p.c",
        "i.v",
        "i.m",
        "s.c",
        "q.h",
        "q.4h",
        "q.6h",
        "q.8h",
        "q.12h",
        "bid",
        "tid",
        "qid",
        "qd",
        "prn",
        "mg",
        "mcg",
        "ml",
        "dl",
        "mmol",
        "pt",
        "pts",
        "hx",
        "dx",
        "tx",
        "rx",
        "sx",
        "yr",
        "yrs",
        "mo",
        "mos",
        "wk",
        "wks",
        "hr",
        "hrs",
        "min",
        "sec",
        # months
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
    }
)

_BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s)")
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_LIST_ITEM = re.compile(r"\n(?=[ \t]*(?:[-*•]|\d{1,3}[.)])\s)")
_TOKEN_BEFORE = re.compile(r"(\S+)$")
_LOOKBACK = 64
_NEXT_START = re.compile(r"\s+([\"'“‘(\[]*)(\S)")


def _is_abbreviation(text: str, period_at: int) -> bool:
    """True when the period at ``period_at`` ends an abbreviation, initial or number."""
    # Look back a bounded window only: scanning from the start of the text each time would make
    # splitting quadratic in the document length.
    window_start = max(0, period_at - _LOOKBACK)
    match = _TOKEN_BEFORE.search(text, window_start, period_at)
    if match is None:
        return False
    token = match.group(1).lstrip("([\"'“‘")
    lowered = token.lower()
    if lowered in ABBREVIATIONS:
        return True
    # "et al." is two tokens.
    if lowered == "al" and text[max(0, match.start() - 3) : match.start()].lower() == "et ":
        return True
    # A list number at the start of a line: "1. MRI".
    before = text[max(0, match.start() - _LOOKBACK) : match.start()]
    at_line_start = ("\n" in before or match.start() <= _LOOKBACK) and not before.rsplit("\n", 1)[-1].strip()
    if token.isdigit() and len(token) <= 3 and at_line_start:
        return True
    # Single letters are initials or list labels: "H. pylori", "J. Smith", "A. fumigatus".
    if len(token) == 1 and token.isalpha():
        return True
    # Dotted forms not in the list: "U.S.", "p.o.", "a.m."
    return bool(re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]", token))


def _boundaries(text: str) -> list[int]:
    """Character positions where a new sentence may start (before stripping)."""
    cuts: set[int] = set()
    for match in _BLANK_LINE.finditer(text):
        cuts.add(match.end())
    for match in _LIST_ITEM.finditer(text):
        cuts.add(match.end())
    for match in _BOUNDARY.finditer(text):
        punct = match.group(0)
        end = match.end()
        nxt = _NEXT_START.match(text, end)
        if nxt is None:
            continue
        first = nxt.group(2)
        # A lower-case continuation is the same sentence ("H. pylori infection", "approx. two").
        if first.islower():
            continue
        single_period = punct.startswith(".") and len(punct.rstrip("\"'”’)]")) == 1
        if single_period and _is_abbreviation(text, match.start()):
            continue
        cuts.add(end)
    return sorted(cuts)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Split ``text`` into sentences.

    Args:
        text: Any text; offsets are Python string indices (code points).

    Returns:
        ``(begin, end)`` spans, end exclusive, in order, with surrounding whitespace left out.
        Whitespace-only text gives an empty list.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for cut in [*_boundaries(text), len(text)]:
        begin, end = start, cut
        while begin < end and text[begin].isspace():
            begin += 1
        while end > begin and text[end - 1].isspace():
            end -= 1
        if end > begin:
            spans.append((begin, end))
        start = cut
    return spans
