"""Reading audio files, with checks that name the file and the problem.

Every reader returns float32 samples in [-1, 1] mixed down to mono, whatever the
file's channel count or sample format (8/16/24/32-bit integer or float).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from respirelib.errors import AudioError

AUDIO_SUFFIXES = (".wav", ".flac")


@dataclass(frozen=True)
class AudioInfo:
    """What the header of an audio file says, after checking it against the file."""

    path: Path
    sample_rate: int
    frames: int
    channels: int
    subtype: str

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate


def _riff_data_shortfall(path: Path) -> int:
    """Bytes missing from a RIFF/WAVE file's data chunk (0 when complete or not RIFF).

    libsndfile reads a truncated WAV without complaint and simply returns fewer
    frames, so truncation has to be detected by comparing the declared size of
    the ``data`` chunk with what is actually on disk.
    """
    size = path.stat().st_size
    with path.open("rb") as handle:
        header = handle.read(12)
        if len(header) < 12 or header[:4] not in (b"RIFF", b"RIFX") or header[8:12] != b"WAVE":
            return 0
        endian = "<" if header[:4] == b"RIFF" else ">"
        position = 12
        while position + 8 <= size:
            handle.seek(position)
            chunk_id, chunk_size = struct.unpack(endian + "4sI", handle.read(8))
            if chunk_id == b"data":
                if chunk_size == 0xFFFFFFFF:  # streaming writers leave the size open
                    return 0
                return max(0, position + 8 + chunk_size - size)
            position += 8 + chunk_size + (chunk_size & 1)
    return 0


def audio_info(path: str | Path) -> AudioInfo:
    """Read and check an audio file's header without decoding the samples.

    Raises
    ------
    AudioError
        If the file is missing, a folder, not named .wav or .flac, empty, not a readable audio file, truncated
        (its data chunk is shorter than its header declares) or has no samples.
    """
    path = Path(path)
    if path.is_dir():
        raise AudioError(path, f"a folder, not an audio file: name the recordings in it (e.g. {path}/*.wav)")
    if not path.is_file():
        raise AudioError(path, "audio file is missing")
    if path.suffix.lower() not in AUDIO_SUFFIXES:
        raise AudioError(path, f"a {path.suffix or 'suffix-less'} file: only WAV and FLAC recordings are read "
                               "(convert it to one of them first)")
    if path.stat().st_size == 0:
        raise AudioError(path, "audio file is empty (0 bytes)")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as error:
        raise AudioError(path, f"not a readable audio file ({error})") from error
    shortfall = _riff_data_shortfall(path)
    if shortfall:
        raise AudioError(path, f"audio file is truncated: {shortfall} bytes of its data chunk are missing")
    if info.frames <= 0:
        raise AudioError(path, "audio file holds no samples")
    return AudioInfo(path=path, sample_rate=int(info.samplerate), frames=int(info.frames),
                     channels=int(info.channels), subtype=str(info.subtype))


def read_audio(path: str | Path, *, start: float = 0.0, stop: float | None = None) -> tuple[np.ndarray, int]:
    """Load an audio file as mono float32.

    Parameters
    ----------
    path : str or Path
        A WAV or FLAC file, any channel count and sample format.
    start, stop : float
        Optional time range in seconds (``stop=None`` reads to the end).

    Returns
    -------
    y : np.ndarray [shape=(n,), dtype=float32]
        Samples in [-1, 1]; several channels are averaged to one.
    sr : int
        The file's own sample rate (no resampling happens here).

    Raises
    ------
    AudioError
        As :func:`audio_info`, or when the file cannot be decoded or holds samples that
        are not finite (NaN or infinite, possible in a float WAV or FLAC).
    """
    info = audio_info(path)
    first = int(round(start * info.sample_rate))
    last = None if stop is None else int(round(stop * info.sample_rate))
    try:
        samples, sr = sf.read(str(info.path), start=first, stop=last, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as error:
        raise AudioError(info.path, f"could not decode audio ({error})") from error
    finite = np.isfinite(samples).all(axis=1)
    if not finite.all():  # they would turn every feature, loss and prediction into NaN
        frame = int(np.argmin(finite))
        raise AudioError(info.path, f"{int(np.count_nonzero(~finite))} of {len(finite)} samples are not finite "
                                    f"(NaN or infinite), the first at {(first + frame) / sr:.3f} s")
    return samples.mean(axis=1, dtype=np.float32), int(sr)
