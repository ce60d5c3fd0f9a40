"""The local web demo: a Gradio page around :func:`translate_arrays`.

    python tools/demo.py CONFIG CHECKPOINT [--port 7860] [--host 127.0.0.1]
    (or, once installed: uagit-demo CONFIG CHECKPOINT ...)
        [--device cpu] [--max-side 1024] [--max-pixels N]
        [--examples DIR] [--cfg-options ...]

Upload or drop an image (or pick a built-in test image), choose the
direction and see input | attention mask | translation; a mask-threshold
slider (0 = the model's continuous mask) and an invert switch change the
mask the translation uses; both download as PNGs. The translation is the
one ``tools/translate.py`` makes: :func:`translate_arrays` with
:class:`~uagit_mm.apis.mask_control.MaskOptions`. Gradio is an optional
extra (``pip install -e .[demo]``); only :meth:`TranslationDemo.build`
imports it.
"""
import argparse
import logging
import os
import os.path as osp
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import List, Optional, Union

import numpy as np
from mmengine.config import DictAction

from ..errors import MissingFileError
from ..fileio import save_png
from .image_io import (DEFAULT_MAX_PIXELS, ImageReadError,
                       config_color_profiles, find_images, read_rgb)
from .inference import resolve_direction, translate_arrays
from .mask_control import MaskOptions

logger = logging.getLogger(__name__)

#: Pick at most this many images of ``--examples DIR`` for the page.
MAX_EXAMPLES = 24
#: Small images fill their panel, their pixels kept sharp.
_CSS = ('.uagit-view img {width: 100%; height: 100%; object-fit: contain; '
        'image-rendering: pixelated;}')


@dataclass
class DemoResult:
    """What the page shows for one image; arrays are None on an error.

    Attributes:
        image: The input as translated, RGB uint8 (H, W, 3).
        mask: The mask the translation used, uint8 (H, W), 255 = attended.
        translation: RGB uint8 (H, W, 3).
        translation_png, mask_png: The two as PNG files, for download.
        message: One line for the page: what was done, or what went wrong.
    """
    image: Optional[np.ndarray] = None
    mask: Optional[np.ndarray] = None
    translation: Optional[np.ndarray] = None
    translation_png: Optional[str] = None
    mask_png: Optional[str] = None
    message: str = ''


