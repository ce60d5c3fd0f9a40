"""Every config in configs/ loads, builds its model and says what it does."""
import glob
import os.path as osp
import re
import unittest

import torch.nn as nn
from mmengine import Config
from mmengine.registry import init_default_scope

import uagit_mm  # noqa: F401
from mmagic.registry import MODELS

CONFIG_DIR = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                      'configs')
CONFIGS = sorted(glob.glob(osp.join(CONFIG_DIR, '*.py')))
PAPER_CONFIGS = ('uagit_horse2zebra.py', 'uagit_apple2orange.py')
HOLISTIC_CONFIG = 'uagit-holistic-d_horse2zebra.py'
AUTHORS_CODE_CONFIG = 'uagit-authors-code_horse2zebra.py'
HUE_CONFIG = 'uagit_cpu_1xb1-2500iters_synthetichue64.py'
TEXTURE_CONFIG = 'uagit_cpu_1xb1-2500iters_synthetic64.py'


def setUpModule():
    # as the Runner does with the configs' default_scope
    init_default_scope('mmagic')


def _load(path: str) -> Config:
    return Config.fromfile(path)


def _shrink(cfg: Config) -> None:
    cfg.model.generator.base_channels = 8
    cfg.model.generator.num_blocks = 1
    cfg.model.discriminator.base_channels = 8
    if 'attention' in cfg.model:
        cfg.model.attention.base_channels = 4


def _domains(cfg: Config):
    """The two domains of a UAGIT config, or of the CycleGAN baseline."""
    return list(cfg.model.get('domains', None)
                or cfg.model.reachable_domains)


def _loaders(cfg: Config, key: str) -> list:
    """The dataloader(s) under ``key``: mmagic's multi-loops take lists."""
    loaders = cfg.get(key, None)
    return list(loaders) if isinstance(loaders, list) else \
        [] if loaders is None else [loaders]


def _is_uagit(cfg: Config) -> bool:
    return cfg.model.type == 'UAGIT'


def _transforms(pipeline):
    """All transforms of a pipeline, including those of wrappers."""
    for t in pipeline:
        yield t
        inner = t.get('transforms', None)
        if inner is not None:
            yield from _transforms(inner if isinstance(inner, list) else
                                   [inner])


def _iters_in_name(name: str):
    """3000 for '...-3kiters_...', 300 for '...-300iters_...', else None."""
    match = re.search(r'(\d+)(k?)iters', name)
    if match is None:
        return None
    return int(match.group(1)) * (1000 if match.group(2) else 1)


