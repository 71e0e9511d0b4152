"""Figures: plot functions for the data, the signal chain, metrics, results and predictions.

Each function takes plain arrays or tables and returns a matplotlib ``Figure`` labelled with
units; none shows or saves it (:mod:`~respirelib.viz.save` does, for the notebooks). The
Grad-CAM++ figures live with the maps, in :mod:`respirelib.explain.figures`.
"""
