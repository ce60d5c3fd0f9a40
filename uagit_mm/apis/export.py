"""One translation direction of a UAGIT model as a self-contained graph.

:class:`TranslationGraph` holds the source domain's attention network, the
target domain's generator and the composition (paper, eq. 1), with the
padding to the generator's size divisor and the normalisation inside, so an
exported file needs nothing from uagit_mm or mmagic to run.
"""
import contextlib
import copy
import inspect
import io
import json
import keyword
import os
import os.path as osp
import warnings
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from ..errors import ConfigError, UserError
from ..models.uagit import compose

Tensor = torch.Tensor

#: What an exported graph reads and writes (the same names in ONNX and
#: TorchScript files).
INPUT_NAMES = ('image', 'mask', 'mask_weight')
OUTPUT_NAMES = ('translation', 'mask_used')


def _as_long(n) -> Tensor:
    """A length as a 0-d int64 tensor. Lengths are ints in eager mode,
    symbolic ints under ``torch.export`` (``torch.scalar_tensor`` keeps
    them symbolic where ``torch.as_tensor`` would fix them to the example's
    size) and already tensors under ``torch.jit.trace``."""
    return n if isinstance(n, Tensor) else torch.scalar_tensor(
        n, dtype=torch.long)


def _round_up(n, divisor: int, least: int):
    """``max(ceil(n / divisor) * divisor, least)``, for an int, a symbolic
    int or a traced 0-d tensor (Python's ``max`` would fix the branch taken
    for the example)."""
    n = (n + divisor - 1) // divisor * divisor
    return n.clamp(min=least) if isinstance(n, Tensor) else \
        torch.sym_max(n, least)


def pad_index(size: Tensor, target, reflect: Tensor) -> Tensor:
    """Indices that pad a dimension of ``size`` to ``target`` at its end:
    mirrored without repeating the edge (``'reflect'``) or repeating it
    (``'replicate'``), as ``F.pad`` does.

    Written out rather than calling ``F.pad`` because UAGIT chooses the mode
    from the image size (reflect where the padding is smaller than the
    image, else replicate, see ``UAGIT._pad``): an exported graph serves
    every size, so it must make that choice at run time, and ``F.pad``'s mode
    is fixed when the graph is built. A gather with these indices makes it a
    data-dependent choice that every exporter keeps.

    Args:
        size (Tensor): The dimension's length (0-d int64).
        target: The padded length, >= ``size`` (as :func:`_round_up`).
        reflect (Tensor): True for reflection, False for replication (0-d
            bool).

    Returns:
        Tensor: int64 indices (target,) into the dimension.
    """
    idx = torch.arange(target, device=size.device)
    last = size - 1
    mirrored = (2 * last - idx).clamp(min=0)
    return torch.where(reflect & (idx > last), mirrored, idx.clamp(max=last))


def _per_channel(value: Tensor) -> Tensor:
    """A preprocessor's mean or std (one value or one per channel, any
    shape) as (1, 3, 1, 1) float32."""
    flat = torch.as_tensor(value).detach().float().reshape(-1)
    return flat.expand(3).reshape(1, 3, 1, 1).clone() \
        if flat.numel() == 1 else flat.reshape(1, 3, 1, 1).clone()


