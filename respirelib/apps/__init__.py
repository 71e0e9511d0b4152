"""What a user runs: the ``respirenet`` command, the notebook pipeline, export and predict, benchmarks, JupyterLab.

:mod:`~respirelib.apps.cli` is the command line; :mod:`~respirelib.apps.pipeline` runs the numbered
notebooks with papermill; :mod:`~respirelib.apps.export` and :mod:`~respirelib.apps.predict` carry a
trained model to new recordings; the ``bench*`` modules measure speed and the demo's cost.
"""
