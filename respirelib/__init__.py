"""RespireNet Companion: the library behind the notebooks and the ``respirenet`` command.

The subpackages follow the data's path, each importing only the ones before it:
:mod:`~respirelib.data` (ICBHI folders, splits) → :mod:`~respirelib.signal` (cycles, inputs,
features) → :mod:`~respirelib.model` (the network) → :mod:`~respirelib.training` (fitting,
evaluation, metrics) → :mod:`~respirelib.viz` (figures) → :mod:`~respirelib.explain` (Grad-CAM++) →
:mod:`~respirelib.apps` (the command line, the pipeline, export and predict). The top-level
modules (``config``, ``errors``, ``paper``, ``runs``, ``storage``) are shared by all.

Importing the package does no work: it only arranges for ``torchvision`` to import
on CPU-only torch builds (see :mod:`respirelib._torchvision_compat`).
"""

from respirelib import _torchvision_compat

__version__ = "0.1.0"

_torchvision_compat.install()
