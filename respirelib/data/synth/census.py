"""The published make-up of the ICBHI 2017 database, as the synthetic generator copies it.

Every number here was counted from the official annotation files, the official
split file (``ICBHI_challenge_train_test.txt``, with the one misspelt name
``226_1b1_Pl_sc_Meditron`` read as the ``LittC2SE`` recording it refers to) and
``patient_diagnosis.csv``. Nothing else in :mod:`respirelib.data.synth` holds dataset
statistics, so this is the one place to check them.
"""

from __future__ import annotations

DEVICES = ("AKGC417L", "LittC2SE", "Litt3200", "Meditron")
CLASSES = ("normal", "crackle", "wheeze", "both")
SPLITS = ("train", "test")
LOCATIONS = ("Al", "Ar", "Ll", "Lr", "Pl", "Pr", "Tc")
DIAGNOSES = ("COPD", "Healthy", "URTI", "Bronchiectasis", "Bronchiolitis", "Pneumonia", "LRTI", "Asthma")
FIRST_PATIENT_ID = 101
LAST_PATIENT_ID = 226

# (device, split) -> recordings and cycles per class (normal, crackle, wheeze, both).
# Totals: 920 recordings; normal 3642, crackle 1864, wheeze 886, both 506 cycles;
# AKGC417L 4346, LittC2SE 594, Litt3200 502, Meditron 1456 cycles;
# train 539 recordings / 4142 cycles, test 381 / 2756.
CELLS: dict[tuple[str, str], tuple[int, tuple[int, int, int, int]]] = {
    ("AKGC417L", "train"): (361, (982, 996, 255, 277)),
    ("AKGC417L", "test"): (285, (940, 547, 245, 104)),
    ("LittC2SE", "train"): (87, (347, 77, 126, 44)),
    ("Litt3200", "train"): (5, (11, 3, 19, 8)),
    ("Litt3200", "test"): (55, (325, 26, 93, 17)),
    ("Meditron", "train"): (86, (723, 139, 101, 34)),
    ("Meditron", "test"): (41, (314, 76, 47, 22)),
}

# Patients who sit in one (device, split) cell: (device, split, diagnosis) -> count.
SINGLE_CELL_PATIENTS: dict[tuple[str, str, str], int] = {
    ("AKGC417L", "train", "COPD"): 15,
    ("AKGC417L", "test", "COPD"): 15,
    ("LittC2SE", "train", "COPD"): 15,
    ("LittC2SE", "train", "Pneumonia"): 5,
    ("LittC2SE", "train", "Asthma"): 1,
    ("Litt3200", "test", "COPD"): 9,
    ("Meditron", "train", "Healthy"): 12,
    ("Meditron", "train", "URTI"): 10,
    ("Meditron", "train", "Bronchiectasis"): 6,
    ("Meditron", "train", "COPD"): 5,
    ("Meditron", "train", "Bronchiolitis"): 3,
    ("Meditron", "train", "LRTI"): 2,
    ("Meditron", "test", "Healthy"): 14,
    ("Meditron", "test", "URTI"): 4,
    ("Meditron", "test", "Bronchiolitis"): 3,
    ("Meditron", "test", "Bronchiectasis"): 1,
    ("Meditron", "test", "COPD"): 1,
}

# Patients recorded in several cells, under their real ids. 156 and 218 are the two
# patients the official split puts in both parts; the others used two devices.
MULTI_CELL_PATIENTS: tuple[tuple[int, str, tuple[tuple[str, str], ...]], ...] = (
    (156, "COPD", (("AKGC417L", "train"), ("AKGC417L", "test"))),
    (218, "COPD", (("Meditron", "train"), ("Meditron", "test"), ("Litt3200", "train"), ("Litt3200", "test"))),
    (112, "COPD", (("Meditron", "train"), ("Litt3200", "train"))),
    (158, "COPD", (("AKGC417L", "train"), ("LittC2SE", "train"))),
    (226, "Pneumonia", (("Meditron", "train"), ("LittC2SE", "train"))),
)

# Cycles per diagnosis and class (normal, crackle, wheeze, both): abnormal sounds
# concentrate in COPD, bronchiectasis and bronchiolitis.
CYCLES_BY_DIAGNOSIS: dict[str, tuple[int, int, int, int]] = {
    "COPD": (2725, 1779, 752, 490),
    "Healthy": (303, 16, 2, 1),
    "URTI": (214, 21, 8, 0),
    "Bronchiectasis": (51, 12, 31, 10),
    "Bronchiolitis": (76, 15, 64, 5),
    "Pneumonia": (240, 21, 24, 0),
    "LRTI": (31, 0, 1, 0),
    "Asthma": (2, 0, 4, 0),
}

# Mean cycle length in seconds per device (all devices: min 0.20, mean 2.70, max 16.16;
# 41 cycles shorter than 0.5 s, 15 longer than 8 s).
MEAN_CYCLE_SECONDS = {"AKGC417L": 2.75, "LittC2SE": 2.90, "Litt3200": 2.26, "Meditron": 2.61}
SHORT_CYCLE_SHARE = 41 / 6898
LONG_CYCLE_SHARE = 15 / 6898

# Recordings per location (a recording's chest position).
RECORDINGS_BY_LOCATION = {"Al": 162, "Ar": 168, "Ll": 77, "Lr": 112, "Pl": 139, "Pr": 132, "Tc": 130}

# Patients whose diagnosis makes them (mostly) children: share of children.
CHILD_SHARE_BY_DIAGNOSIS = {"Healthy": 1.0, "URTI": 1.0, "Bronchiolitis": 1.0, "LRTI": 1.0, "Pneumonia": 1 / 6}

# Recordings per patient by device and diagnosis: sick patients were recorded more often.
RECORDINGS_PER_PATIENT: dict[tuple[str, str], float] = {
    ("AKGC417L", "COPD"): 20.19,
    ("Litt3200", "COPD"): 5.45,
    ("LittC2SE", "Asthma"): 1.0,
    ("LittC2SE", "COPD"): 3.19,
    ("LittC2SE", "Pneumonia"): 5.83,
    ("Meditron", "Bronchiectasis"): 2.29,
    ("Meditron", "Bronchiolitis"): 2.17,
    ("Meditron", "COPD"): 4.5,
    ("Meditron", "Healthy"): 1.35,
    ("Meditron", "LRTI"): 1.0,
    ("Meditron", "Pneumonia"): 2.0,
    ("Meditron", "URTI"): 1.64,
}
