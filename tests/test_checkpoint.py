"""Tests for uagit_mm/checkpoint.py, uagit_mm/fileio.py,
engine/hooks/safe_checkpoint_hook.py and engine/runner.py."""
import os
import os.path as osp
import pathlib
import pickle
import tempfile
import unittest
from collections import OrderedDict
from types import SimpleNamespace
from unittest import mock

import numpy as np
import torch
from mmengine import MessageHub
from mmengine.logging import HistoryBuffer

import uagit_mm  # noqa: F401
from uagit_mm.checkpoint import (UnsafeCheckpointError, load_checkpoint_file,
                                 load_from_local, trusted_loading)
from uagit_mm.engine import SafeCheckpointHook, UAGITRunner
from uagit_mm.engine.hooks.safe_checkpoint_hook import (KEY, _from_plain,
                                                        _to_plain)
from uagit_mm.engine.runner import checkpoints_newest_first, is_corrupt_error
from uagit_mm.fileio import BACKEND_ARGS


class Harmless:
    """A custom class: not a tensor or builtin container, but harmless."""

    def __init__(self, value):
        self.value = value


class TouchPayload:
    """Unpickling an instance of this creates ``marker`` (runs code)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.marker), )


def _message_hub_state() -> dict:
    hub = MessageHub(f'test_checkpoint_{id(object())}')
    for i, loss in enumerate([0.5, 1.5, 2.5, 3.5, 4.5]):
        hub.update_scalar('train/loss', loss, count=i + 1)
    hub.update_scalar('train/lr', np.float32(1e-4))
    hub.update_info('iter', 5)
    hub.update_info('epoch', np.int64(2))
    hub.update_info('scale', np.float64(0.25))
    hub.update_info('counts', np.arange(6, dtype=np.int64).reshape(2, 3))
    state = hub.state_dict()
    # a buffer with a small max_length that has dropped old entries
    small = HistoryBuffer(max_length=3)
    for v in range(5):
        small.update(float(v), count=2)
    state['log_scalars']['train/small'] = small
    return state


def _save(obj, folder, name='ckpt.pth') -> str:
    path = osp.join(folder, name)
    torch.save(obj, path)
    return path


class TestPlainConversion(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def _assert_same_state(self, got: dict, expected: dict) -> None:
        self.assertEqual(set(got), set(expected))
        self.assertEqual(set(got['log_scalars']), set(expected['log_scalars']))
        for key, buf in expected['log_scalars'].items():
            restored = got['log_scalars'][key]
            self.assertIsInstance(restored, HistoryBuffer, key)
            np.testing.assert_array_equal(restored.data[0], buf.data[0])
            np.testing.assert_array_equal(restored.data[1], buf.data[1])
            self.assertEqual(restored.max_length, buf.max_length)
            self.assertAlmostEqual(restored.mean(), buf.mean())
            self.assertAlmostEqual(restored.current(), buf.current())
        info, expected_info = got['runtime_info'], expected['runtime_info']
        self.assertEqual(set(info), set(expected_info))
        self.assertEqual(info['iter'], 5)
        self.assertEqual(info['epoch'], 2)
        self.assertEqual(info['scale'], 0.25)
        # numpy arrays come back with the same values (as tensors)
        np.testing.assert_array_equal(
            np.asarray(info['counts']), expected_info['counts'])
        self.assertEqual(got['resumed_keys'], expected['resumed_keys'])

    def test_round_trip_in_memory(self):
        state = _message_hub_state()
        self.assertEqual(state['log_scalars']['train/small'].max_length, 3)
        self.assertEqual(len(state['log_scalars']['train/small'].data[0]), 3)
        self._assert_same_state(_from_plain(_to_plain(state)), state)

    def test_plain_holds_only_tensors_and_builtins(self):
        plain = _to_plain(_message_hub_state())

        def walk(value):
            if isinstance(value, dict):
                for k, v in value.items():
                    self.assertIsInstance(k, str)
                    walk(v)
            elif isinstance(value, (list, tuple)):
                for v in value:
                    walk(v)
            else:
                self.assertIsInstance(
                    value, (torch.Tensor, int, float, bool, str, type(None)),
                    repr(value))
                self.assertNotIsInstance(value, np.generic)

        walk(plain)
        self.assertIsInstance(plain['runtime_info']['epoch'], int)
        self.assertIsInstance(plain['runtime_info']['scale'], float)

    def test_plain_saves_and_loads_with_weights_only(self):
        state = _message_hub_state()
        path = _save(_to_plain(state), self.tmp.name)
        loaded = torch.load(path, weights_only=True)
        self._assert_same_state(_from_plain(loaded), state)

    def test_message_hub_state_fails_weights_only(self):
        """Why SafeCheckpointHook exists: mmengine's own state is refused."""
        path = _save(_message_hub_state(), self.tmp.name)
        with self.assertRaises(pickle.UnpicklingError):
            torch.load(path, weights_only=True)

    def test_message_hub_loads_restored_state(self):
        state = _message_hub_state()
        path = _save(_to_plain(state), self.tmp.name)
        hub = MessageHub(f'test_checkpoint_load_{id(self)}')
        hub.load_state_dict(_from_plain(torch.load(path, weights_only=True)))
        np.testing.assert_array_equal(
            hub.get_scalar('train/loss').data[0], [0.5, 1.5, 2.5, 3.5, 4.5])
        self.assertEqual(hub.get_info('iter'), 5)


