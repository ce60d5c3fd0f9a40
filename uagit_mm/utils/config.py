"""Config helpers shared by the tools."""
from typing import Optional, Tuple

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
        loaders = cfg.get(key, None)
        # mmagic's multi-loops take a list of dataloaders
        for loader in loaders if isinstance(loaders, list) else [loaders]:
            if loader is not None and \
                    loader.get('dataset', None) is not None:
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
        if 'val_interval' in options:
            set_val_interval(cfg, options['val_interval'])
        if 'inception_path' in options:
            set_inception_path(cfg, options['inception_path'])
    return cfg


def _metrics(evaluators) -> list:
    """The metric dicts of an evaluator config, a list of them, or a list
    of metric dicts."""
    if evaluators is None:
        return []
    if isinstance(evaluators, dict):
        metrics = evaluators.get('metrics', None)
        if metrics is None:
            return [evaluators] if 'type' in evaluators else []
        return [m for m in (metrics if isinstance(metrics, list)
                            else [metrics]) if isinstance(m, dict)]
    return [m for e in evaluators for m in _metrics(e)]


def set_inception_path(cfg: Config, path: str) -> None:
    """Give every FID/KID metric of ``cfg`` the Inception file ``path``.

    As for ``data_root``: the configs copy the ``inception_path`` variable
    into their metrics when the file is read, so ``--cfg-options
    inception_path=X`` alone would reach none of them.

    Raises:
        ConfigError: the config has no metric that takes an Inception file.
    """
    cfg.inception_path = path
    found = 0
    for key in ('val_evaluator', 'test_evaluator'):
        for metric in _metrics(cfg.get(key, None)):
            if 'inception_path' in metric:
                metric['inception_path'] = path
                found += 1
    if not found:
        raise ConfigError(f'inception_path={path}: this config has no '
                          'FID/KID metric to give it to')


def set_val_interval(cfg: Config, interval) -> None:
    """Validate every ``interval`` iterations (epochs, for epoch-based
    loops) while training, or not at all with 0 / None.

    As for ``data_root``, ``--cfg-options val_interval=N`` alone would only
    change the config's variable; this reaches ``train_cfg`` and, for 0,
    removes the validation loop, its data, its evaluator and the
    best-checkpoint rule that needs them.
    """
    if interval in (None, 0, '0', 'None'):
        cfg.val_interval = 0
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
        checkpoint = cfg.get('default_hooks', {}).get('checkpoint', None)
        if checkpoint is not None:
            checkpoint.save_best = None
        return
    if not (isinstance(interval, int) and interval > 0):
        raise ConfigError(f'val_interval must be a positive integer or 0 '
                          f'(no validation), got {interval!r}')
    if cfg.get('val_cfg') is None or cfg.get('val_dataloader') is None:
        raise ConfigError(f'val_interval={interval}: this config has no '
                          'validation (val_cfg / val_dataloader)')
    cfg.val_interval = interval
    cfg.train_cfg.val_interval = interval


def enable_amp(cfg: Config, dtype: Optional[str] = None,
               device: Optional[str] = None) -> None:
    """Mixed precision for every sub-optimizer wrapper of ``cfg``.

    On a GPU (``device`` 'cuda', or None with CUDA available) the wrappers
    become mmengine's ``AmpOptimWrapper``: ``dtype`` defaults to bfloat16
    where the GPU supports it, else float16, with dynamic loss scaling. On
    the CPU they become :class:`~uagit_mm.engine.AutocastOptimWrapper`:
    bfloat16 autocast without loss scaling (mmengine's wrapper needs a
    GPU). The model stays in the default (NCHW) memory format: channels-last
    made this model slower in bfloat16 on the CPU (its instance norms copy
    the tensors back; ``tools/benchmark.py --variants amp amp-cl``).

    The configs give each wrapper an explicit ``type``; a wrapper without
    one, or of another type, is an error rather than silently left in fp32
    (mmagic's CycleGAN configs hit that).

    Raises:
        ConfigError: a wrapper is not an ``OptimWrapper``, or ``dtype`` is
            not bfloat16 on the CPU.
    """
    import torch
    if device is None:
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    on_gpu = not str(device).startswith('cpu')
    if not on_gpu and dtype not in (None, 'bfloat16'):
        raise ConfigError(f'--amp on the CPU runs in bfloat16, not {dtype}')
    optim = cfg.optim_wrapper
    wrappers = {k: v for k, v in optim.items() if isinstance(v, dict)} \
        if 'constructor' in optim and 'optimizer' not in optim else {
            None: optim}
    amp_types = ('AmpOptimWrapper', 'AutocastOptimWrapper')
    for key, wrapper in wrappers.items():
        kind = wrapper.get('type', None)
        name = 'optim_wrapper' + (f'.{key}' if key else '')
        if kind in amp_types:
            continue
        if kind != 'OptimWrapper':
            raise ConfigError(f'--amp needs {name}.type = OptimWrapper, got '
                              f'{kind!r}')
        if on_gpu:
            wrapper.type = 'AmpOptimWrapper'
            wrapper.setdefault('loss_scale', 'dynamic')
            wrapper.setdefault('dtype', dtype or _default_amp_dtype())
        else:
            wrapper.type = 'AutocastOptimWrapper'
            wrapper.setdefault('dtype', 'bfloat16')


def native_bf16(device: Optional[str] = None) -> Tuple[bool, str]:
    """Whether ``device`` runs bfloat16 autocast natively, and why.

    A GPU does (``enable_amp`` then picks bfloat16 or float16 for it). A
    CPU does when it has the bfloat16 instructions oneDNN's bfloat16
    convolutions are built for: AVX512-BF16 or AMX on x86, the BF16
    extension on Arm. Elsewhere torch still autocasts to bfloat16, but
    through slower kernels: a training iteration of the CPU config took 2x
    the float32 time with oneDNN held to AVX512 without BF16
    (``ONEDNN_MAX_CPU_ISA=AVX512_CORE``) and 13x with AVX2, so
    ``tools/train.py --amp-auto`` keeps float32 there.

    torch has no public query for this; ``torch.cpu`` has private ones
    (``_is_avx512_bf16_supported``, ``_is_amx_tile_supported``), and on Arm
    ``torch.ops.mkldnn._is_mkldnn_bf16_supported`` is true exactly with the
    BF16 extension (on x86 it is true for any AVX512, so it is not used
    there). Missing private functions count as no support.

    Returns:
        tuple: (True or False, a short reason for the log).
    """
    import platform

    import torch
    if device is None:
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if not str(device).startswith('cpu'):
        return True, f'{device}: mixed precision on the GPU'
    machine = platform.machine().lower()
    if machine in ('x86_64', 'amd64', 'i386', 'i686'):
        found = [
            name for name, check in (
                ('AVX512-BF16', '_is_avx512_bf16_supported'),
                ('AMX', '_is_amx_tile_supported'))
            if getattr(torch.cpu, check, lambda: False)()
        ]
    elif machine in ('aarch64', 'arm64'):
        check = getattr(torch.ops.mkldnn, '_is_mkldnn_bf16_supported', None)
        found = ['BF16'] if check is not None and check() else []
    else:
        found = []
    if found:
        return True, f'the CPU has {" and ".join(found)}'
    return False, (f'this {machine} CPU has no native bfloat16 '
                   '(AVX512-BF16, AMX or Arm BF16)')


def _default_amp_dtype() -> str:
    import torch
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return 'bfloat16'
    return 'float16'
