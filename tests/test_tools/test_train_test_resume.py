"""End to end: tools/train.py across the phase switch, tools/test.py on the
checkpoint it wrote, then --resume, on a tiny built-in dataset."""
import glob
import json
import os
import os.path as osp
import pathlib
import subprocess
import sys
import tempfile
from unittest import TestCase

import cv2
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'uagit_cpu_1xb1-2500iters_synthetic64.py')
TINY = [
    'model.generator.base_channels=8', 'model.generator.num_blocks=1',
    'model.discriminator.base_channels=8', 'model.attention.base_channels=4',
    'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=0',
    'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=0',
    'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2',
    'model.switch_iter=2', 'custom_hooks.1.interval=2',
    # the config's sharpness ramp starts after so early a switch
    'model.sharpness.weight=0'
]


def run(*args):
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=600)
    return proc.returncode, proc.stdout


class SyntheticDataTestCase(TestCase):
    """A temporary folder with a tiny built-in dataset (32 px) in ``data``."""

    num_images = 3  # per train and test folder

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.data = osp.join(cls.tmp.name, 'data')
        rc, out = run('tools/make_synthetic_dataset.py', cls.data, '--size',
                      '32', '--num-train', str(cls.num_images),
                      '--num-test', str(cls.num_images))
        assert rc == 0, out

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()


