"""Training and measuring: the fit loop, evaluation, the ICBHI metrics, the profiles and what a schedule costs.

:mod:`~respirelib.training.train` fits one stage into the folder it is given, knowing nothing of run
directories, :mod:`~respirelib.training.evaluate` scores a model on a set of inputs,
:mod:`~respirelib.training.metrics` holds the ICBHI scores and their patient-bootstrap intervals,
:mod:`~respirelib.training.profiles` the schedules (paper, quick, smoke) and
:mod:`~respirelib.training.workload` the inputs a schedule processes and timed steps of it. Run
directories, sets of runs and the paper's tables are in :mod:`respirelib.experiments`.
"""
