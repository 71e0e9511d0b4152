"""Where the model looks: Grad-CAM++ maps, their figures, the blank-band study and the explorer.

:mod:`~respirelib.explain.gradcam` computes maps with physical axes (pytorch-grad-cam),
:mod:`~respirelib.explain.cycles` explains the cycles of a trained run and measures the paper's Fig. 3
experiment, :mod:`~respirelib.explain.figures` draws them, and :mod:`~respirelib.explain.explorer` is
notebook 06's interactive widget.
"""