class TranslationDemo:
    """The demo's callback (:meth:`run`) and page (:meth:`build`).

    Args:
        model: A UAGIT model in eval mode, or an exported file's
            translator (:func:`~uagit_mm.apis.exported.load_translator`).
        max_side (int, optional): Run the networks on larger images at
            this longer side and compose at the image's own size, as
            ``tools/translate.py --max-side``.
        max_pixels (int): Refuse larger images, as ``--max-pixels``
            (uploads are judged from the file header before decoding).
        examples (list[str], optional): Image files offered on the page;
            default: a few built-in synthetic test images made here.
        out_dir (str, optional): Where the PNGs for download go; default:
            a temporary folder removed by :meth:`close`.
    """

    def __init__(self,
                 model,
                 max_side: Optional[int] = None,
                 max_pixels: int = DEFAULT_MAX_PIXELS,
                 examples: Optional[List[str]] = None,
                 out_dir: Optional[str] = None):
        self.model = model
        self.max_side = max_side
        self.max_pixels = max_pixels
        self._own_dir = out_dir is None
        self.out_dir = out_dir or tempfile.mkdtemp(prefix='uagit-demo-')
        self.domains = list(model._reachable_domains)
        self.examples = (list(examples) if examples is not None else
                         builtin_examples(osp.join(self.out_dir, 'examples')))

    def close(self) -> None:
        """Remove the temporary folder (if this object made it)."""
        if self._own_dir:
            shutil.rmtree(self.out_dir, ignore_errors=True)

    def run(self,
            image: Union[str, np.ndarray, None],
            direction: str = 'a2b',
            threshold: float = 0.0,
            invert: bool = False) -> DemoResult:
        """Translate one image as the page asks; never raises for bad input.

        Args:
            image: A file path (an upload) or an RGB uint8 array (H, W, 3).
            direction (str): 'a2b' or 'b2a' (a, b: the config's domains).
            threshold (float): Binarise the attention at this value; 0
                keeps the model's continuous mask.
            invert (bool): Translate where the model does not attend.

        Returns:
            DemoResult: The arrays and PNG paths, or only ``message`` when
            the image cannot be used.
        """
        if image is None or (isinstance(image, str) and not image):
            return DemoResult(message='Upload an image or pick an example.')
        name = (osp.basename(image) if isinstance(image, str) else 'image')
        try:
            img = self._read(image)
            target = resolve_direction(self.model, direction)
            options = MaskOptions(
                threshold=float(threshold) if threshold else None,
                invert=bool(invert))
            (fake, mask), = translate_arrays(
                self.model, [img], target, max_side=self.max_side,
                mask_options=options)
        except ImageReadError as err:
            # read_rgb names the uploaded copy's full path; the name is
            # what the user knows
            msg = str(err).replace(str(image), name)
            return DemoResult(message=f'Cannot use this file: {msg}')
        except (ValueError, RuntimeError, MemoryError) as err:
            # e.g. out of memory for a large image: say so, keep serving
            logger.exception('translation failed')
            reason = str(err).splitlines()[0] if str(err) else \
                type(err).__name__
            return DemoResult(message=f'Translation failed: {reason}')
        source = self.model.other_domain(target)
        stem = f'{osp.splitext(name)[0]}_{source}2{target}'
        folder = self._new_folder()
        paths = (osp.join(folder, stem + '.png'),
                 osp.join(folder, stem + '_mask.png'))
        save_png(paths[0], fake)
        save_png(paths[1], mask)
        h, w = img.shape[:2]
        message = f'{source} → {target}, {w}×{h} px'
        if self.max_side and max(h, w) > self.max_side:
            message += f' (translated at longer side {self.max_side})'
        message += (f'; mask threshold {threshold:g}' if threshold else
                    '; continuous mask')
        if invert:
            message += ', inverted'
        return DemoResult(img, mask, fake, paths[0], paths[1], message)

    def _read(self, image: Union[str, np.ndarray]) -> np.ndarray:
        if isinstance(image, str):
            # read as the model's config reads its training images
            return read_rgb(image, max_pixels=self.max_pixels,
                            color_profiles=config_color_profiles(
                                getattr(self.model, 'cfg', None)))
        arr = np.asarray(image)
        if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
            raise ImageReadError(f'image: expected RGB uint8 (H, W, 3), got '
                                 f'{arr.dtype} {arr.shape}')
        h, w = arr.shape[:2]
        if h * w > self.max_pixels:
            raise ImageReadError(
                f'image: {w}x{h} is {h * w:,} pixels, more than the limit '
                f'of {self.max_pixels:,} (--max-pixels)')
        return arr

    def _new_folder(self) -> str:
        """A fresh folder per result, so a download never gets a file a
        later request replaced; folders older than an hour go (Gradio keeps
        its own copies, see ``delete_cache`` in :meth:`build`)."""
        root = osp.join(self.out_dir, 'results')
        os.makedirs(root, exist_ok=True)
        for entry in os.scandir(root):
            if time.time() - entry.stat().st_mtime > 3600:
                shutil.rmtree(entry.path, ignore_errors=True)
        return tempfile.mkdtemp(dir=root)

    def build(self, title: str = 'uagit_mm demo'):
        """The Gradio page (``gradio.Blocks``); call ``.launch()`` on it."""
        import gradio as gr
        from gradio.themes.utils.fonts import LocalFont

        a, b = self.domains
        # a font Gradio ships: its default theme loads one from Google
        theme = gr.themes.Default(font=[
            LocalFont('IBM Plex Sans'),
            *map(gr.themes.Font, ('ui-sans-serif', 'system-ui', 'sans-serif'))
        ])
        with gr.Blocks(title=title, theme=theme, css=_CSS,
                       analytics_enabled=False,
                       delete_cache=(600, 3600)) as page:
            gr.Markdown(f'## {title}: {a} ↔ {b}\nAttention-guided '
                        'translation (Mejjati et al., NeurIPS 2018). The '
                        'mask shows where the model translates; everything '
                        'else is copied from the input.')
            with gr.Row():
                with gr.Column():
                    upload = gr.File(label='Image: upload or drop',
                                     type='filepath', elem_id='upload')
                    gallery = gr.Gallery(
                        value=[(p, osp.basename(p)) for p in self.examples],
                        label='or pick a test image', columns=6, height=140,
                        allow_preview=False,
                        elem_id='examples')
                with gr.Column():
                    direction = gr.Radio([(f'{a} → {b}', 'a2b'),
                                          (f'{b} → {a}', 'b2a')],
                                         value='a2b', label='Direction',
                                         elem_id='direction')
                    # MaskOptions takes thresholds in [0, 1)
                    threshold = gr.Slider(
                        0, 0.99, value=0, step=0.01, elem_id='threshold',
                        label='Mask threshold (0 = continuous mask)')
                    invert = gr.Checkbox(False, label='Invert the mask',
                                         elem_id='invert')
                    status = gr.Textbox(label='Status', interactive=False,
                                        elem_id='status')
            with gr.Row():
                shown, mask, fake = (
                    gr.Image(label=label, interactive=False, format='png',
                             height=320, elem_id=elem_id,
                             elem_classes=['uagit-view'])
                    for label, elem_id in (
                        ('Input', 'input-image'),
                        ('Attention mask', 'mask-image'),
                        ('Translation', 'translation-image')))
            with gr.Row():
                get_fake = gr.DownloadButton(
                    'Download translation (PNG)', interactive=False,
                    elem_id='download-translation')
                get_mask = gr.DownloadButton(
                    'Download mask (PNG)', interactive=False,
                    elem_id='download-mask')

            def show(path, direction, threshold, invert):
                if not path:  # cleared
                    r = DemoResult()
                else:
                    r = self.run(path, direction, threshold, invert)
                return (r.image, r.mask, r.translation,
                        gr.DownloadButton(value=r.translation_png,
                                          interactive=bool(r.mask_png)),
                        gr.DownloadButton(value=r.mask_png,
                                          interactive=bool(r.mask_png)),
                        r.message)

            def pick(evt: gr.SelectData):
                return self.examples[evt.index]

            gallery.select(pick, None, upload)
            gr.on([upload.change, direction.change, threshold.change,
                   invert.change], show,
                  [upload, direction, threshold, invert],
                  [shown, mask, fake, get_fake, get_mask, status],
                  trigger_mode='always_last', show_progress='minimal')
        return page


