"""Payloads for the load tests: seeded clinical-style texts in four lengths (nothing downloaded).

The served models meet four kinds of text, and their cost differs by two orders of magnitude,
so a load test that sends one kind only says little about another:

- ``tweet``: a patient's post about a treatment (40-280 characters, some emoji);
- ``sentence``: one sentence of a clinical note or a radiology report (60-300 characters);
- ``abstract``: a structured trial abstract (Background / Methods / Results / Conclusions,
  800-2,000 characters);
- ``long``: a discharge summary with sections and medication lists (8,000-20,000 characters):
  dozens of sentences for per-sentence models, many windows for the token classifier.

:func:`build_corpus` is deterministic for a seed. Teams with their own (de-identified) texts
can load them instead with :func:`read_corpus` (JSON lines ``{"kind": ..., "text": ...}``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CHAR_RANGES",
    "DEFAULT_COUNTS",
    "DEFAULT_SEED",
    "KINDS",
    "Corpus",
    "build_corpus",
    "read_corpus",
]

KINDS = ("tweet", "sentence", "abstract", "long")
#: Inclusive character bounds of each kind.
CHAR_RANGES: Mapping[str, tuple[int, int]] = {
    "tweet": (40, 280),
    "sentence": (60, 300),
    "abstract": (800, 2_000),
    "long": (8_000, 20_000),
}
#: Texts generated per kind: enough variety that the server's caches see no repeats in
#: practice, little enough that generating them takes well under a second.
DEFAULT_COUNTS: Mapping[str, int] = {"tweet": 400, "sentence": 400, "abstract": 100, "long": 12}
DEFAULT_SEED = 20240607

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
FINDINGS = (
    "no change in the size of the lesion", "a decrease in the primary tumour from 3.1 cm to 1.2 cm",
    "new hepatic metastases", "stable disease", "a partial response",
    "complete resolution of the pleural effusion", "progression of the mediastinal lymph nodes",
    "healing gastric ulcers", "improved FEV1 and FVC", "a normal left ventricular ejection fraction",
    "two new sub-centimetre pulmonary nodules", "no evidence of recurrent disease",
)  # fmt: skip
EXAMS = (
    "Contrast-enhanced MRI of the brain", "CT of the chest, abdomen and pelvis", "PET-CT",
    "Repeat endoscopy", "Spirometry", "Breast ultrasound", "Echocardiography",
    "Dynamic contrast-enhanced MRI of the liver", "Bone scintigraphy", "Chest radiograph",
)  # fmt: skip
BIOMARKERS = (
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
ENDPOINTS = (
    "overall survival",
    "progression-free survival",
    "objective response rate",
    "time to treatment failure",
)
EMOJI = ("🙄", "😩", "🤞", "💊", "😴", "🙏", "")
HASHTAGS = ("#spoonie", "#diabetes", "#depression", "#chronicillness", "#cancer", "#mentalhealth", "")
TWEET_TAILS = (
    "Honestly the {symptom} was worse than whatever {drug} was supposed to fix and nobody warned me.",
    "Asked the pharmacist twice whether {other} interacts with anything else I take, still not sure.",
    "Week one on {other}: sleeping better, eating better, still tired. Will update.",
    "If anyone has been through the switch from {drug} to {other} please tell me it gets better.",
    "Insurance only covers {other} now so here we go again.",
)  # fmt: skip
SITES = ("Cairo", "Lyon", "Osaka", "Toronto", "Manchester", "São Paulo", "Pune", "Gdańsk")


def _pick(rng: random.Random, items: Sequence[str]) -> str:
    return items[rng.randrange(len(items))]


def _measure(unit: str, value: str) -> str:
    if unit == "score":
        return value
    return f"{value}{unit}" if unit == "%" else f"{value} {unit}"


def _marker(rng: random.Random) -> str:
    name, unit, values = BIOMARKERS[rng.randrange(len(BIOMARKERS))]
    return f"{name} {_measure(unit, _pick(rng, values))}"


def _marker_change(rng: random.Random) -> str:
    name, unit, values = BIOMARKERS[rng.randrange(len(BIOMARKERS))]
    before, after = _measure(unit, _pick(rng, values)), _measure(unit, _pick(rng, values))
    return f"{name} was {before} at baseline and {after} by week {rng.randint(4, 24)}."


def _tweet(rng: random.Random) -> str:
    drug, other, symptom = _pick(rng, DRUGS), _pick(rng, DRUGS), _pick(rng, SYMPTOMS)
    templates = (
        f"Switched from {drug} to {other} last week and the {symptom} is finally gone {_pick(rng, EMOJI)}",
        f"{drug} gave me {symptom} so bad. Doc says stop it and try {other}. anyone else?",
        f"Day {rng.randint(2, 30)} off {drug}. The {symptom} is real. {_pick(rng, HASHTAGS)}",
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


def _sentence(rng: random.Random) -> str:
    drug, condition, exam = _pick(rng, DRUGS), _pick(rng, CONDITIONS), _pick(rng, EXAMS)
    templates = (
        f"{exam} showed {_pick(rng, FINDINGS)} after {rng.randint(2, 8)} cycles of {drug}.",
        f"The patient was started on {drug} {rng.choice((5, 10, 20, 40, 100))} mg daily for {condition}.",
        _marker_change(rng),
        f"{exam} performed on day {rng.randint(3, 90)} demonstrated {_pick(rng, FINDINGS)}, "
        f"suggesting {rng.choice(('a favourable response', 'treatment failure', 'stable disease'))}.",
        f"Tumour tissue was positive for {_pick(rng, MUTATIONS)}; {drug} was added to the regimen.",
        f"{drug.capitalize()} was discontinued because of grade {rng.randint(2, 4)} "
        f"{_pick(rng, SYMPTOMS)} and replaced with {_pick(rng, DRUGS)}.",
        f"No clinically significant change in {_marker(rng)} was seen with {drug} over "
        f"{rng.randint(3, 18)} months of follow-up in this patient with {condition}.",
    )
    return _pick(rng, templates)


def _abstract(rng: random.Random) -> str:
    drug, comparator, condition = _pick(rng, DRUGS), _pick(rng, TRIAL_ARMS), _pick(rng, CONDITIONS)
    patients = rng.randint(40, 1_200)
    median_a, median_b = round(rng.uniform(3, 30), 1), round(rng.uniform(2, 25), 1)
    parts = [
        f"Background: {condition.capitalize()} remains a leading cause of morbidity, and patients "
        f"who progress on first-line therapy have few options. {_sentence(rng)}",
        f"Methods: In this randomized, open-label phase {rng.choice(('II', 'III'))} trial at "
        f"{rng.randint(3, 60)} centres including {_pick(rng, SITES)} and {_pick(rng, SITES)}, we "
        f"assigned {patients} adults with {condition} to {drug} or {comparator}. The primary "
        f"endpoint was {_pick(rng, ENDPOINTS)}; {_pick(rng, ENDPOINTS)} was a secondary endpoint.",
        f"Results: The median {_pick(rng, ENDPOINTS)} was {median_a} months with {drug} and "
        f"{median_b} months with {comparator} (hazard ratio, {rng.uniform(0.4, 1.1):.2f}; 95% CI, "
        f"{rng.uniform(0.3, 0.7):.2f} to {rng.uniform(0.8, 1.3):.2f}). Complete response, partial "
        f"response, stable disease and progressive disease were observed in {rng.randint(5, 40)}, "
        f"{rng.randint(20, 90)}, {rng.randint(20, 80)} and {rng.randint(10, 50)} patients. "
        f"{_sentence(rng)} Grade 3 or higher {_pick(rng, SYMPTOMS)} occurred in "
        f"{rng.randint(2, 30)}% of patients.",
    ]
    target = rng.randint(900, 1_750)
    while sum(len(p) + 1 for p in parts) < target:
        parts.append(_sentence(rng))
    parts.append(
        f"Conclusions: {drug.capitalize()} {rng.choice(('prolonged', 'did not prolong'))} "
        f"{_pick(rng, ENDPOINTS)} as compared with {comparator} among patients with {condition}."
    )
    return " ".join(parts)


def _paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(_sentence(rng) for _ in range(sentences))


def _long(rng: random.Random) -> str:
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
        f"{_pick(rng, SYMPTOMS)}. {_paragraph(rng, rng.randint(6, 10))}",
        f"PAST MEDICAL HISTORY:\n{_paragraph(rng, rng.randint(4, 8))}",
        f"MEDICATIONS ON ADMISSION:\n{medications}",
        f"HOSPITAL COURSE:\n{_paragraph(rng, rng.randint(10, 18))}\n\n{_paragraph(rng, rng.randint(8, 14))}",
        f"IMAGING:\n{_paragraph(rng, rng.randint(5, 9))}",
        f"LABORATORY:\n{'; '.join(_marker(rng) for _ in range(rng.randint(6, 12)))}.",
        f"ASSESSMENT AND PLAN:\n{_paragraph(rng, rng.randint(6, 12))}",
    ]
    text = "\n\n".join(sections)
    target = rng.randint(CHAR_RANGES["long"][0], 16_000)
    while len(text) < target:
        text += f"\n\nPROGRESS NOTE, DAY {rng.randint(2, 20)}:\n{_paragraph(rng, rng.randint(6, 12))}"
    return text


_GENERATORS: Mapping[str, Callable[[random.Random], str]] = {
    "tweet": _tweet,
    "sentence": _sentence,
    "abstract": _abstract,
    "long": _long,
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

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds that have texts, in :data:`KINDS` order."""
        return tuple(kind for kind in KINDS if kind in self.texts)

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
    """Generate the corpus: the same texts for the same seed and counts."""
    texts: dict[str, tuple[str, ...]] = {}
    for kind, count in counts.items():
        if kind not in _GENERATORS:
            raise ValueError(f"unknown payload kind {kind!r}; expected one of {', '.join(KINDS)}")
        if count < 1:
            raise ValueError(f"{kind}: at least one text is needed, got {count}")
        rng = random.Random(f"{seed}:{kind}")
        generated: list[str] = []
        while len(generated) < count:
            text = _GENERATORS[kind](rng)
            if _in_range(kind, text):
                generated.append(text)
        texts[kind] = tuple(generated)
    return Corpus(texts)


def read_corpus(path: Path) -> Corpus:
    """Load texts from JSON lines, one ``{"kind": "tweet", "text": "..."}`` object per line.

    Raises:
        ValueError: Naming the file and line of the first bad line.
    """
    texts: dict[str, list[str]] = {}
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
            texts.setdefault(kind, []).append(item["text"])
    if not texts:
        raise ValueError(f"{path}: no texts")
    return Corpus({kind: tuple(items) for kind, items in texts.items()})


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m load_tests.corpus [--seed N] > corpus.jsonl``: write the generated corpus."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    corpus = build_corpus(args.seed)
    for kind in corpus.kinds:
        for text in corpus.texts[kind]:
            sys.stdout.write(json.dumps({"kind": kind, "text": text}, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
