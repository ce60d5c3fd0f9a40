"""Deterministic synthetic unpaired two-domain dataset with ground-truth
object masks.

Two kinds of set:

- ``'texture'`` (the default): domain ``A`` ("horse-like") holds 1-2
  animal-like shapes (ellipse body, head, legs, optional tail), smooth shaded
  brownish/orange; domain ``B`` ("zebra-like") the same kinds of shapes with
  near-black/near-white stripes.
- ``'hue'`` (colour only, like apple2orange): the same shapes with the same
  smooth shading, saturation and brightness in both domains; only the hue
  differs (``A`` red-orange, ``B`` violet, :data:`HUES`). Each image also
  holds 1-2 animal-shaped distractors in other hues (yellow to blue), drawn
  under the objects and outside their masks, so the shape alone does not
  say what to translate.

Both domains of both kinds share one background distribution (sky/ground
gradient, soft noise, varied clutter), so only the objects should change
under translation. Objects are painted last
without anti-aliasing: the mask is exactly the object pixels. Disk layout:
CycleGAN's ``trainA``/``trainB``/``testA``/``testB`` plus ``valA``/``valB``
(drawn from a stream of their own, for validation while training, so that
best checkpoints are not chosen on the test set), each with a
``<folder>_mask`` twin (single-channel PNG, 255 = object) with identical file
names.
"""
from __future__ import annotations
import colorsys
import json
import os
import shutil
import tempfile
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

DOMAINS = ('A', 'B')
# the order fixes each split's random stream: 'val' came last, so adding it
# changed no train or test image
SPLITS = ('train', 'test', 'val')
KINDS = ('texture', 'hue')
# hue set: centre hue (degrees) of each domain's objects, +-HUE_SPREAD; the
# distractors' hues come from DISTRACTOR_HUES, at least 40 degrees from both
HUES = {'A': 12.0, 'B': 280.0}
HUE_SPREAD = 8.0
DISTRACTOR_HUES = (55.0, 235.0)
FORMAT_VERSION = 1
_SALT = 0xA66A7  # keeps these streams apart from raw ``default_rng(seed)``
_CLUTTER_PALETTE = np.array([(45, 95, 40), (70, 120, 45), (120, 120, 115),
                             (150, 150, 140), (110, 80, 55), (200, 60, 60),
                             (230, 200, 60), (140, 70, 160), (70, 90, 200),
                             (235, 170, 190)])


def _check_choice(name: str, value: str, options: Tuple[str, ...]) -> None:
    if value not in options:
        raise ValueError(f'{name} must be one of {options}, got {value!r}')


def _check_int(name: str, value: int, minimum: int) -> None:
    if isinstance(
            value,
            bool) or not isinstance(value,
                                    (int, np.integer)) or value < minimum:
        raise ValueError(
            f'{name} must be an integer >= {minimum}, got {value!r}')


