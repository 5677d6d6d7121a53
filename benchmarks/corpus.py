"""Seeded clinical-style texts with a realistic length mix (nothing is downloaded).

Three length classes, as the served models meet them:

- ``tweet``: a patient's post about a treatment change (40-280 characters);
- ``sentence``: one sentence of a clinical note or a radiology report (60-300 characters);
- ``abstract``: a structured trial abstract (Background / Methods / Results / Conclusions,
  800-2,000 characters).

The default mix is 40 % tweets, 40 % sentences and 20 % abstracts. Counts per class are exact
(largest remainder) and the order is shuffled, so a load generator that walks the corpus sees
the classes interleaved as a live service would.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

LENGTH_CLASSES = ("tweet", "sentence", "abstract")
DEFAULT_MIX: Mapping[str, float] = {"tweet": 0.4, "sentence": 0.4, "abstract": 0.2}
CHAR_RANGES: Mapping[str, tuple[int, int]] = {
    "tweet": (40, 280),
    "sentence": (60, 300),
    "abstract": (800, 2000),
}

DRUGS = (
    "metformin",
    "insulin glargine",
    "atorvastatin",
    "Lipitor",
    "lisinopril",
    "amlodipine",
    "sertraline",
    "Zoloft",
    "escitalopram",
    "ambien",
    "levothyroxine",
    "prednisone",
    "methotrexate",
    "adalimumab",
    "Humira",
    "warfarin",
    "apixaban",
    "topotecan",
    "temozolomide",
    "sorafenib",
    "pembrolizumab",
    "nivolumab",
    "trastuzumab",
    "cisplatin",
    "carboplatin",
    "paclitaxel",
    "docetaxel",
    "bevacizumab",
    "gabapentin",
    "duloxetine",
)
CONDITIONS = (
    "type 2 diabetes",
    "hypertension",
    "major depressive disorder",
    "rheumatoid arthritis",
    "atrial fibrillation",
    "non-small cell lung cancer",
    "metastatic breast cancer",
    "glioblastoma",
    "hepatocellular carcinoma",
    "chronic hepatitis C",
    "asthma",
    "hypothyroidism",
    "small cell lung cancer",
    "ovarian cancer",
    "heart failure",
)
SYMPTOMS = (
    "dizziness",
    "nausea",
    "headache",
    "fatigue",
    "insomnia",
    "weight gain",
    "muscle pain",
    "dry mouth",
    "rash",
    "brain fog",
    "anxiety",
    "hair loss",
    "shortness of breath",
)
FINDINGS = (
    "no change in the size of the lesion",
    "a decrease in the primary tumour from 3.1 cm to 1.2 cm",
    "new hepatic metastases",
    "stable disease",
    "a partial response",
    "complete resolution of the effusion",
    "progression of the mediastinal lymph nodes",
    "healing gastric ulcers",
    "improved FEV1 and FVC",
    "elevated troponin T",
    "a normal ejection fraction",
    "reduced HbA1c",
)
EXAMS = (
    "Contrast-enhanced MRI of the brain",
    "CT of the chest, abdomen and pelvis",
    "PET-CT",
    "Repeat endoscopy",
    "Spirometry",
    "Breast ultrasound",
    "Echocardiography",
    "Dynamic contrast-enhanced MRI of the liver",
    "Bone scintigraphy",
    "Laboratory work-up",
)
BIOMARKERS = ("HER2/neu", "PSA", "hs-CRP", "EGFR", "ALK", "PD-L1", "KRAS G12C", "CA-125", "BRCA1", "HbA1c")
END_POINTS = (
    "overall survival",
    "progression-free survival",
    "objective response rate",
    "time to treatment failure",
    "disease control rate",
    "duration of response",
)
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
OUTCOMES = ("a favourable response", "stable disease", "progression")
HASHTAGS = ("#diabetes", "#depression", "#chronicillness", "#cancer", "#spoonie", "#sideeffects", "#health")


@dataclass(frozen=True)
class CorpusText:
    """One benchmark text and its length class."""

    kind: str
    text: str


def class_counts(size: int, mix: Mapping[str, float] = DEFAULT_MIX) -> dict[str, int]:
    """Exact number of texts per class for ``size`` texts (largest-remainder rounding).

    Raises:
        ValueError: On a negative size, an unknown class or a mix that does not sum to 1.
    """
    if size < 0:
        raise ValueError(f"corpus size must be >= 0, got {size}")
    unknown = sorted(set(mix) - set(LENGTH_CLASSES))
    if unknown:
        raise ValueError(f"unknown length class(es) {unknown}; expected some of {LENGTH_CLASSES}")
    if any(share < 0 for share in mix.values()) or not math.isclose(sum(mix.values()), 1.0, abs_tol=1e-6):
        raise ValueError(f"the mix shares must be >= 0 and sum to 1, got {dict(mix)}")
    exact = {kind: size * mix.get(kind, 0.0) for kind in LENGTH_CLASSES}
    counts = {kind: math.floor(value) for kind, value in exact.items()}
    by_remainder = sorted(LENGTH_CLASSES, key=lambda k: (-(exact[k] - counts[k]), LENGTH_CLASSES.index(k)))
    for kind in by_remainder[: size - sum(counts.values())]:
        counts[kind] += 1
    return counts


FILLERS = (
    "Follow-up is planned in three months.",
    "No other changes to the medication list.",
    "Symptoms were reviewed with the patient.",
    "Will update when I hear back.",
)


def _fit(rng: random.Random, parts: Sequence[str], kind: str) -> str:
    """Join ``parts`` into a text whose length lies in the class's range.

    Short texts get neutral filler sentences; long ones are cut at a word boundary.
    """
    low, high = CHAR_RANGES[kind]
    text = " ".join(parts).strip()
    while len(text) < low:
        text = f"{text} {rng.choice(FILLERS)}"
    if len(text) > high:
        cut = text.rfind(" ", 0, high)
        text = text[: cut if cut >= low else high].rstrip(" ,;")
    return text


def tweet(rng: random.Random) -> str:
    """A patient's post about a treatment change."""
    drug, other = rng.sample(DRUGS, 2)
    symptom = rng.choice(SYMPTOMS)
    openers = (
        f"Switched from {drug} to {other} last week and the {symptom} is finally gone.",
        f"Doc took me off {drug} today because of the {symptom}. Starting {other} tomorrow.",
        f"Day {rng.randint(2, 40)} on {drug}: {symptom} every morning, not sure this is worth it.",
        f"I took that {drug} instead of my {other} again.",
        f"Anyone else get {symptom} on {drug}? Thinking of asking for {other} instead.",
        f"Stopped {drug} cold turkey, {symptom} for {rng.randint(2, 9)} days now.",
    )
    extras = (
        f"My {rng.choice(CONDITIONS)} is under control for once.",
        f"Pharmacy says {other} is {rng.randint(2, 9)}x the price.",
        "Never again.",
        f"Dose went from {rng.choice((5, 10, 20, 25, 50))} mg to {rng.choice((40, 75, 100, 150))} mg.",
        rng.choice(HASHTAGS),
        rng.choice(HASHTAGS) + " " + rng.choice(HASHTAGS),
    )
    parts = [rng.choice(openers), *rng.sample(extras, rng.randint(0, 3))]
    return _fit(rng, parts, "tweet")


