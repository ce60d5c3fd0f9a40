"""Translate with an exported file (ONNX or TorchScript) as with a model.

:class:`ExportedTranslator` gives the part of a UAGIT model's interface that
:func:`uagit_mm.apis.translate_tensors` and the tools use
(``translate(image, target_domain, mask=None)``, ``data_preprocessor.mean``
/ ``.std``, ``_reachable_domains``, ``_default_domain``,
``other_domain(d)``, ``device``) on top of a file written by
``tools/export.py``, so folders, masks and the inferencer work the same on
exported files. :func:`load_translator` picks a checkpoint or an exported
file by looking at the file.
"""
import json
import os.path as osp
import zipfile
from types import SimpleNamespace
from typing import Callable, Optional, Tuple

import numpy as np
import torch

from ..errors import ConfigError, MissingFileError, UserError

Tensor = torch.Tensor

#: The metadata key (ONNX metadata property / TorchScript extra file name)
#: that ``tools/export.py`` writes.
META_KEY = 'uagit'
#: How to get the optional packages.
DEPLOY_HINT = 'install them with: pip install -e .[deploy]'


class WrongDirectionError(UserError):
    """An exported file asked for the one direction it does not hold."""


def is_torchscript(path: str) -> bool:
    """Whether ``path`` is a TorchScript archive (``torch.jit.save``), as
    opposed to a ``torch.save`` checkpoint: both are zip files, only
    TorchScript holds compiled ``code/``."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any('/code/' in n or n.startswith('code/')
                   for n in z.namelist())


#: onnxruntime's graph optimisation levels by name ('all' is its default).
OPT_LEVELS = ('disable', 'basic', 'extended', 'all')


def _onnx_runner(path: str, device: str, threads: Optional[int],
                 optimization: str = 'all') -> Tuple[Callable, dict]:
    try:
        import onnxruntime as ort
    except ImportError as err:
        raise ConfigError(f'{path} is an ONNX file; running it needs '
                          f'onnxruntime ({DEPLOY_HINT})') from err
    providers = ['CPUExecutionProvider']
    if str(device).startswith('cuda'):
        if 'CUDAExecutionProvider' not in ort.get_available_providers():
            raise ConfigError(
                f'--device {device}: this onnxruntime has no CUDA provider '
                '(only ' + ', '.join(ort.get_available_providers()) +
                '); use --device cpu, or install onnxruntime-gpu')
        providers.insert(0, 'CUDAExecutionProvider')
    elif str(device) != 'cpu':
        raise ConfigError(f'--device {device}: ONNX files run on cpu or '
                          'cuda')
    options = ort.SessionOptions()
    level = ort.GraphOptimizationLevel
    options.graph_optimization_level = {
        'disable': level.ORT_DISABLE_ALL,
        'basic': level.ORT_ENABLE_BASIC,
        'extended': level.ORT_ENABLE_EXTENDED,
        'all': level.ORT_ENABLE_ALL
    }[optimization]
    if threads:
        options.intra_op_num_threads = int(threads)
    try:
        session = ort.InferenceSession(path, options, providers=providers)
    except Exception as err:  # onnxruntime raises its own Fail/InvalidGraph
        raise ConfigError(f'{path} is not a loadable ONNX file: '
                          f'{str(err).splitlines()[0]}') from err
    meta = session.get_modelmeta().custom_metadata_map
    names = [o.name for o in session.get_outputs()]

    def run(image: Tensor, mask: Tensor, weight: Tensor):
        feed = {
            'image': np.ascontiguousarray(image.cpu().numpy(), np.float32),
            'mask': np.ascontiguousarray(mask.cpu().numpy(), np.float32),
            'mask_weight': np.asarray(weight.cpu(), np.float32)
        }
        out = session.run(names, feed)
        return tuple(torch.from_numpy(o).to(image.device) for o in out)

    run.session = session
    return run, meta


def _torchscript_runner(path: str, device: str) -> Tuple[Callable, dict]:
    extra = {META_KEY: ''}
    try:
        module = torch.jit.load(path, map_location=device,
                                _extra_files=extra)
    except RuntimeError as err:
        raise ConfigError(f'{path} is not a loadable TorchScript file: '
                          f'{str(err).splitlines()[0]}') from err
    module.eval()
    meta = {META_KEY: extra[META_KEY].decode()
            if isinstance(extra[META_KEY], bytes) else extra[META_KEY]}

    def run(image: Tensor, mask: Tensor, weight: Tensor):
        with torch.inference_mode():
            return tuple(module(image, mask, weight))

    run.module = module
    return run, meta


def open_exported(path: str, device: str = 'cpu',
                  threads: Optional[int] = None,
                  optimization: str = 'all') -> Tuple[Callable, dict]:
    """Load an exported file (``threads`` and ``optimization``: see
    :class:`ExportedTranslator`).

    Returns:
        tuple: ``run(image, mask, mask_weight) -> (translation, mask)`` on
        tensors (the graph's inputs and outputs, see
        :class:`uagit_mm.apis.export.TranslationGraph`) and the metadata
        written with the graph (a dict).

    Raises:
        MissingFileError: No such file.
        ConfigError: Not an exported uagit_mm file, or its runtime missing.
    """
    if not osp.isfile(path):
        raise MissingFileError(f'exported file {path} does not exist')
    if path.endswith('.onnx'):
        run, raw = _onnx_runner(path, device, threads, optimization)
    elif is_torchscript(path):
        run, raw = _torchscript_runner(path, device)
    else:
        raise ConfigError(f'{path}: not an ONNX (.onnx) or TorchScript file')
    try:
        meta = json.loads(raw[META_KEY])
        meta['domains'], meta['target']
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(f'{path} was not written by tools/export.py (no '
                          f'{META_KEY!r} metadata)') from err
    return run, meta


class ExportedTranslator:
    """A UAGIT model's translation interface on an exported file.

    The file holds one direction (``meta['source']`` to ``meta['target']``,
    the default domain here); translating into the other domain raises
    :class:`WrongDirectionError` naming the file to export. Images are
    passed as the model takes them (normalised BGR, (N, 3, H, W)) and
    converted to the graph's RGB in [0, 1] and back.

    Args:
        path (str): A ``.onnx`` file (run by onnxruntime) or a TorchScript
            file (run by ``torch.jit``), from ``tools/export.py``.
        device (str): 'cpu' or 'cuda' (ONNX: needs onnxruntime's CUDA
            provider).
        threads (int, optional): onnxruntime's intra-op threads (default:
            its own choice, one per physical core).
        optimization (str): onnxruntime's graph optimisation level, one of
            :data:`OPT_LEVELS`. Defaults to 'all' (onnxruntime's default).
    """

    def __init__(self, path: str, device: str = 'cpu',
                 threads: Optional[int] = None,
                 optimization: str = 'all') -> None:
        self.path = path
        self._run, self.meta = open_exported(path, device, threads,
                                             optimization)
        self.device = torch.device(device)
        self._reachable_domains = list(self.meta['domains'])
        self._default_domain = self.meta['target']
        self.data_preprocessor = SimpleNamespace(
            mean=torch.tensor(self.meta['mean'],
                              dtype=torch.float32).reshape(1, -1, 1, 1),
            std=torch.tensor(self.meta['std'],
                             dtype=torch.float32).reshape(1, -1, 1, 1))
        self.cfg = None

    def other_domain(self, domain: str) -> str:
        """The domain that is not ``domain``."""
        return next(d for d in self._reachable_domains if d != domain)

    def translate(self, image: Tensor, target_domain: str,
                  mask: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """As ``UAGIT.translate``: ``image`` (N, 3, H, W) normalised BGR;
        returns the translation (same form) and the mask used (N, 1, H, W)
        in [0, 1], the attention network's unless ``mask`` is given."""
        if target_domain != self._default_domain:
            source = self.other_domain(target_domain)
            raise WrongDirectionError(
                f'{self.path} translates {self.meta["source"]} -> '
                f'{self.meta["target"]} only; for {source} -> '
                f'{target_domain} export that direction (tools/export.py '
                f'... --direction) and pass its file')
        pre = self.data_preprocessor
        mean, std = pre.mean.to(image.device), pre.std.to(image.device)
        rgb = (image.float() * std + mean).flip(1) / 255.0
        n, _, h, w = image.shape
        if mask is None:
            mask = rgb.new_zeros(n, 1, h, w)
            weight = rgb.new_zeros(())
        else:
            mask = mask.to(rgb).expand(n, 1, h, w)
            weight = rgb.new_ones(())
        out, used = self._run(rgb, mask, weight)
        return (out.flip(1) * 255.0 - mean) / std, used


def is_exported(path: Optional[str]) -> bool:
    """Whether ``path`` names a file of ``tools/export.py`` (``.onnx`` or a
    TorchScript archive) rather than a checkpoint."""
    return bool(path) and (path.endswith('.onnx') or (
        osp.isfile(path) and is_torchscript(path)))


def exported_translator(cfg, path: str,
                        device: str = 'cpu') -> ExportedTranslator:
    """An :class:`ExportedTranslator` for ``path``, checked against the
    domains of ``cfg`` (an mmengine ``Config``), with ``.cfg`` set.

    Raises:
        ConfigError: The exported file's domains are not the config's.
    """
    translator = ExportedTranslator(path, device)
    domains = (cfg.model.get('domains')
               or cfg.model.get('reachable_domains'))
    if domains is not None and \
            list(domains) != translator._reachable_domains:
        name = getattr(cfg, 'filename', None) or 'the config'
        raise ConfigError(
            f'{path} holds a model of the domains '
            f'{translator._reachable_domains}, config {name} has '
            f'{list(domains)}')
    translator.cfg = cfg
    return translator


def load_translator(config: str,
                    checkpoint: str,
                    device: str = 'cpu',
                    cfg_options: Optional[dict] = None):
    """A checkpoint's model (:func:`uagit_mm.apis.init_model`) or, for an
    exported file (:func:`is_exported`), an :class:`ExportedTranslator`
    checked against ``config``'s domains (:func:`exported_translator`).
    """
    if is_exported(checkpoint):
        from ..utils import load_config
        return exported_translator(load_config(config, cfg_options),
                                   checkpoint, device)
    from .inference import init_model
    return init_model(config, checkpoint, device=device,
                      cfg_options=cfg_options)
