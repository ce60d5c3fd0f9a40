"""Check that the datasets and the model name the same two domains."""
from typing import Optional, Tuple

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmagic.registry import HOOKS
from uagit_mm.errors import ConfigError


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
class DomainCheckHook(Hook):
    """Stop before training or testing when the dataset's domain names are
    not the model's.

    The dataset packs its images as ``img_<domain_a>``/``img_<domain_b>``;
    the model reads ``img_<d>`` for each of its ``domains``. When they
    differ (say ``--cfg-options model.domains=[horse,zebra]`` without
    changing the dataset) the run would fail at the first batch with a bare
    ``KeyError`` deep inside the model; this hook names the keys to change
    instead.
    """

    priority = 'VERY_HIGH'

    def _check(self, runner, loop, key: str) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        wanted = getattr(model, '_reachable_domains', None)
        dataloader = getattr(loop, 'dataloader', None)
        if wanted is None or dataloader is None:
            return
        got = dataset_domains(dataloader.dataset)
        if got is None or set(got) == set(wanted):
            return
        raise ConfigError(
            f'{key}.dataset names the domains {list(got)} '
            f'({key}.dataset.domain_a / domain_b) but the model translates '
            f'between {list(wanted)} (model.domains). Give both the same two '
            f'names, e.g. --cfg-options "model.domains=[{got[0]},{got[1]}]" '
            f'or set domain_a/domain_b of the datasets.')

    def before_train(self, runner) -> None:
        self._check(runner, runner.train_loop, 'train_dataloader')

    def before_val(self, runner) -> None:
        self._check(runner, runner.val_loop, 'val_dataloader')

    def before_test(self, runner) -> None:
        self._check(runner, runner.test_loop, 'test_dataloader')