class TranslationGraph(nn.Module):
    """``translate`` of one direction, on RGB images in [0, 1].

    Inputs (names :data:`INPUT_NAMES`):
        image: (N, 3, H, W) RGB in [0, 1], any H and W.
        mask: (N, 1, H, W) in [0, 1]: a mask to use instead of the
            attention network's (ignored where ``mask_weight`` is 0).
        mask_weight: 0-d: the mask used is ``mask_weight * mask +
            (1 - mask_weight) * attention`` (0 = the model's own attention,
            1 = the given mask).

    Outputs (names :data:`OUTPUT_NAMES`):
        translation: (N, 3, H, W) RGB in [0, 1].
        mask_used: (N, 1, H, W) in [0, 1], the mask used (1 = translated).

    Inside it normalises as the model's data preprocessor does (mmagic's
    models work on BGR), pads bottom/right to a multiple of
    ``size_divisor`` and at least ``4 * size_divisor`` (as
    ``UAGIT.translate``), and crops the result back.

    Args:
        attention (nn.Module): The source domain's attention network.
        generator (nn.Module): The target domain's generator.
        mean, std: The data preprocessor's BGR mean and std (0-255 scale).
        size_divisor (int): The model's ``size_divisor``.
        generator_input (str): The model's ``generator_input``.
    """

    def __init__(self, attention: nn.Module, generator: nn.Module,
                 mean: Tensor, std: Tensor, size_divisor: int,
                 generator_input: str) -> None:
        super().__init__()
        self.attention = attention
        self.generator = generator
        self.register_buffer('mean', _per_channel(mean))
        self.register_buffer('std', _per_channel(std))
        self.size_divisor = int(size_divisor)
        self.foreground = generator_input == 'foreground'

    def _pad(self, x: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
        return x.index_select(2, rows).index_select(3, cols)

    def forward(self, image: Tensor, mask: Tensor,
                mask_weight: Tensor) -> Tuple[Tensor, Tensor]:
        h, w = image.shape[2], image.shape[3]
        least = 4 * self.size_divisor  # as UAGIT.translate
        th = _round_up(h, self.size_divisor, least)
        tw = _round_up(w, self.size_divisor, least)
        hs, ws = _as_long(h), _as_long(w)
        reflect = (_as_long(th) - hs < hs) & (_as_long(tw) - ws < ws)
        rows = pad_index(hs, th, reflect)
        cols = pad_index(ws, tw, reflect)

        bgr = image.flip(1) * 255.0
        x = self._pad((bgr - self.mean) / self.std, rows, cols)
        given = self._pad(mask, rows, cols)
        attention = self.attention(x)
        used = mask_weight * given + (1.0 - mask_weight) * attention
        gen_in = used * x if self.foreground else x
        out = compose(x, used, self.generator(gen_in))
        out = (out * self.std + self.mean).flip(1) / 255.0
        return out[:, :, :h, :w], used[:, :, :h, :w]


def build_graph(model, target_domain: str) -> TranslationGraph:
    """The graph translating into ``target_domain`` with ``model``'s
    networks (shared, not copied)."""
    source = model.other_domain(target_domain)
    pre = model.data_preprocessor
    return TranslationGraph(
        model.get_module(model.attentions)[source],
        model._get_target_generator(target_domain), pre.mean, pre.std,
        model.size_divisor, model.generator_input).eval()


def graph_metadata(model, target_domain: str) -> Dict[str, str]:
    """What a translator needs besides the graph, as strings (ONNX metadata
    properties / TorchScript extra files)."""
    return {
        'uagit': json.dumps({
            'format_version': 1,
            'domains': list(model._reachable_domains),
            'source': model.other_domain(target_domain),
            'target': target_domain,
            'mean': model.data_preprocessor.mean.flatten().tolist(),
            'std': model.data_preprocessor.std.flatten().tolist(),
            'inputs': list(INPUT_NAMES),
            'outputs': list(OUTPUT_NAMES),
            'image': 'RGB in [0, 1]',
        })
    }


#: Formats and the file extension each is written with.
FORMATS = {'onnx': '.onnx', 'torchscript': '.pt'}
#: Sizes (H, W) of the parity check: even, odd (reflection padding), and
#: small enough that the padding replicates instead.
VERIFY_SIZES = ((64, 64), (61, 97), (7, 30))


def example_inputs(height: int = 40, width: int = 44,
                   batch: int = 2) -> Tuple[Tensor, Tensor, Tensor]:
    """Inputs to trace the graph with. Batch 2 and unequal sides: sizes of
    1 and equal sizes are specialised by ``torch.export``."""
    return (torch.rand(batch, 3, height, width),
            torch.zeros(batch, 1, height, width), torch.zeros(()))


def onnx_bytes(graph: nn.Module, metadata: Dict[str, str]) -> bytes:
    """The graph as an ONNX model (``torch.onnx.export(dynamo=True)``, any
    batch, height and width), with ``metadata`` as metadata properties.

    The ``torch.export``-based exporter is used: the TorchScript-based one
    is deprecated since torch 2.9; both keep InstanceNormalization, the
    reflection pads and the size-dependent padding (see
    :func:`pad_index`), the parity check runs on every export.
    """
    try:
        import onnx  # noqa: F401  (the exporter needs onnx and onnxscript)
        import onnxscript  # noqa: F401
    except ImportError as err:
        raise ConfigError('ONNX export needs onnx and onnxscript; install '
                          'them with: pip install -e .[deploy]') from err
    dim = torch.export.Dim
    dims = {0: dim('batch'), 2: dim('height'), 3: dim('width')}
    with warnings.catch_warnings(), _quiet_exporter():
        warnings.simplefilter('ignore')
        program = torch.onnx.export(
            graph, example_inputs(), dynamo=True, verbose=False,
            input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES),
            dynamic_shapes=(dims, dims, None))
    proto = program.model_proto
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    return proto.SerializeToString()


def torchscript_bytes(graph: nn.Module, metadata: Dict[str, str]) -> bytes:
    """The graph traced by ``torch.jit.trace`` (shapes traced, so any batch,
    height and width), with ``metadata`` as extra files."""
    with warnings.catch_warnings():
        # the attention network's size check becomes a constant: the graph
        # pads every image to at least 4 * size_divisor first
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        warnings.simplefilter('ignore', DeprecationWarning)
        traced = torch.jit.trace(_keyword_free(graph), example_inputs())
    buf = io.BytesIO()
    torch.jit.save(traced, buf, _extra_files=dict(metadata))
    return buf.getvalue()


