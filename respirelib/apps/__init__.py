"""What a user runs: the ``respirenet`` command, the notebook pipeline, benchmarks, JupyterLab.

Adapters only: the library's functions do the work. :mod:`~respirelib.apps.cli` is the command
line, with the ``cmd_*`` modules for the larger commands; :mod:`~respirelib.apps.pipeline` runs the
numbered notebooks with papermill and :mod:`~respirelib.apps.launch` starts it as ``respirenet
pipeline`` and ``demo`` do; the ``bench*`` modules measure speed and the demo's cost;
:mod:`~respirelib.apps.lab` starts JupyterLab.
"""
