"""pytest.ini hides the third-party deprecation warnings, not ours."""
import configparser
import os.path as osp
import warnings
from unittest import TestCase

from _pytest.config import parse_warning_filter

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def shown(category, module):
    """Whether a warning of ``category`` attributed to ``module`` survives
    the ini's filters (applied as pytest applies them: later lines win)."""
    ini = configparser.ConfigParser()
    ini.read(osp.join(ROOT, 'pytest.ini'))
    lines = [ln.strip() for ln in
             ini['pytest']['filterwarnings'].splitlines() if ln.strip()]
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter('always')
        for line in lines:
            action, message, cat, mod, lineno = parse_warning_filter(
                line, escape=False)
            warnings.filterwarnings(action, message, cat, mod, lineno)
        warnings.warn_explicit('x', category, 'file.py', 1, module=module)
    return bool(caught)


class TestWarningsFilter(TestCase):

    def test_third_party_hidden_ours_shown(self):
        for category in (DeprecationWarning, FutureWarning):
            for module in ('diffusers.utils', 'transformers', 'torch.jit',
                           'pkg_resources'):
                self.assertFalse(shown(category, module), module)
            for module in ('uagit_mm.models.uagit', 'uagit_mm',
                           'tools.train', 'test_uagit'):
                self.assertTrue(shown(category, module), module)
        self.assertFalse(shown(UserWarning, 'mmcv.cnn.bricks'))
        self.assertTrue(shown(UserWarning, 'uagit_mm.apis'))
