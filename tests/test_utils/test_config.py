import os.path as osp
from unittest import TestCase, mock, skipUnless

import torch

import uagit_mm  # noqa: F401
from uagit_mm.utils import enable_amp, load_config, native_bf16

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
H2Z = osp.join(ROOT, 'configs', 'uagit_horse2zebra.py')


class TestLoadConfig(TestCase):

    def test_data_root_reaches_every_dataset(self):
        cfg = load_config(H2Z, {'data_root': '/some/where'})
        self.assertEqual(cfg.data_root, '/some/where')
        self.assertEqual(cfg.train_dataloader.dataset.data_root, '/some/where')
        self.assertEqual(cfg.test_dataloader.dataset.data_root, '/some/where')
        default = load_config(H2Z)
        self.assertEqual(default.train_dataloader.dataset.data_root,
                         'data/horse2zebra')

    def test_missing_config_is_named(self):
        with self.assertRaisesRegex(FileNotFoundError, 'nope.py'):
            load_config('configs/nope.py')


class TestEnableAmp(TestCase):

    def test_every_sub_optimizer_becomes_amp_on_gpu(self):
        # the CUDA branch of the config change needs no GPU to check; the
        # CPU branch: tests/test_engine/test_autocast_optim_wrapper.py
        cfg = load_config(H2Z)
        enable_amp(cfg, device='cuda')
        wrappers = {k: v for k, v in cfg.optim_wrapper.items()
                    if isinstance(v, dict)}
        self.assertEqual(set(wrappers), {'generators', 'discriminators'})
        for w in wrappers.values():
            self.assertEqual(w.type, 'AmpOptimWrapper')
            self.assertEqual(w.loss_scale, 'dynamic')

    def test_untyped_wrapper_is_an_error(self):
        cfg = load_config(H2Z)
        del cfg.optim_wrapper.generators['type']
        with self.assertRaisesRegex(ValueError, 'optim_wrapper.generators'):
            enable_amp(cfg)

    @skipUnless(torch.cuda.is_available(), 'AMP training needs a GPU')
    def test_amp_train_step_on_gpu(self):
        from copy import deepcopy

        from mmengine import MessageHub
        from mmengine.registry import init_default_scope

        from mmagic.engine.optimizers import MultiOptimWrapperConstructor
        from mmagic.registry import MODELS
        from mmagic.structures import DataSample
        init_default_scope('mmagic')
        cfg = load_config(H2Z)
        enable_amp(cfg)
        model_cfg = deepcopy(cfg.model)
        model_cfg.generator.update(base_channels=8, num_blocks=1)
        model = MODELS.build(model_cfg).cuda()
        model.init_weights()
        optim = {k: v for k, v in cfg.optim_wrapper.items()
                 if k != 'constructor'}
        wrappers = MultiOptimWrapperConstructor(optim)(model)
        data = dict(
            inputs=dict(img_horse=torch.rand(1, 3, 64, 64) * 255,
                        img_zebra=torch.rand(1, 3, 64, 64) * 255),
            data_samples=[DataSample()])
        MessageHub.get_current_instance().update_info('iter', 0)
        log = model.train_step(data, wrappers)
        self.assertTrue(all(torch.isfinite(v) for v in log.values()))


class TestNativeBf16(TestCase):
    """What tools/train.py --amp-auto decides (the quick start uses it)."""

    def _on(self, machine, avx512_bf16=False, amx=False, arm_bf16=False):
        with mock.patch('platform.machine', return_value=machine), \
                mock.patch.object(torch.cpu, '_is_avx512_bf16_supported',
                                  return_value=avx512_bf16, create=True), \
                mock.patch.object(torch.cpu, '_is_amx_tile_supported',
                                  return_value=amx, create=True), \
                mock.patch.object(torch.ops.mkldnn,
                                  '_is_mkldnn_bf16_supported',
                                  return_value=arm_bf16, create=True):
            return native_bf16('cpu')

    def test_x86_needs_avx512_bf16_or_amx(self):
        self.assertEqual(self._on('x86_64', avx512_bf16=True),
                         (True, 'the CPU has AVX512-BF16'))
        self.assertEqual(self._on('x86_64', amx=True),
                         (True, 'the CPU has AMX'))
        # oneDNN's check is true for any AVX512 CPU, so it is not asked
        fast, reason = self._on('x86_64', arm_bf16=True)
        self.assertFalse(fast)
        self.assertIn('no native bfloat16', reason)

    def test_arm_needs_its_bf16_extension(self):
        self.assertTrue(self._on('aarch64', arm_bf16=True)[0])
        self.assertFalse(self._on('aarch64', avx512_bf16=True)[0])

    def test_unknown_cpu_and_missing_checks_mean_float32(self):
        self.assertFalse(self._on('riscv64', True, True, True)[0])
        with mock.patch('platform.machine', return_value='x86_64'), \
                mock.patch.object(torch, 'cpu', object()):
            self.assertFalse(native_bf16('cpu')[0])

    def test_gpu_always(self):
        self.assertTrue(native_bf16('cuda:0')[0])

    def test_this_machine_agrees_with_torch(self):
        fast, _ = native_bf16('cpu')
        import platform
        if platform.machine() == 'x86_64':
            self.assertEqual(
                fast,
                torch.cpu._is_avx512_bf16_supported()
                or torch.cpu._is_amx_tile_supported())


class TestOptionsThatReachTheirUse(TestCase):
    """--cfg-options inception_path=... reaches every FID/KID metric (the
    configs copy the variable into them when they are read)."""

    def test_inception_path_reaches_val_and_test_metrics(self):
        import os.path as osp

        from uagit_mm.errors import ConfigError
        from uagit_mm.utils import load_config
        root = osp.join(osp.dirname(osp.dirname(osp.dirname(
            osp.abspath(__file__)))), 'configs')
        for name in ('uagit_horse2zebra.py', 'uagit_apple2orange.py',
                     'uagit_cpu_1xb1-3000iters_horse2zebra64.py'):
            cfg = load_config(osp.join(root, name),
                              {'inception_path': '/my/inception.pt'})
            paths = []
            for key in ('val_evaluator', 'test_evaluator'):
                evaluators = cfg[key]
                for ev in evaluators if isinstance(evaluators, list) \
                        else [evaluators]:
                    paths += [m.inception_path for m in ev.metrics
                              if 'inception_path' in m]
            self.assertGreaterEqual(len(paths), 2, name)
            self.assertEqual(set(paths), {'/my/inception.pt'}, name)
        with self.assertRaisesRegex(ConfigError, 'no FID/KID metric'):
            load_config(osp.join(root, 'uagit_cpu_1xb1-2500iters_synthetic64'
                                 '.py'), {'inception_path': '/x.pt'})
