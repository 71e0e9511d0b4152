"""From waveforms to network inputs, batched on the model's device.

:class:`FeatureFrontend` chains the Mel spectrogram (:class:`TorchMelFrontend`),
optional blank region clipping, the 3-channel image (colormap or replication, and
resize) and the channel normalisation, so one call turns a ``(batch, n)`` waveform
tensor into a ``(batch, 3, H, W)`` image tensor on CPU or GPU.
"""

from __future__ import annotations

import torch

from respirelib.signal.clipping import blank_cut_batch, blank_rows_batch, clip_rows_batch
from respirelib.config import FeatureConfig
from respirelib.signal.features import TorchMelFrontend, spectrogram_to_image

# The backbone is ImageNet-initialised, so its inputs are standardised with ImageNet's
# channel statistics. The reference code instead computes statistics on its augmented
# training set; fixed statistics keep runs comparable and need no extra pass.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class FeatureFrontend(torch.nn.Module):
    """Waveforms ``(batch, n)`` to normalised images ``(batch, 3, H, W)``.

    Parameters
    ----------
    config : FeatureConfig
    clip_blank : bool
        Apply blank region clipping to every spectrogram (a no-op where no top rows are blank).
    reference_off_by_one : bool
        Clip as the reference code does (always one row more).
    """

    def __init__(self, config: FeatureConfig = FeatureConfig(), *, clip_blank: bool = True,
                 reference_off_by_one: bool = False):
        super().__init__()
        self.config = config
        self.clip_blank = clip_blank
        self.reference_off_by_one = reference_off_by_one
        self.mel = TorchMelFrontend(config)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN))
        self.register_buffer("std", torch.tensor(IMAGENET_STD))

    def spectrogram(self, wave: torch.Tensor, *, clip: bool | None = None,
                    cut: torch.Tensor | None = None) -> torch.Tensor:
        """Scaled Mel spectrogram [shape=(batch, n_mels, n_frames)], clipped if asked (default: as configured).

        ``cut`` (from :meth:`blank_cut`) fixes how many top rows each sample loses, instead of
        deciding it on ``wave`` itself: training decides on the un-augmented input.
        """
        db = self.mel.db(wave)
        spec = self.mel.scale(db)
        if self.clip_blank if clip is None else clip:
            if cut is None:
                cut = self._cut(db)
            spec = clip_rows_batch(spec, cut)
        return spec

    def _cut(self, db: torch.Tensor) -> torch.Tensor:
        # The threshold (10/255) is read on the scale FeatureConfig.blank_level names, whatever the
        # network's own scaling: the paper's is a grey level of the min-max scale.
        scaled = self.mel.standardize(db) if self.config.blank_level == "mean" else self.mel.minmax(db)
        return blank_cut_batch(scaled, reference_off_by_one=self.reference_off_by_one)

    @torch.no_grad()
    def blank_cut(self, wave: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
        """Top rows blank region clipping cuts from each input [shape=(batch,), int64], in batches."""
        cuts = [self._cut(self.mel.db(wave[start:start + batch_size])) for start in range(0, len(wave), batch_size)]
        return torch.cat(cuts) if cuts else torch.zeros(0, dtype=torch.int64, device=wave.device)

    def unclipped(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """From one Mel pass: the scaled spectrogram before clipping [shape=(batch, n_mels, n_frames)], the
        rows blank region clipping cuts from it [shape=(batch,)] and its blank rows by the paper's rule
        (:meth:`blank_rows`) [shape=(batch,)], for figures that show the input before and after clipping."""
        db = self.mel.db(wave)
        return self.mel.scale(db), self._cut(db), blank_rows_batch(self.mel.minmax(db))

    def blank_rows(self, wave: torch.Tensor) -> torch.Tensor:
        """Number of blank top rows of each sample's spectrogram [shape=(batch,)], by the paper's rule
        (the min-max scale, whatever ``blank_level``: the statistic of the paper's Fig. 3)."""
        return blank_rows_batch(self.mel.minmax(self.mel.db(wave)))

    def image(self, spec: torch.Tensor) -> torch.Tensor:
        """Normalised 3-channel image of scaled spectrograms [shape=(batch, 3, H, W)]."""
        return spectrogram_to_image(spec, config=self.config, normalize=(self.mean, self.std))

    def forward(self, wave: torch.Tensor, *, clip: bool | None = None,
                cut: torch.Tensor | None = None) -> torch.Tensor:
        return self.image(self.spectrogram(wave, clip=clip, cut=cut))
