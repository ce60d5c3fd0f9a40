"""End to end in a real browser: tools/demo.py serves a checkpoint trained
here, headless Chromium (Debian's chromium and chromium-driver, through
Selenium) uploads images, moves the controls and downloads the PNGs.

The browser comes from tools/dev/install_browser.sh (run by
tools/run_tests.sh); this test installs nothing. Without it the test is
skipped, except on CI (CI=true), where it fails.
"""
import glob
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys
import time
import unittest
import urllib.request

import numpy as np
from PIL import Image
from test_train_test_resume import (CONFIG, ROOT, TINY, SyntheticDataTestCase,
                                    run)

from uagit_mm.apis import init_model, translate_arrays
from uagit_mm.apis.mask_control import MaskOptions

ON_CI = os.environ.get('CI') == 'true'
#: Model options of TINY (the demo loads the checkpoint with them).
MODEL_OPTS = [o for o in TINY if o.startswith('model.')]
TIMEOUT = 120  # seconds for any one thing the page does


def missing_tools():
    """What the test needs and this machine lacks."""
    missing = [name for name in ('chromium', 'chromedriver')
               if not shutil.which(name)]
    for module in ('selenium', 'gradio'):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    return missing


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class TestDemoInBrowser(SyntheticDataTestCase):

    num_images = 2

    @classmethod
    def setUpClass(cls):
        missing = missing_tools()
        if missing:
            reason = (f'the demo\'s browser test needs {", ".join(missing)}: '
                      'bash tools/dev/install_browser.sh (as root) and pip '
                      'install -e ".[demo]"')
            if ON_CI:
                raise AssertionError(f'on CI this test must run; {reason}')
            raise unittest.SkipTest(reason)
        super().setUpClass()
        cls.server = cls.driver = None
        try:
            cls._start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _start(cls):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        tmp = cls.tmp.name
        # a tiny model trained for four iterations (both phases)
        work = osp.join(tmp, 'work')
        rc, out = run('tools/train.py', CONFIG, '--work-dir', work,
                      '--cfg-options', f'data_root={cls.data}',
                      'train_cfg.max_iters=4', *TINY)
        assert rc == 0, out[-3000:]
        cls.ckpt = osp.join(work, 'iter_4.pth')
        # a built-in test image, made 32 wide and 24 high
        first = osp.join(cls.data, 'testA', '000000.png')
        img = np.asarray(Image.open(first).convert('RGB'))
        cls.image = np.ascontiguousarray(img[4:28])
        cls.upload = osp.join(tmp, 'upload.png')
        Image.fromarray(cls.image).save(cls.upload)
        cls.junk = osp.join(tmp, 'junk.png')
        with open(cls.junk, 'w') as f:
            f.write('this is not an image')

        port = free_port()
        cls.url = f'http://127.0.0.1:{port}/'
        cls.log_path = osp.join(tmp, 'demo.log')
        env = dict(os.environ, OMP_NUM_THREADS='1',
                   GRADIO_ANALYTICS_ENABLED='False', HF_HUB_OFFLINE='1',
                   GRADIO_TEMP_DIR=osp.join(tmp, 'gradio'), TMPDIR=tmp)
        with open(cls.log_path, 'w') as log:
            cls.server = subprocess.Popen(
                [sys.executable, '-W', 'ignore', 'tools/demo.py', CONFIG,
                 cls.ckpt, '--port', str(port), '--host', '127.0.0.1',
                 '--cfg-options', *MODEL_OPTS],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + TIMEOUT
        while True:
            assert cls.server.poll() is None, cls.server_log()
            try:
                with urllib.request.urlopen(cls.url, timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.time() < deadline, cls.server_log()
            time.sleep(0.5)

        cls.downloads = osp.join(tmp, 'downloads')
        os.makedirs(cls.downloads)
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which('chromium')
        for arg in (
                '--headless=new', '--no-sandbox', '--disable-dev-shm-usage',
                '--window-size=1400,1100', f'--user-data-dir={tmp}/profile',
                # loopback only: Gradio's page template asks a CDN for a
                # script and preconnects to a font host
                '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, '
                'EXCLUDE 127.0.0.1', '--disable-background-networking',
                '--disable-component-update', '--no-first-run'):
            options.add_argument(arg)
        options.add_experimental_option('prefs', {
            'download.default_directory': cls.downloads,
            'download.prompt_for_download': False
        })
        cls.driver = webdriver.Chrome(
            service=Service(shutil.which('chromedriver')), options=options)
        cls.driver.set_page_load_timeout(TIMEOUT)

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, 'driver', None) is not None:
            cls.driver.quit()
        if getattr(cls, 'server', None) is not None:
            cls.server.terminate()
            try:
                cls.server.wait(20)
            except subprocess.TimeoutExpired:
                cls.server.kill()
                cls.server.wait()
        super().tearDownClass()

    @classmethod
    def server_log(cls) -> str:
        with open(cls.log_path) as f:
            return 'demo server log:\n' + f.read()[-3000:]

    # helpers: the page's elements by the ids uagit_mm.apis.demo gives them
    def find(self, css):
        from selenium.webdriver.common.by import By
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def status(self) -> str:
        return self.find('#status textarea').get_attribute('value')

    def wait_for(self, predicate, what):
        from selenium.webdriver.support.ui import WebDriverWait
        try:
            return WebDriverWait(self.driver, TIMEOUT).until(
                lambda _: predicate())
        except Exception:
            self.fail(f'timed out waiting for {what}; status '
                      f'{self.status()!r}\n{self.server_log()}')

    def wait_status(self, *parts):
        self.wait_for(lambda: all(p in self.status() for p in parts),
                      f'status with {parts}')
        return self.status()

    def download(self, button: str, name: str) -> Image.Image:
        """Click a download button; the downloaded PNG, read."""
        for f in glob.glob(osp.join(self.downloads, '*')):
            os.remove(f)
        self.wait_for(lambda: self.find(button).is_enabled(),
                      f'{button} enabled')
        self.find(button).click()
        path = osp.join(self.downloads, name)
        self.wait_for(lambda: osp.isfile(path) and not glob.glob(
            osp.join(self.downloads, '*.crdownload')), f'download {name}')
        with Image.open(path) as img:
            self.assertEqual(img.format, 'PNG')
            img.load()
            return img

    def expected(self, target, **options):
        (fake, mask), = translate_arrays(self.model(), [self.image], target,
                                         max_side=1024,
                                         mask_options=MaskOptions(**options))
        return fake, mask

    def model(self):
        if not hasattr(self, '_model'):
            opts = dict(o.split('=') for o in MODEL_OPTS)
            type(self)._model = init_model(
                CONFIG, self.ckpt,
                cfg_options={k: int(v) for k, v in opts.items()})
        return self._model

    def test_page(self):
        self.driver.get(self.url)
        self.wait_for(lambda: self.find('#upload input[type=file]'),
                      'the upload field')

        # a broken upload: a message in the page, no stack trace
        self.find('#upload input[type=file]').send_keys(self.junk)
        msg = self.wait_status('Cannot use this file: junk.png')
        self.assertIn('cannot identify image file', msg)
        self.assertNotIn('Traceback', self.driver.page_source)
        self.assertFalse(self.find('#download-translation').is_enabled())

        # an upload: input | mask | translation, both PNGs downloaded
        self.find('#upload button[aria-label="Clear"]').click()
        self.wait_for(lambda: not self.status(), 'the status to clear')
        self.find('#upload input[type=file]').send_keys(self.upload)
        self.wait_status('smooth → striped, 32×24 px', 'continuous mask')
        for panel in ('#input-image', '#mask-image', '#translation-image'):
            size = self.driver.execute_script(
                'const i = document.querySelector(arguments[0] + " img");'
                'return i && i.complete ? [i.naturalWidth, i.naturalHeight]'
                ' : null;', panel)
            self.assertEqual(size, [32, 24], panel)
        fake = self.download('#download-translation',
                             'upload_smooth2striped.png')
        mask = self.download('#download-mask',
                             'upload_smooth2striped_mask.png')
        self.assertEqual((fake.mode, fake.size), ('RGB', (32, 24)))
        self.assertEqual((mask.mode, mask.size), ('L', (32, 24)))
        soft = np.asarray(mask)
        self.assertGreater(len(np.unique(soft)), 2)  # a continuous mask
        want_fake, want_mask = self.expected('striped')
        np.testing.assert_array_equal(np.asarray(fake), want_fake)
        np.testing.assert_array_equal(soft, want_mask)
        self.driver.save_screenshot(osp.join(self.tmp.name, 'demo.png'))

        # the threshold slider: a binary mask, the translation follows
        from selenium.webdriver.common.keys import Keys
        box = self.find('#threshold input[type=number]')
        box.send_keys(Keys.CONTROL, 'a')
        box.send_keys('0.5', Keys.ENTER)
        self.wait_status('mask threshold 0.5')
        binary = np.asarray(self.download(
            '#download-mask', 'upload_smooth2striped_mask.png'))
        self.assertEqual(set(np.unique(binary)) | {0, 255}, {0, 255})
        want_fake, want_mask = self.expected('striped', threshold=0.5)
        np.testing.assert_array_equal(binary, want_mask)
        fake = np.asarray(self.download(
            '#download-translation', 'upload_smooth2striped.png'))
        np.testing.assert_array_equal(fake, want_fake)

        # invert: the complement
        self.find('#invert input[type=checkbox]').click()
        self.wait_status('mask threshold 0.5, inverted')
        inverted = np.asarray(self.download(
            '#download-mask', 'upload_smooth2striped_mask.png'))
        np.testing.assert_array_equal(inverted, 255 - binary)

        # the other direction
        self.driver.execute_script(
            'document.querySelector(\'#direction input[value="b2a"]\')'
            '.click();')
        self.wait_status('striped → smooth, 32×24 px', 'inverted')
        want_fake, want_mask = self.expected('smooth', threshold=0.5,
                                             invert=True)
        np.testing.assert_array_equal(
            np.asarray(self.download(
                '#download-mask', 'upload_striped2smooth_mask.png')),
            want_mask)

        # a built-in test image from the gallery (64 x 64)
        self.find('#examples .thumbnail-item').click()
        self.wait_status('striped → smooth, 64×64 px')
        self.assertEqual(self.find('#upload td.filename')
                         .get_attribute('aria-label'), 'testA_000000.png')
        shot = osp.join(self.tmp.name, 'demo-gallery.png')
        self.assertTrue(self.driver.save_screenshot(shot))
        self.assertEqual(Image.open(shot).format, 'PNG')
