"""The default text set for parity and profile checks: varied clinical and biomedical English.

Short and long texts (some longer than 128 word pieces, to exercise truncation), several
sentences, casing, accents, numbers, units and punctuation, so that tokenizer, encoder and head
are all compared where they could differ. ``--texts FILE`` replaces it.
"""

from __future__ import annotations

_LONG = (
    "The phase III trial randomized 1,024 patients with metastatic colorectal cancer to FOLFOX plus"
    " bevacizumab or FOLFOX alone; median progression-free survival was 10.6 months versus 8.0 months"
    " (hazard ratio 0.71, 95% CI 0.62-0.81, p < 0.001), and overall survival improved by 4.7 months."
    " Grade 3 or 4 adverse events, mainly hypertension, neutropenia and diarrhea, occurred in 63% of"
    " the combination arm and 48% of the control arm. Quality of life did not differ between arms at"
    " 12 weeks, and the benefit was consistent across KRAS wild-type and mutant subgroups, although"
    " patients older than 75 years had more thromboembolic events. "
)

DEFAULT_TEXTS: tuple[str, ...] = (
    "I stopped taking metformin last week because it upset my stomach.",
    "Switched from lisinopril to losartan, the cough is finally gone!",
    "My doctor doubled my sertraline dose and I feel so much better.",
    "Day 3 without my inhaler... not great.",
    "Started insulin today. Nervous but hopeful.",
    "Can't afford my Humira anymore so I quit it cold turkey.",
    "The patient showed a partial response after four cycles of chemotherapy.",
    "No response to treatment was observed; the tumor progressed on imaging.",
    "Complete remission was confirmed by PET-CT at 6 months.",
    "Stable disease per RECIST 1.1 after 12 weeks of pembrolizumab.",
    "HER2 amplification was detected by FISH in the primary tumor.",
    "EGFR exon 19 deletion was present. The patient received osimertinib.",
    "Serum CA-125 decreased from 840 U/mL to 35 U/mL after surgery.",
    "The weather was cold and the clinic opened late.",
    "PD-L1 expression (TPS ≥ 50%) predicted benefit from immunotherapy.",
    "BRCA1 and BRCA2 germline testing was negative. Family history is unremarkable.",
    "A total of 312 patients were enrolled in the placebo-controlled trial.",
    "The hazard ratio for death was 0.68 (95% CI, 0.55 to 0.84; P<0.001).",
    "Median follow-up was 24.3 months in both arms.",
    "Nausea and fatigue were the most common adverse events in the treatment group.",
    "Patients aged 18 to 65 years with type 2 diabetes were randomly assigned to dapagliflozin.",
    "The primary end point was the change in HbA1c from baseline to week 26.",
    "Headache occurred in 12 patients (8%) receiving the higher dose.",
    "Mice lacking the receptor developed severe hepatic steatosis.",
    "We analyzed gene expression in cardiomyocytes derived from stem cells.",
    "A survey of nurses in rural hospitals explored burnout and staffing.",
    "Machine learning models predicted readmission from electronic health records.",
    "Depressive symptoms were measured with the PHQ-9 questionnaire in adolescents.",
    "The outbreak in Lagos was traced to contaminated water supplies.",
    "Antibiotic resistance genes were sequenced from hospital wastewater samples.",
    "Café-au-lait spots and neurofibromas suggested neurofibromatosis type 1.",
    "Naïve T cells were isolated from peripheral blood of healthy donors.",
    "SHE STOPPED THE STATIN AFTER MUSCLE PAIN STARTED.",
    "he restarted warfarin; INR 2.4 today.",
    "Dose reduced to 50 mg b.i.d. due to grade 2 neuropathy.",
    "Tumor mutational burden was 14 mut/Mb.",
    "Blood pressure 142/91 mmHg, heart rate 88 bpm, SpO2 97% on room air.",
    "The child was treated with amoxicillin-clavulanate for 10 days.",
    "No evidence of disease.",
    "Progression.",
    "Yes.",
    "MRI of the brain showed no new lesions compared with the prior study in March 2021.",
    "Overall response rate was 45% (27/60) with a median duration of response of 9.2 months.",
    "The vaccine elicited neutralizing antibodies in 98% of participants by day 28.",
    "Kaplan-Meier estimates of 3-year survival were 71% and 59%, respectively.",
    "Participants in the intervention group walked 2,000 more steps per day.",
    "The association between coffee intake and liver cancer was examined in a cohort of 90,000 adults.",
    "Microsatellite instability-high tumors responded to checkpoint blockade.",
    "Serum ferritin was 12 ng/mL, consistent with iron deficiency.",
    "ALK rearrangement was not detected. KRAS G12C mutation was identified.",
    "After switching to apixaban she had no further bleeding episodes.",
    "I've been off prednisone for a month and my joints are killing me.",
    "Patients with eGFR below 30 mL/min/1.73 m² were excluded.",
    "Randomization was stratified by region and baseline viral load.",
    "Hospital costs were analyzed using a Markov model over a lifetime horizon.",
    "The protein crystal structure revealed a novel allosteric binding pocket.",
    "Telemedicine visits increased fivefold during the pandemic.",
    "Two reviewers independently extracted data and assessed risk of bias.",
    _LONG,
    _LONG + _LONG,
    "Sentence one is short. Sentence two mentions ESR1 mutations! Is sentence three a question?",
    "🙂 Feeling better since the new meds.",
    "Cisplatin-induced ototoxicity was assessed by audiometry at baseline and after cycle 3.",
    "The median age was 63 years (range, 34–88), and 58% were men.",
)
