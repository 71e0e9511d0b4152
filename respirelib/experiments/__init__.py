"""Experiments: run directories, sets of runs and the paper's tables, built on the trainer of ``training``.

:mod:`~respirelib.experiments.run` owns the life of one run directory (train, fine-tune per device,
evaluate, diagnose, load), :mod:`~respirelib.experiments.variants` names the runs of the paper's
experiments, :mod:`~respirelib.experiments.study` trains and collects sets of them,
:mod:`~respirelib.experiments.tables` turns them into Tables I-III and the optimism table,
:mod:`~respirelib.experiments.progress` plans a pipeline's runs, :mod:`~respirelib.experiments.provenance`
assembles every record of where a number came from, and :mod:`~respirelib.experiments.notebook` is what every
numbered notebook shares (its data, its numbers).
"""