class TestConfigs(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.cfgs = {osp.basename(p): _load(p) for p in CONFIGS}

    def test_configs_found(self):
        names = set(self.cfgs)
        self.assertTrue(
            set(PAPER_CONFIGS) | {HOLISTIC_CONFIG} <= names, names)
        self.assertFalse([n for n in names if n.startswith('_')])

    def test_iters_in_name_parser(self):
        self.assertEqual(_iters_in_name('a_1xb1-3kiters_b.py'), 3000)
        self.assertEqual(_iters_in_name('a_1xb1-300iters_b.py'), 300)
        self.assertIsNone(_iters_in_name('uagit_horse2zebra.py'))

    def test_registration_and_scope(self):
        for name, cfg in self.cfgs.items():
            with self.subTest(config=name):
                self.assertEqual(cfg.default_scope, 'mmagic')
                self.assertIn('uagit_mm', cfg.custom_imports.imports)
                self.assertFalse(cfg.custom_imports.allow_failed_imports)

    def test_models_build(self):
        for path in CONFIGS:
            name = osp.basename(path)
            with self.subTest(config=name):
                cfg = _load(path)
                _shrink(cfg)
                # our model, or mmagic's CycleGAN as the comparison baseline
                kind = 'UAGIT' if name.startswith('uagit') else 'CycleGAN'
                self.assertEqual(cfg.model.type, kind)
                model = MODELS.build(cfg.model)
                self.assertEqual(type(model).__name__, kind)
                domains = _domains(cfg)
                self.assertEqual(len(domains), 2)
                self.assertEqual(len(set(domains)), 2)
                self.assertEqual(sorted(model._reachable_domains),
                                 sorted(domains))
                groups = ('generators', 'attentions', 'discriminators') \
                    if kind == 'UAGIT' else ('generators', 'discriminators')
                for group in groups:
                    modules = getattr(model, group)
                    self.assertIsInstance(modules, nn.ModuleDict, group)
                    self.assertEqual(sorted(modules.keys()), sorted(domains),
                                     group)
                    # direct children, so optimizer wrappers can name them
                    self.assertIs(model._modules[group], modules)
                # the shrunk sizes were used (base_channels 8)
                self.assertEqual(
                    model.generators[domains[0]].model[0].conv.out_channels,
                    8)

    def test_dataset_domains_match_model(self):
        for name, cfg in self.cfgs.items():
            with self.subTest(config=name):
                for key in ('train_dataloader', 'test_dataloader',
                            'val_dataloader'):
                    for loader in _loaders(cfg, key):
                        dataset = loader.dataset
                        self.assertEqual(
                            [dataset.domain_a, dataset.domain_b],
                            _domains(cfg), key)
                        self.assertEqual(dataset.data_root, cfg.data_root,
                                         key)
                for loader in _loaders(cfg, 'test_dataloader'):
                    self.assertTrue(loader.dataset.test_mode)

    def test_test_pipeline_names_the_model_domains(self):
        # mmagic's TranslationInferencer builds cfg.test_pipeline with no
        # dataset to supply the domain names
        for name, cfg in self.cfgs.items():
            with self.subTest(config=name):
                packers = [t for t in cfg.test_pipeline
                           if t.type == 'PackUnpairedInputs']
                if not packers:  # mmagic's own packing (CycleGAN)
                    continue
                self.assertEqual(packers[0].get('domains'), _domains(cfg))
                for loader in _loaders(cfg, 'test_dataloader'):
                    self.assertEqual(
                        loader.dataset.pipeline[-1].get('domains'),
                        _domains(cfg))

    def test_sub_optimizers_have_explicit_type(self):
        for name, cfg in self.cfgs.items():
            with self.subTest(config=name):
                optim = cfg.optim_wrapper
                self.assertEqual(optim.constructor,
                                 'MultiOptimWrapperConstructor')
                subs = {k: v for k, v in optim.items() if k != 'constructor'}
                self.assertEqual(set(subs), {'generators', 'discriminators'})
                for key, sub in subs.items():
                    self.assertIn(sub.get('type', None),
                                  ('OptimWrapper', 'AmpOptimWrapper'), key)
                if _is_uagit(cfg):
                    self.assertIn('attentions', optim.generators.modules)

    def test_train_batch_size_is_one(self):
        for name, cfg in self.cfgs.items():
            with self.subTest(config=name):
                self.assertEqual(cfg.train_dataloader.batch_size, 1)
                match = re.search(r'(\d+)xb(\d+)', name)
                if match:
                    self.assertEqual(int(match.group(1)), 1)
                    self.assertEqual(int(match.group(2)),
                                     cfg.train_dataloader.batch_size)

    def test_max_iters_match_name(self):
        checked = 0
        for name, cfg in self.cfgs.items():
            iters = _iters_in_name(name)
            if iters is None:
                continue
            with self.subTest(config=name):
                self.assertEqual(cfg.train_cfg.type, 'IterBasedTrainLoop')
                self.assertEqual(cfg.train_cfg.max_iters, iters)
                checked += 1
        self.assertGreaterEqual(checked, 1)

    def test_validation_never_on_the_test_set(self):
        # best checkpoints are picked on a split of their own (valA/valB),
        # so the test set's figures are not chosen on it
        validating = 0
        for name, cfg in self.cfgs.items():
            for loader in _loaders(cfg, 'val_dataloader'):
                with self.subTest(config=name):
                    self.assertEqual(loader.dataset.get('split'), 'val')
                    validating += 1
        self.assertGreaterEqual(validating, 6)

    def test_sharpness_before_the_switch_in_the_full_cpu_configs(self):
        for name in ('uagit_cpu_1xb1-2500iters_synthetic64.py',
                     'uagit_cpu_1xb1-2500iters_synthetichue64.py'):
            model = self.cfgs[name].model
            with self.subTest(config=name):
                self.assertGreater(model.sharpness.weight, 0)
                # ramped in, and fully on, while the attention still trains
                self.assertLess(model.sharpness.end, model.switch_iter)
        # the quick start keeps the setting its figures were measured with
        self.assertEqual(self.cfgs['uagit_cpu_1xb1-1000iters_synthetic64.py']
                         .model.sharpness.weight, 0)

    def test_paper_hyper_parameters(self):
        for name in PAPER_CONFIGS:
            cfg = self.cfgs[name]
            with self.subTest(config=name):
                model = cfg.model
                self.assertEqual(model.generator.base_channels, 32)
                self.assertEqual(model.generator.num_blocks, 9)
                self.assertEqual(model.cycle_loss.loss_weight, 10.0)
                self.assertEqual(model.threshold, 0.1)
                # the random binary mask (not in the paper) is off
                self.assertIsNone(model.binary_mask_from)
                self.assertEqual(model.sharpness.weight, 0)  # nor penalty
                self.assertEqual(model.generator_input, 'foreground')
                self.assertEqual(model.switch_epoch, 30)
                self.assertIsNone(model.switch_iter)
                self.assertEqual(cfg.train_cfg.type, 'EpochBasedTrainLoop')
                self.assertEqual(cfg.train_cfg.max_epochs, 100)
                for key in ('generators', 'discriminators'):
                    optimizer = cfg.optim_wrapper[key].optimizer
                    self.assertEqual(optimizer.type, 'Adam')
                    self.assertEqual(optimizer.lr, 1e-4)
                    self.assertEqual(tuple(optimizer.betas), (0.5, 0.999))
                crops = [
                    t for t in _transforms(cfg.train_dataloader.dataset.
                                           pipeline)
                    if 'Crop' in t['type']
                ]
                self.assertEqual(len(crops), 1)
                self.assertEqual(tuple(crops[0].crop_size), (256, 256))
                self.assertTrue(crops[0].random_crop)

    def test_paper_configs_differ_only_in_data(self):
        h2z = self.cfgs['uagit_horse2zebra.py']
        a2o = self.cfgs['uagit_apple2orange.py']
        self.assertEqual(list(a2o.model.domains), ['apple', 'orange'])
        self.assertEqual(a2o.data_root, 'data/apple2orange')
        self.assertEqual(
            dict(a2o.model, domains=None), dict(h2z.model, domains=None))

    def test_holistic_ablation(self):
        cfg = self.cfgs[HOLISTIC_CONFIG]
        self.assertIsNone(cfg.model.switch_epoch)
        self.assertIsNone(cfg.model.switch_iter)
        # otherwise the horse2zebra paper config
        base = self.cfgs['uagit_horse2zebra.py']
        self.assertEqual(dict(cfg.model, switch_epoch=None),
                         dict(base.model, switch_epoch=None))
        self.assertEqual(cfg.train_cfg, base.train_cfg)

    def test_authors_code_variant(self):
        cfg = self.cfgs[AUTHORS_CODE_CONFIG]
        self.assertEqual(cfg.model.generator_input, 'full')
        self.assertEqual(cfg.model.attention.up_kernel_size, 1)
        base = self.cfgs['uagit_horse2zebra.py']
        self.assertEqual(
            dict(cfg.model, generator_input=None,
                 attention=dict(cfg.model.attention, up_kernel_size=None)),
            dict(base.model, generator_input=None,
                 attention=dict(base.model.attention, up_kernel_size=None)))
        self.assertEqual(cfg.train_cfg, base.train_cfg)
        model = MODELS.build(cfg.model)
        convs = [m for m in model.attentions['horse'].modules()
                 if isinstance(m, nn.Conv2d)]
        # 7x7 and 3x3 down, 3x3 residual convs, then 1x1 up and out convs
        self.assertEqual([c.kernel_size[0] for c in convs[-3:]], [1, 1, 1])
        self.assertEqual(model.generator_input, 'full')

    def test_colour_only_cpu_config(self):
        hue, tex = self.cfgs[HUE_CONFIG], self.cfgs[TEXTURE_CONFIG]
        self.assertEqual(hue.data_root, 'data/synthetichue64')
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader'):
            self.assertEqual(hue[loader].dataset.data_root,
                             'data/synthetichue64', loader)
        for evaluator in ('test_evaluator', 'val_evaluator'):
            (metric, ) = hue[evaluator].metrics
            self.assertEqual(metric.judge, 'hue')
            self.assertEqual(set(metric.appearance.values()), {'A', 'B'})
            self.assertEqual(list(metric.appearance),
                             list(hue.model.domains))
        # model and schedule as in the texture config
        self.assertEqual(dict(hue.model, domains=None),
                         dict(tex.model, domains=None))
        self.assertEqual(hue.train_cfg, tex.train_cfg)
        self.assertEqual(hue.param_scheduler, tex.param_scheduler)


if __name__ == '__main__':
    unittest.main()


class TestRealDataConfigs(unittest.TestCase):
    """The horse2zebra 64 px CPU configs: validation on the held-out
    training images, testing with FID/KID on the test sets and the mask
    figures on the held-out images."""

    NAMES = ('uagit_cpu_1xb1-3000iters_horse2zebra64.py',
             'cyclegan_cpu_1xb1-3000iters_horse2zebra64.py',
             'uagit_cpu_1xb1-6000iters_horse2zebra128.py')

    def test_splits_and_metrics(self):
        for name in self.NAMES:
            with self.subTest(config=name):
                cfg = _load(osp.join(CONFIG_DIR, name))
                self.assertEqual(cfg.val_dataloader.dataset.split, 'val')
                test, masks = cfg.test_dataloader
                self.assertIsNone(test.dataset.get('split'))
                self.assertEqual(masks.dataset.split, 'val')
                fid, attn = cfg.test_evaluator
                self.assertEqual(
                    [(m.type, m.inception_path, m.real_key, m.fake_key)
                     for m in fid.metrics],
                    [('TransFIDKID', 'auto', 'img_zebra', 'fake_zebra'),
                     ('TransFIDKID', 'auto', 'img_horse', 'fake_horse')])
                self.assertEqual(attn.metrics[0].type,
                                 'AttentionTranslationMetric')
                self.assertEqual(cfg.val_evaluator.metrics[0].type,
                                 'AttentionTranslationMetric')

    def test_data_root_reaches_every_loader(self):
        from uagit_mm.utils import load_config
        cfg = load_config(osp.join(CONFIG_DIR, self.NAMES[0]),
                          {'data_root': '/elsewhere'})
        roots = [loader.dataset.data_root for key in (
            'train_dataloader', 'val_dataloader', 'test_dataloader')
            for loader in _loaders(cfg, key)]
        self.assertEqual(roots, ['/elsewhere'] * 4)

    def test_the_128px_config_is_the_64px_one_at_128px_for_longer(self):
        small = _load(osp.join(CONFIG_DIR, self.NAMES[0]))
        large = _load(osp.join(CONFIG_DIR, self.NAMES[2]))
        roots = {loader.dataset.data_root for key in (
            'train_dataloader', 'val_dataloader', 'test_dataloader')
            for loader in _loaders(large, key)}
        self.assertEqual(roots, {'data/horse2zebra128'})
        self.assertEqual(large.train_cfg.max_iters, 6000)
        self.assertEqual(large.model.switch_iter, 2000)
        self.assertEqual((large.param_scheduler[0].begin,
                          large.param_scheduler[0].end), (3000, 6000))
        # the same model otherwise, warm-up, detached cycle and price included
        self.assertEqual(dict(large.model.to_dict(), switch_iter=None),
                         dict(small.model.to_dict(), switch_iter=None))
        self.assertEqual(large.test_evaluator, small.test_evaluator)

    def test_what_the_real_data_config_changes_from_the_paper(self):
        """The horse2zebra 64 px config warms up, keeps the cycle loss off
        the attention and prices the attended area (docs/results.md); the
        paper config keeps the paper's losses."""
        from mmengine.logging import MessageHub
        init_default_scope('mmagic')
        hub = MessageHub.get_current_instance()
        cfg = _load(osp.join(CONFIG_DIR, self.NAMES[0]))
        _shrink(cfg)
        model = MODELS.build(cfg.model)
        self.assertFalse(model.cycle_trains_attention)
        seen = {}
        for it in (0, 999, 1000, 1999, 2000):
            hub.update_info('iter', it)
            seen[it] = model.schedule.state(hub)
        for it in (0, 999):  # warm-up: whole images, attention not trained
            self.assertEqual(seen[it].fixed_mask, 1.0)
            self.assertFalse(seen[it].train_attention)
            self.assertEqual(seen[it].area_cost, 0.0)
        for it in (1000, 1999):  # the attention trains, at a price
            self.assertIsNone(seen[it].fixed_mask)
            self.assertTrue(seen[it].train_attention)
            self.assertEqual(seen[it].area_cost, 0.3)
        self.assertEqual(seen[2000].phase, 2)  # frozen, masked D
        self.assertFalse(seen[2000].train_attention)
        paper = _load(osp.join(CONFIG_DIR, 'uagit_horse2zebra.py'))
        _shrink(paper)
        model = MODELS.build(paper.model)
        self.assertTrue(model.cycle_trains_attention)
        self.assertIsNone(model.schedule.warmup)
        self.assertEqual(model.schedule.area_cost, 0.0)
