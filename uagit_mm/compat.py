"""Fixes that let mmagic 1.2.0 run on the stack pinned in ``requirements/``.

Imported by :mod:`uagit_mm` before anything touches mmagic. Each fix first
checks that the problem is really present, so the module is a no-op on a stack
where upstream has fixed it (for example with a full mmcv build, fix 2 does
nothing). docs/design.md lists them ("The compatibility fixes").

1. ``np.bool8`` was removed in numpy 2; ``mmagic/utils/trans_utils.py`` uses it
   at import time.
2. ``import mmagic.models`` imports ``mmcv.ops`` (BasicVSR++, EDVR, TDAN,
   StyleGAN), which needs the compiled ``mmcv._ext``; mmcv-lite has none.
3. ``mmagic.models.utils.generation_init_weights`` raises ``UnboundLocalError``
   for modules that are neither conv nor batch-norm (ReLU, InstanceNorm) when
   the Runner records init info (open-mmlab/mmagic#2109).
4. mmengine's ``--launcher pytorch`` calls ``torch.cuda.set_device`` even on
   a machine without a GPU, so multi-process CPU training (gloo) cannot
   start, and the Runner gives DDP GPU ``device_ids``; without CUDA the
   process group is set up with 'gloo' in place of 'nccl' and no device ids.
5. mmagic 1.2's ``Inferencers`` has no extension point for a plugin's
   inferencer (:func:`_dispatch_registered_inferencers`).

One runtime seam (not a fix, and not applied at import):
:func:`replay_then_restore` is the only place the package writes an
attribute of a host object while a run is going: the iteration-based train
loop's ``dataloader_iterator``, swapped for one resume (see its docstring).
:func:`check_loop_seam` checks at import that mmengine's loop still draws
from that attribute.

Not patched: torch >= 2.6 loads checkpoints with ``weights_only=True`` and
mmengine checkpoints hold the message hub (``HistoryBuffer``, numpy arrays).
uagit_mm's own runs write checkpoints that need no unpickling
(:class:`uagit_mm.engine.SafeCheckpointHook`) and load them through
:class:`uagit_mm.engine.UAGITRunner`; mmengine's loaders are untouched.
"""
import importlib
import importlib.machinery
import importlib.util
import sys
import types
from collections import defaultdict
from typing import Callable, List

import numpy as np

APPLIED: List[str] = []


def _fix_numpy_bool8() -> None:
    """Fix 1: alias the removed ``np.bool8`` to ``np.bool_`` (numpy >= 2)."""
    try:
        np.bool8  # noqa: B018
    except AttributeError:
        np.bool8 = np.bool_
        APPLIED.append('numpy.bool8 alias')


class _MissingMMCVOps(types.ModuleType):
    """Stand-in for ``mmcv._ext`` when mmcv has no compiled ops (mmcv-lite).

    Importing ``mmcv.ops`` only checks that the op names exist; calling one
    raises an error that says what is missing instead of crashing the import.
    """

    def __getattr__(self, name: str) -> Callable:
        if name.startswith('__'):
            raise AttributeError(name)

        def _unavailable(*args, **kwargs):
            raise RuntimeError(
                f'mmcv op `{name}` needs the compiled mmcv extension, but '
                'this environment has mmcv-lite. uagit_mm does not use '
                'compiled ops; install a full mmcv 2.1 build if another '
                'mmagic model needs them.')

        _unavailable.__name__ = name
        return _unavailable


def _fix_mmcv_ext() -> None:
    """Fix 2: a placeholder ``mmcv._ext`` when the real one is missing.

    The placeholder carries a real ``__spec__`` (with no loader) so that
    ``mmengine.utils.mmcv_full_available()`` answers ``False`` instead of
    raising ``ValueError: mmcv._ext.__spec__ is None``.
    """
    if 'mmcv._ext' in sys.modules:
        return
    if importlib.util.find_spec('mmcv') is None:
        return
    try:
        importlib.import_module('mmcv._ext')
        return  # a full mmcv build: nothing to fix
    except ImportError:
        pass
    module = _MissingMMCVOps('mmcv._ext')
    module.__spec__ = importlib.machinery.ModuleSpec('mmcv._ext', None)
    sys.modules['mmcv._ext'] = module
    APPLIED.append('mmcv._ext placeholder (mmcv-lite)')


