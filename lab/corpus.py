"""Seeded clinical-style texts for everything that measures the server (nothing is downloaded).

Four kinds of text, as the served models meet them; their cost differs by two orders of
magnitude, so a measurement that sends one kind only says little about another:

- ``tweet``: a patient's post about a treatment change (40-280 characters);
- ``sentence``: one sentence of a clinical note or a radiology report (60-300 characters);
- ``abstract``: a structured trial abstract (Background / Methods / Results / Conclusions,
  800-2,000 characters);
- ``long``: a discharge summary with sections and medication lists (8,000-20,000 characters).

Two corpora are built from them, each deterministic for its seed:

- :func:`generate_corpus`: the benchmark's (``benchmarks``, ``tools``): ``size`` texts in an exact
  tweet / sentence / abstract mix (largest remainder), shuffled so a load generator that walks
  it sees the classes interleaved as a live service would; :func:`long_document` adds documents
  of an exact length;
- :func:`build_corpus`: the load tests' payloads (``load_tests``), a fixed number of texts per
  kind that a Locust user samples from.

Each has its own templates (the ``_mix_*`` and ``_payload_*`` generators): the committed
benchmark figures were measured on the first set's exact texts, the load tests' thresholds on
the second's, and a unit test pins both by digest (tests/unit/test_corpus.py). Both share the
kinds, the length ranges, the JSON-lines file format (:func:`save_corpus`, :func:`read_texts`,
:func:`read_corpus`) and the vocabulary where the texts allow it.

    python -m lab.corpus [--seed N] > corpus.jsonl     # the load tests' payloads
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = [
    "CHAR_RANGES",
    "DEFAULT_COUNTS",
    "DEFAULT_MIX",
    "DEFAULT_SEED",
    "KINDS",
    "LENGTH_CLASSES",
    "REFERENCE_NOTES",
    "Corpus",
    "CorpusText",
    "build_corpus",
    "class_counts",
    "generate_corpus",
    "long_document",
    "read_corpus",
    "read_texts",
    "save_corpus",
]

KINDS = ("tweet", "sentence", "abstract", "long")
#: Inclusive character bounds of each kind.
CHAR_RANGES: Mapping[str, tuple[int, int]] = {
    "tweet": (40, 280),
    "sentence": (60, 300),
    "abstract": (800, 2_000),
    "long": (8_000, 20_000),
}
#: The benchmark corpus's classes and their default shares.
LENGTH_CLASSES = ("tweet", "sentence", "abstract")
DEFAULT_MIX: Mapping[str, float] = {"tweet": 0.4, "sentence": 0.4, "abstract": 0.2}
#: The load tests' payloads per kind: enough variety that the server's caches see no repeats in
#: practice, little enough that generating them takes well under a second.
DEFAULT_COUNTS: Mapping[str, int] = {"tweet": 400, "sentence": 400, "abstract": 100, "long": 12}
DEFAULT_SEED = 20240607

# --- vocabulary. Each template set draws with ``rng.choice``/``randrange`` over a whole tuple, so
# a tuple's length is part of the texts: the benchmark's templates use the first entries of the
# longer shared lists (``MIX_*`` slices) and keep their own where the words differ.

DRUGS = (
    "metformin", "insulin glargine", "atorvastatin", "Lipitor", "lisinopril", "amlodipine",
    "sertraline", "Zoloft", "escitalopram", "ambien", "levothyroxine", "prednisone",
    "methotrexate", "adalimumab", "Humira", "warfarin", "apixaban", "topotecan",
    "temozolomide", "sorafenib", "pembrolizumab", "nivolumab", "trastuzumab", "cisplatin",
    "carboplatin", "paclitaxel", "docetaxel", "bevacizumab", "gabapentin", "duloxetine",
    "semaglutide", "Ozempic", "empagliflozin", "osimertinib", "olaparib", "letrozole",
)  # fmt: skip
CONDITIONS = (
    "type 2 diabetes", "hypertension", "major depressive disorder", "rheumatoid arthritis",
    "atrial fibrillation", "non-small cell lung cancer", "metastatic breast cancer",
    "glioblastoma", "hepatocellular carcinoma", "chronic hepatitis C", "asthma",
    "hypothyroidism", "small cell lung cancer", "ovarian cancer", "heart failure",
    "chronic kidney disease", "Crohn's disease", "prostate cancer",
)  # fmt: skip
SYMPTOMS = (
    "dizziness", "nausea", "headache", "fatigue", "insomnia", "weight gain", "muscle pain",
    "dry mouth", "rash", "brain fog", "anxiety", "hair loss", "shortness of breath",
    "night sweats", "heartburn", "joint pain",
)  # fmt: skip
END_POINTS = (
    "overall survival", "progression-free survival", "objective response rate",
    "time to treatment failure", "disease control rate", "duration of response",
)  # fmt: skip
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip

MIX_DRUGS = DRUGS[:30]
MIX_CONDITIONS = CONDITIONS[:15]
MIX_SYMPTOMS = SYMPTOMS[:13]
MIX_FINDINGS = (
    "no change in the size of the lesion", "a decrease in the primary tumour from 3.1 cm to 1.2 cm",
    "new hepatic metastases", "stable disease", "a partial response",
    "complete resolution of the effusion", "progression of the mediastinal lymph nodes",
    "healing gastric ulcers", "improved FEV1 and FVC", "elevated troponin T",
    "a normal ejection fraction", "reduced HbA1c",
)  # fmt: skip
MIX_EXAMS = (
    "Contrast-enhanced MRI of the brain", "CT of the chest, abdomen and pelvis", "PET-CT",
    "Repeat endoscopy", "Spirometry", "Breast ultrasound", "Echocardiography",
    "Dynamic contrast-enhanced MRI of the liver", "Bone scintigraphy", "Laboratory work-up",
)  # fmt: skip
MIX_BIOMARKERS = (
    "HER2/neu",
    "PSA",
    "hs-CRP",
    "EGFR",
    "ALK",
    "PD-L1",
    "KRAS G12C",
    "CA-125",
    "BRCA1",
    "HbA1c",
)
MIX_OUTCOMES = ("a favourable response", "stable disease", "progression")
MIX_HASHTAGS = (
    "#diabetes",
    "#depression",
    "#chronicillness",
    "#cancer",
    "#spoonie",
    "#sideeffects",
    "#health",
)
MIX_FILLERS = (
    "Follow-up is planned in three months.",
    "No other changes to the medication list.",
    "Symptoms were reviewed with the patient.",
    "Will update when I hear back.",
)

PAYLOAD_FINDINGS = (
    "no change in the size of the lesion", "a decrease in the primary tumour from 3.1 cm to 1.2 cm",
    "new hepatic metastases", "stable disease", "a partial response",
    "complete resolution of the pleural effusion", "progression of the mediastinal lymph nodes",
    "healing gastric ulcers", "improved FEV1 and FVC", "a normal left ventricular ejection fraction",
    "two new sub-centimetre pulmonary nodules", "no evidence of recurrent disease",
)  # fmt: skip
PAYLOAD_EXAMS = (*MIX_EXAMS[:9], "Chest radiograph")
PAYLOAD_END_POINTS = END_POINTS[:4]
PAYLOAD_HASHTAGS = ("#spoonie", "#diabetes", "#depression", "#chronicillness", "#cancer", "#mentalhealth", "")
MEASURED_BIOMARKERS = (
    ("HER2/neu", "score", ("0", "1+", "2+", "3+")),
    ("PSA", "ng/mL", ("0.8", "4.1", "6.7", "12.3", "27.5")),
    ("hs-CRP", "mg/L", ("0.9", "3.4", "8.2", "15.0")),
    ("troponin T", "ng/L", ("9", "14", "52", "118")),
    ("HbA1c", "%", ("5.9", "6.8", "7.4", "9.1")),
    ("CA-125", "U/mL", ("18", "35", "212", "640")),
    ("PD-L1 tumour proportion score", "%", ("1", "20", "50", "80")),
    ("NT-proBNP", "pg/mL", ("95", "450", "1,820", "6,300")),
)  # fmt: skip
MUTATIONS = ("EGFR exon 19 deletion", "KRAS G12C", "ALK rearrangement", "BRCA1 germline", "BRAF V600E")
TRIAL_ARMS = (
    "placebo",
    "standard of care",
    "best supportive care",
    "the investigator's choice of chemotherapy",
)
EMOJI = ("🙄", "😩", "🤞", "💊", "😴", "🙏", "")
TWEET_TAILS = (
    "Honestly the {symptom} was worse than whatever {drug} was supposed to fix and nobody warned me.",
    "Asked the pharmacist twice whether {other} interacts with anything else I take, still not sure.",
    "Week one on {other}: sleeping better, eating better, still tired. Will update.",
    "If anyone has been through the switch from {drug} to {other} please tell me it gets better.",
    "Insurance only covers {other} now so here we go again.",
)  # fmt: skip
SITES = ("Cairo", "Lyon", "Osaka", "Toronto", "Manchester", "São Paulo", "Pune", "Gdańsk")


#: Short hand-written notes per model for runs that check every answer: the reliability
#: scenarios ask a healthy server for each one's reference answer first.
REFERENCE_NOTES: Mapping[str, tuple[str, ...]] = {
    "treatment_changes": (
        "Patient switched from metformin to insulin after HbA1c rose to 9.1%.",
        "I stopped taking ambien because it made me dizzy.",
        "Lisinopril was increased to 20 mg daily; blood pressure is now controlled.",
        "No change to the current regimen of atorvastatin 40 mg.",
        "She took sertraline instead of her thyroid pill this morning.",
        "Warfarin held for three days before the procedure, then restarted.",
        "Dose of prednisone tapered from 40 mg to 10 mg over two weeks.",
        "He refuses chemotherapy and prefers palliative care.",
    ),
    "drug_development_trials": (
        "In June 2003, the median overall survival was 4.0 months with topotecan.",
        "Patients received 200 mg of pembrolizumab every three weeks in the phase II trial.",
        "The complete response rate was 45% and grade 3 neutropenia occurred in 12 patients.",
        "Median progression-free survival was 11.2 months in the erlotinib arm.",
    ),
}


@dataclass(frozen=True)
class CorpusText:
    """One text and its kind."""

    kind: str
    text: str


# --- the benchmark's corpus: an exact length mix ---------------------------------------------------


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


def _fit(rng: random.Random, parts: Sequence[str], kind: str) -> str:
    """Join ``parts`` into a text whose length lies in the class's range.

    Short texts get neutral filler sentences; long ones are cut at a word boundary.
    """
    low, high = CHAR_RANGES[kind]
    text = " ".join(parts).strip()
    while len(text) < low:
        text = f"{text} {rng.choice(MIX_FILLERS)}"
    if len(text) > high:
        cut = text.rfind(" ", 0, high)
        text = text[: cut if cut >= low else high].rstrip(" ,;")
    return text


def _mix_tweet(rng: random.Random) -> str:
    """A patient's post about a treatment change."""
    drug, other = rng.sample(MIX_DRUGS, 2)
    symptom = rng.choice(MIX_SYMPTOMS)
    openers = (
        f"Switched from {drug} to {other} last week and the {symptom} is finally gone.",
        f"Doc took me off {drug} today because of the {symptom}. Starting {other} tomorrow.",
        f"Day {rng.randint(2, 40)} on {drug}: {symptom} every morning, not sure this is worth it.",
        f"I took that {drug} instead of my {other} again.",
        f"Anyone else get {symptom} on {drug}? Thinking of asking for {other} instead.",
        f"Stopped {drug} cold turkey, {symptom} for {rng.randint(2, 9)} days now.",
    )
    extras = (
        f"My {rng.choice(MIX_CONDITIONS)} is under control for once.",
        f"Pharmacy says {other} is {rng.randint(2, 9)}x the price.",
        "Never again.",
        f"Dose went from {rng.choice((5, 10, 20, 25, 50))} mg to {rng.choice((40, 75, 100, 150))} mg.",
        rng.choice(MIX_HASHTAGS),
        rng.choice(MIX_HASHTAGS) + " " + rng.choice(MIX_HASHTAGS),
    )
    parts = [rng.choice(openers), *rng.sample(extras, rng.randint(0, 3))]
    return _fit(rng, parts, "tweet")