def sentence(rng: random.Random) -> str:
    """One sentence of a clinical note or an imaging report."""
    drug, other = rng.sample(DRUGS, 2)
    templates = (
        f"{rng.choice(EXAMS)} showed {rng.choice(FINDINGS)} after {rng.randint(2, 12)} cycles of {drug}.",
        f"{rng.choice(EXAMS)} revealed {rng.choice(FINDINGS)} following {rng.randint(3, 12)} months of"
        f" treatment with {drug}, suggesting {rng.choice(OUTCOMES)}.",
        f"The patient with {rng.choice(CONDITIONS)} was switched from {drug} to {other} because of"
        f" persistent {rng.choice(SYMPTOMS)}.",
        f"Expression of {rng.choice(BIOMARKERS)} was {rng.choice(('elevated', 'negative', 'borderline'))}"
        f" in {rng.randint(12, 88)}% of tumour cells.",
        f"In {rng.choice(MONTHS)} {rng.randint(1998, 2024)}, the median {rng.choice(END_POINTS)} with and"
        f" without {drug} were {rng.uniform(3, 30):.1f} and {rng.uniform(2, 20):.1f} months, respectively.",
    )
    parts = [rng.choice(templates)]
    if rng.random() < 0.4:
        parts.append(f"Will discuss {other} at the next visit.")
    return _fit(rng, parts, "sentence")