def _runner():
    from types import SimpleNamespace
    model = torch.nn.Module()
    model.w = torch.nn.Parameter(torch.ones(2))
    return SimpleNamespace(model=model)


class TestSafeCheckpointHook(unittest.TestCase):

    def test_weights_saved_from_the_unwrapped_model(self):
        runner = _runner()
        ckpt = dict(state_dict=OrderedDict(stale=torch.zeros(1)))
        SafeCheckpointHook().before_save_checkpoint(runner, ckpt)
        self.assertEqual(list(ckpt['state_dict']), ['w'])
        self.assertTrue(torch.equal(ckpt['state_dict']['w'], torch.ones(2)))

    def test_keys_of_wrapped_children_are_unwrapped(self):
        # as in distributed runs: mmagic wraps each child in DDP, so
        # mmengine's state_dict has 'generators.module.<...>' keys
        from mmengine.model import is_model_wrapper
        from mmengine.registry import MODEL_WRAPPERS

        @MODEL_WRAPPERS.register_module(name='_TestWrapper', force=True)
        class Wrapper(torch.nn.Module):
            def __init__(self, module):
                super().__init__()
                self.module = module

        inner = torch.nn.Module()
        inner.w = torch.nn.Parameter(torch.ones(2))
        outer = torch.nn.Module()
        outer.generators = Wrapper(inner)
        runner = SimpleNamespace(model=Wrapper(outer))
        self.assertTrue(is_model_wrapper(runner.model))
        ckpt = dict(state_dict=runner.model.state_dict())
        self.assertEqual(list(ckpt['state_dict']),
                         ['module.generators.module.w'])
        SafeCheckpointHook().before_save_checkpoint(runner, ckpt)
        self.assertEqual(list(ckpt['state_dict']), ['generators.w'])

    def test_save_then_load_restores_message_hub(self):
        hook = SafeCheckpointHook()
        state = _message_hub_state()
        ckpt = dict(
            state_dict=OrderedDict(w=torch.ones(2)),
            message_hub=state,
            meta=dict(seed=np.int64(3), epoch=1))
        hook.before_save_checkpoint(_runner(), ckpt)
        with tempfile.TemporaryDirectory() as tmp:
            loaded = torch.load(_save(ckpt, tmp), weights_only=True)
        self.assertEqual(loaded['meta'], dict(seed=3, epoch=1))
        hook.after_load_checkpoint(None, loaded)
        restored = loaded['message_hub']['log_scalars']['train/loss']
        self.assertIsInstance(restored, HistoryBuffer)
        np.testing.assert_array_equal(
            restored.data[0], state['log_scalars']['train/loss'].data[0])

    def test_checkpoint_without_message_hub_is_untouched(self):
        ckpt = dict(state_dict=OrderedDict(w=torch.ones(2)))
        SafeCheckpointHook().before_save_checkpoint(_runner(), ckpt)
        SafeCheckpointHook().after_load_checkpoint(None, ckpt)
        self.assertEqual(set(ckpt), {'state_dict', KEY})

    def test_writes_through_the_atomic_backend_by_default(self):
        self.assertEqual(SafeCheckpointHook().backend_args, BACKEND_ARGS)
        own = dict(backend='local')
        self.assertEqual(SafeCheckpointHook(backend_args=own).backend_args,
                         own)


