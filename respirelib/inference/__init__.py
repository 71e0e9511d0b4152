"""Using a trained model: one self-contained model file, its model card, and predictions on new recordings.

:mod:`~respirelib.inference.export` writes a run directory as one model file and loads it back
without running code; :mod:`~respirelib.inference.model_card` writes the card that travels with it;
:mod:`~respirelib.inference.predict` classifies the cycles (or sliding windows) of any WAV or FLAC
recording with it, building the inputs exactly as evaluation does. The ``respirenet export`` and
``predict`` commands (:mod:`respirelib.apps`) are thin adapters around these functions.
"""
