"""ICBHI recording names: ``PID_REC_LOC_MODE_DEVICE``, e.g. ``101_1b1_Al_sc_Meditron``."""

from __future__ import annotations

import re
from dataclasses import dataclass

DEVICES = ("AKGC417L", "Meditron", "LittC2SE", "Litt3200")
CHEST_LOCATIONS = ("Tc", "Al", "Ar", "Pl", "Pr", "Ll", "Lr")
ACQUISITION_MODES = ("sc", "mc")

_NAME = re.compile(r"^(?P<patient>\d{3})_(?P<index>\d+[a-z]\d+)_(?P<location>[A-Za-z]{2})_"
                   r"(?P<mode>[a-z]{2})_(?P<device>[A-Za-z0-9]+)$")


@dataclass(frozen=True)
class RecordingName:
    """The five fields of an ICBHI recording name."""

    patient: int
    recording_index: str
    chest_location: str
    acquisition_mode: str
    device: str

    @property
    def name(self) -> str:
        return (f"{self.patient}_{self.recording_index}_{self.chest_location}_"
                f"{self.acquisition_mode}_{self.device}")

    @property
    def key(self) -> str:
        """The name without its device suffix: what stays fixed when a release renames a device."""
        return self.name.rsplit("_", 1)[0]


def looks_like_recording(stem: str) -> bool:
    """True when ``stem`` has the shape of a recording name (the device is not checked)."""
    return _NAME.match(stem) is not None


def parse_recording_name(stem: str) -> RecordingName:
    """Split a recording name into its fields.

    Raises
    ------
    ValueError
        If the name does not have the ICBHI shape, or names an unknown chest
        location, acquisition mode or device. The message says which part.
    """
    match = _NAME.match(stem)
    if match is None:
        raise ValueError(f"'{stem}' is not an ICBHI recording name (PID_REC_LOC_MODE_DEVICE)")
    fields = match.groupdict()
    if fields["location"] not in CHEST_LOCATIONS:
        raise ValueError(f"'{stem}': unknown chest location '{fields['location']}' (expected one of {', '.join(CHEST_LOCATIONS)})")
    if fields["mode"] not in ACQUISITION_MODES:
        raise ValueError(f"'{stem}': unknown acquisition mode '{fields['mode']}' (expected sc or mc)")
    if fields["device"] not in DEVICES:
        raise ValueError(f"'{stem}': unknown device suffix '{fields['device']}' (expected one of {', '.join(DEVICES)})")
    return RecordingName(patient=int(fields["patient"]), recording_index=fields["index"],
                         chest_location=fields["location"], acquisition_mode=fields["mode"],
                         device=fields["device"])

# The file a synthetic dataset carries beside its recordings, so every result from it says "synthetic".
SYNTHETIC_MARKER = "SYNTHETIC_DATASET.json"
