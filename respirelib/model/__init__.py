"""The network: RespireNet's ResNet with its head, ImageNet weights from local files, checkpoints.

:mod:`~respirelib.model.network` builds the model, :mod:`~respirelib.model.weights` finds and checks
torchvision's ImageNet files (no download at run time offline), and :mod:`~respirelib.model.checkpoint`
writes and reads atomic checkpoints that carry everything an exact resume needs.
"""