def sample_rng(seed: int, split: str, domain: str,
               index: int) -> np.random.Generator:
    """Returns the RNG of one image.

    It is derived only from (seed, split, domain, index).
    """
    _check_choice('domain', domain, DOMAINS)
    _check_choice('split', split, SPLITS)
    return np.random.default_rng(
        np.random.SeedSequence([
            _SALT,
            int(seed),
            SPLITS.index(split),
            DOMAINS.index(domain),
            int(index)
        ]))


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Sky/ground gradient with soft low-frequency noise and clutter.

    Returns a float RGB image.
    """
    ys, horizon = np.arange(
        size, dtype=np.float64)[:, None, None], rng.uniform(0.25, 0.6) * size
    sky_top = rng.uniform((70, 140, 205), (135, 200, 250))
    sky_low = np.minimum(sky_top + rng.uniform(25, 55), 250.0)
    t = rng.uniform()  # lush green ... dry khaki grass
    ground_near = (1 - t) * np.array([70, 130, 50]) + t * np.array(
        [150, 145, 85]) + rng.uniform(-12, 12, 3)
    ground_far = ground_near * rng.uniform(0.6, 0.85)
    sky = sky_top + (sky_low - sky_top) * np.clip(ys / horizon, 0, 1)
    ground = ground_near + (ground_far - ground_near) * np.clip(
        (ys - horizon) / (size - horizon), 0, 1)
    alpha = 1.0 / (1.0 + np.exp(-(ys - horizon) / (size / 40.0)))
    img = np.broadcast_to((1 - alpha) * sky + alpha * ground,
                          (size, size, 3)).copy()
    img += cv2.resize(
        rng.normal(0.0, 8.0, (4, 4, 3)), (size, size),
        interpolation=cv2.INTER_CUBIC)
    scale = size / 64.0
    for _ in range(max(3, int(round(rng.integers(6, 14) * scale)))):
        base = _CLUTTER_PALETTE[rng.integers(len(_CLUTTER_PALETTE))]
        color = tuple(
            float(c) for c in np.clip(base + rng.uniform(-15, 15, 3), 0, 255))
        kind, (cx, cy) = rng.integers(4), (
            int(v) for v in rng.integers(0, size, 2))
        if kind == 0:  # bush / rock / flower blob
            axes = (max(1, int(rng.uniform(1.0, 3.5) * scale)),
                    max(1, int(rng.uniform(1.0, 3.5) * scale)))
            cv2.ellipse(img, (cx, cy), axes, float(rng.uniform(0, 180)), 0,
                        360, color, -1, cv2.LINE_AA)
        elif kind == 1:  # grass blade / twig
            ang, length = rng.uniform(0, np.pi), rng.uniform(3, 10) * scale
            end = (int(cx + length * np.cos(ang)),
                   int(cy - length * np.sin(ang)))
            width = max(1, int(round(rng.uniform(0.6, 1.6) * scale)))
            cv2.line(img, (cx, cy), end, color, width, cv2.LINE_AA)
        elif kind == 2:  # small stone / post
            w, h = rng.uniform(1.5, 4.5, 2) * scale
            box = cv2.boxPoints(((float(cx), float(cy)), (float(w), float(h)),
                                 float(rng.uniform(0, 90))))
            cv2.fillPoly(img, [np.round(box).astype(np.int32)], color,
                         cv2.LINE_AA)
        else:  # scattered dots
            for _ in range(int(rng.integers(3, 9))):
                px, py = (
                    int(v) for v in np.clip(
                        rng.normal((cx, cy), 3 * scale), 0, size - 1))
                cv2.circle(img, (px, py), max(0, int(scale) - 1), color, -1)
    return img


def _animal_parts(rng: np.random.Generator) -> Tuple[List[np.ndarray], float]:
    """Polygons of one animal at unit body half-length, and its approximate
    area."""
    b = rng.uniform(0.45, 0.75)
    t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    parts = [np.stack([np.cos(t), b * np.sin(t)], 1)]
    r, hx, hy = b * rng.uniform(0.55, 0.85), rng.uniform(
        0.8, 1.05), -b * rng.uniform(0.2, 0.6)
    parts.append(np.stack([hx + r * np.cos(t), hy + r * np.sin(t)],
                          1))  # head overlaps the body
    leg_len, leg_w = rng.uniform(0.3, 0.6), rng.uniform(0.12, 0.2)
    n_legs = 4 if rng.random() < 0.7 else 2
    for x in np.linspace(-0.6, 0.6, n_legs) + rng.uniform(-0.05, 0.05, n_legs):
        parts.append(
            np.array([[x - leg_w / 2, 0.5 * b], [x + leg_w / 2, 0.5 * b],
                      [x + leg_w / 2, b + leg_len],
                      [x - leg_w / 2, b + leg_len]]))
    if rng.random() < 0.5:
        tail_end = np.array(
            [-1.0 - rng.uniform(0.25, 0.45),
             rng.uniform(0.0, 0.6) * b])
        d = tail_end - (-0.9, 0.0)
        n = np.array([-d[1], d[0]]) / np.linalg.norm(d) * 0.06
        parts.append(
            np.array([(-0.9, 0) + n, tail_end + n, tail_end - n,
                      (-0.9, 0) - n]))
    return parts, float(np.pi * b + np.pi * r * r * 0.8 + n_legs * leg_w *
                        (0.5 * b + leg_len))


def _place_animals(rng: np.random.Generator, size: int) -> List[np.ndarray]:
    """Samples 1-2 non-overlapping animal masks (bool) fully inside the
    image."""
    n_animals = 1 if rng.random() < 0.6 else 2
    margin = 1 + size // 64
    for _ in range(100):
        total = rng.uniform(0.12, 0.30) * size * size
        w = rng.uniform(0.4, 0.6) if n_animals == 2 else 1.0
        masks, union = [], np.zeros((size, size), np.uint8)
        for share in [w, 1 - w][:n_animals]:
            parts, unit_area = _animal_parts(rng)
            s = np.sqrt(share * total / unit_area)
            ang, flip = np.deg2rad(rng.uniform(-35, 35)), np.array(
                [rng.choice([-1.0, 1.0]), 1.0])
            rot = np.array([[np.cos(ang), -np.sin(ang)],
                            [np.sin(ang), np.cos(ang)]])
            parts = [(p * flip) @ rot.T * s for p in parts]
            lo, hi = np.min([p.min(0) for p in parts],
                            0), np.max([p.max(0) for p in parts], 0)
            if np.any(hi - lo > size - 1 - 2 * margin):
                break
            for _ in range(20):
                off = rng.uniform(margin - lo, size - 1 - margin - hi)
                m = np.zeros((size, size), np.uint8)
                # one call per part: fillPoly's even-odd rule would punch
                # holes
                for p in parts:
                    cv2.fillPoly(
                        m, [np.round((p + off) * 16).astype(np.int32)],
                        255,
                        cv2.LINE_8,
                        shift=4)
                if not np.any(m
                              & cv2.dilate(union, np.ones((5, 5), np.uint8))):
                    masks.append(m > 0)
                    union |= m
                    break
        if len(masks) == n_animals and 0.10 <= np.count_nonzero(
                union) / size**2 <= 0.35:
            return masks
    raise RuntimeError(
        'could not place objects; this should not happen')  # pragma: no cover


def _paint_object(rng: np.random.Generator,
                  img: np.ndarray,
                  mask: np.ndarray,
                  domain: str,
                  kind: str = 'texture',
                  hue: float = None) -> None:
    """Paints one object's pixels of ``img`` in place with the domain's
    appearance (``kind`` 'texture' or 'hue'); with ``kind='hue'``, ``hue``
    (degrees) replaces the domain's hue (the distractors)."""
    size, (ys, xs) = img.shape[0], np.nonzero(mask)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    extent, ang = max(xs.max() - xs.min(),
                      ys.max() - ys.min(), 1) / 2.0, rng.uniform(0, 2 * np.pi)
    proj = ((xx - xs.mean()) * np.cos(ang) +
            (yy - ys.mean()) * np.sin(ang)) / extent
    if kind == 'hue':
        # texture A's smooth shading, with saturation and brightness drawn
        # alike in both domains: only the hue tells them apart
        if hue is None:
            hue = HUES[domain] + rng.uniform(-HUE_SPREAD, HUE_SPREAD)
        base = 255.0 * np.array(
            colorsys.hsv_to_rgb(hue % 360.0 / 360.0, rng.uniform(0.6, 0.85),
                                rng.uniform(150, 215) / 255.0))
        tex = base * (
            1.0 + rng.uniform(0.12, 0.22) * np.clip(proj, -1, 1))[..., None]
    elif domain == 'A':
        red = rng.uniform(150, 215)
        base = np.array([
            red, red * rng.uniform(0.45, 0.65), red * rng.uniform(0.15, 0.35)
        ])
        tex = base * (
            1.0 + rng.uniform(0.12, 0.22) * np.clip(proj, -1, 1))[..., None]
    else:
        period = max(4.0, rng.uniform(5.0, 10.0) * size / 64.0)
        theta = rng.uniform(0, np.pi)
        along, across = xx * np.cos(theta) + yy * np.sin(theta), yy * np.cos(
            theta) - xx * np.sin(theta)
        wobble = rng.uniform(0,
                             0.3) * period * np.sin(6 * np.pi * across / size +
                                                    rng.uniform(0, 6.3))
        light = (np.floor(2 * (along + wobble) / period + rng.uniform(0, 2)) %
                 2)[..., None]
        dark_c, light_c = rng.uniform(
            (15, 205), (45, 240))[:, None] + rng.uniform(-4, 4, (2, 3))
        tex = (dark_c + light *
               (light_c - dark_c)) * (1.0 + 0.04 * np.clip(proj, -1, 1))[...,
                                                                         None]
    img[mask] = tex[mask]


