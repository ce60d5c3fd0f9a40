"""Warn when an attention map collapses to all-zero or all-one, or is
still grey (or empty, or full) when the phase switch freezes it."""
from collections import deque
from typing import Deque, Dict, Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmagic.registry import HOOKS
from uagit_mm.errors import ConfigError

ADVICE = ('Knobs to try: {knobs}a smaller cycle weight '
          '(model.cycle_loss.loss_weight; the paper uses 10, one port needed '
          '1), a different threshold tau (model.threshold), or '
          'a later switch to the masked discriminator '
          '(model.switch_epoch / model.switch_iter) so the attention trains '
          'longer before it is frozen.')
# what opened the masks on the animals on real photographs (docs/results.md,
# "Real photographs"; horse2zebra at 64 px, four runs)
CLOSED_KNOBS = ('model.cycle_trains_attention=False with model.warmup (e.g. '
                'dict(iters=<half the switch>, mask=1.0)) and model.area_cost '
                '(e.g. 0.3): the generators first train on whole images, the '
                'cycle loss (exactly 0 for a closed mask) no longer trains '
                'the attention, and each attended pixel has a price; none is '
                'in the paper, configs/uagit_cpu_1xb1-3000iters_horse2zebra64'
                '.py uses all three; ')

GREY_ADVICE = ('The attention networks are frozen from here on, so this mask '
               'stays soft: translations are part blend, and masks '
               'thresholded at 0.5 miss the object. Knobs to try: '
               'model.sharpness (a penalty on a(1 - a) ramped in before the '
               'switch, e.g. dict(weight=2.0, begin=<40% of the switch>, '
               'end=<50%>); not in the paper; in docs/results.md\'s table it '
               'took the colour-only set\'s masks from 0.6-0.7 to 0.87-0.90 '
               'on the object), a later switch (model.switch_epoch / '
               'model.switch_iter), a lower threshold tau (model.threshold), '
               'model.freeze_attention=False, or, experimental, '
               'model.binary_mask_from (random binary masks in the training '
               'composite; in the pilot of docs/results.md it made the masks '
               'worse).')


