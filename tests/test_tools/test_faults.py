"""Faults a long run meets, on real tools/train.py runs: a full disk during
a save, a moved work dir, a second run into a busy work dir, and the best
checkpoint kept by validation."""
import glob
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from unittest import TestCase

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'uagit_cpu_1xb1-2500iters_synthetic64.py')
TINY = [
    'model.generator.base_channels=8', 'model.generator.num_blocks=1',
    'model.discriminator.base_channels=8', 'model.attention.base_channels=4',
    'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=0',
    'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2',
    'model.switch_iter=1', 'custom_hooks.1.interval=2',
    # the config's sharpness ramp starts after so early a switch
    'model.sharpness.weight=0'
]

# Runs a tool unchanged, except that the FAIL_AT-th file written to a name
# ending in FAIL_SUFFIX through uagit_mm's atomic writer runs out of disk
# space half-way through the write, as on a full disk.
FULL_DISK = textwrap.dedent('''
    import builtins, errno, os, runpy, sys
    import uagit_mm.fileio
    suffix, fail_at = os.environ['FAIL_SUFFIX'], int(os.environ['FAIL_AT'])
    count = [0]

    class FullDisk:
        def __init__(self, f):
            self.f = f
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            self.f.close()
        def write(self, data):
            self.f.write(data[:len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fake_open(path, mode='r', *args, **kwargs):
        f = builtins.open(path, mode, *args, **kwargs)
        if suffix + '.tmp' in os.path.basename(str(path)):
            count[0] += 1
            if count[0] == fail_at:
                return FullDisk(f)
        return f

    uagit_mm.fileio.open = fake_open
    sys.argv = [os.environ['TOOL']] + sys.argv[1:]
    runpy.run_path(os.environ['TOOL'], run_name='__main__')
''')


def run(*args, env=None):
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=600, env=env)
    return proc.returncode, proc.stdout, proc.stderr