def abstract(rng: random.Random) -> str:
    """A structured clinical-trial abstract."""
    drug, comparator = rng.sample(DRUGS, 2)
    condition = rng.choice(CONDITIONS)
    n = rng.randint(60, 1200)
    end_point = rng.choice(END_POINTS)
    hr = rng.uniform(0.45, 0.95)
    sections = [
        f"Background: {condition.capitalize()} remains a leading cause of morbidity, and the benefit of"
        f" {drug} over {comparator} in previously treated patients is uncertain."
        f" Expression of {rng.choice(BIOMARKERS)} has been proposed as a predictor of response.",
        f"Methods: In this randomised, open-label, phase {rng.choice(('II', 'III'))} trial we enrolled {n}"
        f" patients with {condition} between {rng.choice(MONTHS)} {rng.randint(2005, 2015)} and"
        f" {rng.choice(MONTHS)} {rng.randint(2016, 2023)}. Patients were assigned 1:1 to {drug}"
        f" or {comparator}. The primary end point was {end_point}; secondary end points included"
        f" safety and {rng.choice(END_POINTS)}.",
        f"Results: The median {end_point} was {rng.uniform(4, 30):.1f} months with {drug} and"
        f" {rng.uniform(2, 20):.1f} months with {comparator} (hazard ratio {hr:.2f}; 95% CI"
        f" {hr - 0.12:.2f} to {hr + 0.1:.2f}; P={rng.choice(('0.001', '0.01', '0.03', '0.21'))})."
        f" A complete response was observed in {rng.randint(3, 40)} patients and a partial response in"
        f" {rng.randint(10, 90)}. Grade 3 or higher adverse events, mainly {rng.choice(SYMPTOMS)} and"
        f" {rng.choice(SYMPTOMS)}, occurred in {rng.randint(8, 60)}% and {rng.randint(8, 60)}% of patients.",
        f"Conclusions: {drug.capitalize()} {rng.choice(('significantly prolonged', 'did not improve'))}"
        f" {end_point} as compared with {comparator} in patients with {condition}, with a manageable"
        f" toxicity profile. Follow-up of {rng.randint(12, 60)} months is ongoing.",
    ]
    extra = (
        f" {rng.choice(EXAMS)} at week {rng.randint(6, 24)} showed {rng.choice(FINDINGS)} in"
        f" {rng.randint(10, 70)}% of patients receiving {drug}."
    )
    if rng.random() < 0.5:
        sections[2] += extra
    return _fit(rng, sections, "abstract")


GENERATORS = {"tweet": tweet, "sentence": sentence, "abstract": abstract}


def generate_corpus(size: int, *, seed: int = 0, mix: Mapping[str, float] = DEFAULT_MIX) -> list[CorpusText]:
    """``size`` texts in the given length mix, shuffled; the same seed gives the same corpus."""
    rng = random.Random(seed)
    texts = [
        CorpusText(kind, GENERATORS[kind](rng))
        for kind, count in class_counts(size, mix).items()
        for _ in range(count)
    ]
    rng.shuffle(texts)
    return texts


def long_document(chars: int, *, seed: int = 0) -> str:
    """A document of exactly ``chars`` characters: abstracts one after another, cut on a space."""
    if chars < 1:
        raise ValueError(f"a document needs at least one character, got {chars}")
    rng = random.Random(seed)
    parts: list[str] = []
    total = 0
    while total < chars:
        parts.append(abstract(rng))
        total += len(parts[-1]) + 2
    text = "\n\n".join(parts)[:chars]
    # Replace a cut-off last word with filler so the length is exact and the text ends cleanly.
    cut = text.rfind(" ")
    if cut > 0 and len(text) == chars:
        text = text[:cut] + "." * (chars - cut)
    return text


def save_corpus(texts: Sequence[CorpusText], path: Path) -> None:
    """Write the corpus as JSON lines (``{"kind", "text"}``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for item in texts:
            out.write(json.dumps(asdict(item), ensure_ascii=False) + "\n")


def load_corpus(path: Path) -> list[CorpusText]:
    """Read a corpus written by :func:`save_corpus`."""
    texts = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        record = json.loads(line)
        if record.get("kind") not in LENGTH_CLASSES or not isinstance(record.get("text"), str):
            raise ValueError(f"{path}:{number}: expected {{'kind': one of {LENGTH_CLASSES}, 'text': str}}")
        texts.append(CorpusText(record["kind"], record["text"]))
    return texts
