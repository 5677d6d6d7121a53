"""Sentence splitting on clinical prose: spans are exact and abbreviations do not split."""

from __future__ import annotations

import pytest

from clinserve_preprocess.sentences import split_sentences


def sentences(text: str) -> list[str]:
    return [text[b:e] for b, e in split_sentences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "A repeat endoscopy revealed healing gastric ulcers with new signs of malignancy or H. pylori"
            " infection. Will discuss the PPI continuum.",
            [
                "A repeat endoscopy revealed healing gastric ulcers with new signs of malignancy or H. pylori"
                " infection.",
                "Will discuss the PPI continuum.",
            ],
        ),
        ("Seen by Dr. Patel today. Plan unchanged.", ["Seen by Dr. Patel today.", "Plan unchanged."]),
        (
            "Start metformin 2.5 mg b.i.d. with meals. Recheck in 3 months.",
            ["Start metformin 2.5 mg b.i.d. with meals.", "Recheck in 3 months."],
        ),
        (
            "Use NSAIDs, e.g. ibuprofen, as needed. No opioids.",
            ["Use NSAIDs, e.g. ibuprofen, as needed.", "No opioids."],
        ),
        ("Smith et al. reported it. We agree.", ["Smith et al. reported it.", "We agree."]),
        ("Is it benign? Unclear! Biopsy next.", ["Is it benign?", "Unclear!", "Biopsy next."]),
        ("Assessment:\n\nStable angina", ["Assessment:", "Stable angina"]),
        (
            "Medications:\n- aspirin 81 mg\n- atorvastatin 40 mg",
            ["Medications:", "- aspirin 81 mg", "- atorvastatin 40 mg"],
        ),
        ("Plan:\n1. MRI\n2. Follow up", ["Plan:", "1. MRI", "2. Follow up"]),
        ('He said "stop." Then left.', ['He said "stop."', "Then left."]),
    ],
)
def test_clinical_sentences(text, expected):
    assert sentences(text) == expected


def test_spans_index_the_original_text_with_non_ascii_and_crlf():
    text = "Fièvre à 39 °C.\r\nPatient stable 🙂. Naïve T-cells rose."
    spans = split_sentences(text)
    assert [text[b:e] for b, e in spans] == ["Fièvre à 39 °C.", "Patient stable 🙂.", "Naïve T-cells rose."]
    assert all(text[b:e] == text[b:e].strip() for b, e in spans)


def test_whitespace_only_text_has_no_sentences():
    assert split_sentences(" \n\t ") == []


def test_text_without_terminal_punctuation_is_one_sentence():
    assert sentences("no punctuation here") == ["no punctuation here"]
