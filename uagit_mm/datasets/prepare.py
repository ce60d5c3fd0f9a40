"""Put a CycleGAN dataset where the configs read it (``tools/download_dataset
.py``).

The CycleGAN authors distribute each dataset as one zip with the folders
``<name>/{trainA,trainB,testA,testB}`` (Zhu et al., ICCV 2017; their
``datasets/download_cyclegan_dataset.sh``). :func:`prepare_dataset` takes
that zip (downloaded here, or given), or a folder of the same layout,
checks it, and writes ``out/{trainA,trainB,testA,testB}``:

- ``size``: every image resized to ``size x size`` with an area filter and
  stored as PNG (lossless, so a 64 px copy is what the CPU configs train
  on); without it the files are copied byte for byte. Embedded colour
  profiles (a third of horse2zebra's photos have one, about 250 of them
  not sRGB) are, by default, ignored as the official loaders and the
  published FID/KID figures ignore them (``color_profiles='ignore'``: the
  pixels as stored, the profile left out of the PNG so that every reader
  sees the same pixels), or converted to sRGB (``'convert'``); the paper
  configs, which read the full-size files, make the same default choice
  in their loading step (``LoadPhotoFromFile(color_profiles='ignore')``).
- ``num_val`` training images per domain are moved to ``valA/``,
  ``valB/``: held out from training, they are the validation split (the
  test sets stay for the reported figures).
- ``masks_zip``: reference masks ``<split>_mask/<stem>.png`` (255 = object)
  of the training images, e.g. the horse2zebra animal masks. The held-out
  images are then drawn from those with a mask, and their masks go to
  ``valA_mask/``, ``valB_mask/``: the images the mask figures are measured
  on (the official test sets have no masks). The remaining masks go to
  ``trainA_mask/``, ``trainB_mask/``.

Everything is written into a hidden temporary folder beside ``out`` and
renamed into place at the end, so a failed or interrupted run leaves no
half-written dataset (and ``--force`` replaces an old one only once the new
one is complete). ``out/dataset.json`` records the source, its sha256, the
size and the held-out names.
"""
import hashlib
import io
import json
import os
import os.path as osp
import random
import shutil
import tempfile
import urllib.request
import zipfile
from typing import Callable, Dict, List, Optional

from PIL import Image, ImageOps

from uagit_mm.errors import ConfigError, MissingFileError

SPLITS = ('trainA', 'trainB', 'testA', 'testB')
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
# The official archives (the CycleGAN authors' dataset page) and what they
# hold; sha256 of the horse2zebra zip as distributed there.
_BASE_URL = 'http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/'
DATASETS: Dict[str, dict] = {
    'horse2zebra': dict(
        url=_BASE_URL + 'horse2zebra.zip',
        sha256='5944e7bd50feea6b9937f8b537e3481ddcf381ba075ecf92e6343e4c'
        '1f122a57',
        counts=dict(trainA=1067, trainB=1334, testA=120, testB=140)),
    'apple2orange': dict(
        url=_BASE_URL + 'apple2orange.zip', sha256=None,
        counts=dict(trainA=995, trainB=1019, testA=266, testB=248)),
}