@HOOKS.register_module()
class AttentionCollapseHook(Hook):
    """Watch each domain's mean attention and warn when it collapses.

    Reads ``mask_mean_<domain>`` from the training step's log variables.
    When it stays below ``low`` (all-zero: nothing is translated) or above
    ``high`` (all-one: the whole image is translated, background included)
    for ``patience`` consecutive iterations, logs one warning naming the
    domain and the knobs to try; it warns again only after the mask has
    recovered and collapsed anew.

    It also watches the masks' sharpness (``mask_inside_<domain>``, the
    mean attention above tau, and ``mask_grey_<domain>``, the share of those
    pixels in (0.2, 0.8)) over the last ``window`` iterations, and at the
    switch to phase 2 (``phase`` going from 1 to 2), where the attention is
    frozen, warns once per domain whose mask is all-zero or all-one there
    (its mean over the window beyond ``low`` / ``high``; said as such,
    never as grey) or else still grey: inside mean below ``min_inside`` or
    grey share above ``max_grey``. Iterations of the warm-up
    (``model.warmup``, logged as ``warmup`` = 1), whose constant mask is
    all-one by design, are not counted as a collapse.

    Args:
        patience (int): Consecutive iterations before warning.
            Defaults to 200.
        low (float): Mean attention below this counts as all-zero.
            Defaults to 0.02.
        high (float): Mean attention above this counts as all-one.
            Defaults to 0.98.
        window (int): Iterations averaged for the sharpness check.
            Defaults to 50.
        min_inside (float): A mean attention above tau below this is
            grey. Defaults to 0.8.
        max_grey (float): A grey share above this is grey. Defaults to 0.3.
    """

    priority = 'BELOW_NORMAL'

    def __init__(self, patience: int = 200, low: float = 0.02,
                 high: float = 0.98, window: int = 50,
                 min_inside: float = 0.8, max_grey: float = 0.3) -> None:
        if patience < 1 or not 0.0 <= low < high <= 1.0:
            raise ConfigError('AttentionCollapseHook: need patience >= 1 and '
                              f'0 <= low < high <= 1, got {patience}, {low}, '
                              f'{high}')
        if window < 1 or not (0.0 <= min_inside <= 1.0
                              and 0.0 <= max_grey <= 1.0):
            raise ConfigError('AttentionCollapseHook: need window >= 1 and '
                              'min_inside, max_grey in [0, 1], got '
                              f'{window}, {min_inside}, {max_grey}')
        self.patience = patience
        self.low = low
        self.high = high
        self.window = window
        self.min_inside = min_inside
        self.max_grey = max_grey
        self._runs: Dict[str, list] = {}
        self._sharpness: Dict[str, Deque] = {}
        self._phase: Optional[float] = None

    def _state(self, mean: float) -> Optional[str]:
        if mean < self.low:
            return 'all-zero'
        if mean > self.high:
            return 'all-one'
        return None

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        outputs = outputs or {}
        self._check_sharpness(runner, outputs)
        if float(outputs.get('warmup', 0.0)) == 1.0:
            return  # a constant mask by design (model.warmup)
        for key, value in outputs.items():
            if not key.startswith('mask_mean_'):
                continue
            domain = key[len('mask_mean_'):]
            mean = float(value)
            state = self._state(mean)
            run = self._runs.setdefault(domain, [None, 0])
            run[1] = run[1] + 1 if state is not None and state == run[0] \
                else (1 if state is not None else 0)
            run[0] = state
            if state is not None and run[1] == self.patience:
                print_log(
                    f"Attention of domain '{domain}' has been {state} (mean "
                    f'{mean:.3f}) for {self.patience} iterations, up to '
                    f'iteration {runner.iter + 1}. ' + ADVICE.format(
                        knobs=CLOSED_KNOBS if state == 'all-zero' else ''),
                    logger='current', level=30)

    def _check_sharpness(self, runner, outputs: dict) -> None:
        """Collect the sharpness of phase-1 masks; warn about grey ones at
        the switch to phase 2."""
        phase = outputs.get('phase', None)
        phase = None if phase is None else float(phase)
        switched = self._phase == 1.0 and phase == 2.0
        if phase is not None:
            self._phase = phase
        if switched:
            for domain, hist in sorted(self._sharpness.items()):
                inside = sum(h[0] for h in hist) / len(hist)
                grey = sum(h[1] for h in hist) / len(hist)
                means = [h[2] for h in hist if h[2] is not None]
                mean = sum(means) / len(means) if means else None
                state = None if mean is None else self._state(mean)
                if state is not None:
                    # an empty (or full) mask is not grey: say what it is
                    print_log(
                        f"Attention of domain '{domain}' is {state} at the "
                        'switch to phase 2 (iteration '
                        f'{runner.iter + 1}): its mean over the last '
                        f'{len(means)} iterations was {mean:.3f}, and the '
                        'attention networks are frozen from here on, so '
                        + ('nothing will be translated. '
                           if state == 'all-zero' else
                           'the whole image, background included, will be '
                           'translated. ') + ADVICE.format(
                               knobs=CLOSED_KNOBS
                               if state == 'all-zero' else ''),
                        logger='current', level=30)
                elif inside < self.min_inside or grey > self.max_grey:
                    print_log(
                        f"Attention of domain '{domain}' is still grey at the "
                        'switch to phase 2 (iteration '
                        f'{runner.iter + 1}): over the last {len(hist)} '
                        'iterations its mean attention above tau was '
                        f'{inside:.2f} and {grey:.0%} of those pixels lay in '
                        f'(0.2, 0.8). {GREY_ADVICE}',
                        logger='current', level=30)
            return
        if phase != 1.0:
            return
        for key, value in outputs.items():
            if key.startswith('mask_inside_'):
                domain = key[len('mask_inside_'):]
                grey = outputs.get(f'mask_grey_{domain}', None)
                mean = outputs.get(f'mask_mean_{domain}', None)
                if grey is not None:
                    self._sharpness.setdefault(
                        domain, deque(maxlen=self.window)).append(
                            (float(value), float(grey),
                             None if mean is None else float(mean)))