def _paint_distractors(rng: np.random.Generator, img: np.ndarray) -> None:
    """Paints 1-2 smooth animal-shaped distractors (each 3-7 % of the
    image) in hues from :data:`DISTRACTOR_HUES` into ``img``, in place."""
    size = img.shape[0]
    for _ in range(int(rng.integers(1, 3))):
        parts, unit_area = _animal_parts(rng)
        s = np.sqrt(rng.uniform(0.03, 0.07) * size * size / unit_area)
        ang = np.deg2rad(rng.uniform(-35, 35))
        rot = np.array([[np.cos(ang), -np.sin(ang)],
                        [np.sin(ang), np.cos(ang)]])
        parts = [(p * (rng.choice([-1.0, 1.0]), 1.0)) @ rot.T * s
                 for p in parts]
        lo = np.min([p.min(0) for p in parts], 0)
        hi = np.max([p.max(0) for p in parts], 0)
        off = rng.uniform(-lo, np.maximum(size - 1 - hi, -lo))
        m = np.zeros((size, size), np.uint8)
        for p in parts:
            cv2.fillPoly(m, [np.round((p + off) * 16).astype(np.int32)], 255,
                         cv2.LINE_8, shift=4)
        if m.any():
            _paint_object(rng, img, m > 0, 'A', 'hue',
                          hue=rng.uniform(*DISTRACTOR_HUES))


