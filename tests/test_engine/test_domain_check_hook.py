from types import SimpleNamespace
from unittest import TestCase

import uagit_mm  # noqa: F401
from uagit_mm.engine import DomainCheckHook
from uagit_mm.engine.hooks.domain_check_hook import dataset_domains
from uagit_mm.errors import ConfigError


def runner_with(dataset, domains=('horse', 'zebra')):
    model = SimpleNamespace(_reachable_domains=list(domains))
    loop = SimpleNamespace(dataloader=SimpleNamespace(dataset=dataset))
    return SimpleNamespace(model=model, train_loop=loop, test_loop=loop,
                           val_loop=loop)


class TestDomainCheckHook(TestCase):

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
        hook = DomainCheckHook()
        for names in (('horse', 'zebra'), ('zebra', 'horse')):
            runner = runner_with(SimpleNamespace(domain_names=names))
            hook.before_train(runner)
            hook.before_test(runner)
            hook.before_val(runner)

    def test_other_names_stop_with_the_keys(self):
        runner = runner_with(SimpleNamespace(domain_names=('A', 'B')))
        for call, key in ((DomainCheckHook().before_train, 'train_dataloader'),
                          (DomainCheckHook().before_val, 'val_dataloader'),
                          (DomainCheckHook().before_test, 'test_dataloader')):
            with self.assertRaises(ConfigError) as ctx:
                call(runner)
            msg = str(ctx.exception)
            for text in (f'{key}.dataset', 'model.domains', "['A', 'B']",
                         "['horse', 'zebra']"):
                self.assertIn(text, msg)

    def test_unknown_dataset_or_model_is_not_checked(self):
        DomainCheckHook().before_train(runner_with(SimpleNamespace()))
        runner = runner_with(SimpleNamespace(domain_names=('A', 'B')))
        runner.model = SimpleNamespace()  # not a two-domain model
        DomainCheckHook().before_train(runner)
