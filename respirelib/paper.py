"""The paper's published numbers (Gairola et al., EMBC 2021), in percent, for side-by-side tables."""

from __future__ import annotations

# Table I: (split, task, row) -> (Sp, Se, Score)
TABLE_I = {
    ("official", "4-class", "CNN"): (71.4, 39.0, 55.2),
    ("official", "4-class", "+CBA+BRC"): (71.8, 39.6, 55.7),
    ("official", "4-class", "+FT"): (72.3, 40.1, 56.2),
    ("patient", "4-class", "CNN"): (78.8, 53.6, 66.2),
    ("patient", "4-class", "+CBA+BRC"): (79.7, 54.4, 67.1),
    ("patient", "4-class", "+FT"): (83.3, 53.7, 68.5),
    ("patient", "2-class", "CNN"): (83.3, 60.5, 71.9),
    ("patient", "2-class", "+CBA+BRC"): (76.4, 71.0, 73.7),
    ("patient", "2-class", "+FT"): (80.9, 73.1, 77.0),
}

# Table II: cycle length (s) -> 4-class score on the 80/20 split
TABLE_II = {1: 56.6, 2: 59.0, 3: 60.3, 4: 61.1, 5: 62.3, 6: 64.4, 7: 66.2, 8: 65.1, 9: 65.5}

# Table III: score improvement (points) from device-specific fine-tuning
TABLE_III = {"AKGC417L": 1.7, "Meditron": 1.6, "Litt3200": 9.3, "LittC2SE": 8.6}

SPLIT_NAMES = {"official": "official 60/40", "patient": "patient-disjoint 80/20",
               "patient-cv": "patient-wise 5-fold cross-validation"}
