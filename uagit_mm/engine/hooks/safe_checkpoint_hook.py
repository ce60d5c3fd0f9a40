"""mmengine's CheckpointHook, writing checkpoints that load with
``torch.load(weights_only=True)`` and that resume exactly."""
import os.path as osp
from typing import Any, Optional

import numpy as np
import torch
import torch.distributed as torch_dist
from mmengine.dist import (get_rank, get_world_size, is_distributed,
                           is_main_process)
from mmengine.hooks import CheckpointHook
from mmengine.logging import HistoryBuffer, print_log
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop
from mmengine.runner.checkpoint import get_state_dict, weights_to_cpu
from mmengine.utils import apply_to

from mmagic.registry import HOOKS
from ...compat import check_loop_seam, replay_then_restore
from ...fileio import BACKEND_ARGS, atomic_backend
from ...utils import get_rng_state, set_rng_state, unwrap_model

#: The private methods of mmengine's CheckpointHook that SafeCheckpointHook
#: overrides, with the parameters it relies on (mmengine 0.10). Checked at
#: import: if mmengine renames one or changes its parameters, the override
#: would silently stop being called (or be called wrongly), so importing
#: uagit_mm fails instead, naming the method.
HOST_METHODS = {
    '_save_checkpoint_with_step': ['self', 'runner', 'step', 'meta'],
    '_save_best_checkpoint': ['self', 'runner', 'metrics'],
}


def check_host_methods(host=CheckpointHook, expected=HOST_METHODS) -> None:
    """Raise ImportError when ``host`` lacks one of ``expected``'s methods
    or its parameters differ."""
    import inspect
    for name, params in expected.items():
        method = getattr(host, name, None)
        got = None if method is None else list(
            inspect.signature(method).parameters)
        if got != params:
            import mmengine
            raise ImportError(
                f'uagit_mm: mmengine {mmengine.__version__} '
                f'{host.__name__}.{name} is '
                + ('missing' if got is None else f'({", ".join(got)})') +
                f'; SafeCheckpointHook overrides it as ({", ".join(params)})'
                '. Install the mmengine version of requirements/runtime.txt '
                '(0.10.7).')


check_host_methods()
check_loop_seam()

_TAG = '__uagit_history_buffer__'
#: checkpoint key of the random generator states and image pools
KEY = 'uagit_training_state'


