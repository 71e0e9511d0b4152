"""From recordings to network inputs: pre-processing, fixed-length inputs, augmentation and features.

A recording is resampled to 4 kHz, band-passed and normalised (:mod:`~respirelib.signal.preprocess`),
cut into cycles kept in a cache (:mod:`~respirelib.signal.cache`), padded or windowed to a fixed
length (:mod:`~respirelib.signal.padding`, :mod:`~respirelib.signal.samples`), augmented
(:mod:`~respirelib.signal.concat`, :mod:`~respirelib.signal.augment`) and turned into Mel-spectrogram
images with blank region clipping, batched on the device (:mod:`~respirelib.signal.frontend`).
"""