def _generation_init_weights(module, init_type='normal', init_gain=0.02):
    """Drop-in replacement for mmagic's ``generation_init_weights``.

    Same initialisation (normal / xavier / kaiming / orthogonal for conv and
    linear weights with zero bias, N(1, gain) for batch-norm weights), but the
    init info is recorded only for layers that were initialised, which is
    what mmagic 1.2.0 gets wrong (open-mmlab/mmagic#2109).
    """
    from mmengine.model import (kaiming_init, normal_init, update_init_info,
                                xavier_init)
    from torch.nn import init

    def init_func(m):
        classname = m.__class__.__name__
        info = None
        if hasattr(m, 'weight') and ('Conv' in classname
                                     or 'Linear' in classname):
            if init_type == 'normal':
                normal_init(m, 0.0, init_gain)
            elif init_type == 'xavier':
                xavier_init(m, gain=init_gain, distribution='normal')
            elif init_type == 'kaiming':
                kaiming_init(m, a=0, mode='fan_in',
                             nonlinearity='leaky_relu', distribution='normal')
            elif init_type == 'orthogonal':
                init.orthogonal_(m.weight, gain=init_gain)
                if getattr(m, 'bias', None) is not None:
                    init.constant_(m.bias.data, 0.0)
            else:
                raise NotImplementedError(
                    f"Initialization method '{init_type}' is not implemented")
            info = f"Initialize {classname} by 'init_type' {init_type}."
        elif 'BatchNorm2d' in classname:
            normal_init(m, 1.0, init_gain)
            info = (f'{classname} is BatchNorm2d, initialize by Norm '
                    f'initialization with mean=1, std={init_gain}')
        if info is not None and hasattr(m, '_params_init_info'):
            update_init_info(m, info)

    module.apply(init_func)


def _init_weights_is_broken(fn: Callable) -> bool:
    """Whether ``fn`` shows the mmagic#2109 crash on a ReLU."""
    import torch.nn as nn
    probe = nn.Sequential(nn.Conv2d(1, 1, 1), nn.ReLU())
    info = defaultdict(dict)
    for p in probe.parameters():
        info[p]['init_info'] = ''
        info[p]['tmp_mean_value'] = p.data.mean()
    for m in probe.modules():
        m._params_init_info = info
    try:
        fn(probe)
    except UnboundLocalError:
        return True
    return False


def _fix_generation_init_weights() -> None:
    """Fix 3: replace mmagic's init function wherever it was imported."""
    utils = importlib.import_module('mmagic.models.utils')
    original = getattr(utils, 'generation_init_weights', None)
    if original is None or not _init_weights_is_broken(original):
        return
    for name, mod in list(sys.modules.items()):
        if name.startswith('mmagic') and \
                getattr(mod, 'generation_init_weights', None) is original:
            setattr(mod, 'generation_init_weights', _generation_init_weights)
    APPLIED.append('mmagic generation_init_weights (mmagic#2109)')


def _fix_cpu_pytorch_launcher() -> None:
    """Fix 4: let ``--launcher pytorch`` start on a machine without CUDA."""
    import torch
    if torch.cuda.is_available():
        return
    from mmengine.dist import utils as dist_utils
    original = dist_utils._init_dist_pytorch
    if getattr(original, '_uagit_cpu', False):
        return

    def init_dist_pytorch(backend, init_backend='torch', **kwargs):
        import torch.distributed as torch_dist
        if init_backend != 'torch':
            return original(backend, init_backend=init_backend, **kwargs)
        if backend == 'nccl':
            backend = 'gloo'  # nccl needs GPUs
        torch_dist.init_process_group(backend=backend, **kwargs)

    init_dist_pytorch._uagit_cpu = True
    dist_utils._init_dist_pytorch = init_dist_pytorch

    # the Runner also passes device_ids=[LOCAL_RANK], which DDP refuses for
    # CPU modules
    from mmengine.model import MMSeparateDistributedDataParallel as Sep
    sep_init = Sep.__init__

    def separate_init(self, *args, **kwargs):
        kwargs.pop('device_ids', None)
        sep_init(self, *args, **kwargs)

    Sep.__init__ = separate_init
    APPLIED.append('CPU-only pytorch launcher (gloo)')