def _mix_sentence(rng: random.Random) -> str:
    """One sentence of a clinical note or an imaging report."""
    drug, other = rng.sample(MIX_DRUGS, 2)
    templates = (
        f"{rng.choice(MIX_EXAMS)} showed {rng.choice(MIX_FINDINGS)} after {rng.randint(2, 12)} cycles"
        f" of {drug}.",
        f"{rng.choice(MIX_EXAMS)} revealed {rng.choice(MIX_FINDINGS)} following {rng.randint(3, 12)}"
        f" months of treatment with {drug}, suggesting {rng.choice(MIX_OUTCOMES)}.",
        f"The patient with {rng.choice(MIX_CONDITIONS)} was switched from {drug} to {other} because of"
        f" persistent {rng.choice(MIX_SYMPTOMS)}.",
        f"Expression of {rng.choice(MIX_BIOMARKERS)} was {rng.choice(('elevated', 'negative', 'borderline'))}"
        f" in {rng.randint(12, 88)}% of tumour cells.",
        f"In {rng.choice(MONTHS)} {rng.randint(1998, 2024)}, the median {rng.choice(END_POINTS)} with and"
        f" without {drug} were {rng.uniform(3, 30):.1f} and {rng.uniform(2, 20):.1f} months, respectively.",
    )
    parts = [rng.choice(templates)]
    if rng.random() < 0.4:
        parts.append(f"Will discuss {other} at the next visit.")
    return _fit(rng, parts, "sentence")


