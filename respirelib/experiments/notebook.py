"""What every numbered notebook shares: where its data comes from, and where its numbers go.

:func:`resolve_notebook_data` is each notebook's first data cell, so that a notebook run alone
(in JupyterLab, ``data_dir=None``) and the same notebook run by the pipeline (which passes
``data_dir``) work on the same dataset, and say which. :func:`record_numbers` writes the JSON
of numbers each notebook ends with, which notebook 07 and the tests read back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from respirelib.data.data_dirs import describe_data_dir
from respirelib.storage import atomic_write_text
from respirelib.training.metrics import json_safe
from respirelib.training.profiles import Profile, profile_data_dir


def resolve_notebook_data(data_dir: str | Path | None, profile: str | Profile, *,
                          trained_run: str | Path | None = None, progress: bool = True) -> Path:
    """The data folder a notebook works on; prints which dataset it is.

    Parameters
    ----------
    data_dir : str or Path or None
        The notebook's ``data_dir`` parameter: used as given (the pipeline always gives one).
    profile : str or Profile
        Without ``data_dir``: the profile's synthetic set
        (:func:`respirelib.training.profiles.profile_data_dir`, its scale and difficulty, seed 0),
        written on first use. The pipeline resolves its default the same way, so both agree.
    trained_run : str or Path or None
        A run directory: without ``data_dir``, the data that run was trained on (its
        ``run.json``) comes before the profile's set (notebooks 06 and 07 look at a trained model).
    progress : bool
        Show a progress bar while writing a synthetic set.
    """
    if data_dir:
        path = Path(data_dir)
    elif trained_run is not None and (Path(trained_run) / "run.json").is_file():
        path = Path(json.loads((Path(trained_run) / "run.json").read_text())["data_dir"])
    else:
        path = Path(profile_data_dir(None, profile, progress=progress))
    print(f"data: {describe_data_dir(path)}")
    return path


def record_numbers(folder: str | Path | None, name: str, numbers: Mapping) -> Path | None:
    """Write a notebook's numbers to ``folder/name`` as JSON, atomically; return the path (None if not written).

    NaN becomes ``null`` and numpy scalars plain numbers (:func:`respirelib.training.metrics.json_safe`);
    anything else JSON cannot hold is written as its text. ``folder`` None (a notebook run alone
    without ``run_dir``) writes nothing and says so.
    """
    if folder is None:
        print(f"run_dir is None: {name} was not written")
        return None
    path = atomic_write_text(Path(folder) / name, json.dumps(json_safe(numbers), indent=2, default=str))
    print("wrote", path)
    return path


def realism_sets(dataset, data_path: str | Path, profile: str | Profile, *, real_dir: str | Path | None = None,
                 synthetic_dir: str | Path | None = None):
    """The real and the synthetic set that notebook 01 compares, or None for the real one with the reason.

    Parameters
    ----------
    dataset : ICBHIDataset
        The notebook's dataset, read from ``data_path``.
    data_path : str or Path
    profile : str or Profile
        Whose synthetic set is the comparison when ``dataset`` is real and no ``synthetic_dir`` is given.
    real_dir, synthetic_dir : str or Path, optional
        The notebook's parameters: with synthetic data, the real recordings come from ``real_dir``
        or :func:`respirelib.data.data_dirs.find_real_audio`; with real data, they are the data itself.

    Returns
    -------
    real : ICBHIDataset or None
    synthetic : ICBHIDataset or None
    note : str
        Where the real audio comes from, or why there is none.
    """
    from respirelib.data.data_dirs import find_real_audio
    from respirelib.data.icbhi import load_icbhi

    real_path = find_real_audio(real_dir) if dataset.is_synthetic else Path(data_path)
    if real_path is None:
        return None, None, ("No real ICBHI audio was found, so there is nothing to compare with. Get the database "
                            "with `respirenet data download` (it lands in `data/ICBHI`, which this notebook finds), "
                            "or set `real_dir` to a folder of real recordings, and run this notebook again.")
    real = dataset if not dataset.is_synthetic else load_icbhi(real_path, errors="skip")
    if not real.has_audio:
        return None, None, f"{real_path} holds no audio (annotation files only): there is nothing to hear or measure."
    synthetic = dataset if dataset.is_synthetic else load_icbhi(profile_data_dir(synthetic_dir, profile),
                                                                 errors="skip")
    return real, synthetic, f"real recordings: {real.data_label} ({real_path})"
