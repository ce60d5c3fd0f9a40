"""Tests for uagit_mm/compat.py: the fixes that let mmagic 1.2.0 run here."""
import importlib
import importlib.util
import os.path as osp
import sys
import unittest
from collections import defaultdict
from unittest import mock

import numpy as np
import torch
import torch.nn as nn

import uagit_mm  # noqa: F401  (applies the fixes)
from uagit_mm import compat


def _record_init_info(model: nn.Module) -> None:
    """Set ``_params_init_info`` on every submodule as mmengine's
    ``BaseModule.init_weights`` does when the Runner initialises a model."""
    info = defaultdict(dict)
    for p in model.parameters():
        info[p]['init_info'] = 'The value is the same before and after ' \
            'calling `init_weights`'
        info[p]['tmp_mean_value'] = p.data.mean().cpu()
    for m in model.modules():
        m._params_init_info = info


def _original_generation_init_weights():
    """A fresh copy of mmagic's own (unpatched) ``generation_init_weights``.

    compat replaces the function in every mmagic module that imported it, so
    the original is re-read from mmagic's source file.
    """
    import mmagic.models.utils as utils
    path = osp.join(osp.dirname(utils.__file__), 'model_utils.py')
    spec = importlib.util.spec_from_file_location(
        'mmagic.models.utils._test_original_model_utils', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generation_init_weights


class TestNumpyBool8(unittest.TestCase):

    def test_bool8_is_bool_(self):
        self.assertTrue(hasattr(np, 'bool8'))
        self.assertIs(np.bool8, np.bool_)

    def test_mmagic_trans_utils_imports(self):
        # mmagic/utils/trans_utils.py uses np.bool8 at import time
        module = importlib.import_module('mmagic.utils.trans_utils')
        self.assertTrue(hasattr(module, 'bbox2mask'))


class TestMMCVExtPlaceholder(unittest.TestCase):

    def test_mmagic_models_imports(self):
        models = importlib.import_module('mmagic.models')
        self.assertTrue(hasattr(models, 'BaseTranslationModel'))
        # mmcv.ops is imported by mmagic.models and needs mmcv._ext
        self.assertIn('mmcv.ops', sys.modules)

    def test_mmcv_full_available_is_false(self):
        from mmengine.utils.dl_utils import mmcv_full_available
        self.assertIs(mmcv_full_available(), False)

    def test_op_call_raises_runtime_error_naming_mmcv_lite(self):
        ext = sys.modules['mmcv._ext']
        self.assertIsInstance(ext, compat._MissingMMCVOps)
        for name in ('nms', 'deform_conv_forward', 'anything_else'):
            op = getattr(ext, name)
            self.assertTrue(callable(op))
            with self.assertRaises(RuntimeError) as ctx:
                op(torch.zeros(1))
            self.assertIn('mmcv-lite', str(ctx.exception))
            self.assertIn(name, str(ctx.exception))

    def test_dunder_attributes_raise_attribute_error(self):
        ext = sys.modules['mmcv._ext']
        with self.assertRaises(AttributeError):
            ext.__wrapped__  # noqa: B018
        self.assertFalse(hasattr(ext, '__path__'))
        self.assertIsNotNone(ext.__spec__)
        self.assertIsNone(ext.__spec__.loader)

    def test_fix_is_idempotent(self):
        ext = sys.modules['mmcv._ext']
        applied = list(compat.APPLIED)
        compat._fix_mmcv_ext()
        self.assertIs(sys.modules['mmcv._ext'], ext)
        self.assertEqual(compat.APPLIED, applied)


class TestGenerationInitWeights(unittest.TestCase):

    def test_original_mmagic_function_is_broken(self):
        original = _original_generation_init_weights()
        self.assertIsNot(original, compat._generation_init_weights)
        self.assertTrue(compat._init_weights_is_broken(original))

    def test_replacement_is_not_broken(self):
        self.assertFalse(
            compat._init_weights_is_broken(compat._generation_init_weights))

    def test_replaced_in_every_importing_module(self):
        for name in ('mmagic.models.utils',
                     'mmagic.models.utils.model_utils',
                     'mmagic.models.editors.cyclegan.cyclegan_generator',
                     'mmagic.models.editors.pix2pix.pix2pix_generator',
                     'mmagic.models.archs.patch_disc',
                     'mmagic.models.archs.smpatch_disc'):
            module = importlib.import_module(name)
            self.assertIs(module.generation_init_weights,
                          compat._generation_init_weights, name)

    def test_init_with_recorded_init_info(self):
        torch.manual_seed(0)
        model = nn.Sequential(
            nn.Conv2d(3, 64, 3), nn.InstanceNorm2d(64), nn.ReLU(),
            nn.Conv2d(64, 64, 3), nn.BatchNorm2d(64), nn.LeakyReLU(0.2),
            nn.Linear(64, 64))
        for m in model:
            if getattr(m, 'bias', None) is not None:
                nn.init.constant_(m.bias, 1.0)
        _record_init_info(model)
        compat._generation_init_weights(model, init_gain=0.02)
        for idx in (0, 3, 6):
            layer = model[idx]
            self.assertAlmostEqual(layer.weight.std().item(), 0.02, delta=4e-3)
            self.assertAlmostEqual(layer.weight.mean().item(), 0.0, delta=4e-3)
            self.assertTrue(torch.equal(layer.bias,
                                        torch.zeros_like(layer.bias)))
        bn = model[4]
        self.assertAlmostEqual(bn.weight.mean().item(), 1.0, delta=0.01)
        self.assertTrue(torch.equal(bn.bias, torch.zeros_like(bn.bias)))
        # init info recorded for the initialised layers only
        info = model[0]._params_init_info
        self.assertIn('Conv2d', info[model[0].weight]['init_info'])
        self.assertIn('BatchNorm2d', info[model[4].weight]['init_info'])

    def test_unknown_init_type_raises(self):
        with self.assertRaises(NotImplementedError):
            compat._generation_init_weights(
                nn.Conv2d(1, 1, 1), init_type='bogus')


class TestMMagicNetsInitInsideBaseModule(unittest.TestCase):
    """The Runner path: a parent BaseModule records init info, then calls the
    children's ``init_weights`` (what raised UnboundLocalError upstream)."""

    @staticmethod
    def _parent(child: nn.Module) -> nn.Module:
        from mmengine.model import BaseModule

        class Parent(BaseModule):

            def __init__(self, child):
                super().__init__()
                self.child = child

        return Parent(child)

    def _check(self, make_net) -> None:
        # the same set-up with mmagic's own function shows the upstream crash
        module = sys.modules[make_net().__class__.__module__]
        with mock.patch.object(module, 'generation_init_weights',
                               _original_generation_init_weights()):
            with self.assertRaises(UnboundLocalError):
                self._parent(make_net()).init_weights()

        net = make_net()
        for p in net.parameters():
            nn.init.constant_(p, 0.5)
        self._parent(net).init_weights()  # must not raise
        convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
        self.assertTrue(convs)
        weights = torch.cat([c.weight.flatten() for c in convs])
        self.assertAlmostEqual(weights.std().item(), 0.02, delta=4e-3)
        for conv in convs:
            if conv.bias is not None:
                self.assertTrue(torch.equal(conv.bias,
                                            torch.zeros_like(conv.bias)))

    def test_resnet_generator(self):
        from mmagic.models.editors.cyclegan import ResnetGenerator
        self._check(lambda: ResnetGenerator(
            3, 3, base_channels=8, num_blocks=1, norm_cfg=dict(type='IN')))

    def test_patch_discriminator(self):
        from mmagic.models.archs.patch_disc import PatchDiscriminator
        self._check(lambda: PatchDiscriminator(
            3, base_channels=8, num_conv=2, norm_cfg=dict(type='IN'),
            init_cfg=dict(type='normal', gain=0.02)))


if __name__ == '__main__':
    unittest.main()
