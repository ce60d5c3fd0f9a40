from types import SimpleNamespace
from unittest import TestCase, mock

from mmengine.runner import EpochBasedTrainLoop

import uagit_mm  # noqa: F401
from uagit_mm.engine import PhaseScheduleHook


def runner(switch_iter=None, switch_epoch=None, max_iters=100,
           max_epochs=None):
    model = SimpleNamespace(switch_iter=switch_iter,
                            switch_epoch=switch_epoch, attentions={})
    if max_epochs is None:
        loop = SimpleNamespace(max_epochs=1)  # IterBasedTrainLoop-like
    else:
        loop = mock.MagicMock(spec=EpochBasedTrainLoop)
        loop.max_epochs = max_epochs
    return SimpleNamespace(model=model, max_iters=max_iters, train_loop=loop)


class TestPhaseScheduleHook(TestCase):

    def test_switch_past_end_is_refused(self):
        with self.assertRaisesRegex(ValueError, 'switch_iter=100.*max_iters'):
            PhaseScheduleHook().before_train(runner(switch_iter=100))
        with self.assertRaisesRegex(ValueError, 'switch_epoch=30.*max_epochs'):
            PhaseScheduleHook().before_train(
                runner(switch_epoch=30, max_epochs=30))
        with self.assertRaisesRegex(ValueError, 'epoch-based'):
            PhaseScheduleHook().before_train(runner(switch_epoch=3))

    def test_valid_schedules_are_announced(self):
        with mock.patch('uagit_mm.engine.hooks.schedule_check_hook.print_log'
                        ) as log:
            PhaseScheduleHook().before_train(runner(switch_iter=60))
            PhaseScheduleHook().before_train(
                runner(switch_epoch=30, max_epochs=100))
            PhaseScheduleHook().before_train(runner())
        msgs = [c.args[0] for c in log.call_args_list]
        self.assertIn('iteration 60', msgs[0])
        self.assertIn('epoch 30', msgs[1])
        self.assertIn('holistic', msgs[2])