class TestLoadFromLocal(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def test_plain_checkpoint_loads(self):
        path = _save(dict(state_dict=OrderedDict(w=torch.arange(3.))),
                     self.tmp.name)
        ckpt = load_from_local(path, map_location='cpu')
        self.assertTrue(torch.equal(ckpt['state_dict']['w'],
                                    torch.arange(3.)))

    def test_missing_file_raises_file_not_found(self):
        path = osp.join(self.tmp.name, 'nope', 'missing.pth')
        with self.assertRaises(FileNotFoundError) as ctx:
            load_from_local(path)
        self.assertIn(path, str(ctx.exception))

    def test_code_payload_is_refused_and_not_run(self):
        marker = osp.join(self.tmp.name, 'payload_ran')
        path = _save(dict(meta=TouchPayload(marker)), self.tmp.name)
        self.assertFalse(osp.exists(marker))
        with self.assertRaises(UnsafeCheckpointError) as ctx:
            load_from_local(path)
        self.assertIn(path, str(ctx.exception))
        self.assertFalse(osp.exists(marker))

    def test_code_payload_is_live(self):
        """Control for the test above: full unpickling does run it."""
        marker = osp.join(self.tmp.name, 'payload_ran')
        path = _save(dict(meta=TouchPayload(marker)), self.tmp.name)
        torch.load(path, weights_only=False)
        self.assertTrue(osp.exists(marker))

    def test_custom_object_refused_outside_trusted_block(self):
        path = _save(dict(meta=Harmless(7)), self.tmp.name)
        with self.assertRaises(UnsafeCheckpointError):
            load_from_local(path)

    def test_custom_object_loads_inside_trusted_loading(self):
        path = _save(dict(meta=Harmless(7)), self.tmp.name)
        with trusted_loading('test'):
            ckpt = load_from_local(path)
        self.assertIsInstance(ckpt['meta'], Harmless)
        self.assertEqual(ckpt['meta'].value, 7)
        # trust ends with the block
        with self.assertRaises(UnsafeCheckpointError):
            load_from_local(path)

    def test_trusted_loading_nests_and_restores(self):
        path = _save(dict(meta=Harmless(1)), self.tmp.name)
        with trusted_loading('outer'):
            with trusted_loading('inner'):
                pass
            self.assertIsInstance(load_from_local(path)['meta'], Harmless)
        with self.assertRaises(UnsafeCheckpointError):
            load_from_local(path)

    def test_expands_user(self):
        _save(dict(w=torch.ones(1)), self.tmp.name)
        with mock.patch.dict(os.environ, {'HOME': self.tmp.name}):
            ckpt = load_from_local('~/ckpt.pth')
        self.assertTrue(torch.equal(ckpt['w'], torch.ones(1)))


class TestLoadersUntouched(unittest.TestCase):
    """mmengine's own loaders are not patched: only uagit_mm's runner,
    inferencer and tools load through load_from_local."""

    def test_mmengine_local_loader_is_its_own(self):
        from mmengine.runner import checkpoint as mm_checkpoint
        for name in ('some/local/file.pth', '/abs/file.pth', 'file.pth'):
            self.assertIs(
                mm_checkpoint.CheckpointLoader._get_checkpoint_loader(name),
                mm_checkpoint.load_from_local, name)

    def test_load_checkpoint_file_refuses_payload(self):
        with tempfile.TemporaryDirectory() as tmp:
            marker = osp.join(tmp, 'payload_ran')
            path = _save(dict(meta=TouchPayload(marker)), tmp)
            with self.assertRaises(UnsafeCheckpointError):
                load_checkpoint_file(path, map_location='cpu')
            self.assertFalse(osp.exists(marker))


def _disk_full_open(real_open):
    """``open`` whose binary writes store 10 bytes, then fail as a full
    disk does; the same fault for our backend and mmengine's."""

    class Full:

        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[:10])
            raise OSError(28, 'No space left on device')

        def __getattr__(self, name):
            return getattr(self.f, name)

    def fake_open(path, mode='r', *args, **kwargs):
        f = real_open(path, mode, *args, **kwargs)
        return Full(f) if 'w' in mode and 'b' in mode else f

    return fake_open


class TestAtomicBackend(unittest.TestCase):

    def _fail_second_write(self, module: str, backend_args):
        """Save a checkpoint, then save another under the same name that
        hits a full disk in ``module``'s ``open``; return the folder and the
        checkpoint's path."""
        import builtins

        from mmengine.runner.checkpoint import save_checkpoint
        d = tempfile.mkdtemp()
        self.addCleanup(__import__('shutil').rmtree, d)
        path = os.path.join(d, 'iter_1.pth')
        save_checkpoint({'a': torch.ones(2)}, path, backend_args=backend_args)
        with mock.patch(f'{module}.open', _disk_full_open(builtins.open),
                        create=True):
            with self.assertRaisesRegex(OSError, 'No space left'):
                save_checkpoint({'a': torch.zeros(2)}, path,
                                backend_args=backend_args)
        return d, path

    def test_failed_write_keeps_the_old_file(self):
        d, path = self._fail_second_write('uagit_mm.fileio', BACKEND_ARGS)
        self.assertTrue(torch.equal(
            torch.load(path, weights_only=True)['a'], torch.ones(2)))
        self.assertEqual(os.listdir(d), ['iter_1.pth'])

    def test_stock_local_backend_is_not_atomic(self):
        """Control for the test above: the same fault in mmengine's own
        LocalBackend leaves a truncated checkpoint."""
        _, path = self._fail_second_write(
            'mmengine.fileio.backends.local_backend', None)
        self.assertEqual(os.path.getsize(path), 10)
        with self.assertRaises(Exception):
            torch.load(path, weights_only=True)