def render_sample(rng: np.random.Generator,
                  domain: str,
                  size: int = 64,
                  kind: str = 'texture') -> Tuple[np.ndarray, np.ndarray]:
    """Renders one image of ``domain`` and its object mask.

    Args:
        rng: Source of randomness; the output depends only on its state.
        domain: ``'A'`` or ``'B'``.
        size: Side length in pixels (>= 32); all geometry scales with it.
        kind: ``'texture'`` (A smooth brownish, B striped objects) or
            ``'hue'`` (A red-orange, B violet objects, same shading, plus
            distractors in other hues outside the mask).

    Returns:
        ``(image, mask)``: HxWx3 uint8 RGB image and HxW uint8 mask in
        {0, 255}.
    """
    _check_choice('domain', domain, DOMAINS)
    _check_choice('kind', kind, KINDS)
    _check_int('size', size, 32)
    img = _background(rng, size)
    if kind == 'hue':
        _paint_distractors(rng, img)
    masks = _place_animals(rng, size)
    for m in masks:
        _paint_object(rng, img, m, domain, kind)
    img += rng.normal(0.0, 2.0, img.shape)  # mild sensor noise, everywhere
    return np.clip(np.round(img), 0, 255).astype(
        np.uint8), (np.any(masks, axis=0) * 255).astype(np.uint8)


