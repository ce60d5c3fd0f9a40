"""Check the two-phase schedule against the training length before training."""
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import EpochBasedTrainLoop

from mmagic.registry import HOOKS
from uagit_mm.errors import ConfigError


@HOOKS.register_module()
class PhaseScheduleHook(Hook):
    """Refuse a phase switch that would never happen, and announce the plan.

    A ``model.switch_iter`` at or past ``train_cfg.max_iters`` (or
    ``model.switch_epoch`` at or past ``max_epochs``) would silently train
    the whole run in phase 1; this stops before training with a message
    naming the two keys. Models without a schedule are ignored.
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        switch_iter = getattr(model, 'switch_iter', None)
        switch_epoch = getattr(model, 'switch_epoch', None)
        if switch_iter is not None and switch_iter >= runner.max_iters:
            raise ConfigError(
                f'model.switch_iter={switch_iter} is not before the end of '
                f'training (train_cfg.max_iters={runner.max_iters}): phase 2 '
                'would never start. Lower model.switch_iter, or set it to '
                'None for the holistic-discriminator ablation.')
        by_epoch = runner.train_loop.max_epochs if isinstance(
            runner.train_loop, EpochBasedTrainLoop) else None
        if switch_epoch is not None and by_epoch is not None and \
                switch_epoch >= by_epoch:
            raise ConfigError(
                f'model.switch_epoch={switch_epoch} is not before the end of '
                f'training (train_cfg.max_epochs={by_epoch}): phase 2 would '
                'never start. Lower model.switch_epoch, or set it to None '
                'for the holistic-discriminator ablation.')
        if switch_epoch is not None and by_epoch is None:
            raise ConfigError(
                f'model.switch_epoch={switch_epoch} needs an epoch-based '
                'train_cfg; with an iteration-based loop set '
                'model.switch_iter instead (and model.switch_epoch=None).')
        if switch_iter is not None or switch_epoch is not None:
            when = f'iteration {switch_iter}' if switch_iter is not None \
                else f'epoch {switch_epoch} (0-based)'
            print_log(f'UAGIT schedule: phase 2 (attended-region '
                      f'discriminator, frozen attention) from {when}.',
                      logger='current')
        elif hasattr(model, 'attentions'):
            print_log('UAGIT schedule: holistic discriminator throughout '
                      '(no phase 2).', logger='current')
