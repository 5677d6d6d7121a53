"""Rule-based sentence splitting tuned for clinical and biomedical prose.

Returns character spans into the original text, so every downstream offset stays exact. Chosen
over pySBD, syntok, spaCy's sentencizer, Blingfire, nupunkt, Punkt and sentencex by measurement
on the labelled sets in ``tests/fixtures/sentences_*.jsonl`` (see docs/sentence-splitting.md).

A sentence ends:

* after ``.``, ``!``, ``?`` or ``…`` (and any closing quotes or brackets) followed by whitespace
  and a word that does not start in lower case, unless the period belongs to an abbreviation
  that never ends a sentence ("Dr.", "e.g.", "vs."), to a person's initial ("J. Smith"), to a
  list number at the start of a line ("1. MRI") or to a prefix before a number ("no. 5");
  hashtags and emoji that close a line stay with the sentence before them, and so does a short
  bracketed note without terminal punctuation ("b.i.d. (NEW)", "et al. [12]");
* after a run of emoji followed by a capitalised word ("so tired 😩 Anyone else?");
* at a blank line, before a list item ("- aspirin", "2) EEG", "A. Stomach") and after a line
  that ends with a colon (a heading);
* at any other line break before a word that does not start in lower case, unless the line
  before ends with a comma, a connective ("with", "of", "and" ...) or is hard-wrapped prose:
  a long line whose next word would not have fitted on it.

Abbreviations that may end a sentence ("b.i.d.", "mg.", "etc.", "a.m.", "Jan.") are ordinary
words: a capitalised word after them starts a new sentence ("40 mg p.o. b.i.d. Pt states ...").
Decimals ("2.5 mg") never split because no whitespace follows their period. Cost is linear in
the length of the text: one regular-expression pass per rule and bounded look-behind.
"""

from __future__ import annotations

import re

# Lower-cased, without the final period. A period after these never ends a sentence: what
# follows is a name, an example or a number that belongs to the same one.
NON_FINAL_ABBREVIATIONS = frozenset(
    {
        # titles before names
        "dr",
        "drs",
        "mr",
        "mrs",
        "ms",
        "messrs",
        "prof",
        "profs",
        "rev",
        "gen",
        "col",
        "capt",
        "sgt",
        "lt",
        "st",
        "mt",
        "sr",
        "sra",
        "srta",
        # Latin and editorial shorthand that introduces what follows
        "e.g",
        "i.e",
        "eg",
        "ie",
        "a.k.a",
        "cf",
        "vs",
        "viz",
        "approx",
        "appr",
        "ca",
        "incl",
        "esp",
        "fig",
        "figs",
        "eq",
        "eqs",
        "ref",
        "refs",
        "vol",
        "vols",
        "tel",
        "ext",
        "dept",
        "univ",
        "inst",
        "resp",
    }
)

# A period after these ends a sentence except before a number: "Lot no. 4471B", "p. 23",
# "Sept. 12", but "Down 12 kg since Jan. Feeling great".
NUMBER_PREFIXES = frozenset(
    {
        *("no", "nos", "nr", "p", "pp", "n", "ch", "sec", "art", "ex", "op"),
        *("jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"),
    }
)

# Before these words a capital letter with a period is a label, not an initial, and may end a
# sentence: "Started vitamin D. Levels in 3 months", "Hep A. Mom asked ...".
LABEL_WORDS = frozenset(
    {
        "vitamin",
        "hepatitis",
        "hep",
        "type",
        "group",
        "grade",
        "class",
        "stage",
        "phase",
        "zone",
        "lead",
        "appendix",
        "table",
        "figure",
        "plan",
        "part",
        "section",
        "category",
        "factor",
        "protein",
        "strain",
        "serotype",
        "schedule",
        "option",
        "level",
        "step",
        "arm",
        "cohort",
        "influenza",
    }
)

# A line that ends with one of these words continues on the next line.
CONTINUATION_WORDS = frozenset(
    {
        "a",
        "an",
        "the",
        "of",
        "with",
        "without",
        "w/",
        "w/o",
        "and",
        "or",
        "but",
        "nor",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "from",
        "as",
        "than",
        "into",
        "onto",
        "over",
        "under",
        "per",
        "via",
        "after",
        "before",
        "since",
        "due",
        "including",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "has",
        "have",
        "had",
        "not",
        "that",
        "which",
        "who",
        "whose",
        "his",
        "her",
        "their",
        "its",
        "this",
        "these",
        "s/p",
    }
)

# Lines at least this long that end inside a sentence may be hard-wrapped prose.
_WRAPPED_LINE_MIN = 40
_EMOJI = "\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f\u200d"
_OPENERS = "\"'“‘([{"
_CLOSERS = "\"'”’)]}"
_TERMINALS = ".!?…"
# A terminal punctuation run and closing quotes or brackets, followed by whitespace. The token
# before it is read from a bounded window: a character class scans fastest. Runs are matched
# from their first character only and possessively, so a long run is scanned once, not once
# per character (which would make "......" quadratic).
_TERMINAL = re.compile(r"(?<![.!?…])[.!?…]++[\"'”’)\]}]*+(?=\s)")
_EMOJI_RUN = re.compile(rf"(?<![{_EMOJI}])[{_EMOJI}]++(?=\s)")
_NEXT_START = re.compile(rf"\s++[{_OPENERS}]*(\S)")
_DECORATION_TAIL = re.compile(rf"(?:(?>[#@]\w++|[{_EMOJI}]++)[ \t\r]*+)++(?=\n|\Z)")
_BLANK_LINES = re.compile(r"\n(?:[ \t\r\f\v]*+\n)++")
_LIST_MARKER = re.compile(r"[ \t]*(?:[-*•–+]|\d{1,3}[.)]|[A-Za-z][.)]|\(\d{1,3}\)|\([A-Za-z]\))[ \t]")
_LOOKBACK = 40