def _object_pixels(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Checks an RGB uint8 image and its object mask; returns the mask as
    bool."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(
            f'image must be HxWx3 uint8, got {image.dtype} {image.shape}')
    if mask.shape != image.shape[:2]:
        raise ValueError(
            f'mask shape {mask.shape} does not match image {image.shape[:2]}')
    m = mask if mask.dtype == bool else (
        mask > 0.5 if mask.max() <= 1 else mask >= 128)
    if not m.any():
        raise ValueError('mask is empty')
    return m


def stripe_score(image: np.ndarray, mask: np.ndarray) -> float:
    """Scores how striped ('B-like') the object region of an RGB image is.

    Weighted sum (0.5 / 0.25 / 0.25) of: the fraction of object pixels that
    are unsaturated and near-black or near-white; the grey-level spread inside
    the object; the mean absolute difference between neighbouring interior
    pixels. Smooth brownish ``A`` objects score near 0, stripes near 1.

    Args:
        image: HxWx3 uint8 RGB image.
        mask: HxW object mask (bool, {0, 1} or {0, 255}).

    Returns:
        Score in [0, 1].

    Raises:
        ValueError: On bad shapes/dtypes or an empty mask.
    """
    m = _object_pixels(image, mask)
    px = image.astype(np.float64)
    gray, chroma = px.mean(axis=2), px.max(axis=2) - px.min(axis=2)
    frac = (((gray < 80) | (gray > 170)) & (chroma < 50))[m].mean()
    spread = min(gray[m].std() / 70.0, 1.0)
    inner = cv2.erode(m.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    inner = inner if inner.sum() >= 8 else m
    pairs = np.concatenate([
        np.abs(np.diff(gray, axis=0))[inner[1:] & inner[:-1]],
        np.abs(np.diff(gray, axis=1))[inner[:, 1:] & inner[:, :-1]]
    ])
    texture = min(pairs.mean() / 25.0, 1.0) if pairs.size else 0.0
    return float(
        np.clip(0.5 * frac + 0.25 * spread + 0.25 * texture, 0.0, 1.0))


def _hue_distance(a: float, b: float) -> float:
    """Distance in degrees between two hues on the colour circle."""
    return abs((a - b + 180.0) % 360.0 - 180.0)


def hue_score(image: np.ndarray, mask: np.ndarray) -> float:
    """Scores how violet ('B-like') the object region of a hue-set image is.

    The object's mean hue (the circular mean of its pixels' hues, each
    weighted by its chroma, saturation x value) is placed between the two
    domains' hues (:data:`HUES`): ``d_A / (d_A + d_B)`` with ``d_X`` its
    distance on the colour circle to domain X's hue. Red-orange ``A``
    objects score near 0, violet ``B`` objects near 1, a half-and-half mix
    about 0.5. An object without colour (mean chroma below 0.1: grey, black
    or white) scores 0.5, undecided.

    Args:
        image: HxWx3 uint8 RGB image.
        mask: HxW object mask (bool, {0, 1} or {0, 255}).

    Returns:
        Score in [0, 1].

    Raises:
        ValueError: On bad shapes/dtypes or an empty mask.
    """
    m = _object_pixels(image, mask)
    hsv = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2HSV)
    hue = np.deg2rad(hsv[..., 0][m].astype(np.float64))
    weight = (hsv[..., 1] * hsv[..., 2])[m].astype(np.float64)
    if weight.mean() < 0.1:
        return 0.5
    mean = np.rad2deg(
        np.arctan2((weight * np.sin(hue)).sum(), (weight * np.cos(hue)).sum()))
    d_a, d_b = (_hue_distance(mean, HUES[d]) for d in DOMAINS)
    return float(d_a / (d_a + d_b)) if d_a + d_b > 0 else 0.5


