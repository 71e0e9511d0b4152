"""Training and measuring: the fit loop, evaluation, the ICBHI metrics, runs, studies and their tables.

:mod:`~respirelib.training.train` fits one stage, :mod:`~respirelib.training.experiment` turns that into
run directories (train, fine-tune per device, evaluate), :mod:`~respirelib.training.metrics` holds the
ICBHI scores and their patient-bootstrap intervals, :mod:`~respirelib.training.study` the paper's
experiments over splits and seeds, and :mod:`~respirelib.training.results` the tables of a pipeline run.
"""
