"""The default calibration set of the ``cpu`` profile: the texts its int8 scales are fitted on.

Static quantization fixes each activation's scale from the ranges these texts produce, so they
cover what the served models see: patient posts, clinical notes, trial abstracts, biomarker and
drug/dose sentences, short and long (past 128 and 256 word pieces), upper case, numbers and
symbols. None of them is in the parity set (``parity_texts.DEFAULT_TEXTS``), so the agreement
the import reports is measured on texts the scales were not fitted on. ``--calibration-texts
FILE`` replaces it with texts of the user's own domain.
"""

from __future__ import annotations

_NOTE = (
    "History of present illness: 67-year-old woman with stage IIIA non-small cell lung cancer,"
    " adenocarcinoma, EGFR L858R positive, on osimertinib 80 mg daily since January. She reports"
    " grade 1 diarrhea, a new acneiform rash over the chest and mild paronychia. CT chest, abdomen"
    " and pelvis shows a decrease of the right upper lobe mass from 4.1 cm to 2.7 cm and no new"
    " lesions. ECOG performance status 1. Labs: WBC 5.2, hemoglobin 11.8 g/dL, platelets 210,"
    " creatinine 0.9 mg/dL, ALT 34 U/L. Plan: continue osimertinib, doxycycline 100 mg twice daily"
    " for the rash, loperamide as needed, repeat imaging in 8 weeks. "
)
_ABSTRACT = (
    "BACKGROUND: The efficacy of adjuvant immunotherapy in resected melanoma remains uncertain in"
    " older adults. METHODS: In this multicenter, double-blind trial, 1,412 patients with stage"
    " III or IV melanoma were randomly assigned (1:1) to nivolumab 480 mg every 4 weeks or placebo"
    " for one year. The primary end point was recurrence-free survival (RFS). RESULTS: At a median"
    " follow-up of 36.2 months, the 3-year RFS was 58.1% with nivolumab and 44.6% with placebo"
    " (hazard ratio 0.65; 95% CI, 0.55-0.77; P<0.001). Treatment-related grade 3 or 4 events"
    " occurred in 14.3% and 4.9%, respectively; the most common were colitis, hepatitis and"
    " hypophysitis. CONCLUSIONS: Adjuvant nivolumab prolonged RFS, including in patients aged 70"
    " years or older, at the cost of more immune-related toxic effects. "
)

CALIBRATION_TEXTS: tuple[str, ...] = (
    "ok so they took me off atorvastatin and put me on rosuvastatin, legs feel way better",
    "Finally got approved for Ozempic!! first shot tomorrow 😬",
    "quit the lexapro cold turkey... worst brain zaps of my life, do NOT do this",
    "Been on Synthroid 6 weeks, TSH still high, doc bumping me to 100 mcg.",
    "My oncologist says the scan is clean. NED!!! 🎉",
    "Patient tolerated the first cycle of FOLFIRINOX without dose-limiting toxicity.",
    "Partial response by RECIST 1.1: sum of target lesions decreased by 41%.",
    "Disease progression was documented after two cycles; therapy was discontinued.",
    "No objective response was seen in the 18 evaluable patients.",
    "The lesion in segment VII was stable; the hilar node had resolved.",
    "PIK3CA H1047R mutation detected in circulating tumor DNA.",
    "Immunohistochemistry: ER 95%, PR 40%, HER2 1+ (negative), Ki-67 22%.",
    "MSI testing showed loss of MLH1 and PMS2 expression.",
    "ROS1 fusion was confirmed by next-generation sequencing of the biopsy.",
    "PSA fell from 48.2 ng/mL to 0.3 ng/mL after 12 weeks of enzalutamide.",
    "Give carboplatin AUC 5 on day 1 and paclitaxel 175 mg/m2 every 21 days.",
    "Ondansetron 8 mg IV was given 30 minutes before chemotherapy.",
    "Warfarin was held for 5 days and bridged with enoxaparin 1 mg/kg twice daily.",
    "Amiodarone 200 mg PO daily; check thyroid and liver function in 3 months.",
    "Levetiracetam was titrated to 1500 mg b.i.d. without further seizures.",
    "Subjects received either 10 mg or 25 mg of the study drug once daily for 52 weeks.",
    "The phase 2 dose-expansion cohort enrolled 96 participants across 14 sites.",
    "Eligible patients were 18 years or older with measurable disease and adequate organ function.",
    "Allocation was concealed with a central web-based system.",
    "The odds ratio for stroke was 1.34 (95% CI 1.12-1.61) in current smokers.",
    "Zebrafish embryos exposed to the compound showed cardiac edema at 72 hpf.",
    "Single-cell RNA sequencing identified a population of exhausted CD8+ T cells.",
    "We conducted semi-structured interviews with 24 family caregivers.",
    "Hospital-acquired pressure injuries declined after the bundle was introduced.",
    "A deep learning model classified chest radiographs with an AUC of 0.94.",
    "Anxiety scores (GAD-7) improved more with the app than with usual care.",
    "Malaria incidence fell by a third in districts that received bed nets.",
    "Soil samples from three farms carried carbapenem-resistant Enterobacterales.",
    "Health-care expenditure per capita rose 4.2% per year between 2010 and 2019.",
    "THE PATIENT DENIES CHEST PAIN, SHORTNESS OF BREATH OR PALPITATIONS.",
    "pt c/o n/v x2 days, afebrile, abd soft, non-tender.",
    "Allergies: penicillin (hives), sulfa (rash). Smoker, 30 pack-years.",
    "Temp 38.9 °C, HR 112, BP 96/58, RR 24, lactate 3.1 mmol/L.",
    "Über 40 % der Patienten — i.e. more than 40% — reported résumé of work.",
    "IL-6, TNF-α and IFN-γ levels rose within 24 h of CAR-T infusion.",
    "Negative.",
    "Unchanged.",
    "Responded well.",
    "See attached pathology report dated 03/14/2024 for the final margins.",
    "Estimated GFR 52 mL/min/1.73m²; metformin continued at a reduced dose of 500 mg twice daily.",
    "Two sentences here. The second one names KRAS, NRAS and BRAF, all wild type.",
    _NOTE,
    _ABSTRACT,
    _NOTE + _ABSTRACT,
)
