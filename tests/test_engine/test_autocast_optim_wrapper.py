"""AutocastOptimWrapper and --amp on the CPU: bfloat16 forward passes and
losses of every sub-optimizer, fp32 weights, interchangeable state."""
import os.path as osp
import sys
from copy import deepcopy
from unittest import TestCase

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper

import uagit_mm  # noqa: F401
from mmagic.engine.optimizers import MultiOptimWrapperConstructor
from mmagic.registry import OPTIM_WRAPPERS
from uagit_mm.engine import AutocastOptimWrapper
from uagit_mm.utils import enable_amp, load_config

TESTS = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(TESTS, 'test_models'))
from test_uagit import OPTIM, batch, build, set_iter  # noqa: E402

ROOT = osp.dirname(TESTS)
CPU_CONFIG = osp.join(ROOT, 'configs',
                      'uagit_cpu_1xb1-2500iters_synthetic64.py')


def amp_wrappers(model):
    """The tiny model's optimizer wrappers as ``--amp`` makes them on the
    CPU (enable_amp on a config holding test_uagit's OPTIM)."""
    cfg = load_config(CPU_CONFIG)
    cfg.optim_wrapper = dict(constructor='MultiOptimWrapperConstructor',
                             **deepcopy(OPTIM))
    enable_amp(cfg, device='cpu')
    optim = {k: v for k, v in cfg.optim_wrapper.items()
             if k != 'constructor'}
    return MultiOptimWrapperConstructor(optim)(model)


class TestAutocastOptimWrapper(TestCase):

    def test_context_autocasts_to_bfloat16_on_the_model_device(self):
        conv = nn.Conv2d(3, 4, 3)
        wrapper = OPTIM_WRAPPERS.build(
            dict(type='AutocastOptimWrapper',
                 optimizer=torch.optim.SGD(conv.parameters(), lr=0.1)))
        self.assertIsInstance(wrapper, AutocastOptimWrapper)
        x = torch.rand(1, 3, 8, 8)
        with wrapper.optim_context(conv):
            self.assertTrue(torch.is_autocast_enabled('cpu'))
            self.assertEqual(torch.get_autocast_dtype('cpu'), torch.bfloat16)
            out = conv(x)
            loss = nn.functional.mse_loss(out, torch.zeros_like(out))
        self.assertFalse(torch.is_autocast_enabled('cpu'))
        self.assertEqual(out.dtype, torch.bfloat16)
        self.assertEqual(loss.dtype, torch.float32)  # losses stay fp32
        before = conv.weight.detach().clone()
        wrapper.update_params(loss)
        self.assertEqual(conv.weight.dtype, torch.float32)  # fp32 master
        self.assertFalse(torch.equal(before, conv.weight))

    def test_only_bfloat16(self):
        conv = nn.Conv2d(3, 4, 3)
        with self.assertRaisesRegex(ValueError, 'bfloat16.*AmpOptimWrapper'):
            AutocastOptimWrapper(
                dtype='float16',
                optimizer=torch.optim.SGD(conv.parameters(), lr=0.1))

    def test_state_interchangeable_with_optim_wrapper(self):
        torch.manual_seed(0)
        conv = nn.Conv2d(3, 4, 3)
        amp = AutocastOptimWrapper(
            optimizer=torch.optim.Adam(conv.parameters(), lr=0.1))
        with amp.optim_context(conv):
            loss = conv(torch.rand(1, 3, 8, 8)).float().square().mean()
        amp.update_params(loss)
        plain = OptimWrapper(
            optimizer=torch.optim.Adam(conv.parameters(), lr=0.1))
        plain.load_state_dict(deepcopy(amp.state_dict()))
        back = AutocastOptimWrapper(
            optimizer=torch.optim.Adam(conv.parameters(), lr=0.1))
        back.load_state_dict(deepcopy(plain.state_dict()))
        for w in (plain, back):
            state = w.optimizer.state_dict()['state']
            ref = amp.optimizer.state_dict()['state']
            self.assertEqual(set(state), set(ref))
            for k in ref:
                self.assertTrue(
                    torch.equal(state[k]['exp_avg'], ref[k]['exp_avg']))


