"""Settings that would fail late, checked before training or testing."""
import os.path as osp
from typing import Optional, Tuple

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop

from mmagic.registry import HOOKS
from ...errors import ConfigError
from ...utils import unwrap_model


def dataset_domains(dataset) -> Optional[Tuple[str, str]]:
    """The two domain names a dataset produces (``img_<name>`` keys), or
    None when it does not say (then nothing is checked)."""
    while hasattr(dataset, 'dataset'):  # RepeatDataset, ClassBalanced...
        dataset = dataset.dataset
    if hasattr(dataset, 'datasets'):  # ConcatDataset: the first one
        return dataset_domains(dataset.datasets[0])
    names = getattr(dataset, 'domain_names', None)  # UnpairedFolderDataset
    if names is None and hasattr(dataset, 'domain_a'):
        names = (dataset.domain_a, dataset.domain_b)  # mmagic's datasets
    return tuple(names) if names is not None else None


@HOOKS.register_module()
class RunCheckHook(Hook):
    """Stop before the run, with a message naming the keys to change, when

    - the datasets' domain names are not the model's (``model.domains`` vs
      ``<x>_dataloader.dataset.domain_a/domain_b``): the run would otherwise
      fail at the first batch with a bare ``KeyError`` deep in the model;
    - the phase switch (``model.switch_iter`` / ``model.switch_epoch``) lies
      at or past the end of training, or ``switch_epoch`` is set for an
      iteration-based loop: the whole run would silently stay in phase 1.

    Before training it also logs when phase 2 starts and whether (and why
    not) validation runs. Models without
    domains or a phase schedule are not checked.
    """

    priority = 'VERY_HIGH'

    def _check_domains(self, runner, loop, key: str) -> None:
        wanted = getattr(unwrap_model(runner.model), '_reachable_domains',
                         None)
        dataloader = getattr(loop, 'dataloader', None)
        got = dataset_domains(dataloader.dataset) if dataloader else None
        if wanted is None or got is None or set(got) == set(wanted):
            return
        raise ConfigError(
            f'{key}.dataset names the domains {list(got)} '
            f'({key}.dataset.domain_a / domain_b) but the model translates '
            f'between {list(wanted)} (model.domains). Give both the same two '
            f'names, e.g. --cfg-options "model.domains=[{got[0]},{got[1]}]" '
            f'or set domain_a/domain_b of the datasets.')

    def _check_schedule(self, runner) -> None:
        schedule = getattr(unwrap_model(runner.model), 'schedule', None)
        if schedule is None:
            return
        switch_iter, switch_epoch = schedule.switch_iter, schedule.switch_epoch
        max_epochs = runner.train_loop.max_epochs if isinstance(
            runner.train_loop, EpochBasedTrainLoop) else None
        later = ('phase 2 would never start. Lower model.{}, or set it to '
                 'None for the holistic-discriminator ablation.')
        if switch_iter is not None and switch_iter >= runner.max_iters:
            raise ConfigError(
                f'model.switch_iter={switch_iter} is not before the end of '
                f'training (train_cfg.max_iters={runner.max_iters}): ' +
                later.format('switch_iter'))
        if switch_epoch is not None and max_epochs is None:
            raise ConfigError(
                f'model.switch_epoch={switch_epoch} needs an epoch-based '
                'train_cfg; with an iteration-based loop set '
                'model.switch_iter instead (and model.switch_epoch=None).')
        if switch_epoch is not None and switch_epoch >= max_epochs:
            raise ConfigError(
                f'model.switch_epoch={switch_epoch} is not before the end of '
                f'training (train_cfg.max_epochs={max_epochs}): ' +
                later.format('switch_epoch'))
        if switch_iter is None and switch_epoch is None:
            print_log('UAGIT schedule: holistic discriminator throughout '
                      '(no phase 2).', logger='current')
            return
        when = f'iteration {switch_iter}' if switch_iter is not None \
            else f'epoch {switch_epoch} (0-based)'
        print_log(f'UAGIT schedule: phase 2 (attended-region '
                  f'discriminator, frozen attention) from {when}.',
                  logger='current')

    def before_train(self, runner) -> None:
        self._check_domains(runner, runner.train_loop, 'train_dataloader')
        self._check_schedule(runner)
        self._report_validation(runner)

    @staticmethod
    def _report_validation(runner) -> None:
        """Say whether validation runs while training, and why not."""
        cfg = getattr(runner, 'cfg', None)
        if cfg is None:
            return
        if cfg.get('val_dataloader') is not None:
            interval = cfg.get('train_cfg', {}).get('val_interval', 1)
            unit = 'epoch(s)' if isinstance(runner.train_loop,
                                            EpochBasedTrainLoop) else \
                'iteration(s)'
            print_log(f'Validation every {interval} {unit} '
                      '(--cfg-options val_interval=0 switches it off).',
                      logger='current')
            return
        inception = cfg.get('inception_path', None)
        if inception and cfg.get('val_interval', None) == 0 and \
                not osp.isfile(inception):
            print_log(
                f'No validation while training: the Inception file '
                f'{inception} that FID/KID need is missing '
                '(docs/evaluation.md); the best checkpoint is not kept.',
                logger='current', level=30)

    def before_val(self, runner) -> None:
        self._check_domains(runner, runner.val_loop, 'val_dataloader')

    def before_test(self, runner) -> None:
        self._check_domains(runner, runner.test_loop, 'test_dataloader')