def _ends_sentence(text: str, match: re.Match[str]) -> bool:
    """True when the terminal punctuation in ``match`` ends a sentence."""
    following = _NEXT_START.match(text, match.end())
    if following is None:  # only whitespace follows
        return False
    first = following.group(1)
    if first.islower():
        return False
    if first in "#@" or first >= "\u2600":
        # Hashtags and emoji that close the line belong to the sentence they follow.
        tail = _DECORATION_TAIL.match(text, following.start(1))
        if tail is not None:
            return False
    if first.isdigit() or first.isupper():
        opener = text[following.start(1) - 1]
        if opener in "([" and _is_annotation(text, following.start(1), opener):
            return False
    if match.group(0).rstrip(_CLOSERS) != ".":
        return True
    token_end = match.start()
    window = text[max(0, token_end - _LOOKBACK) : token_end]
    # A token longer than the window is no abbreviation; its truncated tail is judged as a word.
    token = window.rsplit(None, 1)[-1] if window and not window[-1].isspace() else ""
    token_start = token_end - len(token)
    word = token.lstrip(_OPENERS).lower()
    if word in NON_FINAL_ABBREVIATIONS or _is_list_number(text, word, token_start):
        return False
    if word in NUMBER_PREFIXES and first.isdigit():
        return False
    if len(word) == 1 and word.isalpha() and token[-1].isupper():
        return _word_before(text, token_start) in LABEL_WORDS
    return True


def _is_annotation(text: str, inside: int, opener: str) -> bool:
    """True for a short bracketed note that is not a sentence: "b.i.d. (NEW)", "et al. [12]"."""
    closer = ")" if opener == "(" else "]"
    end = text.find(closer, inside, inside + _LOOKBACK)
    if end < 0:
        return False
    note = text[inside:end]
    return "\n" not in note and note.rstrip(_CLOSERS)[-1:] not in _TERMINALS


def _is_list_number(text: str, word: str, token_start: int) -> bool:
    """True for "1" in "1. MRI" at the start of a line (or of the text)."""
    if not (word.isdigit() and len(word) <= 3):
        return False
    before = text[max(0, token_start - _LOOKBACK) : token_start]
    line = before.rsplit("\n", 1)
    return not line[-1].strip() and (len(line) == 2 or token_start <= _LOOKBACK)


def _word_before(text: str, position: int) -> str:
    """The lower-cased word that ends just before ``position`` (bounded look-behind)."""
    words = text[max(0, position - _LOOKBACK) : position].split()
    return words[-1].strip(".,;:()[]\"'").lower() if words else ""


def _line_boundaries(text: str) -> list[int]:
    """Sentence starts decided by layout: blank lines, list items, headings and short lines."""
    cuts: list[int] = []
    block_start = 0
    # Blocks of non-blank lines; a run of blank lines is one cut, however long.
    for blank in _BLANK_LINES.finditer(text):
        _block_boundaries(text, block_start, blank.start(), cuts)
        cuts.append(blank.end())
        block_start = blank.end()
    _block_boundaries(text, block_start, len(text), cuts)
    return cuts


def _block_boundaries(text: str, begin: int, end: int, cuts: list[int]) -> None:
    """Add the line-break cuts inside ``text[begin:end]``, a block without blank lines."""
    lines = text[begin:end].split("\n")
    if len(lines) == 1:
        return
    visible = [line.rstrip() for line in lines]
    # Hard-wrapped prose has at least two lines that (nearly) fill the widest one; its width
    # tells a wrapped line (the next word did not fit) from a deliberate break.
    width = max(len(line) for line in visible)
    full = max(_WRAPPED_LINE_MIN, 0.75 * width)
    wrapped = sum(len(line) >= full for line in visible) >= 2
    start = begin
    for index, line in enumerate(lines[:-1]):
        start += len(line) + 1
        previous, following = visible[index], lines[index + 1]
        if not previous or not following.strip() or _LIST_MARKER.match(following) or previous[-1] == ":":
            cuts.append(start)
            continue
        first = following.lstrip().lstrip(_OPENERS)[:1]
        if first.islower() or previous.rstrip(_CLOSERS)[-1:] in _TERMINALS:
            continue  # lower case continues; after terminal punctuation _ends_sentence decides
        if previous[-1] in ",;(/&+=-–—" or previous.rsplit(None, 1)[-1].lower() in CONTINUATION_WORDS:
            continue
        if (
            wrapped
            and len(previous) >= _WRAPPED_LINE_MIN
            and previous[-1].isalnum()
            and len(previous) + 1 + len(following.split(None, 1)[0]) > width
        ):
            continue  # hard-wrapped prose: the next word did not fit on this line
        cuts.append(start)


def _boundaries(text: str) -> list[int]:
    """Character positions where a new sentence starts (before whitespace is trimmed)."""
    cuts = set(_line_boundaries(text))
    cuts.update(match.end() for match in _TERMINAL.finditer(text) if _ends_sentence(text, match))
    for match in _EMOJI_RUN.finditer(text):
        following = _NEXT_START.match(text, match.end())
        if following is not None and following.group(1).isupper():
            cuts.add(match.end())
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
        piece = text[start:cut]
        begin = start + len(piece) - len(piece.lstrip())
        end = start + len(piece.rstrip())
        if end > begin:
            spans.append((begin, end))
        start = cut
    return spans