def appearance_score(image: np.ndarray,
                     mask: np.ndarray,
                     kind: str = 'texture') -> float:
    """How much the object looks like domain ``B`` of a set of ``kind``, in
    [0, 1] (0 = A, 1 = B): :func:`stripe_score` for 'texture',
    :func:`hue_score` for 'hue'."""
    _check_choice('kind', kind, KINDS)
    return (hue_score if kind == 'hue' else stripe_score)(image, mask)


def is_translated(image: np.ndarray,
                  mask: np.ndarray,
                  target_domain: str,
                  kind: str = 'texture') -> bool:
    """True when the object region looks like ``target_domain``.

    Compares :func:`appearance_score` with 0.5.
    """
    _check_choice('target_domain', target_domain, DOMAINS)
    score = appearance_score(image, mask, kind)
    return score > 0.5 if target_domain == 'B' else score < 0.5


def _is_complete(out_dir: str, meta: dict) -> bool:
    """True when ``out_dir`` holds a full dataset whose dataset.json equals
    ``meta``."""
    try:
        with open(
                os.path.join(out_dir, 'dataset.json'), encoding='utf-8') as f:
            ok = json.load(f) == meta
        return ok and all({
            x
            for x in os.listdir(os.path.join(out_dir, folder))
            if x.endswith('.png')
        } == {f'{i:06d}.png'
              for i in range(n)} for folder, n in meta['counts'].items())
    except (OSError, ValueError):
        return False


def _write_split(root: str, split: str, num: int, seed: int, size: int,
                 kind: str) -> None:
    """Writes ``<split>A``, ``<split>B`` and their ``_mask`` twins under
    ``root``."""
    png = [cv2.IMWRITE_PNG_COMPRESSION, 6]
    for domain in DOMAINS:
        img_dir, mask_dir = (os.path.join(root, f'{split}{domain}{s}')
                             for s in ('', '_mask'))
        os.makedirs(img_dir), os.makedirs(mask_dir)
        for i in range(num):
            image, mask = render_sample(
                sample_rng(seed, split, domain, i), domain, size, kind)
            name = f'{i:06d}.png'
            if not (cv2.imwrite(
                    os.path.join(img_dir, name), image[..., ::-1], png)
                    and cv2.imwrite(os.path.join(mask_dir, name), mask, png)):
                raise OSError(f'could not write {name} under {root}')


def _write_meta(folder: str, meta: dict) -> None:
    with open(os.path.join(folder, 'dataset.json'), 'w',
              encoding='utf-8') as f:
        f.write(json.dumps(meta, indent=2, sort_keys=True) + '\n')


