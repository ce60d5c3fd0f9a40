"""Two processes, gloo backend, on the CPU: tools/train.py --launcher pytorch
(the code path of tools/dist_train.sh), batch 2 per process."""
import glob
import os
import os.path as osp
import socket
import subprocess
import sys
import tempfile
import textwrap
from unittest import TestCase

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'uagit_cpu_1xb1-2500iters_synthetic64.py')

# Runs tools/train.py unchanged and, after training, saves each rank's
# weights so that the test can compare them.
DRIVER = textwrap.dedent('''
    import os, runpy, sys
    import torch
    from mmengine.runner import Runner
    from mmengine.model import is_model_wrapper
    from mmengine.runner.checkpoint import get_state_dict
    dump_dir = os.environ['DUMP_DIR']
    original = Runner.train
    def train(self):
        out = original(self)
        model = self.model.module if is_model_wrapper(self.model) \\
            else self.model
        rank = int(os.environ['RANK'])
        torch.save(get_state_dict(model), f'{dump_dir}/rank{rank}.pth')
        torch.save({d: p.state_dict() for d, p in model.image_pools.items()},
                   f'{dump_dir}/pools{rank}.pth')
        return out
    Runner.train = train
    # NAN_AT=rank:iteration turns that rank's batch of that iteration
    # into NaNs (one process sees a non-finite loss, the other does not)
    if os.environ.get('NAN_AT'):
        from mmengine.hooks import Hook
        nan_rank, nan_iter = map(int, os.environ['NAN_AT'].split(':'))
        class NaNBatch(Hook):
            def before_train_iter(self, runner, batch_idx, data_batch=None):
                if runner.rank == nan_rank and runner.iter == nan_iter:
                    inputs = data_batch['inputs']
                    for key, value in inputs.items():  # lists of images
                        inputs[key] = [v.float() * float('nan')
                                       for v in value]
        plain_train = Runner.train
        def train_with_nan(self):
            self.register_hook(NaNBatch())
            return plain_train(self)
        Runner.train = train_with_nan
    sys.argv = ['tools/train.py'] + sys.argv[1:]
    runpy.run_path('tools/train.py', run_name='__main__')
''')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class TestDistributedTraining(TestCase):

    def test_nonfinite_skip_on_one_rank_skips_on_both(self):
        with tempfile.TemporaryDirectory() as tmp:
            data = osp.join(tmp, 'data')
            subprocess.run([sys.executable, 'tools/make_synthetic_dataset.py',
                            data, '--size', '32', '--num-train', '6',
                            '--num-test', '2'], cwd=ROOT, check=True,
                           stdout=subprocess.DEVNULL)
            driver = osp.join(tmp, 'driver.py')
            with open(driver, 'w') as f:
                f.write(DRIVER)
            env = dict(os.environ, DUMP_DIR=tmp, OMP_NUM_THREADS='1',
                       NAN_AT='1:1')
            work = osp.join(tmp, 'work')
            cmd = [
                sys.executable, '-m', 'torch.distributed.run',
                '--nproc_per_node=2', f'--master_port={free_port()}', driver,
                CONFIG, '--launcher', 'pytorch', '--work-dir', work,
                '--cfg-options', f'data_root={data}',
                'env_cfg.dist_cfg.backend=gloo', 'train_cfg.max_iters=4',
                'model.nonfinite=skip', 'model.switch_iter=2',
                'model.sharpness.weight=0',
                'train_dataloader.batch_size=2',
                'train_dataloader.num_workers=0',
                'train_dataloader.persistent_workers=False',
                'model.generator.base_channels=8',
                'model.generator.num_blocks=1',
                'model.discriminator.base_channels=8',
                'model.attention.base_channels=4', 'model.buffer_size=2',
                'default_hooks.checkpoint.interval=2',
                'default_hooks.logger.interval=1', 'val_interval=0'
            ]
            proc = subprocess.run(cmd, cwd=ROOT, env=env, text=True,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=600)
            self.assertEqual(proc.returncode, 0, proc.stdout[-4000:])
            # rank 0's batch was fine: it skipped because rank 1 had NaNs
            self.assertIn('another process = nan; update skipped',
                          proc.stdout)
            self.assertIn('non-finite loss at iteration 2', proc.stdout)
            # both skipped the same updates: still the same weights, all
            # finite, and the run went on to the end
            ranks = [torch.load(osp.join(tmp, f'rank{r}.pth'))
                     for r in (0, 1)]
            for key in ranks[0]:
                self.assertTrue(torch.equal(ranks[0][key], ranks[1][key]),
                                f'{key} differs between the ranks')
                if ranks[0][key].is_floating_point():
                    self.assertTrue(torch.isfinite(ranks[0][key]).all(), key)
            self.assertTrue(osp.isfile(osp.join(work, 'iter_4.pth')))

    def test_two_ranks_stay_identical(self):
        with tempfile.TemporaryDirectory() as tmp:
            data = osp.join(tmp, 'data')
            subprocess.run([sys.executable, 'tools/make_synthetic_dataset.py',
                            data, '--size', '32', '--num-train', '6',
                            '--num-test', '2'], cwd=ROOT, check=True,
                           stdout=subprocess.DEVNULL)
            driver = osp.join(tmp, 'driver.py')
            with open(driver, 'w') as f:
                f.write(DRIVER)
            work = osp.join(tmp, 'work')

            def launch(work, dump_dir, max_iters, *extra):
                os.makedirs(dump_dir, exist_ok=True)
                env = dict(os.environ, DUMP_DIR=dump_dir, OMP_NUM_THREADS='1')
                cmd = [
                    sys.executable, '-m', 'torch.distributed.run',
                    '--nproc_per_node=2', f'--master_port={free_port()}',
                    driver, CONFIG, '--launcher', 'pytorch', '--work-dir',
                    work, *extra, '--cfg-options', f'data_root={data}',
                    'env_cfg.dist_cfg.backend=gloo',
                    f'train_cfg.max_iters={max_iters}',
                    'model.switch_iter=2', 'model.sharpness.weight=0',
                    'train_dataloader.batch_size=2',
                    'train_dataloader.num_workers=0',
                    'train_dataloader.persistent_workers=False',
                    'model.generator.base_channels=8',
                    'model.generator.num_blocks=1',
                    'model.discriminator.base_channels=8',
                    'model.attention.base_channels=4',
                    # a full pool draws random numbers from the first batch
                    'model.buffer_size=2',
                    'default_hooks.checkpoint.interval=3',
                    'default_hooks.logger.interval=1'
                ]
                proc = subprocess.run(cmd, cwd=ROOT, env=env, text=True,
                                      stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, timeout=600)
                self.assertEqual(proc.returncode, 0, proc.stdout[-4000:])
                return proc

            proc = launch(work, tmp, 3)
            self.assertIn('Distributed launcher: pytorch', proc.stdout)
            ranks = [torch.load(osp.join(tmp, f'rank{r}.pth'))
                     for r in (0, 1)]
            self.assertEqual(set(ranks[0]), set(ranks[1]))
            for key in ranks[0]:
                self.assertTrue(torch.equal(ranks[0][key], ranks[1][key]),
                                f'{key} differs between the ranks')
            # one checkpoint, holding those weights
            ckpts = glob.glob(osp.join(work, 'iter_*.pth'))
            self.assertEqual([osp.basename(c) for c in ckpts],
                             ['iter_3.pth'])
            checkpoint = torch.load(ckpts[0], weights_only=True)
            saved = checkpoint['state_dict']
            self.assertTrue(torch.equal(saved['generators.smooth.model.0.conv'
                                              '.weight'],
                                        ranks[0]['generators.smooth.model.0'
                                                 '.conv.weight']))
            # ... and the random generators and image pools of both ranks
            state = checkpoint['uagit_training_state']
            self.assertEqual(state['world_size'], 2)
            self.assertFalse(torch.equal(state['rng'][0]['torch'],
                                         state['rng'][1]['torch']))
            for rank in (0, 1):
                pools = torch.load(osp.join(tmp, f'pools{rank}.pth'))
                for domain in ('smooth', 'striped'):
                    mine = state['image_pools'][rank][domain]
                    self.assertEqual(mine['num'], 2)  # full
                    self.assertTrue(torch.equal(
                        mine['entries'], pools[domain]['entries']))
            self.assertFalse(torch.equal(
                state['image_pools'][0]['smooth']['entries'],
                state['image_pools'][1]['smooth']['entries']))

            # resumed to iteration 5, both ranks end where an uninterrupted
            # 5-iteration run ends: same weights, same pools
            resumed = launch(work, osp.join(tmp, 'resumed'), 5, '--resume')
            self.assertIn('Restored the random generator states',
                          resumed.stdout)
            launch(osp.join(tmp, 'work_ref'), osp.join(tmp, 'ref'), 5)
            for rank in (0, 1):
                for name in (f'rank{rank}.pth', f'pools{rank}.pth'):
                    got = torch.load(osp.join(tmp, 'resumed', name))
                    want = torch.load(osp.join(tmp, 'ref', name))
                    self.assertEqual(set(got), set(want))
                    for key in want:
                        a, b = got[key], want[key]
                        if isinstance(b, dict):
                            a, b = a['entries'], b['entries']
                        self.assertTrue(torch.allclose(a, b, atol=1e-6),
                                        f'rank {rank}: {key} differs')