class TestTrainTestResume(SyntheticDataTestCase):

    def test_train_test_resume(self):
        work = osp.join(self.tmp.name, 'work')
        opts = ['--cfg-options', f'data_root={self.data}',
                'train_cfg.max_iters=4'] + TINY
        rc, out = run('tools/train.py', CONFIG, '--work-dir', work, *opts)
        self.assertEqual(rc, 0, out[-3000:])
        self.assertIn('UAGIT phase 1', out)
        self.assertIn('UAGIT phase 2', out)
        # the import noise of mmagic's dependencies and mmcv's conv-bias
        # warning are filtered (uagit_mm.quiet); others would show
        for noise in ('_register_pytree_node', 'Unnecessary conv bias',
                      'timm.models'):
            self.assertNotIn(noise, out)
        self.assertTrue(osp.isfile(osp.join(work, 'iter_2.pth')))
        ckpt = osp.join(work, 'iter_4.pth')
        self.assertTrue(osp.isfile(ckpt))
        # mask grids of both directions were drawn (interval 2 and last iter)
        grids = glob.glob(osp.join(work, '*', 'vis_data', '**', '*.png'),
                          recursive=True)
        for direction in ('smooth2striped', 'striped2smooth'):
            self.assertTrue(
                any(f'train_{direction}' in osp.basename(g) for g in grids),
                grids)
        # the checkpoint needs no unpickling of arbitrary objects
        state = torch.load(ckpt, weights_only=True)
        self.assertEqual(state['meta']['iter'], 4)

        # a checkpoint of another config is refused by test and load_from
        # (it used to be scored as a partly random network, exit 0)
        for tool in (
            ('tools/test.py', CONFIG, ckpt, '--work-dir',
             osp.join(self.tmp.name, 'work_mismatch')),
            ('tools/train.py', CONFIG, '--work-dir',
             osp.join(self.tmp.name, 'work_mismatch'))):
            extra = [] if tool[0] == 'tools/test.py' else [
                f'load_from={ckpt}', 'train_cfg.max_iters=1']
            rc, out = run(*tool, '--cfg-options', f'data_root={self.data}',
                          *TINY, 'model.generator.base_channels=16', *extra)
            self.assertEqual(rc, 2, out[-3000:])
            self.assertIn(f'checkpoint {ckpt} does not fit config', out)
            self.assertIn('size mismatch', out)
            self.assertIn('generators.', out)
            self.assertNotIn('Traceback', out)
            self.assertNotIn('Iter(train)', out)

        metrics_file = osp.join(self.tmp.name, 'metrics.json')
        rc, out = run('tools/test.py', CONFIG, ckpt, '--work-dir', work,
                      '--out-metrics', metrics_file, '--cfg-options',
                      f'data_root={self.data}', *TINY)
        self.assertEqual(rc, 0, out[-3000:])
        self.assertNotIn('_register_pytree_node', out)
        with open(metrics_file) as f:
            metrics = json.load(f)
        for direction in ('smooth2striped', 'striped2smooth'):
            for key in ('mask_iou', 'bg_change', 'fg_change', 'translated'):
                value = metrics[f'attn/{direction}/{key}']
                self.assertTrue(0.0 <= value <= 1.0, (key, value))
        for direction in ('smooth2striped', 'striped2smooth'):
            found = glob.glob(osp.join(work, '*', 'translations', direction,
                                       '*.png'))
            images = [f for f in found if not f.endswith('_mask.png')]
            masks = [f for f in found if f.endswith('_mask.png')]
            self.assertEqual(len(images), 3, direction)
            self.assertEqual(len(masks), 3, direction)
            img = cv2.imread(images[0], cv2.IMREAD_UNCHANGED)
            mask = cv2.imread(masks[0], cv2.IMREAD_UNCHANGED)
            self.assertEqual(img.shape, (32, 32, 3))
            self.assertEqual(mask.shape, (32, 32))

        opts[opts.index('train_cfg.max_iters=4')] = 'train_cfg.max_iters=6'
        rc, out = run('tools/train.py', CONFIG, '--work-dir', work,
                      '--resume', *opts)
        self.assertEqual(rc, 0, out[-3000:])
        self.assertIn('resumed epoch: 0, iter: 4', out)
        self.assertNotIn('UAGIT phase 1', out)  # resumes inside phase 2
        self.assertTrue(osp.isfile(osp.join(work, 'iter_6.pth')))
        self.assertFalse(osp.exists(osp.join(work, 'iter_5.pth')))

        # a truncated latest checkpoint: resume falls back to iter_4
        latest = osp.join(work, 'iter_6.pth')
        with open(latest, 'rb') as f:
            head = f.read(os.path.getsize(latest) // 2)
        with open(latest, 'wb') as f:
            f.write(head)
        opts[opts.index('train_cfg.max_iters=6')] = 'train_cfg.max_iters=8'
        rc, out = run('tools/train.py', CONFIG, '--work-dir', work,
                      '--resume', *opts)
        self.assertEqual(rc, 0, out[-3000:])
        self.assertIn(f'Cannot resume from {latest}', out)
        self.assertIn('truncated or corrupt', out)
        self.assertIn('iter_4.pth instead', out)
        self.assertIn('resumed epoch: 0, iter: 4', out)
        self.assertTrue(osp.isfile(osp.join(work, 'iter_8.pth')))

    def test_missing_folder_stops_before_training(self):
        data = osp.join(self.tmp.name, 'broken')
        os.makedirs(osp.join(data, 'trainA'))
        cv2.imwrite(osp.join(data, 'trainA', 'x.png'),
                    (torch.rand(32, 32, 3) * 255).byte().numpy())
        rc, out = run('tools/train.py', CONFIG, '--work-dir',
                      osp.join(self.tmp.name, 'w2'), '--cfg-options',
                      f'data_root={data}', 'train_cfg.max_iters=2', *TINY)
        self.assertNotEqual(rc, 0)
        self.assertIn(osp.join(data, 'trainB'), out)
        self.assertIn('does not exist', out)
        self.assertNotIn('Iter(train)', out)


class TouchPayload:
    """Unpickling this creates ``marker``: stands for code in a pickle."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.marker), )


class TestBadConfigsAndCheckpoints(SyntheticDataTestCase):
    """Each mistake stops the tool before training or testing with one
    message naming the key or file: exit status 2, no traceback."""

    num_images = 2

    def check_refused(self, tool_args, *expected):
        rc, out = run(*tool_args)
        self.assertEqual(rc, 2, out[-3000:])
        self.assertNotIn('Traceback', out)
        self.assertNotIn('Iter(train)', out)
        for text in expected:
            self.assertIn(text, out)
        return out

    def train_args(self, *options):
        return ('tools/train.py', CONFIG, '--work-dir',
                osp.join(self.tmp.name, 'work'), '--cfg-options',
                f'data_root={self.data}', 'train_cfg.max_iters=3', *TINY,
                *options)

    def test_domain_names_differ(self):
        self.check_refused(self.train_args('model.domains=[horse,zebra]'),
                           'model.domains', "['horse', 'zebra']",
                           'train_dataloader.dataset',
                           "['smooth', 'striped']")

    def test_threshold_outside_unit_interval(self):
        self.check_refused(self.train_args('model.threshold=1.5'),
                           'model.threshold', '1.5')

    def test_switch_after_the_end(self):
        self.check_refused(self.train_args('model.switch_iter=5'),
                           'model.switch_iter=5', 'train_cfg.max_iters=3')

    def test_missing_data_root(self):
        self.check_refused(
            ('tools/train.py', CONFIG, '--work-dir',
             osp.join(self.tmp.name, 'work'), '--cfg-options',
             'data_root=', *TINY), 'data_root is not set')

    def test_crafted_checkpoint_refused_by_test_and_load_from(self):
        marker = osp.join(self.tmp.name, 'payload_ran')
        crafted = osp.join(self.tmp.name, 'crafted.pth')
        torch.save(dict(state_dict={}, meta=TouchPayload(marker)), crafted)
        for args in (
            ('tools/test.py', CONFIG, crafted, '--work-dir',
             osp.join(self.tmp.name, 'work_test'), '--cfg-options',
             f'data_root={self.data}', *TINY),
            self.train_args(f'load_from={crafted}'),
        ):
            self.check_refused(args, f'Refusing to load {crafted}',
                               'weights_only=True', 'GLOBAL')
            self.assertFalse(osp.exists(marker), 'the payload ran')