def _add_val_split(out_dir: str, meta: dict) -> None:
    """Adds ``valA``/``valB`` (and masks) to a complete dataset made before
    the val split existed, then rewrites its dataset.json.

    The folders are drawn in a temporary sibling and moved in; dataset.json
    is replaced last (atomically), so an interrupted upgrade leaves the old,
    complete dataset, which the next call upgrades again.
    """
    tmp = tempfile.mkdtemp(
        prefix=f'.{os.path.basename(out_dir)}.val-',
        dir=os.path.dirname(out_dir))
    try:
        _write_split(tmp, 'val', meta['num_val'], meta['seed'], meta['size'],
                     meta.get('kind', 'texture'))
        for folder in sorted(os.listdir(tmp)):
            dest = os.path.join(out_dir, folder)
            if os.path.isdir(dest):  # left by an interrupted upgrade
                shutil.rmtree(dest)
            os.rename(os.path.join(tmp, folder), dest)
        _write_meta(tmp, meta)
        os.replace(os.path.join(tmp, 'dataset.json'),
                   os.path.join(out_dir, 'dataset.json'))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def generate_dataset(out_dir: str,
                     size: int = 64,
                     num_train: int = 400,
                     num_test: int = 50,
                     seed: int = 0,
                     overwrite: bool = False,
                     kind: str = 'texture',
                     num_val: Optional[int] = None) -> Dict[str, int]:
    """Writes the dataset to ``out_dir`` and returns the number of files per
    folder.

    Idempotent: a complete dataset made with the same arguments (per
    ``dataset.json``) is left untouched; one made with the same arguments
    before the val split existed gets its ``valA``/``valB`` added (its other
    files stay as they are). Files go to a temporary sibling folder
    renamed into place at the end, so an interrupted run never leaves a
    dataset that looks complete.

    Args:
        out_dir: Destination folder (created; its parent is created if needed).
        size: Image side length (>= 32).
        num_train: Images per domain in the train split (>= 1).
        num_test: Images per domain in the test split (>= 1).
        seed: Non-negative base seed; each image uses
            ``sample_rng(seed, split, domain, i)``.
        overwrite: Replace an existing, different ``out_dir``.
        kind: 'texture' (smooth vs striped objects) or 'hue' (red-orange
            vs violet objects, with distractors); see :func:`render_sample`.
        num_val: Images per domain in the val split (>= 1); defaults to
            ``num_test``.

    Returns:
        Counts per folder, e.g. ``{'trainA': 400, 'trainA_mask': 400, ...}``.

    Raises:
        ValueError: On invalid arguments.
        FileExistsError: When ``out_dir`` holds something else and overwrite
            is False.
    """
    if num_val is None and not isinstance(num_test, bool) and isinstance(
            num_test, (int, np.integer)):
        num_val = num_test
    for name, value, minimum in (('size', size, 32),
                                 ('num_train', num_train, 1),
                                 ('num_test', num_test, 1),
                                 ('num_val', num_val, 1), ('seed', seed, 0)):
        _check_int(name, value, minimum)
    _check_choice('kind', kind, KINDS)
    nums = {'train': int(num_train), 'test': int(num_test),
            'val': int(num_val)}
    counts = {
        f'{s}{d}{suffix}': nums[s]
        for s in SPLITS
        for d in DOMAINS
        for suffix in ('', '_mask')
    }
    meta = {
        'format_version': FORMAT_VERSION,
        'size': int(size),
        'num_train': int(num_train),
        'num_test': int(num_test),
        'num_val': int(num_val),
        'seed': int(seed),
        'counts': counts
    }
    if kind != 'texture':  # texture sets keep the dataset.json they had
        meta['kind'] = kind
    # what the same call wrote before the val split existed
    before_val = dict(
        {k: v for k, v in meta.items() if k != 'num_val'},
        counts={k: v for k, v in counts.items() if not k.startswith('val')})
    out_dir = os.path.abspath(out_dir)
    if _is_complete(out_dir, meta):
        return dict(counts)
    if _is_complete(out_dir, before_val):
        _add_val_split(out_dir, meta)
        return dict(counts)
    exists = os.path.lexists(out_dir)
    if exists and not overwrite and (not os.path.isdir(out_dir)
                                     or os.listdir(out_dir)):
        raise FileExistsError(
            f'{out_dir} exists and is not this dataset; '
            'pass overwrite=True (--overwrite) to replace it')
    os.makedirs(os.path.dirname(out_dir), exist_ok=True)
    tmp = tempfile.mkdtemp(
        prefix=f'.{os.path.basename(out_dir)}.tmp-',
        dir=os.path.dirname(out_dir))
    try:
        os.chmod(
            tmp,
            0o755)  # mkdtemp makes it private; the final dataset should not be
        for split in SPLITS:
            _write_split(tmp, split, nums[split], seed, size, kind)
        _write_meta(tmp, meta)  # written last
        old = tmp + '.old'
        # an empty folder, or overwrite=True: move the old one aside first
        if exists:
            os.rename(out_dir, old)
        try:
            os.rename(tmp, out_dir)
        except OSError:
            if exists:
                os.rename(old, out_dir)
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if exists and os.path.isdir(old) and not os.path.islink(old):
        shutil.rmtree(old)
    elif exists:
        os.remove(old)
    return dict(counts)
