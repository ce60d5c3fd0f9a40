"""RunCheckHook: domain names and the phase schedule, before the run."""
from types import SimpleNamespace
from unittest import TestCase, mock

from mmengine.runner import EpochBasedTrainLoop

import uagit_mm  # noqa: F401
from uagit_mm.engine import RunCheckHook
from uagit_mm.engine.hooks.run_check_hook import dataset_domains
from uagit_mm.errors import ConfigError


def runner_with(dataset, domains=('horse', 'zebra'), switch_iter=None,
                switch_epoch=None, max_iters=100, max_epochs=None):
    schedule = SimpleNamespace(switch_iter=switch_iter,
                               switch_epoch=switch_epoch)
    model = SimpleNamespace(_reachable_domains=list(domains),
                            schedule=schedule)
    if max_epochs is None:  # IterBasedTrainLoop-like
        loop = SimpleNamespace(max_epochs=1)
    else:
        loop = mock.MagicMock(spec=EpochBasedTrainLoop)
        loop.max_epochs = max_epochs
    loop.dataloader = SimpleNamespace(dataset=dataset)
    return SimpleNamespace(model=model, train_loop=loop, test_loop=loop,
                           val_loop=loop, max_iters=max_iters)


def schedule_runner(**kwargs):
    return runner_with(SimpleNamespace(domain_names=('horse', 'zebra')),
                       **kwargs)


class TestDomainCheck(TestCase):

    def test_names_of_the_supported_datasets(self):
        ours = SimpleNamespace(domain_names=('horse', 'zebra'))
        mmagic_style = SimpleNamespace(domain_a='horse', domain_b='zebra')
        self.assertEqual(dataset_domains(ours), ('horse', 'zebra'))
        self.assertEqual(dataset_domains(mmagic_style), ('horse', 'zebra'))
        # wrappers (RepeatDataset, ConcatDataset) are looked through
        self.assertEqual(dataset_domains(SimpleNamespace(dataset=ours)),
                         ('horse', 'zebra'))
        self.assertEqual(
            dataset_domains(SimpleNamespace(datasets=[mmagic_style])),
            ('horse', 'zebra'))
        self.assertIsNone(dataset_domains(SimpleNamespace()))

    def test_matching_names_pass_in_any_order(self):
        hook = RunCheckHook()
        for names in (('horse', 'zebra'), ('zebra', 'horse')):
            runner = runner_with(SimpleNamespace(domain_names=names))
            hook.before_train(runner)
            hook.before_test(runner)
            hook.before_val(runner)

    def test_other_names_stop_with_the_keys(self):
        runner = runner_with(SimpleNamespace(domain_names=('A', 'B')))
        for call, key in ((RunCheckHook().before_train, 'train_dataloader'),
                          (RunCheckHook().before_val, 'val_dataloader'),
                          (RunCheckHook().before_test, 'test_dataloader')):
            with self.assertRaises(ConfigError) as ctx:
                call(runner)
            msg = str(ctx.exception)
            for text in (f'{key}.dataset', 'model.domains', "['A', 'B']",
                         "['horse', 'zebra']"):
                self.assertIn(text, msg)

    def test_unknown_dataset_or_model_is_not_checked(self):
        RunCheckHook().before_train(runner_with(SimpleNamespace()))
        runner = runner_with(SimpleNamespace(domain_names=('A', 'B')))
        runner.model = SimpleNamespace()  # not a two-domain model
        RunCheckHook().before_train(runner)


class TestScheduleCheck(TestCase):

    def test_switch_past_end_is_refused(self):
        with self.assertRaisesRegex(ValueError, 'switch_iter=100.*max_iters'):
            RunCheckHook().before_train(schedule_runner(switch_iter=100))
        with self.assertRaisesRegex(ValueError, 'switch_epoch=30.*max_epochs'):
            RunCheckHook().before_train(
                schedule_runner(switch_epoch=30, max_epochs=30))
        with self.assertRaisesRegex(ValueError, 'epoch-based'):
            RunCheckHook().before_train(schedule_runner(switch_epoch=3))

    def test_valid_schedules_are_announced(self):
        with mock.patch('uagit_mm.engine.hooks.run_check_hook.print_log'
                        ) as log:
            RunCheckHook().before_train(schedule_runner(switch_iter=60))
            RunCheckHook().before_train(
                schedule_runner(switch_epoch=30, max_epochs=100))
            RunCheckHook().before_train(schedule_runner())
        msgs = [c.args[0] for c in log.call_args_list]
        self.assertIn('iteration 60', msgs[0])
        self.assertIn('epoch 30', msgs[1])
        self.assertIn('holistic', msgs[2])

    def test_model_without_schedule_is_not_checked(self):
        runner = schedule_runner(switch_iter=500)
        del runner.model.schedule  # e.g. mmagic's CycleGAN
        with mock.patch('uagit_mm.engine.hooks.run_check_hook.print_log'
                        ) as log:
            RunCheckHook().before_train(runner)
        log.assert_not_called()


class TestValidationReport(TestCase):

    def report(self, **cfg):
        from mmengine.config import Config
        runner = schedule_runner(max_iters=10, switch_iter=5)
        runner.cfg = Config(cfg)
        with mock.patch('uagit_mm.engine.hooks.run_check_hook.print_log'
                        ) as log:
            RunCheckHook().before_train(runner)
        return '\n'.join(str(c.args[0]) for c in log.call_args_list)

    def test_validation_interval_announced(self):
        out = self.report(val_dataloader=dict(batch_size=1),
                          train_cfg=dict(val_interval=7))
        self.assertIn('Validation every 7 iteration(s)', out)

    def test_missing_inception_file_named(self):
        out = self.report(val_dataloader=None, val_interval=0,
                          inception_path='/nowhere/inception.pt')
        self.assertIn('No validation while training', out)
        self.assertIn('/nowhere/inception.pt', out)