def _to_plain(value: Any) -> Any:
    """Turn HistoryBuffers and numpy values into tensors / builtins."""
    if isinstance(value, HistoryBuffer):
        log, count = value.data
        return {
            _TAG: True,
            'log': torch.from_numpy(np.asarray(log, dtype=np.float64)),
            'count': torch.from_numpy(np.asarray(count, dtype=np.float64)),
            'max_length': int(value.max_length),
        }
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return type(value)((k, _to_plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_to_plain(v) for v in value)
    return value


def _from_plain(value: Any) -> Any:
    """Inverse of :func:`_to_plain` for the HistoryBuffers."""
    if isinstance(value, dict):
        if value.get(_TAG):
            # .cpu(): a resume on a GPU maps the checkpoint to the GPU
            return HistoryBuffer(value['log'].cpu().tolist(),
                                 value['count'].cpu().tolist(),
                                 value['max_length'])
        return type(value)((k, _from_plain(v)) for k, v in value.items())
    return value


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """``CheckpointHook`` for exact, safe resumes; set it as
    ``default_hooks.checkpoint.type``. mmengine decides when to save; this
    class changes what is saved and how:

    - **Loadable without unpickling code.** mmengine stores the message hub
      as ``HistoryBuffer`` objects holding numpy arrays, which
      ``torch.load(weights_only=True)`` (the default since torch 2.6)
      refuses; they are stored as plain dicts of tensors and turned back on
      load. The weights are saved from the unwrapped model, so a
      distributed run's checkpoint has the keys of a single-process one.
    - **Exact resume.** In its save path (on every process, so the states
      are gathered from all ranks onto rank 0 through a gloo group) it
      stores each process's random generators (Python, numpy, torch, CUDA)
      and the model's ``image_pools`` (fakes with their masks) under
      ``checkpoint['uagit_training_state']``, and puts them back on
      ``--resume`` (not for ``load_from`` or testing), right before the
      first new batch: after the batches mmengine's ``IterBasedTrainLoop``
      replays, and for epoch-based loops after replaying the finished
      epochs' data so persistent workers continue their augmentation stream
      (``replay_epochs=False`` skips that). Epoch-based runs resumed from a
      checkpoint written inside an epoch restart that epoch (mmengine's
      behaviour) and are not exact. Validation leaves the training
      generators untouched.
    - **Atomic writes, nothing good deleted.** ``backend_args`` defaults to
      the ``atomic_local`` backend (:mod:`uagit_mm.fileio`): a killed run or
      a full disk never leaves a truncated file under a checkpoint name.
      Checkpoints beyond ``max_keep_ckpts`` and the previous best checkpoint
      are removed only after the new one is in place (mmengine removes them
      first), and ``last_checkpoint`` is written atomically.
    - **Best checkpoints by a combined score.** A ``save_best`` key
      ``mean/<name>`` that no metric gives is the mean of the metrics'
      ``<prefix>/<name>`` values (the paper configs keep the best mean
      ``kid_x100`` of both directions). Best-checkpoint paths of a work dir
      that was moved since are found under their names in the new place.

    Args:
        save_image_pools (bool): Store the image pools (about 1 MB per
            pooled 256x256 fake with its mask, float32). Defaults to True.
        replay_epochs (bool): See above. Defaults to True.
        **kwargs: Passed to mmengine's ``CheckpointHook``.
    """

    def __init__(self, save_image_pools: bool = True,
                 replay_epochs: bool = True, **kwargs) -> None:
        if kwargs.get('backend_args') is None and \
                kwargs.get('file_client_args') is None:
            kwargs['backend_args'] = dict(BACKEND_ARGS)
        super().__init__(**kwargs)
        self.save_image_pools = save_image_pools
        self.replay_epochs = replay_epochs
        self._gathered: Optional[tuple] = None  # (iter, [state per rank])
        self._pending: Optional[dict] = None
        self._val_state: Optional[dict] = None
        self._group = None

    # ------------------------------------------------------------------
    # saving
    def before_train(self, runner) -> None:
        super().before_train(runner)
        # a work dir moved or copied since the checkpoint: the best
        # checkpoints it names live here now, under the same names
        best = getattr(self, 'best_ckpt_path', None)
        if best and not osp.exists(best):
            self.best_ckpt_path = osp.join(self.out_dir, osp.basename(best))
        for key, path in (getattr(self, 'best_ckpt_path_dict', None)
                          or {}).items():
            if path and not osp.exists(path):
                self.best_ckpt_path_dict[key] = osp.join(
                    self.out_dir, osp.basename(path))
        # a gloo group to gather the states on rank 0 (NCCL has no
        # gather_object); every rank creates it here, at the same time
        if is_distributed() and self._group is None:
            self._group = torch_dist.new_group(backend='gloo') \
                if torch_dist.get_backend() != 'gloo' else \
                torch_dist.group.WORLD

    def _local_state(self, runner) -> dict:
        state = dict(rng=get_rng_state())
        pools = getattr(unwrap_model(runner.model), 'image_pools', None)
        if self.save_image_pools and pools:
            state['image_pools'] = {d: p.state_dict()
                                    for d, p in pools.items()}
        return state

    def _save_checkpoint_with_step(self, runner, step, meta):
        """mmengine's save with two changes: every process's states are
        gathered first (this runs on every process; ``save_checkpoint`` on
        rank 0 only), and checkpoints beyond ``max_keep_ckpts`` are removed
        only *after* the new one is in place, and ``last_checkpoint`` is
        written atomically. (mmengine removes the oldest first, so a run
        killed or out of disk during the save of ``max_keep_ckpts=1`` had no
        checkpoint left; it writes ``last_checkpoint`` with a plain
        ``open``.)"""
        local = self._local_state(runner)
        states = [local]
        if is_distributed():
            states = [None] * get_world_size() if get_rank() == 0 else None
            torch_dist.gather_object(local, states, dst=0, group=self._group)
        self._gathered = (runner.iter, states)

        outdated = []
        if self.max_keep_ckpts > 0 and not (
                self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            # (a deque of maxlen max_keep_ckpts: make room first)
            while len(self.keep_ckpt_ids) >= self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        atomic_backend().put_text(
            self.last_ckpt, osp.join(runner.work_dir, 'last_checkpoint'))
        for old in outdated:  # the new checkpoint is safely in place
            path = self.file_backend.join_path(self.out_dir,
                                               self.filename_tmpl.format(old))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)

    def after_val_epoch(self, runner, metrics) -> None:
        """Fill ``mean/<name>`` save-best keys the metrics do not give
        themselves with the mean of every ``<prefix>/<name>`` (e.g.
        ``mean/kid_x100`` over both directions), then save as mmengine."""
        if self.save_best and metrics:
            for key in self.key_indicators:
                if key in metrics or not key.startswith('mean/'):
                    continue
                name = key[len('mean/'):]
                values = [
                    v for k, v in metrics.items()
                    if k.endswith('/' + name) and not k.startswith('mean/')
                ]
                if values:
                    metrics[key] = float(np.mean(values))
        super().after_val_epoch(runner, metrics)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        """mmengine's, except that the previous best checkpoint is removed
        after the new one is written, not before."""
        if not self.save_best:
            return
        single, many = getattr(self, 'best_ckpt_path', None), dict(
            getattr(self, 'best_ckpt_path_dict', {}) or {})
        # with no previous path mmengine has nothing to remove
        self.best_ckpt_path = None
        for key in many:
            self.best_ckpt_path_dict[key] = None
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            replaced = []
            if self.best_ckpt_path is None:
                self.best_ckpt_path = single
            elif single and single != self.best_ckpt_path:
                replaced.append(single)
            for key, old in many.items():
                if self.best_ckpt_path_dict.get(key) is None:
                    self.best_ckpt_path_dict[key] = old
                elif old and old != self.best_ckpt_path_dict[key]:
                    replaced.append(old)
        if is_main_process():
            for path in replaced:
                if self.file_backend.isfile(path):
                    self.file_backend.remove(path)
                    runner.logger.info(
                        f'The previous best checkpoint {path} is removed')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'state_dict' in checkpoint:
            checkpoint['state_dict'] = weights_to_cpu(
                get_state_dict(unwrap_model(runner.model)))
        for key in ('message_hub', 'meta'):
            if key in checkpoint:
                checkpoint[key] = _to_plain(checkpoint[key])
        states = self._gathered[1] if self._gathered is not None and \
            self._gathered[0] == runner.iter else [self._local_state(runner)]
        checkpoint[KEY] = dict(
            world_size=len(states),
            rng=[s['rng'] for s in states],
            image_pools=[s.get('image_pools') for s in states])

    # ------------------------------------------------------------------
    # loading and resuming
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = _from_plain(checkpoint['message_hub'])
        if not getattr(runner, '_resume', False):
            return  # load_from / testing: weights only
        saved = checkpoint.get(KEY)
        world, rank = get_world_size(), get_rank()
        if saved is None or saved['world_size'] != world:
            why = 'has none' if saved is None else \
                f"was written by {saved['world_size']} process(es), this " \
                f'run has {world}'
            print_log(
                f'Random generator states and image pools start afresh: the '
                f'checkpoint {why}.', logger='current', level=30)
            return
        model = unwrap_model(runner.model)
        pools = saved['image_pools'][rank]
        if pools and getattr(model, 'image_pools', None):
            device = next(model.parameters()).device
            for domain, pool in model.image_pools.items():
                if domain in pools:
                    pool.load_state_dict(pools[domain], device=device)
        # on a GPU the checkpoint is mapped there; random states are CPU
        self._pending = apply_to(saved['rng'][rank], torch.is_tensor,
                                 lambda t: t.cpu())

    def before_train_epoch(self, runner) -> None:
        if self._pending is None:
            return
        loop = runner.train_loop
        if isinstance(loop, IterBasedTrainLoop) and loop.iter > 0:
            # the loop replays loop.iter batches first; the states are set
            # right before the first new one (the documented seam)
            state = self._pending
            replay_then_restore(loop, loop.iter,
                                lambda: set_rng_state(state))
        else:
            if isinstance(loop, EpochBasedTrainLoop) and loop.epoch > 0 \
                    and self.replay_epochs:
                self._replay_epochs(loop)
            set_rng_state(self._pending)
        self._pending = None
        print_log('Restored the random generator states and image pools of '
                  'the checkpoint.', logger='current')

    @staticmethod
    def _replay_epochs(loop) -> None:
        """Draw the finished epochs' data once more (and drop it), so that
        persistent workers reach the random state they had at the
        checkpoint, as mmengine's iteration-based loop does on resume.
        Workers that are not persistent restart from the same seeds every
        epoch: nothing to replay."""
        dataloader = loop.dataloader
        if not (getattr(dataloader, 'persistent_workers', False)
                and getattr(dataloader, 'num_workers', 0) > 0):
            return
        sampler = dataloader.sampler if hasattr(
            dataloader.sampler, 'set_epoch') else getattr(
                dataloader.batch_sampler, 'sampler', None)
        print_log(
            f'Replaying the data of {loop.epoch} finished epoch(s) so that '
            'the persistent dataloader workers continue as before the '
            'checkpoint (replay_epochs=False skips this).', logger='current')
        for epoch in range(loop.epoch):
            if hasattr(sampler, 'set_epoch'):
                sampler.set_epoch(epoch)
            for _ in dataloader:
                pass
        if hasattr(sampler, 'set_epoch'):
            sampler.set_epoch(loop.epoch)

    # ------------------------------------------------------------------
    # validation leaves the training generators where they were
    def before_val(self, runner) -> None:
        self._val_state = get_rng_state()

    def after_val(self, runner) -> None:
        if self._val_state is not None:
            set_rng_state(self._val_state)
            self._val_state = None
