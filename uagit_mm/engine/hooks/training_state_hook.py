"""Checkpoint what mmengine leaves out, so that a resumed run continues
exactly as the interrupted one would have."""
from typing import List, Optional

import torch.distributed as torch_dist
from mmengine.dist import get_rank, get_world_size, is_distributed
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from mmagic.registry import HOOKS
from uagit_mm.utils.rng import get_rng_state, set_rng_state

#: checkpoint key of the saved state
KEY = 'uagit_training_state'


class _RestoreAfterSkip:
    """Stands in for ``IterBasedTrainLoop.dataloader_iterator`` on resume.

    The loop first draws (and drops) the batches trained before the
    checkpoint; with ``num_workers=0`` their random transforms use this
    process's generators. The saved states are therefore set after those
    draws, right before the first new batch, and the loop gets its own
    iterator back.
    """

    def __init__(self, loop, skip: int, state: dict) -> None:
        self.loop, self.inner = loop, loop.dataloader_iterator
        self.skip, self.state = skip, state

    def __iter__(self):
        return self

    def __next__(self):
        if self.skip > 0:
            self.skip -= 1
            return next(self.inner)
        set_rng_state(self.state)
        self.loop.dataloader_iterator = self.inner
        return next(self.inner)


@HOOKS.register_module()
class TrainingStateHook(Hook):
    """Save the random generators and image pools of every process in each
    checkpoint; restore them on ``--resume``.

    mmengine's checkpoints hold weights, optimizers, schedulers and the
    message hub. A resumed run with a fixed seed still drifts from the
    uninterrupted one: its random generators restart from the seed, and the
    image pools (50 fakes per direction, with their masks) start empty.
    This hook stores, per process, the states of Python's ``random``,
    numpy, torch (and CUDA) and the model's ``image_pools`` under
    ``checkpoint['uagit_training_state']`` (tensors and builtins only, so
    the file still loads with ``weights_only=True``), and puts them back
    when the run resumes (not when a checkpoint is loaded with
    ``load_from`` or for testing).

    Exactness: an iteration-based loop replays the trained batches before it
    continues (mmengine's ``IterBasedTrainLoop``), so with the restored
    states the next losses equal those of an uninterrupted run for any
    ``num_workers``. An epoch-based loop resumes at the start of the epoch
    after the checkpoint; its persistent dataloader workers would start
    there with fresh generators, so this hook first draws the finished
    epochs' data once more (as the iteration-based loop does). Epoch-based
    runs resumed from a checkpoint written inside an epoch restart that
    epoch (mmengine's behaviour) and are not exact.

    The states are collected on every process just before the
    ``CheckpointHook`` saves (this hook runs first); a checkpoint saved at
    another moment carries the states of the saving process only.
    Validation runs between iterations do not disturb the training
    generators (the states are put back after validation), so a run with
    validation draws the same training randomness as one without.

    Args:
        save_image_pools (bool): Also store the image pools (about 1 MB
            per pooled 256x256 fake with its mask, in float32). Defaults to
            True.
        replay_epochs (bool): On resuming an epoch-based run with
            persistent workers, replay the finished epochs' data. Defaults
            to True.
    """

    priority = 'LOW'  # before CheckpointHook (VERY_LOW) in after_train_*

    def __init__(self, save_image_pools: bool = True,
                 replay_epochs: bool = True) -> None:
        self.save_image_pools = save_image_pools
        self.replay_epochs = replay_epochs
        self._gathered: Optional[tuple] = None  # (iter, [state per rank])
        self._val_state: Optional[dict] = None
        self._pending: Optional[dict] = None
        self._group = None
        self._ckpt_hooks: List[CheckpointHook] = []

    # ------------------------------------------------------------------
    # collection
    @staticmethod
    def _model(runner):
        return runner.model.module if is_model_wrapper(
            runner.model) else runner.model

    def _local_state(self, runner) -> dict:
        state = dict(rng=get_rng_state())
        pools = getattr(self._model(runner), 'image_pools', None)
        if self.save_image_pools and pools:
            state['image_pools'] = {d: p.state_dict() for d, p in
                                    pools.items()}
        return state

    def before_train(self, runner) -> None:
        self._ckpt_hooks = [h for h in runner.hooks
                            if isinstance(h, CheckpointHook)]
        # A gloo group to gather the states on rank 0 (NCCL has no
        # gather_object); every rank creates it here, at the same time.
        if is_distributed() and self._group is None:
            backend = torch_dist.get_backend()
            self._group = torch_dist.new_group(
                backend='gloo') if backend != 'gloo' else \
                torch_dist.group.WORLD

    def _gather(self, runner) -> None:
        local = self._local_state(runner)
        if not is_distributed():
            states = [local]
        else:
            states = [None] * get_world_size() if get_rank() == 0 else None
            torch_dist.gather_object(local, states, dst=0, group=self._group)
        self._gathered = (runner.iter, states)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        for hook in self._ckpt_hooks:
            if not hook.by_epoch and (
                    hook.every_n_train_iters(runner, hook.interval,
                                             hook.save_begin) or
                    (hook.save_last and hook.is_last_train_iter(runner))):
                self._gather(runner)
                return

    def after_train_epoch(self, runner) -> None:
        for hook in self._ckpt_hooks:
            if hook.by_epoch and (
                    hook.every_n_epochs(runner, hook.interval,
                                        hook.save_begin) or
                    (hook.save_last and hook.is_last_train_epoch(runner))):
                self._gather(runner)
                return

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # runs on the saving process (rank 0) only
        if self._gathered is not None and self._gathered[0] == runner.iter:
            states = self._gathered[1]
        else:
            states = [self._local_state(runner)]
        checkpoint[KEY] = dict(
            world_size=len(states),
            rng=[s['rng'] for s in states],
            image_pools=[s.get('image_pools') for s in states])

    # ------------------------------------------------------------------
    # restoring
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not getattr(runner, '_resume', False):
            return  # load_from / testing: weights only
        saved = checkpoint.get(KEY)
        if saved is None:
            print_log(
                'The checkpoint has no random generator states or image '
                'pools (written without TrainingStateHook): the resumed '
                'run starts them afresh.', logger='current', level=30)
            return
        world, rank = get_world_size(), get_rank()
        if saved['world_size'] != world:
            print_log(
                f"The checkpoint was written by {saved['world_size']} "
                f'process(es), this run has {world}: random generator '
                'states and image pools start afresh.', logger='current',
                level=30)
            return
        pools = saved['image_pools'][rank]
        model = self._model(runner)
        if pools and getattr(model, 'image_pools', None):
            device = next(model.parameters()).device
            for domain, pool in model.image_pools.items():
                if domain in pools:
                    pool.load_state_dict(pools[domain], device=device)
        self._pending = saved['rng'][rank]

    def before_train_epoch(self, runner) -> None:
        if self._pending is None:
            return
        loop = runner.train_loop
        if isinstance(loop, IterBasedTrainLoop) and loop.iter > 0:
            # the loop replays loop.iter batches first
            loop.dataloader_iterator = _RestoreAfterSkip(
                loop, loop.iter, self._pending)
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
        persistent dataloader workers reach the random state they had when
        the checkpoint was written; what mmengine's iteration-based loop
        does on resume. Workers that are not persistent restart from the
        same seeds every epoch, so there is nothing to replay."""
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
            'checkpoint (TrainingStateHook(replay_epochs=False) skips '
            'this).', logger='current')
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
