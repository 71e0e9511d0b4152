"""RespireNet Companion: the library behind the notebooks and the ``respirenet`` command.

Importing the package does no work: it only arranges for ``torchvision`` to import
on CPU-only torch builds (see :mod:`respirelib._torchvision_compat`).
"""

from respirelib import _torchvision_compat

__version__ = "0.1.0"

_torchvision_compat.install()
