"""Config helpers shared by the tools."""
from typing import Optional

from mmengine.config import Config

from uagit_mm.errors import ConfigError, MissingFileError

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def set_data_root(cfg: Config, data_root: str) -> None:
    """Point every dataloader of ``cfg`` at ``data_root``.

    mmengine resolves config variables when the file is read, so
    ``--cfg-options data_root=X`` alone would change only the top-level
    variable; the tools call this to make it reach the datasets too.
    """
    cfg.data_root = data_root
    for key in DATALOADERS:
        loader = cfg.get(key, None)
        if loader is not None and loader.get('dataset', None) is not None:
            loader.dataset.data_root = data_root


def load_config(path: str, options: Optional[dict] = None) -> Config:
    """Read a config, apply ``--cfg-options`` and propagate ``data_root``.

    Raises:
        FileNotFoundError: ``path`` does not exist (named in the message).
    """
    import os.path as osp
    if not osp.isfile(path):
        raise MissingFileError(f'config file {path} does not exist')
    cfg = Config.fromfile(path)
    if options:
        cfg.merge_from_dict(options)
        if 'data_root' in options:
            set_data_root(cfg, options['data_root'])
    return cfg


def enable_amp(cfg: Config, dtype: Optional[str] = None) -> None:
    """Switch every sub-optimizer wrapper of ``cfg`` to ``AmpOptimWrapper``.

    ``dtype`` defaults to bfloat16 where this machine's GPU supports it (no
    loss scaling needed), else float16 with dynamic loss scaling.

    The configs give each wrapper an explicit ``type``; a wrapper without
    one, or of another type, is an error rather than silently left in fp32
    (mmagic's CycleGAN configs hit that).
    """
    optim = cfg.optim_wrapper
    wrappers = {k: v for k, v in optim.items() if isinstance(v, dict)} \
        if 'constructor' in optim and 'optimizer' not in optim else {
            None: optim}
    for key, wrapper in wrappers.items():
        kind = wrapper.get('type', None)
        name = 'optim_wrapper' + (f'.{key}' if key else '')
        if kind == 'AmpOptimWrapper':
            continue
        if kind != 'OptimWrapper':
            raise ConfigError(f'--amp needs {name}.type = OptimWrapper, got '
                              f'{kind!r}')
        wrapper.type = 'AmpOptimWrapper'
        wrapper.setdefault('loss_scale', 'dynamic')
        wrapper.setdefault('dtype', dtype or _default_amp_dtype())


def _default_amp_dtype() -> str:
    import torch
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return 'bfloat16'
    return 'float16'