class FaultTestCase(TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.data = osp.join(cls.tmp.name, 'data')
        rc, out, err = run('tools/make_synthetic_dataset.py', cls.data,
                           '--size', '32', '--num-train', '3',
                           '--num-test', '2')
        assert rc == 0, out + err
        cls.driver = osp.join(cls.tmp.name, 'full_disk.py')
        with open(cls.driver, 'w') as f:
            f.write(FULL_DISK)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def options(self, max_iters, *extra):
        return ['--cfg-options', f'data_root={self.data}',
                f'train_cfg.max_iters={max_iters}'] + TINY + list(extra)

    def train(self, work, max_iters, *extra, resume=None):
        args = ['tools/train.py', CONFIG, '--work-dir', work]
        if resume:
            args += ['--resume'] if resume is True else ['--resume', resume]
        rc, out, err = run(*args, *self.options(max_iters, *extra))
        self.assertEqual(rc, 0, (out + err)[-3000:])
        return out + err

    def full_disk(self, tool_args, suffix, fail_at):
        env = dict(os.environ, FAIL_SUFFIX=suffix, FAIL_AT=str(fail_at),
                   TOOL=tool_args[0])
        return run(self.driver, *tool_args[1:], env=env)


class TestFullDisk(FaultTestCase):

    def test_checkpoint_save_fails(self):
        # checkpoints every 2 iterations, only 1 kept: the third save
        # (iter_6) fails; iter_4 must survive it
        work = osp.join(self.tmp.name, 'full_ckpt')
        rc, out, err = self.full_disk(
            ['tools/train.py', CONFIG, '--work-dir', work] +
            self.options(8, 'default_hooks.checkpoint.max_keep_ckpts=1',
                         'val_interval=0'), '.pth', 3)
        self.assertEqual(rc, 2, (out + err)[-3000:])
        self.assertNotIn('Traceback', err)
        lines = [ln for ln in err.splitlines() if ln.startswith('error:')]
        self.assertEqual(len(lines), 1, err[-3000:])
        line = lines[0]
        self.assertIn(osp.join(work, 'iter_6.pth'), line)
        self.assertIn('No space left on device', line)
        self.assertIn(f'last good checkpoint is {work}/iter_4.pth', line)
        # the kept checkpoint is intact, nothing half-written is left
        self.assertTrue(osp.isfile(osp.join(work, 'iter_4.pth')))
        self.assertFalse(osp.exists(osp.join(work, 'iter_6.pth')))
        self.assertFalse(glob.glob(osp.join(work, '.*.tmp*')))
        torch.load(osp.join(work, 'iter_4.pth'), weights_only=True)
        with open(osp.join(work, 'last_checkpoint')) as f:
            self.assertEqual(f.read(), osp.join(work, 'iter_4.pth'))
        # and the run continues from it once there is space again
        out = self.train(work, 8, 'default_hooks.checkpoint.max_keep_ckpts=1',
                         'val_interval=0', resume=True)
        self.assertIn('iter: 4', out)
        self.assertEqual(sorted(os.listdir(work)).count('iter_8.pth'), 1)

    def test_visualisation_write_fails(self):
        work = osp.join(self.tmp.name, 'full_png')
        rc, out, err = self.full_disk(
            ['tools/train.py', CONFIG, '--work-dir', work] +
            self.options(6, 'val_interval=0'), '.png', 3)
        # grids of both directions at iterations 2, 4 (the third fails),
        # after the checkpoint of iteration 2
        self.assertEqual(rc, 2, (out + err)[-3000:])
        self.assertNotIn('Traceback', err)
        line = [ln for ln in err.splitlines() if ln.startswith('error:')][0]
        self.assertRegex(line, r'cannot write \S+_4\.png: No space left')
        self.assertIn(f'last good checkpoint is {work}/iter_2.pth', line)
        self.assertFalse(glob.glob(osp.join(work, '**', '.*.tmp*'),
                                   recursive=True))

    def test_translation_write_fails_in_test_tool(self):
        work = osp.join(self.tmp.name, 'full_test')
        self.train(work, 2, 'val_interval=0')
        rc, out, err = self.full_disk(
            ['tools/test.py', CONFIG, osp.join(work, 'iter_2.pth'),
             '--work-dir', work] +
            self.options(2, 'test_dataloader.num_workers=0',
                         'test_dataloader.persistent_workers=0'), '.png', 1)
        self.assertEqual(rc, 2, (out + err)[-3000:])
        self.assertNotIn('Traceback', err)
        self.assertRegex(err, r'error: cannot write \S+\.png: No space left')


class TestMovedWorkDir(FaultTestCase):

    def test_resume_after_moving_the_work_dir(self):
        work = osp.join(self.tmp.name, 'before_move')
        self.train(work, 4, 'val_interval=0')
        moved = osp.join(self.tmp.name, 'after_move')
        shutil.move(work, moved)
        out = self.train(moved, 6, 'val_interval=0', resume=True)
        self.assertIn('which does not exist (was the work dir moved', out)
        self.assertIn('resumed epoch: 0, iter: 4', out)
        self.assertTrue(osp.isfile(osp.join(moved, 'iter_6.pth')))
        with open(osp.join(moved, 'last_checkpoint')) as f:
            self.assertEqual(f.read(), osp.join(moved, 'iter_6.pth'))

    def test_resume_from_a_checkpoint_elsewhere(self):
        work = osp.join(self.tmp.name, 'origin')
        self.train(work, 4, 'val_interval=0')
        elsewhere = osp.join(self.tmp.name, 'kept', 'model.pth')
        os.makedirs(osp.dirname(elsewhere))
        shutil.copy(osp.join(work, 'iter_4.pth'), elsewhere)
        fresh = osp.join(self.tmp.name, 'fresh')
        out = self.train(fresh, 6, 'val_interval=0', resume=elsewhere)
        self.assertIn('resumed epoch: 0, iter: 4', out)
        self.assertTrue(osp.isfile(osp.join(fresh, 'iter_6.pth')))

    def test_resume_from_a_missing_file_is_named(self):
        rc, out, err = run('tools/train.py', CONFIG, '--work-dir',
                           osp.join(self.tmp.name, 'w'), '--resume',
                           '/nowhere/iter_4.pth', *self.options(4))
        self.assertEqual(rc, 2)
        self.assertIn('/nowhere/iter_4.pth', err)


class TestOneRunPerWorkDir(FaultTestCase):

    def test_second_run_refused_then_accepted_after_kill(self):
        work = osp.join(self.tmp.name, 'busy')
        log = open(osp.join(self.tmp.name, 'first.log'), 'w')
        first = subprocess.Popen(
            [sys.executable, 'tools/train.py', CONFIG, '--work-dir', work] +
            self.options(100000, 'val_interval=0',
                         'default_hooks.checkpoint.interval=100000'),
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        lock = osp.join(work, '.uagit.lock')
        try:
            deadline = time.time() + 300
            while True:  # until the first run holds the lock and trains
                self.assertIsNone(first.poll(), f'see {log.name}')
                self.assertLess(time.time(), deadline)
                if osp.exists(lock) and glob.glob(
                        osp.join(work, '*', 'vis_data', 'scalars.json')):
                    with open(lock) as f:
                        if f'pid {first.pid}' in f.read():
                            break
                time.sleep(0.2)
            before = sorted(os.listdir(work))
            rc, out, err = run('tools/train.py', CONFIG, '--work-dir', work,
                               *self.options(2, 'val_interval=0'))
            self.assertEqual(rc, 2, (out + err)[-3000:])
            self.assertIn('is in use by a running training', err)
            self.assertIn(f'pid {first.pid}', err)
            self.assertNotIn('Traceback', err)
            # refused before touching anything (no log folder, no files)
            self.assertEqual(sorted(os.listdir(work)), before)
        finally:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
            log.close()
        # the killed run's lock file is left behind, but does not block
        self.assertTrue(osp.exists(lock))
        self.train(work, 2, 'val_interval=0')
        self.assertTrue(osp.isfile(osp.join(work, 'iter_2.pth')))


class TestBestCheckpoint(FaultTestCase):

    def test_best_checkpoint_kept_and_safe_to_load(self):
        work = osp.join(self.tmp.name, 'best')
        out = self.train(work, 6, 'val_interval=2',
                         'test_dataloader.num_workers=0')
        self.assertIn('Validation every 2 iteration(s)', out)
        best = glob.glob(osp.join(work, 'best_attn_mean_mask_iou_iter_*.pth'))
        self.assertEqual(len(best), 1, os.listdir(work))
        state = torch.load(best[0], weights_only=True)
        self.assertIn('state_dict', state)
        self.assertIn(state['meta']['iter'], (2, 4, 6))
        self.assertIn('attn/mean/mask_iou', out)
        # and the translate tool takes it
        rc, tout, terr = run('tools/translate.py', CONFIG, best[0],
                             osp.join(self.data, 'testA'), '--out-dir',
                             osp.join(self.tmp.name, 'best_out'),
                             '--cfg-options', *TINY[:4])
        self.assertEqual(rc, 0, (tout + terr)[-2000:])

    def test_validation_switched_off(self):
        work = osp.join(self.tmp.name, 'noval')
        out = self.train(work, 2, 'val_interval=0')
        self.assertNotIn('Iter(val)', out)
        self.assertFalse(glob.glob(osp.join(work, 'best_*.pth')))