def builtin_examples(folder: str, per_domain: int = 2,
                     size: int = 64) -> List[str]:
    """Write a few test images of the built-in synthetic set (the first
    ``per_domain`` of ``testA`` and ``testB`` for seed 0, as
    ``tools/make_synthetic_dataset.py`` draws them) and return their
    paths."""
    from ..datasets.synthetic import render_sample, sample_rng
    paths = []
    for domain in ('A', 'B'):
        for i in range(per_domain):
            image, _ = render_sample(sample_rng(0, 'test', domain, i),
                                     domain, size)
            path = osp.join(folder, f'test{domain}_{i:06d}.png')
            save_png(path, image)
            paths.append(path)
    return paths


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description='Serve a local web page that translates images with a '
        'uagit_mm model and shows its attention mask')
    p.add_argument('config')
    p.add_argument('checkpoint', help='a checkpoint, or a file of '
                   'tools/export.py (.onnx, TorchScript)')
    p.add_argument('--port', type=int, default=7860)
    p.add_argument('--host', default='127.0.0.1',
                   help='address to listen on (0.0.0.0: every interface; '
                   'the page has no login)')
    p.add_argument('--device', default='cpu')
    p.add_argument('--max-side', type=int, default=1024,
                   help='translate larger images at this longer side, then '
                   'resize the result back (as tools/translate.py; 0: no '
                   'bound; default 1024, so that the page stays responsive)')
    p.add_argument('--max-pixels', type=int, default=None,
                   help='refuse larger images, judged from the file header '
                   'before decoding (default: 36,000,000, e.g. 6000x6000)')
    p.add_argument('--examples', metavar='DIR',
                   help='offer the images of this folder (default: a few '
                   'built-in synthetic test images)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, key=value')
    args = p.parse_args(argv)
    if not 0 < args.port < 65536:
        p.error('--port must be in 1..65535')
    if args.max_side < 0:
        p.error('--max-side must be >= 0')
    if args.max_pixels is not None and args.max_pixels < 1:
        p.error('--max-pixels must be >= 1')
    return args


