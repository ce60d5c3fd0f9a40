"""Warn when an attention map collapses to all-zero or all-one."""
from typing import Dict, Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmagic.registry import HOOKS
from uagit_mm.errors import ConfigError

ADVICE = ('Knobs to try: a smaller cycle weight '
          '(model.cycle_loss.loss_weight; the paper uses 10, one port needed '
          '1), a different threshold tau (model.threshold), or '
          'a later switch to the masked discriminator '
          '(model.switch_epoch / model.switch_iter) so the attention trains '
          'longer before it is frozen.')


@HOOKS.register_module()
class AttentionCollapseHook(Hook):
    """Watch each domain's mean attention and warn when it collapses.

    Reads ``mask_mean_<domain>`` from the training step's log variables.
    When it stays below ``low`` (all-zero: nothing is translated) or above
    ``high`` (all-one: the whole image is translated, background included)
    for ``patience`` consecutive iterations, logs one warning naming the
    domain and the knobs to try; it warns again only after the mask has
    recovered and collapsed anew.

    Args:
        patience (int): Consecutive iterations before warning.
            Defaults to 200.
        low (float): Mean attention below this counts as all-zero.
            Defaults to 0.02.
        high (float): Mean attention above this counts as all-one.
            Defaults to 0.98.
    """

    priority = 'BELOW_NORMAL'

    def __init__(self, patience: int = 200, low: float = 0.02,
                 high: float = 0.98) -> None:
        if patience < 1 or not 0.0 <= low < high <= 1.0:
            raise ConfigError('AttentionCollapseHook: need patience >= 1 and '
                              f'0 <= low < high <= 1, got {patience}, {low}, '
                              f'{high}')
        self.patience = patience
        self.low = low
        self.high = high
        self._runs: Dict[str, list] = {}

    def _state(self, mean: float) -> Optional[str]:
        if mean < self.low:
            return 'all-zero'
        if mean > self.high:
            return 'all-one'
        return None

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        for key, value in (outputs or {}).items():
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
                    f'iteration {runner.iter + 1}. {ADVICE}',
                    logger='current', level=30)