def _mix_abstract(rng: random.Random) -> str:
    """A structured clinical-trial abstract."""
    drug, comparator = rng.sample(MIX_DRUGS, 2)
    condition = rng.choice(MIX_CONDITIONS)
    n = rng.randint(60, 1200)
    end_point = rng.choice(END_POINTS)
    hr = rng.uniform(0.45, 0.95)
    sections = [
        f"Background: {condition.capitalize()} remains a leading cause of morbidity, and the benefit of"
        f" {drug} over {comparator} in previously treated patients is uncertain."
        f" Expression of {rng.choice(MIX_BIOMARKERS)} has been proposed as a predictor of response.",
        f"Methods: In this randomised, open-label, phase {rng.choice(('II', 'III'))} trial we enrolled {n}"
        f" patients with {condition} between {rng.choice(MONTHS)} {rng.randint(2005, 2015)} and"
        f" {rng.choice(MONTHS)} {rng.randint(2016, 2023)}. Patients were assigned 1:1 to {drug}"
        f" or {comparator}. The primary end point was {end_point}; secondary end points included"
        f" safety and {rng.choice(END_POINTS)}.",
        f"Results: The median {end_point} was {rng.uniform(4, 30):.1f} months with {drug} and"
        f" {rng.uniform(2, 20):.1f} months with {comparator} (hazard ratio {hr:.2f}; 95% CI"
        f" {hr - 0.12:.2f} to {hr + 0.1:.2f}; P={rng.choice(('0.001', '0.01', '0.03', '0.21'))})."
        f" A complete response was observed in {rng.randint(3, 40)} patients and a partial response in"
        f" {rng.randint(10, 90)}. Grade 3 or higher adverse events, mainly {rng.choice(MIX_SYMPTOMS)} and"
        f" {rng.choice(MIX_SYMPTOMS)}, occurred in {rng.randint(8, 60)}% and {rng.randint(8, 60)}% of"
        f" patients.",
        f"Conclusions: {drug.capitalize()} {rng.choice(('significantly prolonged', 'did not improve'))}"
        f" {end_point} as compared with {comparator} in patients with {condition}, with a manageable"
        f" toxicity profile. Follow-up of {rng.randint(12, 60)} months is ongoing.",
    ]
    extra = (
        f" {rng.choice(MIX_EXAMS)} at week {rng.randint(6, 24)} showed {rng.choice(MIX_FINDINGS)} in"
        f" {rng.randint(10, 70)}% of patients receiving {drug}."
    )
    if rng.random() < 0.5:
        sections[2] += extra
    return _fit(rng, sections, "abstract")