def _keyword_free(graph: nn.Module) -> nn.Module:
    """A copy of ``graph`` in which no submodule is named by a Python
    keyword.

    mmcv's ``ConvModule`` names an instance norm ``in`` (the abbreviation of
    ``build_norm_layer``); ``torch.jit.save`` writes that name, but
    ``torch.jit.load`` cannot parse it back ("expected ident but found
    'in'"). The copy names it ``in_`` (and tells its ``ConvModule``, whose
    ``norm`` property looks it up by ``norm_name``); instance norms here
    hold no weights, so nothing else changes.
    """
    graph = copy.deepcopy(graph)
    for module in graph.modules():
        for name in [n for n in module._modules if keyword.iskeyword(n)]:
            module.add_module(name + '_', module._modules.pop(name))
            if getattr(module, 'norm_name', None) == name:
                module.norm_name = name + '_'
    return graph


@contextlib.contextmanager
def _quiet_exporter():
    """torch.onnx's exporter prints its progress; keep the tool's output to
    its own lines."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


class ParityError(UserError):
    """An exported file does not reproduce the model."""


@torch.no_grad()
def check_parity(model, translator, target_domain: str,
                 sizes: Sequence[Tuple[int, int]] = VERIFY_SIZES,
                 seed: int = 0) -> List[Tuple[Tuple[int, int], float]]:
    """The largest difference between ``translator`` (an exported file's
    :class:`~uagit_mm.apis.exported.ExportedTranslator`) and ``model`` per
    size: translations (in the model's normalised units, [-1, 1] with
    mmagic's defaults) and masks, on random images (batch 2). Where the
    model's ``translate`` takes a ``mask``, translations with a given mask
    are compared too.

    Random rather than constant images: on a constant image every instance
    norm sees zero variance, where rounding differs between runtimes.
    """
    gen = torch.Generator().manual_seed(seed)
    with_mask = 'mask' in inspect.signature(model.translate).parameters
    dev = next(model.parameters()).device
    results = []
    for h, w in sizes:
        x = torch.rand(2, 3, h, w, generator=gen).to(dev) * 2 - 1
        pairs = [(model.translate(x, target_domain),
                  translator.translate(x, target_domain))]
        if with_mask:
            m = torch.rand(2, 1, h, w, generator=gen).to(dev)
            pairs.append((model.translate(x, target_domain, mask=m),
                          translator.translate(x, target_domain, mask=m)))
        diff = max((a - b).abs().max().item()
                   for ref, out in pairs for a, b in zip(ref, out))
        results.append(((h, w), diff))
    return results


def export_model(model, out_dir: str,
                 formats: Sequence[str] = ('onnx', ),
                 target_domains: Optional[Sequence[str]] = None,
                 sizes: Sequence[Tuple[int, int]] = VERIFY_SIZES,
                 tolerance: float = 1e-3,
                 log: Callable[[str], None] = print) -> List[str]:
    """Export ``model`` per direction and format, each checked against the
    model before it is put in place.

    Each file ``OUT_DIR/<source>2<target>.<ext>`` is written under a hidden
    temporary name, loaded back as users load it
    (:class:`~uagit_mm.apis.exported.ExportedTranslator`), compared with
    ``model`` at ``sizes`` (:func:`check_parity`), and renamed into place
    only if every difference is within ``tolerance``: a file that fails
    never replaces an earlier good one.

    Args:
        model: A UAGIT model (eval mode, on the CPU).
        out_dir (str): Folder for the files.
        formats: Any of :data:`FORMATS`.
        target_domains: Directions by target domain (default: both).
        sizes: (H, W) of the parity check.
        tolerance (float): Largest allowed difference.
        log: Where the per-file lines go.

    Returns:
        list[str]: The files written.

    Raises:
        ParityError: Some file differs by more than ``tolerance`` (the
            others are written).
    """
    from ..fileio import atomic_backend
    from .exported import ExportedTranslator
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ConfigError(f'unknown export format(s) {unknown}; choose '
                          f'from {list(FORMATS)}')
    written, failed = [], []
    for target in target_domains or model._reachable_domains:
        graph = build_graph(model, target)
        meta = graph_metadata(model, target)
        name = f'{model.other_domain(target)}2{target}'
        for fmt in formats:
            path = osp.join(out_dir, name + FORMATS[fmt])
            folder, base = osp.split(osp.abspath(path))
            tmp = osp.join(folder, f'.{base}.unverified{os.getpid()}'
                           f'{FORMATS[fmt]}')
            data = (onnx_bytes if fmt == 'onnx' else torchscript_bytes)(
                graph, meta)
            try:
                atomic_backend().put(data, tmp)
                parity = check_parity(model, ExportedTranslator(tmp), target,
                                      sizes)
                worst = max(d for _, d in parity)
                log(f'{path}: largest difference to PyTorch {worst:.2e} ('
                    + ', '.join(f'{h}x{w}: {d:.1e}'
                                for (h, w), d in parity) + ')')
                if worst > tolerance:
                    failed.append(f'{path} differs from the model by up to '
                                  f'{worst:.2e} (> {tolerance:g})')
                    continue
                os.replace(tmp, path)
                written.append(path)
            finally:
                if osp.exists(tmp):
                    os.remove(tmp)
    if failed:
        raise ParityError('; '.join(failed) + '; those files were not '
                          'written')
    return written
