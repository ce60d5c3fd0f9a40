"""Does the model translate the object and leave the rest alone?

Measured on test sets with ground-truth object masks (the built-in dataset
writes them to ``testA_mask/`` and ``testB_mask/``). Per direction
``<src>2<tgt>``:

- ``mask_iou``: IoU of the attention thresholded at 0.5 with the object mask
  (models with attention only);
- ``attn_on_object`` / ``attn_off_object``: mean attention over object /
  background pixels (models with attention only): a mask that finds the
  object but stays grey on it (say 0.47 on / 0.003 off) has a poor IoU at
  0.5 for a reason these two show;
- ``bg_change`` / ``fg_change``: mean absolute change ``|s' - s|`` over
  background / object pixels, pixel range [0, 1];
- ``translated``: fraction of images whose object now has the target
  domain's appearance, judged by the built-in dataset's own statistic for
  its kind (``judge``): the stripe statistic of the texture set
  (:func:`uagit_mm.datasets.synthetic.stripe_score`) or the object's mean
  hue on the colour-only set (:func:`~uagit_mm.datasets.synthetic.hue_score`).

and ``mean/mask_iou``, the mean of the directions' ``mask_iou`` (the score
the CPU configs keep their best checkpoint by while training).

Images without a ground-truth mask are skipped, so the metric is harmless on
datasets without masks.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.dist import all_gather_object
from mmengine.evaluator import BaseMetric

from mmagic.registry import METRICS
from ..datasets.synthetic import KINDS, appearance_score
from ..errors import ConfigError
from ..utils import unwrap_model


def _get(sample, key):
    if isinstance(sample, dict):
        return sample.get(key, None)
    return sample.get(key, None) if hasattr(sample, 'get') else None


def _to_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


def image_stats(source: np.ndarray, translated: np.ndarray,
                gt_mask: np.ndarray,
                attention: Optional[np.ndarray] = None) -> Dict[str, float]:
    """Per-image statistics behind the metric.

    Args:
        source (ndarray): Source image, (C, H, W), pixel range [0, 255].
        translated (ndarray): Its translation, (C, H, W), range [0, 255].
        gt_mask (ndarray): Object mask, (H, W) or (1, H, W), object > 0.5.
        attention (ndarray, optional): Attention, (H, W) or (1, H, W), [0, 1].

    Returns:
        dict: ``bg_change``, ``fg_change`` (NaN where the region is empty)
        and, with ``attention``, ``mask_iou`` (1.0 when both are empty),
        ``attn_on_object`` and ``attn_off_object`` (mean attention over
        the object / background, NaN where the region is empty).
    """
    obj = gt_mask.reshape(gt_mask.shape[-2:]) > 0.5
    diff = np.abs(translated.astype(np.float64) -
                  source.astype(np.float64)).mean(axis=0) / 255.0
    stats = {
        'bg_change': float(diff[~obj].mean()) if (~obj).any() else np.nan,
        'fg_change': float(diff[obj].mean()) if obj.any() else np.nan,
    }
    if attention is not None:
        soft = attention.reshape(attention.shape[-2:]).astype(np.float64)
        stats['attn_on_object'] = float(soft[obj].mean()) \
            if obj.any() else np.nan
        stats['attn_off_object'] = float(soft[~obj].mean()) \
            if (~obj).any() else np.nan
        att = soft > 0.5
        union = np.logical_or(att, obj).sum()
        inter = np.logical_and(att, obj).sum()
        stats['mask_iou'] = float(inter / union) if union else 1.0
    return stats


@METRICS.register_module()
class AttentionTranslationMetric(BaseMetric):
    """Mask IoU, background/foreground change and translation success.

    Reads, for each test sample and direction ``src -> tgt``: the source
    image ``img_<src>``, the translation ``fake_<tgt>``, the attention
    ``attention_<src>`` (optional) and the ground-truth mask
    ``gt_mask_<src>`` (from :class:`~uagit_mm.datasets.LoadUnpairedMasks`).
    Works with mmengine's ``TestLoop`` and mmagic's ``MultiTestLoop``.

    Args:
        domains (Sequence[str], optional): The two domains; defaults to the
            model's.
        appearance (dict, optional): Maps each domain to the built-in
            dataset's domain, 'A' or 'B', to report ``translated``; None
            skips it.
        judge (str): Which kind of built-in set ``appearance`` refers to,
            and so how ``translated`` is judged: 'texture' (smooth A vs
            striped B, by the stripe statistic) or 'hue' (red-orange A vs
            violet B, by the object's mean hue). Defaults to 'texture'.
        channel_order (str): Channel order of the images in the samples
            ('BGR' as mmagic loads them, or 'RGB').
        prefix (str, optional): Metric name prefix. Defaults to 'attn'.
        collect_device (str): Where results are gathered across ranks.
    """
    SAMPLER_MODE = 'normal'
    sample_model = 'orig'
    default_prefix = 'attn'

    def __init__(self,
                 domains: Optional[Sequence[str]] = None,
                 appearance: Optional[Dict[str, str]] = None,
                 judge: str = 'texture',
                 channel_order: str = 'BGR',
                 prefix: Optional[str] = None,
                 collect_device: str = 'cpu') -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if channel_order not in ('BGR', 'RGB'):
            raise ConfigError("AttentionTranslationMetric: channel_order must "
                              f"be 'BGR' or 'RGB', got {channel_order!r}")
        if appearance is not None and not set(appearance.values()) <= {
                'A', 'B'}:
            raise ConfigError('AttentionTranslationMetric: appearance values '
                              f"must be 'A' or 'B', got {appearance}")
        if judge not in KINDS:
            raise ConfigError('AttentionTranslationMetric: judge must be one '
                              f'of {KINDS}, got {judge!r}')
        self.domains = list(domains) if domains is not None else None
        self.appearance = dict(appearance) if appearance else None
        self.channel_order = channel_order
        self.judge = judge

    # mmagic's MultiTestLoop / Evaluator interface
    def prepare(self, module, dataloader) -> None:
        """Take the domain names from the model when not configured."""
        if self.domains is None:
            self.domains = list(unwrap_model(module)._reachable_domains)

    def get_metric_sampler(self, model, dataloader, metrics):
        """Use the test dataloader as it is."""
        return dataloader

    @staticmethod
    def _infer_domains(sample) -> Optional[List[str]]:
        keys = sample.keys() if hasattr(sample, 'keys') else []
        fakes = sorted(k[len('fake_'):] for k in keys
                       if k.startswith('fake_'))
        return fakes if len(fakes) == 2 else None

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            if self.domains is None:
                # mmengine's TestLoop does not call prepare(): the two
                # translations fake_<domain> name the domains
                self.domains = self._infer_domains(sample)
                if self.domains is None:
                    continue
            result = {}
            for src in self.domains:
                tgt = [d for d in self.domains if d != src][0]
                gt = _get(sample, f'gt_mask_{src}')
                real = _get(sample, f'img_{src}')
                fake = _get(sample, f'fake_{tgt}')
                if gt is None or real is None or fake is None:
                    continue
                attn = _get(sample, f'attention_{src}')
                real, fake, gt = _to_numpy(real), _to_numpy(fake), _to_numpy(
                    gt)
                stats = image_stats(real, fake, gt, None if attn is None else
                                    _to_numpy(attn))
                if self.appearance is not None:
                    rgb = np.clip(fake, 0, 255).round().astype(np.uint8)
                    rgb = rgb.transpose(1, 2, 0)
                    if self.channel_order == 'BGR':
                        rgb = rgb[..., ::-1]
                    obj = (gt.reshape(gt.shape[-2:]) > 0.5)
                    like_b = appearance_score(rgb, obj, self.judge) > 0.5
                    want_b = self.appearance[tgt] == 'B'
                    stats['translated'] = float(like_b == want_b)
                result[f'{src}2{tgt}'] = stats
            # one entry per sample (empty without masks): mmengine
            # interleaves the processes' results and cuts at the shortest
            self.results.append(result)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        metrics = {}
        for direction in sorted({k for r in results for k in r}):
            rows = [r[direction] for r in results if direction in r]
            for key in sorted({k for row in rows for k in row}):
                values = [row[key] for row in rows if key in row]
                values = [v for v in values if not np.isnan(v)]
                if values:
                    metrics[f'{direction}/{key}'] = float(np.mean(values))
            metrics[f'{direction}/num_images'] = len(rows)
        # one score for both directions, e.g. to keep the best checkpoint
        # while training (``save_best='attn/mean/mask_iou'``)
        ious = [v for k, v in metrics.items() if k.endswith('/mask_iou')]
        if ious:
            metrics['mean/mask_iou'] = float(np.mean(ious))
        return metrics

    def evaluate(self, size: Optional[int] = None) -> dict:
        """Compute the metrics over all processes' samples; ``size`` (the
        dataset length) is counted when not given (mmagic's MultiTestLoop
        calls this without it)."""
        if size is None:
            size = sum(all_gather_object(len(self.results)))
        return super().evaluate(size)