_MIX_GENERATORS: Mapping[str, Callable[[random.Random], str]] = {
    "tweet": _mix_tweet,
    "sentence": _mix_sentence,
    "abstract": _mix_abstract,
}


def generate_corpus(size: int, *, seed: int = 0, mix: Mapping[str, float] = DEFAULT_MIX) -> list[CorpusText]:
    """``size`` texts in the given length mix, shuffled; the same seed gives the same corpus."""
    rng = random.Random(seed)
    texts = [
        CorpusText(kind, _MIX_GENERATORS[kind](rng))
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
        parts.append(_mix_abstract(rng))
        total += len(parts[-1]) + 2
    text = "\n\n".join(parts)[:chars]
    # Replace a cut-off last word with filler so the length is exact and the text ends cleanly.
    cut = text.rfind(" ")
    if cut > 0 and len(text) == chars:
        text = text[:cut] + "." * (chars - cut)
    return text


# --- the load tests' payloads: a fixed number of texts per kind --------------------------------


def _pick(rng: random.Random, items: Sequence[str]) -> str:
    return items[rng.randrange(len(items))]


def _measure(unit: str, value: str) -> str:
    if unit == "score":
        return value
    return f"{value}{unit}" if unit == "%" else f"{value} {unit}"


def _marker(rng: random.Random) -> str:
    name, unit, values = MEASURED_BIOMARKERS[rng.randrange(len(MEASURED_BIOMARKERS))]
    return f"{name} {_measure(unit, _pick(rng, values))}"


def _marker_change(rng: random.Random) -> str:
    name, unit, values = MEASURED_BIOMARKERS[rng.randrange(len(MEASURED_BIOMARKERS))]
    before, after = _measure(unit, _pick(rng, values)), _measure(unit, _pick(rng, values))
    return f"{name} was {before} at baseline and {after} by week {rng.randint(4, 24)}."


def _payload_tweet(rng: random.Random) -> str:
    drug, other, symptom = _pick(rng, DRUGS), _pick(rng, DRUGS), _pick(rng, SYMPTOMS)
    templates = (
        f"Switched from {drug} to {other} last week and the {symptom} is finally gone {_pick(rng, EMOJI)}",
        f"{drug} gave me {symptom} so bad. Doc says stop it and try {other}. anyone else?",
        f"Day {rng.randint(2, 30)} off {drug}. The {symptom} is real. {_pick(rng, PAYLOAD_HASHTAGS)}",
        f"My doctor doubled my {drug} dose today. Hoping the {symptom} stays away {_pick(rng, EMOJI)}",
        f"I took that {drug} instead of my {other} this morning... great start to the day",
        f"Been on {drug} for {rng.randint(2, 11)} months for {_pick(rng, CONDITIONS)}, "
        f"no {symptom} at all. Not changing anything.",
        f"Pharmacy was out of {drug} so they gave me {other}. Same thing right?? {_pick(rng, EMOJI)}",
        f"Stopped {drug} cold turkey and the {symptom} hit on day 2. Do not recommend.",
    )
    tweet = _pick(rng, templates).strip()
    if rng.random() < 0.4:
        tweet += " " + _pick(rng, TWEET_TAILS).format(drug=drug, other=other, symptom=symptom)
    return tweet


def _payload_sentence(rng: random.Random) -> str:
    drug, condition, exam = _pick(rng, DRUGS), _pick(rng, CONDITIONS), _pick(rng, PAYLOAD_EXAMS)
    templates = (
        f"{exam} showed {_pick(rng, PAYLOAD_FINDINGS)} after {rng.randint(2, 8)} cycles of {drug}.",
        f"The patient was started on {drug} {rng.choice((5, 10, 20, 40, 100))} mg daily for {condition}.",
        _marker_change(rng),
        f"{exam} performed on day {rng.randint(3, 90)} demonstrated {_pick(rng, PAYLOAD_FINDINGS)}, "
        f"suggesting {rng.choice(('a favourable response', 'treatment failure', 'stable disease'))}.",
        f"Tumour tissue was positive for {_pick(rng, MUTATIONS)}; {drug} was added to the regimen.",
        f"{drug.capitalize()} was discontinued because of grade {rng.randint(2, 4)} "
        f"{_pick(rng, SYMPTOMS)} and replaced with {_pick(rng, DRUGS)}.",
        f"No clinically significant change in {_marker(rng)} was seen with {drug} over "
        f"{rng.randint(3, 18)} months of follow-up in this patient with {condition}.",
    )
    return _pick(rng, templates)


def _payload_abstract(rng: random.Random) -> str:
    drug, comparator, condition = _pick(rng, DRUGS), _pick(rng, TRIAL_ARMS), _pick(rng, CONDITIONS)
    patients = rng.randint(40, 1_200)
    median_a, median_b = round(rng.uniform(3, 30), 1), round(rng.uniform(2, 25), 1)
    parts = [
        f"Background: {condition.capitalize()} remains a leading cause of morbidity, and patients "
        f"who progress on first-line therapy have few options. {_payload_sentence(rng)}",
        f"Methods: In this randomized, open-label phase {rng.choice(('II', 'III'))} trial at "
        f"{rng.randint(3, 60)} centres including {_pick(rng, SITES)} and {_pick(rng, SITES)}, we "
        f"assigned {patients} adults with {condition} to {drug} or {comparator}. The primary "
        f"endpoint was {_pick(rng, PAYLOAD_END_POINTS)}; {_pick(rng, PAYLOAD_END_POINTS)} was a "
        "secondary endpoint.",
        f"Results: The median {_pick(rng, PAYLOAD_END_POINTS)} was {median_a} months with {drug} and "
        f"{median_b} months with {comparator} (hazard ratio, {rng.uniform(0.4, 1.1):.2f}; 95% CI, "
        f"{rng.uniform(0.3, 0.7):.2f} to {rng.uniform(0.8, 1.3):.2f}). Complete response, partial "
        f"response, stable disease and progressive disease were observed in {rng.randint(5, 40)}, "
        f"{rng.randint(20, 90)}, {rng.randint(20, 80)} and {rng.randint(10, 50)} patients. "
        f"{_payload_sentence(rng)} Grade 3 or higher {_pick(rng, SYMPTOMS)} occurred in "
        f"{rng.randint(2, 30)}% of patients.",
    ]
    target = rng.randint(900, 1_750)
    while sum(len(p) + 1 for p in parts) < target:
        parts.append(_payload_sentence(rng))
    parts.append(
        f"Conclusions: {drug.capitalize()} {rng.choice(('prolonged', 'did not prolong'))} "
        f"{_pick(rng, PAYLOAD_END_POINTS)} as compared with {comparator} among patients with {condition}."
    )
    return " ".join(parts)


def _payload_paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(_payload_sentence(rng) for _ in range(sentences))


def _payload_long(rng: random.Random) -> str:
    condition = _pick(rng, CONDITIONS)
    age, sex = rng.randint(24, 91), rng.choice(("man", "woman"))
    medications = "\n".join(
        f"{i}. {_pick(rng, DRUGS)} {rng.choice((2.5, 5, 10, 25, 50, 100))} mg "
        f"{rng.choice(('once daily', 'twice daily', 'at night', 'weekly'))}"
        for i in range(1, rng.randint(6, 12))
    )
    sections = [
        "DISCHARGE SUMMARY",
        f"HISTORY OF PRESENT ILLNESS:\nThe patient is a {age}-year-old {sex} with {condition} who "
        f"presented with {rng.randint(2, 14)} days of {_pick(rng, SYMPTOMS)} and "
        f"{_pick(rng, SYMPTOMS)}. {_payload_paragraph(rng, rng.randint(6, 10))}",
        f"PAST MEDICAL HISTORY:\n{_payload_paragraph(rng, rng.randint(4, 8))}",
        f"MEDICATIONS ON ADMISSION:\n{medications}",
        f"HOSPITAL COURSE:\n{_payload_paragraph(rng, rng.randint(10, 18))}\n\n"
        f"{_payload_paragraph(rng, rng.randint(8, 14))}",
        f"IMAGING:\n{_payload_paragraph(rng, rng.randint(5, 9))}",
        f"LABORATORY:\n{'; '.join(_marker(rng) for _ in range(rng.randint(6, 12)))}.",
        f"ASSESSMENT AND PLAN:\n{_payload_paragraph(rng, rng.randint(6, 12))}",
    ]
    text = "\n\n".join(sections)
    target = rng.randint(CHAR_RANGES["long"][0], 16_000)
    while len(text) < target:
        text += f"\n\nPROGRESS NOTE, DAY {rng.randint(2, 20)}:\n{_payload_paragraph(rng, rng.randint(6, 12))}"
    return text


_PAYLOAD_GENERATORS: Mapping[str, Callable[[random.Random], str]] = {
    "tweet": _payload_tweet,
    "sentence": _payload_sentence,
    "abstract": _payload_abstract,
    "long": _payload_long,
}


@dataclass(frozen=True)
class Corpus:
    """Texts by kind (``tweet``, ``sentence``, ``abstract``, ``long``)."""

    texts: Mapping[str, tuple[str, ...]]

    def __post_init__(self) -> None:
        for kind, texts in self.texts.items():
            if kind not in KINDS:
                raise ValueError(f"unknown payload kind {kind!r}; expected one of {', '.join(KINDS)}")
            if not texts:
                raise ValueError(f"the corpus has no {kind!r} texts")

    @classmethod
    def of(cls, texts: Sequence[CorpusText]) -> Corpus:
        """The texts grouped by kind, in their order."""
        grouped: dict[str, list[str]] = {}
        for item in texts:
            grouped.setdefault(item.kind, []).append(item.text)
        return cls({kind: tuple(items) for kind, items in grouped.items()})

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds that have texts, in :data:`KINDS` order."""
        return tuple(kind for kind in KINDS if kind in self.texts)

    def items(self) -> list[CorpusText]:
        """Every text with its kind, kind by kind in :data:`KINDS` order."""
        return [CorpusText(kind, text) for kind in self.kinds for text in self.texts[kind]]

    def sample(self, kind: str, rng: random.Random, count: int = 1) -> list[str]:
        """``count`` texts of ``kind``, drawn uniformly (with replacement)."""
        try:
            texts = self.texts[kind]
        except KeyError:
            raise ValueError(f"the corpus has no {kind!r} texts (it has {', '.join(self.kinds)})") from None
        return [texts[rng.randrange(len(texts))] for _ in range(count)]


def _in_range(kind: str, text: str) -> bool:
    low, high = CHAR_RANGES[kind]
    return low <= len(text) <= high


def build_corpus(seed: int = DEFAULT_SEED, counts: Mapping[str, int] = DEFAULT_COUNTS) -> Corpus:
    """The load tests' payloads: the same texts for the same seed and counts."""
    texts: dict[str, tuple[str, ...]] = {}
    for kind, count in counts.items():
        if kind not in _PAYLOAD_GENERATORS:
            raise ValueError(f"unknown payload kind {kind!r}; expected one of {', '.join(KINDS)}")
        if count < 1:
            raise ValueError(f"{kind}: at least one text is needed, got {count}")
        rng = random.Random(f"{seed}:{kind}")
        generated: list[str] = []
        while len(generated) < count:
            text = _PAYLOAD_GENERATORS[kind](rng)
            if _in_range(kind, text):
                generated.append(text)
        texts[kind] = tuple(generated)
    return Corpus(texts)


# --- files: JSON lines, one {"kind": ..., "text": ...} object per line -----------------------------


def save_corpus(texts: Sequence[CorpusText], path: Path) -> None:
    """Write texts as JSON lines (``{"kind", "text"}``), in their order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for item in texts:
            out.write(json.dumps(asdict(item), ensure_ascii=False) + "\n")


def read_texts(path: Path) -> list[CorpusText]:
    """Texts from JSON lines, in file order (blank lines skipped).

    Raises:
        ValueError: Naming the file and line of the first bad line.
    """
    texts: list[CorpusText] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}: not JSON ({exc.msg})") from None
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise ValueError(f'{where}: expected an object {{"kind": ..., "text": ...}}')
            kind = item.get("kind")
            if kind not in KINDS:
                raise ValueError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
            if not item["text"].strip():
                raise ValueError(f"{where}: the text is empty")
            texts.append(CorpusText(kind, item["text"]))
    return texts


def read_corpus(path: Path) -> Corpus:
    """Texts from JSON lines (:func:`read_texts`), by kind.

    Raises:
        ValueError: Naming the file and line of the first bad line, or a file with no texts.
    """
    texts = read_texts(path)
    if not texts:
        raise ValueError(f"{path}: no texts")
    return Corpus.of(texts)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m lab.corpus [--seed N] > corpus.jsonl``: write the load tests' payloads."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    for item in build_corpus(args.seed).items():
        sys.stdout.write(json.dumps(asdict(item), ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
