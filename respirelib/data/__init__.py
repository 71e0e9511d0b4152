"""The data: reading ICBHI 2017 as released (or a synthetic set in the same layout), and splitting it.

:mod:`~respirelib.data.icbhi` loads a folder into cycles, recordings and patients tables with a
report of what it repaired or skipped; :mod:`~respirelib.data.splits` makes the official 60/40,
patient-disjoint and validation splits; :mod:`~respirelib.data.verify` and
:mod:`~respirelib.data.download` check and fetch the real release, and :mod:`~respirelib.data.synth`
writes the synthetic ICBHI-shaped set every demo and test runs on. Nothing here imports torch.
"""