def sha256_of(path: str) -> str:
    """The sha256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _is_image(name: str) -> bool:
    return osp.splitext(name)[1].lower() in IMAGE_SUFFIXES


class _Source:
    """The images of each split, from a zip or a folder, read as bytes."""

    def __init__(self, path: str, kind: str, splits=SPLITS,
                 what: str = 'dataset') -> None:
        self.path, self.kind = path, kind
        self.files: Dict[str, Dict[str, str]] = {s: {} for s in splits}
        if kind == 'zip':
            if not osp.isfile(path):
                raise MissingFileError(f'{what} zip {path} does not exist')
            try:
                self.zip = zipfile.ZipFile(path)
                names = self.zip.namelist()
            except (zipfile.BadZipFile, OSError) as err:
                raise ConfigError(
                    f'{path} is not a readable zip archive ({err})') from err
        else:
            if not osp.isdir(path):
                raise MissingFileError(f'{what} folder {path} does not exist')
            names = [
                osp.relpath(osp.join(root, f), path).replace(os.sep, '/')
                for root, _, files in os.walk(path) for f in files
            ]
        for name in names:
            parts = name.split('/')
            if len(parts) < 2 or not _is_image(parts[-1]):
                continue
            split = parts[-2]
            if split in self.files and not parts[-1].startswith('.'):
                stem = osp.splitext(parts[-1])[0]
                if stem in self.files[split]:
                    raise ConfigError(f'{path}: two files named {stem} in '
                                      f'{split}/')
                self.files[split][stem] = name

    def read(self, name: str) -> bytes:
        try:
            if self.kind == 'zip':
                return self.zip.read(name)
            with open(osp.join(self.path, name), 'rb') as f:
                return f.read()
        except (zipfile.BadZipFile, OSError, EOFError) as err:
            raise ConfigError(
                f'{self.path}: cannot read {name} ({err})') from err


def _decode(data: bytes, where: str, mode: str,
            convert_profiles: bool = False) -> Image.Image:
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            if convert_profiles:
                from uagit_mm.apis.image_io import to_srgb
                img = to_srgb(img)
            # upright, as the training loader (cv2) reads it
            out = ImageOps.exif_transpose(img).convert(mode)
            out.info.pop('icc_profile', None)  # pixels as they are now
            return out
    except (OSError, SyntaxError, ValueError,
            Image.DecompressionBombError) as err:
        raise ConfigError(f'{where} is not a readable image '
                          f'({err or type(err).__name__})') from err


def _download(url: str, folder: str, log: Callable) -> str:
    dest = osp.join(folder, osp.basename(url))
    log(f'downloading {url}')
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, \
                open(dest, 'wb') as f:
            shutil.copyfileobj(resp, f, 1 << 20)
    except OSError as err:
        raise MissingFileError(
            f'cannot download {url} ({err}); download it by other means '
            'and pass --from-zip PATH') from err
    return dest


def _held_out(stems: List[str], with_mask: Optional[set], num: int,
              seed: int, split: str) -> List[str]:
    candidates = sorted(s for s in stems
                        if with_mask is None or s in with_mask)
    if num >= len(stems) or num > len(candidates):
        raise ConfigError(
            f'--num-val {num}: {split} has {len(stems)} images'
            + ('' if with_mask is None else
               f', {len(candidates)} of them with a reference mask')
            + '; hold out fewer')
    return sorted(random.Random(f'{seed}-{split}').sample(candidates, num))


def prepare_dataset(name: str,
                    out: Optional[str] = None,
                    from_zip: Optional[str] = None,
                    from_dir: Optional[str] = None,
                    size: Optional[int] = None,
                    masks_zip: Optional[str] = None,
                    num_val: int = 100,
                    seed: int = 0,
                    force: bool = False,
                    color_profiles: str = 'ignore',
                    log: Callable = print) -> str:
    """Write dataset ``name`` to ``out`` (see the module docstring).

    Args:
        name (str): A key of :data:`DATASETS`.
        out (str, optional): Output folder; default ``data/<name>`` or
            ``data/<name><size>``.
        from_zip, from_dir (str, optional): The official zip or a folder of
            its layout; with neither the zip is downloaded.
        size (int, optional): Resize to ``size x size`` (PNG).
        masks_zip (str, optional): Reference masks of the training images.
        num_val (int): Training images per domain held out into
            ``valA``/``valB`` (with a mask, given ``masks_zip``).
        seed (int): Which images are held out.
        force (bool): Replace an existing ``out``.
        color_profiles (str): With ``size``: 'ignore' (the default) or
            'convert' embedded ICC profiles to sRGB.
        log (callable): Progress messages.

    Returns:
        str: ``out``.

    Raises:
        ConfigError: a bad option, archive, layout or image (named).
        MissingFileError: a missing input, or no network to download.
    """
    if name not in DATASETS:
        raise ConfigError(f'unknown dataset {name!r}; one of '
                          f'{sorted(DATASETS)}')
    if size is not None and not 16 <= int(size) <= 4096:
        raise ConfigError(f'--size must be in [16, 4096], got {size}')
    if num_val < 0:
        raise ConfigError(f'--num-val must be >= 0, got {num_val}')
    if color_profiles not in ('ignore', 'convert'):
        raise ConfigError("--color-profiles must be 'ignore' or 'convert', "
                          f'got {color_profiles!r}')
    spec = DATASETS[name]
    out = out or osp.join('data', name + (str(size) if size else ''))
    if osp.exists(out) and not force:
        raise ConfigError(f'{out} exists; pass --force to replace it')
    if from_zip is not None and not osp.isfile(from_zip):
        raise MissingFileError(f'dataset zip {from_zip} does not exist')
    if from_dir is not None and not osp.isdir(from_dir):
        raise MissingFileError(f'dataset folder {from_dir} does not exist')
    if masks_zip is not None and not osp.isfile(masks_zip):
        raise MissingFileError(f'masks zip {masks_zip} does not exist')
    parent = osp.dirname(osp.abspath(out))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f'.{osp.basename(out)}.', dir=parent)
    try:
        source_path, checksum = from_zip or from_dir, None
        if from_dir is None:
            if from_zip is None:
                source_path = _download(spec['url'], tmp, log)
            checksum = sha256_of(source_path)
            if from_zip is None and spec['sha256'] and \
                    checksum != spec['sha256']:
                raise ConfigError(
                    f'{spec["url"]}: sha256 {checksum} is not the '
                    f'expected {spec["sha256"]} (a changed or damaged '
                    'download)')
        source = _Source(source_path, 'dir' if from_dir else 'zip')
        for split in SPLITS:
            if not source.files[split]:
                raise ConfigError(
                    f'{source_path} has no images in a {split}/ folder; '
                    f'expected {name}/{{{",".join(SPLITS)}}}/')
            want = spec['counts'][split]
            if len(source.files[split]) != want:
                log(f'note: {split} has {len(source.files[split])} images '
                    f'(the official {name} has {want})')
        masks = None
        if masks_zip:
            masks = _Source(masks_zip, 'zip', ('trainA_mask', 'trainB_mask'),
                            what='masks')
            if not any(masks.files.values()):
                raise ConfigError(
                    f'{masks_zip} has no PNGs in trainA_mask/ or '
                    'trainB_mask/')
        held = {'A': [], 'B': []}
        if num_val:
            for side in 'AB':
                held[side] = _held_out(
                    list(source.files[f'train{side}']),
                    None if masks is None else set(
                        masks.files[f'train{side}_mask']), num_val, seed,
                    f'train{side}')
        written = _write_images(source, masks, held, size, tmp, log,
                                color_profiles == 'convert')
        manifest = dict(
            name=name, source=osp.abspath(source_path), sha256=checksum,
            size=size, seed=seed, counts=written,
            color_profiles=color_profiles if size else 'as stored',
            held_out={f'val{s}': v for s, v in held.items() if v})
        with open(osp.join(tmp, 'dataset.json'), 'w') as f:
            json.dump(manifest, f, indent=1)
        download = osp.join(tmp, osp.basename(spec['url']))
        if from_zip is None and from_dir is None and osp.exists(download):
            os.remove(download)
        _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log('  '.join(f'{k} {v}' for k, v in written.items()))
    return out


def _write_images(source: _Source, masks: Optional[_Source], held: dict,
                  size: Optional[int], tmp: str, log: Callable,
                  convert_profiles: bool) -> dict:
    counts = {}

    def put(folder, stem, data, where, mode):
        os.makedirs(osp.join(tmp, folder), exist_ok=True)
        img = _decode(data, where, mode, convert_profiles)
        if size:
            img = img.resize((size, size), Image.BOX)
            if mode == 'L':  # masks stay binary
                img = img.point(lambda v: 255 if v >= 128 else 0)
            name, data = stem + '.png', None
        else:
            name = stem + osp.splitext(where)[1].lower()
        path = osp.join(tmp, folder, name)
        if data is None:
            img.save(path)
        else:
            with open(path, 'wb') as f:
                f.write(data)
        counts[folder] = counts.get(folder, 0) + 1

    for split in SPLITS:
        side = split[-1]
        held_out = set(held.get(side, [])) if split.startswith('train') \
            else set()
        log(f'{split}: {len(source.files[split])} images')
        mask_files = masks.files.get(f'{split}_mask', {}) if masks else {}
        for stem, member in sorted(source.files[split].items()):
            folder = f'val{side}' if stem in held_out else split
            where = f'{source.path}:{member}'
            put(folder, stem, source.read(member), where, 'RGB')
            if stem in mask_files:
                put(folder + '_mask', stem, masks.read(mask_files[stem]),
                    f'{masks.path}:{mask_files[stem]}', 'L')
    return counts


def _replace(tmp: str, out: str) -> None:
    """Rename ``tmp`` to ``out``; an existing ``out`` is removed only after
    the new one is in place."""
    old = None
    if osp.exists(out):
        old = tempfile.mkdtemp(prefix=f'.{osp.basename(out)}.old.',
                               dir=osp.dirname(osp.abspath(out)))
        os.rmdir(old)
        os.rename(out, old)
    os.rename(tmp, out)
    if old:
        shutil.rmtree(old, ignore_errors=True)