def _dispatch_registered_inferencers() -> None:
    """Fix 5: let ``MMagicInferencer`` build inferencers registered in
    mmengine's ``INFERENCERS`` registry, for task names mmagic does not know.

    Not a bug but a missing extension point: mmagic 1.2's ``Inferencers``
    maps task names to its own classes in a hard-coded if/elif chain and
    raises ``ValueError('Unknown inferencer task: ...')`` for any other
    name, so a plugin's inferencer cannot be reached through
    ``MMagicInferencer(model_name=...)`` without this. Swapped in only where
    ``MMagicInferencer`` looks the name up (``mmagic.apis.mmagic_inferencer``)
    is a subclass that runs mmagic's own code unchanged and, only when that
    refuses the task as unknown, builds the class registered under the
    task's name (uagit_mm registers ``'Attention-guided Image2Image'``, the
    task of model name ``'uagit'``). Every built-in task, ``'translation'``
    included, gets mmagic's classes exactly as before. Skipped where mmagic
    has an inferencer registry of its own.
    """
    from mmengine.registry import INFERENCERS

    import mmagic.registry
    from mmagic.apis import mmagic_inferencer
    if hasattr(mmagic.registry, 'INFERENCERS'):
        return  # upstream dispatches through a registry: nothing to add
    stock = mmagic_inferencer.Inferencers
    if getattr(stock, 'consults_registry', False):
        return  # already done

    class Inferencers(stock):
        __doc__ = stock.__doc__
        consults_registry = True

        def __init__(self, task=None, config=None, ckpt=None, device=None,
                     extra_parameters=None, seed=2022) -> None:
            try:
                super().__init__(task, config, ckpt, device,
                                 extra_parameters, seed=seed)
                return
            except ValueError as err:
                registered = INFERENCERS.get(task) if isinstance(
                    task, str) else None
                if registered is None or \
                        str(err) != f'Unknown inferencer task: {task}':
                    raise
            self.task = task
            self.inferencer = registered(
                config, ckpt, device, extra_parameters, seed=seed)

    mmagic_inferencer.Inferencers = Inferencers
    APPLIED.append('mmagic Inferencers: registered tasks (no extension '
                   'point in mmagic 1.2)')


class _ReplayThenRestore:
    """Stands in for ``IterBasedTrainLoop.dataloader_iterator`` during one
    resume: the loop first draws (and drops) the batches trained before the
    checkpoint; right before the first new batch ``on_first_new_batch`` runs
    (the hook restores the random states there) and the loop gets its own
    iterator back."""

    def __init__(self, loop, skip: int, on_first_new_batch: Callable) -> None:
        self.loop, self.inner = loop, loop.dataloader_iterator
        self.skip, self.on_first_new_batch = skip, on_first_new_batch

    def __iter__(self):
        return self

    def __next__(self):
        if self.skip > 0:
            self.skip -= 1
            return next(self.inner)
        self.on_first_new_batch()
        self.loop.dataloader_iterator = self.inner
        return next(self.inner)


def check_loop_seam(loop_cls=None) -> None:
    """Raise ImportError unless ``loop_cls`` (mmengine's
    ``IterBasedTrainLoop``) makes ``self.dataloader_iterator`` in
    ``__init__`` and draws every batch, the skipped ones of a resume
    included, with ``next(self.dataloader_iterator)`` in ``run``: what
    :func:`replay_then_restore` relies on. Without this, a renamed attribute
    would make the swap do nothing and resumes silently inexact."""
    import inspect
    if loop_cls is None:
        from mmengine.runner import IterBasedTrainLoop as loop_cls
    try:
        init = inspect.getsource(loop_cls.__init__)
        run = inspect.getsource(loop_cls.run)
    except (OSError, TypeError):
        init = run = ''
    if 'self.dataloader_iterator =' not in init or \
            'next(self.dataloader_iterator)' not in run:
        import mmengine
        raise ImportError(
            f'uagit_mm: mmengine {mmengine.__version__} '
            f'{loop_cls.__name__} no longer draws its batches from '
            'self.dataloader_iterator, which exact resume swaps '
            '(uagit_mm.compat.replay_then_restore). Install the mmengine '
            'version of requirements/runtime.txt (0.10.7).')


def replay_then_restore(loop, skip: int,
                        on_first_new_batch: Callable) -> None:
    """The seam through which :class:`uagit_mm.engine.SafeCheckpointHook`
    resumes an iteration-based run exactly.

    mmengine's ``IterBasedTrainLoop.run`` replays ``loop.iter`` batches from
    ``loop.dataloader_iterator`` after ``before_train_epoch`` and offers no
    hook between the replayed and the first new batch, which is where the
    saved random states must be set (the replay draws with this process's
    generators when ``num_workers=0``). So for this one resume the loop's
    iterator is wrapped: ``skip`` batches pass through, then
    ``on_first_new_batch()`` runs and the loop's own iterator is put back;
    nothing of the host stays changed once the first new batch is drawn.
    """
    loop.dataloader_iterator = _ReplayThenRestore(loop, skip,
                                                  on_first_new_batch)


def apply_before_mmagic() -> None:
    """Fixes that must run before mmagic is imported (1 and 2)."""
    _fix_numpy_bool8()
    _fix_mmcv_ext()


def apply_after_mmagic() -> None:
    """Fixes that patch already-imported code (3, 4 and 5)."""
    _fix_generation_init_weights()
    _fix_cpu_pytorch_launcher()
    _dispatch_registered_inferencers()


apply_before_mmagic()
