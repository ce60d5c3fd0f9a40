"""SIGKILL a real training process, resume it, and check that it goes on
exactly as a run that was never interrupted."""
import glob
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import tempfile
import time
from unittest import TestCase

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'uagit_cpu_1xb1-2500iters_synthetic64.py')
MAX_ITERS = 30
SWITCH = 16  # phase 2 starts after the kill: the resumed run crosses it


def tiny_options(data, num_workers, length=f'train_cfg.max_iters={MAX_ITERS}'):
    return [
        '--cfg-options', f'data_root={data}', length,
        'model.generator.base_channels=8', 'model.generator.num_blocks=1',
        'model.discriminator.base_channels=8',
        'model.attention.base_channels=4', f'model.switch_iter={SWITCH}',
        'model.sharpness.weight=0',  # its ramp starts after the switch
        # a small pool so that it fills up and swaps before the kill
        'model.buffer_size=4',
        f'train_dataloader.num_workers={num_workers}',
        f'train_dataloader.persistent_workers={int(num_workers > 0)}',
        # the learning rate decays over the second half
        f'param_scheduler.0.begin={MAX_ITERS // 2}',
        f'param_scheduler.0.end={MAX_ITERS}',
        'default_hooks.logger.interval=1', 'log_processor.window_size=1',
        'default_hooks.checkpoint.interval=5',
        'default_hooks.checkpoint.max_keep_ckpts=-1',
        'custom_hooks.1.interval=1000', 'randomness.seed=7',
        # validation (and best checkpoints) on: it must not change training
        'val_interval=3'
    ]


def logged_steps(work_dir):
    """{iteration: scalars} from every run in ``work_dir`` (later runs
    overwrite earlier ones; validation scalars join their iteration's)."""
    steps = {}
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                          'scalars.json'))):
        with open(path) as f:
            for line in f:
                entry = json.loads(line)
                # validation entries give the iteration as 'step'
                it = entry['iter'] if 'iter' in entry else entry['step']
                steps.setdefault(it, {}).update(entry)
    return steps


class TestKillAndResume(TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.data = osp.join(cls.tmp.name, 'data')
        proc = subprocess.run(
            [sys.executable, 'tools/make_synthetic_dataset.py', cls.data,
             '--size', '32', '--num-train', '6', '--num-test', '2'],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def train(self, work, opts, resume=False, config=CONFIG):
        cmd = [sys.executable, 'tools/train.py', config, '--work-dir', work]
        proc = subprocess.run(cmd + (['--resume'] if resume else []) + opts,
                              cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True,
                              timeout=900)
        self.assertEqual(proc.returncode, 0, proc.stdout[-3000:])
        return proc.stdout

    def train_and_kill(self, work, opts, after_checkpoint, config=CONFIG):
        """Start training; SIGKILL the process group (workers included) as
        soon as ``after_checkpoint`` exists."""
        log = open(osp.join(self.tmp.name, 'killed.log'), 'w')
        proc = subprocess.Popen(
            [sys.executable, 'tools/train.py', config, '--work-dir', work] +
            opts, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.time() + 600
        try:
            while not osp.exists(osp.join(work, after_checkpoint)):
                self.assertIsNone(proc.poll(), 'training ended before the '
                                  f'kill; see {log.name}')
                self.assertLess(time.time(), deadline)
                time.sleep(0.01)
            os.killpg(proc.pid, signal.SIGKILL)
        finally:
            proc.wait()
            log.close()
        self.assertEqual(proc.returncode, -signal.SIGKILL)

    def check_kill_and_resume(self, num_workers, name, config=CONFIG,
                              kill_after='iter_10.pth', extra=(), length=()):
        opts = tiny_options(self.data, num_workers, *length) + list(extra)
        ref_dir = osp.join(self.tmp.name, f'ref_{name}')
        self.train(ref_dir, opts, config=config)
        reference = logged_steps(ref_dir)
        self.assertEqual(sorted(reference), list(range(1, MAX_ITERS + 1)))

        work = osp.join(self.tmp.name, f'killed_{name}')
        self.train_and_kill(work, opts, kill_after, config=config)
        killed_at = max(logged_steps(work), default=0)
        self.assertLess(killed_at, MAX_ITERS)
        # as if killed while writing the next checkpoint
        partial = osp.join(work, '.' + kill_after + '.tmp99999')
        with open(partial, 'wb') as f:
            f.write(b'half a checkpoint')
        out = self.train(work, opts, resume=True, config=config)
        self.assertFalse(osp.exists(partial))
        resumed = int(out.split('resumed epoch: ')[1].split('iter: ')[1]
                      .split()[0])
        self.assertIn(resumed, (10, 12, 15, 18, 20, 24, 25))

        after = logged_steps(work)
        self.assertEqual(sorted(after), list(range(1, MAX_ITERS + 1)))
        compared = 0
        for it in range(resumed + 1, MAX_ITERS + 1):
            keys = [k for k in reference[it]
                    if k.startswith(('loss_', 'mask_', 'phase')) or
                    k.endswith('lr')]
            self.assertGreater(len(keys), 10)
            for key in keys:
                self.assertAlmostEqual(
                    after[it][key], reference[it][key], places=5,
                    msg=f'iteration {it}, {key}')
                compared += 1
        self.assertGreater(compared, 0)
        self.assertIn('Restored the random generator states', out)
        # validation ran in both runs, after the resume too
        for steps in (reference, after):
            validated = [i for i, e in steps.items()
                         if 'attn/mean/mask_iou' in e]
            self.assertTrue(any(i > resumed for i in validated), validated)
        self.assertTrue(glob.glob(osp.join(work, 'best_*.pth')))
        return resumed, out

    def test_kill_resume_no_workers(self):
        # the random transforms run in this process: the restored
        # generators must be set after the replayed batches
        resumed, out = self.check_kill_and_resume(0, 'iter0')
        self.assertIn(f'UAGIT phase {1 if resumed < SWITCH else 2}', out)

    def test_kill_resume_one_worker(self):
        resumed, out = self.check_kill_and_resume(1, 'iter1')
        self.assertIn(f'UAGIT phase {1 if resumed < SWITCH else 2}', out)

    def test_kill_resume_epoch_based(self):
        # 6 images: 5 epochs of 6 iterations, a checkpoint per epoch, phase
        # 2 from epoch 3; the persistent worker's augmentation stream must
        # continue where it was
        config = osp.join(self.tmp.name, 'epoch_based.py')
        with open(config, 'w') as f:
            f.write(f"_base_ = [{CONFIG!r}]\n"
                    "train_cfg = dict(_delete_=True, "
                    "type='EpochBasedTrainLoop', max_epochs=1)\n"
                    "default_hooks = dict(checkpoint=dict(by_epoch=True, "
                    "interval=1))\n"
                    "train_dataloader = dict(sampler=dict(_delete_=True, "
                    "type='DefaultSampler', shuffle=True))\n")
        resumed, out = self.check_kill_and_resume(
            1, 'epoch1', config=config, kill_after='epoch_2.pth',
            length=['train_cfg.max_epochs=5'],
            extra=['model.switch_iter=None', 'model.switch_epoch=3',
                   'default_hooks.checkpoint.interval=1'])
        self.assertIn('Replaying the data of', out)
        self.assertIn(f'UAGIT phase {1 if resumed < 18 else 2}', out)
