"""FID and KID for translation models from one pass of Inception.

The paper's final table reports KID x 100 (Mejjati et al., NeurIPS 2018,
Table 1); mmagic has FID for translation models (``TransFID``) but no KID.
:class:`TransFIDKID` computes both from the same Inception features: the
real images' features are kept (KID needs them, not just their mean and
covariance) and the generated ones are extracted once.

KID is the unbiased estimate of the squared MMD with the polynomial kernel
``k(x, y) = (x.y / d + 1) ** 3`` (Binkowski et al., ICLR 2018), averaged
over random subsets; reported as mean and standard deviation over subsets.
"""
import os.path as osp
from typing import Optional, Tuple

import numpy as np
import torch

from mmagic.evaluation.metrics import TransFID
from mmagic.registry import METRICS
from uagit_mm.errors import MissingFileError


def polynomial_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased squared MMD of two feature sets with the cubic kernel.

    Args:
        x (ndarray): (m, d) features. y (ndarray): (n, d) features.

    Returns:
        float: ``mean_{i!=j} k(x_i, x_j) + mean_{i!=j} k(y_i, y_j)
        - 2 mean_{i,j} k(x_i, y_j)``.
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    m, n, d = x.shape[0], y.shape[0], x.shape[1]
    if m < 2 or n < 2:
        raise ValueError('KID needs at least 2 samples per set')
    k_xx = (x @ x.T / d + 1)**3
    k_yy = (y @ y.T / d + 1)**3
    k_xy = (x @ y.T / d + 1)**3
    return float((k_xx.sum() - np.trace(k_xx)) / (m * (m - 1)) +
                 (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1)) -
                 2 * k_xy.mean())


def kid_from_features(real: np.ndarray,
                      fake: np.ndarray,
                      num_subsets: int = 100,
                      subset_size: int = 1000,
                      seed: int = 0) -> Tuple[float, float]:
    """KID (mean, std over subsets). Each subset draws ``min(subset_size,
    len(real), len(fake))`` samples without replacement from each set."""
    size = min(subset_size, len(real), len(fake))
    rng = np.random.RandomState(seed)
    values = [
        polynomial_mmd2(real[rng.choice(len(real), size, replace=False)],
                        fake[rng.choice(len(fake), size, replace=False)])
        for _ in range(num_subsets)
    ]
    return float(np.mean(values)), float(np.std(values))


@METRICS.register_module()
class TransFIDKID(TransFID):
    """FID and KID of translated images against the target domain's test set.

    Args:
        fake_nums (int): Translations to evaluate (the source test set size).
        real_key (str): Data-sample key of the target domain's real images,
            e.g. ``'img_zebra'``.
        fake_key (str): Data-sample key of the translations, e.g.
            ``'fake_zebra'``.
        inception_path (str): Local TorchScript Inception file (StyleGAN
            style: ``forward(uint8 NCHW, return_features) -> (N, D)``).
            Nothing is downloaded: a missing file is an error.
        kid_subsets (int): Subsets to average KID over. Defaults to 100.
        kid_subset_size (int): Samples per subset (capped by the set sizes).
            Defaults to 1000.
        sample_model (str): Defaults to 'orig' (no EMA in UAGIT).
        prefix (str, optional): Metric prefix, e.g. 'horse2zebra'.
    """

    def __init__(self,
                 fake_nums: int,
                 real_key: str,
                 fake_key: str,
                 inception_path: Optional[str] = None,
                 kid_subsets: int = 100,
                 kid_subset_size: int = 1000,
                 sample_model: str = 'orig',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        if not inception_path or not osp.isfile(inception_path):
            raise MissingFileError(
                f'Inception file {inception_path!r} not found. FID/KID use '
                'the StyleGAN TorchScript Inception; download it once (the '
                'address is mmagic.evaluation.functional.inception_utils.'
                'TERO_INCEPTION_URL) and set `inception_path` in the config '
                '(see README, "Evaluation").')
        super().__init__(
            fake_nums,
            real_nums=-1,
            inception_style='StyleGAN',
            inception_path=inception_path,
            inception_pkl=None,
            fake_key=fake_key,
            real_key=real_key,
            sample_model=sample_model,
            collect_device=collect_device,
            prefix=prefix)
        self.kid_subsets = kid_subsets
        self.kid_subset_size = kid_subset_size
        self.real_feats: Optional[np.ndarray] = None

    @torch.no_grad()
    def prepare(self, module, dataloader) -> None:
        """Extract the features of every distinct real image, in batches of
        the dataloader's size; kept for later calls with the same images
        (validation during training runs this every few epochs)."""
        self.device = module.data_preprocessor.device
        self.inception.to(self.device)
        seen, images = [], []
        for data in dataloader:
            batch = []
            for sample in data['data_samples']:
                path = sample.metainfo.get(f'{self.real_key}_path', None)
                if path is not None and path in seen:
                    continue  # the shorter domain repeats in the test set
                seen.append(path)
                batch.append(sample.get(self.real_key))
            if batch:
                images.append(batch)
        key = tuple(seen) if None not in seen else None
        if key is not None and key == getattr(self, '_real_key_cache',
                                              None):
            return  # the same real images as last time: features cached
        feats = []
        for batch in images:
            sizes = {tuple(img.shape) for img in batch}
            groups = [batch] if len(sizes) == 1 else [[img]
                                                      for img in batch]
            for group in groups:
                feats.append(
                    self.forward_inception(
                        torch.stack(group).float()).cpu().numpy())
        if sum(len(f) for f in feats) < 2:
            raise ValueError(f'TransFIDKID: fewer than 2 real images under '
                             f'{self.real_key!r}')
        self.real_feats = np.concatenate(feats).astype(np.float64)
        self.real_mean = self.real_feats.mean(0)
        self.real_cov = np.cov(self.real_feats, rowvar=False)
        self._real_key_cache = key

    def compute_metrics(self, fake_results: list) -> dict:
        fake = torch.cat(fake_results, dim=0).cpu().numpy().astype(np.float64)
        fid, _, _ = self._calc_fid(
            fake.mean(0), np.cov(fake, rowvar=False), self.real_mean,
            self.real_cov)
        kid, kid_std = kid_from_features(self.real_feats, fake,
                                         self.kid_subsets,
                                         self.kid_subset_size)
        return {
            'fid': fid,
            'kid_x100': kid * 100,
            'kid_x100_std': kid_std * 100,
            'num_fake': len(fake),
            'num_real': len(self.real_feats)
        }