class TestEnableAmpOnCpu(TestCase):

    def test_cpu_wrappers(self):
        cfg = load_config(CPU_CONFIG)
        enable_amp(cfg, device='cpu')
        enable_amp(cfg, device='cpu')  # idempotent
        for key in ('generators', 'discriminators'):
            self.assertEqual(cfg.optim_wrapper[key].type,
                             'AutocastOptimWrapper')
            self.assertEqual(cfg.optim_wrapper[key].dtype, 'bfloat16')
            self.assertNotIn('loss_scale', cfg.optim_wrapper[key])

    def test_float16_refused_on_cpu(self):
        cfg = load_config(CPU_CONFIG)
        with self.assertRaisesRegex(ValueError, 'bfloat16'):
            enable_amp(cfg, dtype='float16', device='cpu')


class TestBF16TrainStep(TestCase):

    def test_train_step_changes_weights_with_finite_fp32_losses(self):
        torch.manual_seed(0)
        model = build()
        wrappers = amp_wrappers(model)
        self.assertIsInstance(wrappers['generators'], AutocastOptimWrapper)
        self.assertIsInstance(wrappers['discriminators'],
                              AutocastOptimWrapper)
        # the first conv of each trained network: which dtype ran
        seen = {}
        firsts = {
            'generator': model.generators['b'].model[0].conv,
            'attention': next(m for m in model.attentions['a'].modules()
                              if isinstance(m, nn.Conv2d)),
            'discriminator': next(
                m for m in model.discriminators['b'].modules()
                if isinstance(m, nn.Conv2d)),
        }

        def record(name):
            def hook(module, inputs, output):
                seen.setdefault(name, output.dtype)
            return hook

        for name, conv in firsts.items():
            conv.register_forward_hook(record(name))
        before = {n: p.detach().clone()
                  for n, p in model.named_parameters()}
        for it in range(3):  # across the phase switch (switch_iter=2)
            set_iter(it)
            log = model.train_step(batch(), wrappers)
            self.assertTrue(all(torch.isfinite(v).all()
                                for v in log.values()), log)
            for key, value in log.items():
                if key.startswith('loss_'):
                    self.assertEqual(value.dtype, torch.float32, key)
        self.assertEqual(log['phase'].item(), 2.0)
        self.assertEqual(seen, dict.fromkeys(firsts, torch.bfloat16))
        for prefix in ('generators.', 'attentions.', 'discriminators.'):
            changed = [n for n, p in model.named_parameters()
                       if n.startswith(prefix)
                       and not torch.equal(before[n], p)]
            self.assertTrue(changed, prefix)
        self.assertTrue(all(p.dtype == torch.float32
                            for p in model.parameters()))
        # the image pools keep float32 fakes (and masks)
        self.assertEqual(model.image_pools['b'].buffer.image_buffer[0].dtype,
                         torch.float32)

    def test_bf16_follows_fp32_for_one_step(self):
        torch.manual_seed(0)
        ref = build()
        amp = deepcopy(ref)
        ref_w = MultiOptimWrapperConstructor(deepcopy(OPTIM))(ref)
        amp_w = amp_wrappers(amp)
        set_iter(0)
        torch.manual_seed(1)
        log_ref = ref.train_step(batch(), ref_w)
        torch.manual_seed(1)
        log_amp = amp.train_step(batch(), amp_w)
        self.assertEqual(set(log_ref), set(log_amp))
        for key in log_ref:
            if key.startswith('loss_'):
                self.assertAlmostEqual(log_amp[key].item(),
                                       log_ref[key].item(),
                                       delta=0.05 * abs(log_ref[key].item())
                                       + 1e-3, msg=key)