def main(argv=None) -> int:
    """The command; a ``UserError`` (e.g. a refused checkpoint) ends it with
    its message and status 2, as in the other tools."""
    from ..errors import run_tool
    return run_tool(_main, argv)


def _main(argv=None) -> int:
    args = parse_args(argv)
    try:
        import gradio  # noqa: F401
    except ImportError:
        print('error: the demo needs Gradio: pip install -e ".[demo]" '
              '(see requirements/demo.txt)', file=sys.stderr)
        return 2
    examples = None
    if args.examples:
        if not osp.isdir(args.examples):
            print(f'error: --examples {args.examples} is not a folder',
                  file=sys.stderr)
            return 2
        examples = [p for p, _ in find_images(args.examples)][:MAX_EXAMPLES]
        if not examples:
            print(f'error: --examples {args.examples} holds no images',
                  file=sys.stderr)
            return 2
    if not osp.isfile(args.checkpoint):
        raise MissingFileError(f'checkpoint {args.checkpoint} does not exist')
    port_error = _cannot_listen(args.host, args.port)
    if port_error:  # say so before the model loads
        print(f'error: {port_error}', file=sys.stderr)
        return 2
    max_pixels = args.max_pixels or DEFAULT_MAX_PIXELS
    from PIL import Image
    if Image.MAX_IMAGE_PIXELS and Image.MAX_IMAGE_PIXELS < max_pixels:
        Image.MAX_IMAGE_PIXELS = max_pixels  # ours is the limit that counts
    # a checkpoint, or an exported .onnx / TorchScript file, as in
    # tools/translate.py
    from .exported import load_translator
    model = load_translator(args.config, args.checkpoint, device=args.device,
                            cfg_options=args.cfg_options)
    demo = TranslationDemo(model, max_side=args.max_side or None,
                           max_pixels=max_pixels, examples=examples)

    def stop(signum, frame):
        # as Ctrl-C: Gradio closes its server, the temporary folder goes
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        page = demo.build(
            title=f'uagit_mm: {osp.splitext(osp.basename(args.config))[0]}')
        # one translation at a time: the model is shared
        page.queue(default_concurrency_limit=1).launch(
            server_name=args.host, server_port=args.port, share=False,
            show_api=False, inbrowser=False)
    except OSError as err:  # e.g. the port was taken meanwhile
        print(f'error: cannot serve on {args.host}:{args.port}: {err}',
              file=sys.stderr)
        return 2
    finally:
        demo.close()
    return 0


def _cannot_listen(host: str, port: int) -> Optional[str]:
    """Why the page cannot be served on ``host:port``, or None."""
    try:
        family = socket.getaddrinfo(host, port)[0][0]
        with socket.socket(family) as s:
            s.bind((host, port))
    except OSError as err:
        return (f'cannot listen on {host}:{port} ({err.strerror or err}); '
                'choose another --port or --host')
    return None


if __name__ == '__main__':
    sys.exit(main())