class TestResumeChoice(unittest.TestCase):

    def test_newest_first_and_corruption_detection(self):
        import zipfile
        with tempfile.TemporaryDirectory() as d:
            for n in (2, 10, 4):
                open(os.path.join(d, f'iter_{n}.pth'), 'w').close()
            open(os.path.join(d, 'best.pth'), 'w').close()
            self.assertEqual(
                [os.path.basename(p) for p in checkpoints_newest_first(d)],
                ['iter_10.pth', 'iter_4.pth', 'iter_2.pth'])
        self.assertTrue(is_corrupt_error(EOFError()))
        self.assertTrue(is_corrupt_error(zipfile.BadZipFile()))
        self.assertTrue(is_corrupt_error(RuntimeError(
            'PytorchStreamReader failed reading zip archive: failed finding '
            'central directory')))
        self.assertFalse(is_corrupt_error(RuntimeError('size mismatch')))
        self.assertFalse(is_corrupt_error(UnsafeCheckpointError('x')))

    def test_resume_takes_a_newer_complete_checkpoint(self):
        with tempfile.TemporaryDirectory() as d:
            runner = SimpleNamespace(work_dir=d, logger=mock.MagicMock())

            def make(name, mtime):
                path = os.path.join(d, name)
                open(path, 'w').close()
                os.utime(path, (mtime, mtime))
                return path

            def choice(named):
                return UAGITRunner._newest_complete(runner, named)

            named = make('iter_5.pth', 1000)
            newer = make('iter_10.pth', 2000)
            make('epoch_20.pth', 3000)  # another kind: never taken
            # killed after writing iter_10, before last_checkpoint named it
            self.assertEqual(choice(named), newer)
            # a higher number left by an earlier run (older file): not taken
            os.utime(newer, (500, 500))
            self.assertEqual(choice(named), named)


if __name__ == '__main__':
    unittest.main()


class TestHostMethodsGuarded(unittest.TestCase):
    """SafeCheckpointHook overrides private methods of mmengine's
    CheckpointHook: a renamed or re-signed method fails at import."""

    def test_present_today_and_refused_when_changed(self):
        from uagit_mm.engine.hooks.safe_checkpoint_hook import (
            HOST_METHODS, check_host_methods)
        check_host_methods()  # the pinned mmengine has them

        class Renamed:
            def _save_best_checkpoint(self, runner, metrics):
                pass

        class Resigned(Renamed):
            def _save_checkpoint_with_step(self, runner, step):
                pass

        with self.assertRaisesRegex(ImportError,
                                    '_save_checkpoint_with_step is missing'):
            check_host_methods(Renamed, HOST_METHODS)
        with self.assertRaisesRegex(
                ImportError, r'_save_checkpoint_with_step is '
                r'\(self, runner, step\); SafeCheckpointHook overrides it'):
            check_host_methods(Resigned, HOST_METHODS)

    def test_resume_seam_checked_and_host_left_as_it_was(self):
        from uagit_mm.compat import check_loop_seam, replay_then_restore
        check_loop_seam()  # the pinned mmengine draws from the attribute

        class Renamed:
            def __init__(self):
                self.data_iter = iter([])

            def run(self):
                next(self.data_iter)

        with self.assertRaisesRegex(ImportError, 'Renamed no longer draws '
                                    'its batches from self.dataloader_'):
            check_loop_seam(Renamed)

        # the swap: `skip` batches pass, the callback runs right before the
        # first new one, and the loop has its own iterator back after it
        class Loop:
            pass

        loop, calls = Loop(), []
        inner = iter(range(5))
        loop.dataloader_iterator = inner
        replay_then_restore(loop, 2, lambda: calls.append(
            loop.dataloader_iterator is inner))
        got = [next(loop.dataloader_iterator) for _ in range(2)]
        self.assertEqual((got, calls), ([0, 1], []))
        self.assertIsNot(loop.dataloader_iterator, inner)
        self.assertEqual(next(loop.dataloader_iterator), 2)
        self.assertEqual(calls, [False])  # before the iterator went back
        self.assertIs(loop.dataloader_iterator, inner)
