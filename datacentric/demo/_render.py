"""Pixel maths of the demo generator: machined and moulded part surfaces with defects.

Every function is pure given its random generator. A picture is rendered at twice
its output size in linear float RGB as albedo (surface colour), a height map
(shaded by a raking light) and a specular sheen, then box-downsampled, passed
through a camera model (exposure, contrast, blur, sensor noise) and quantised.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import math

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

__all__ = ["CAMERAS", "CLASSES", "UNSEEN", "Camera", "Scene", "draw_scene", "render"]

CLASSES = ("ok", "scratch", "dent", "pit", "discoloration")
UNSEEN = ("crack", "rust")

# (name, kind, colour) -- kind: brushed, turned, blasted (metal) or plastic
_MATERIALS = (
    ("steel", "brushed", (0.60, 0.61, 0.63)),
    ("aluminium", "brushed", (0.74, 0.75, 0.77)),
    ("dark steel", "turned", (0.44, 0.45, 0.47)),
    ("aluminium", "turned", (0.70, 0.71, 0.72)),
    ("brass", "turned", (0.70, 0.58, 0.34)),
    ("cast iron", "blasted", (0.42, 0.42, 0.42)),
    ("anodised blue", "brushed", (0.30, 0.42, 0.60)),
    ("black anodised", "brushed", (0.24, 0.24, 0.26)),
    ("black plastic", "plastic", (0.17, 0.17, 0.18)),
    ("grey plastic", "plastic", (0.48, 0.49, 0.51)),
    ("white plastic", "plastic", (0.84, 0.84, 0.81)),
    ("beige plastic", "plastic", (0.76, 0.70, 0.58)),
    ("blue plastic", "plastic", (0.20, 0.33, 0.58)),
)
# line L1 machines metal parts, line L2 moulds plastic ones (mostly)
_LINE_MATERIALS = {"L1": (0.85, 0.15), "L2": (0.3, 0.7)}  # P(metal), P(plastic)

_TINTS = (
    (0.78, 0.56, 0.34),  # brown stain / heat tint
    (0.68, 0.60, 0.95),  # blue-violet temper colour
    (1.05, 0.95, 0.55),  # yellow residue
    (0.55, 0.75, 0.70),  # greenish oxide film
    (0.95, 0.78, 0.80),  # pinkish
)


@dataclass(frozen=True)
class Camera:
    """What a camera does to the light: exposure, contrast, colour cast, blur, noise."""

    exposure: float = 1.0
    contrast: float = 1.0
    cast: tuple[float, float, float] = (1.0, 1.0, 1.0)
    blur: float = 0.0  # gaussian sigma in output pixels
    noise: float = 0.012  # sensor noise sigma (0..1 scale)
    softness: int = 1  # >1: render at lower resolution and upscale (a cheaper sensor/lens)
    gamma: float = 1.0


CAMERAS = {
    "A": Camera(),
    # the harder slice: darker, flatter, noisier, a touch soft
    "B": Camera(exposure=0.55, contrast=0.68, noise=0.044, blur=0.8, cast=(0.98, 1.0, 1.03)),
}


@dataclass
class Scene:
    """Everything random about one picture, drawn by :func:`draw_scene`."""

    label: str
    material: str
    kind: str
    colour: np.ndarray
    seed: int
    subtlety: float  # 0 = obvious defect, 1 = hard to see
    extras: dict = field(default_factory=dict)


def draw_scene(rng: np.random.Generator, label: str, line: str) -> Scene:
    """Draw the material, colour and difficulty of a part picture."""
    p_metal = _LINE_MATERIALS.get(line, (0.6, 0.4))[0]
    metals = [m for m in _MATERIALS if m[1] != "plastic"]
    plastics = [m for m in _MATERIALS if m[1] == "plastic"]
    pool = metals if rng.random() < p_metal else plastics
    name, kind, colour = pool[int(rng.integers(len(pool)))]
    colour = np.array(colour) * rng.uniform(0.88, 1.12) + rng.normal(0, 0.02, 3)
    colour = np.clip(colour, 0.05, 0.95)
    return Scene(
        label=label,
        material=name,
        kind=kind,
        colour=colour,
        seed=int(rng.integers(2**63)),
        subtlety=float(rng.beta(1.5, 4.0)),
    )


# -- textures -------------------------------------------------------------------------
def _normal(rng, shape):
    return rng.standard_normal(shape, dtype=np.float32)


def _resize(array, width, height, resample=Image.BILINEAR):
    """Resize a 2-D float array with PIL (fast, deterministic)."""
    image = Image.fromarray(np.ascontiguousarray(array, dtype=np.float32), mode="F")
    return np.asarray(image.resize((width, height), resample), dtype=np.float32)


def _streaks(rng, X, Y, kind, scale):
    """Directional machining marks sampled at coordinates (X, Y), zero mean, unit-ish std."""
    m = X.shape[0]
    if kind == "turned":
        angle = rng.uniform(0, 2 * np.pi)
        dist = rng.uniform(2.5, 6.0) * m
        cx, cy = m / 2 + dist * math.cos(angle), m / 2 + dist * math.sin(angle)
        across = np.hypot(X - cx, Y - cy)
        along = np.arctan2(Y - cy, X - cx) * dist
    else:
        theta = rng.uniform(0, np.pi)
        c, s = math.cos(theta), math.sin(theta)
        across = X * -s + Y * c
        along = X * c + Y * s
    across = across - across.min()
    along = along - along.min()
    # build the texture in (across, along / step) space, then sample it once
    step = 16
    n_across = int(across.max()) + 4
    n_along = int(along.max() / step) + 4
    total = np.zeros((n_across, n_along), dtype=np.float32)
    for width, weight, reach in ((0.6, 1.0, 48), (1.6 * scale, 0.7, 96), (5.0 * scale, 0.35, 160)):
        coarse = _normal(rng, (n_across, int(n_along * step / reach) + 3))
        coarse = ndimage.gaussian_filter(coarse, (width, 0.7), mode="wrap")
        coarse /= coarse.std() + 1e-9
        total += weight * _resize(coarse, n_along, n_across)
    out = ndimage.map_coordinates(total, [across, along / step], order=1, mode="nearest")
    return out / 1.4


def _smooth_noise(rng, shape, cell):
    """Low-frequency noise, unit-ish std: a random grid of spacing ``cell``, upsampled smoothly."""
    h, w = shape
    gh, gw = h // cell + 2, w // cell + 2
    grid = ndimage.gaussian_filter(_normal(rng, (gh, gw)), 0.8)
    grid /= grid.std() + 1e-9
    big = _resize(grid, gw * cell, gh * cell, Image.BICUBIC)
    return big[cell // 2 : cell // 2 + h, cell // 2 : cell // 2 + w]


def _gauss_bump(X, Y, cx, cy, sx, sy, angle):
    """An (elliptical, rotated) gaussian blob, computed only in the window where it is non-zero."""
    cx, cy, sx, sy, angle = float(cx), float(cy), float(sx), float(sy), float(angle)
    out = np.zeros(X.shape, dtype=np.float32)
    reach = 4 * max(sx, sy)
    h, w = X.shape
    y0, y1 = max(0, int(cy - reach)), min(h, int(cy + reach) + 2)
    x0, x1 = max(0, int(cx - reach)), min(w, int(cx + reach) + 2)
    if y0 >= y1 or x0 >= x1:
        return out
    Xw, Yw = X[y0:y1, x0:x1], Y[y0:y1, x0:x1]
    c, s = math.cos(angle), math.sin(angle)
    u = (Xw - cx) * c + (Yw - cy) * s
    v = -(Xw - cx) * s + (Yw - cy) * c
    out[y0:y1, x0:x1] = np.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2))
    return out


def _curve_points(rng, m, length, n=24):
    cx, cy = rng.uniform(0.2 * m, 0.8 * m, 2).tolist()
    theta = rng.uniform(0, np.pi)
    d = np.array([math.cos(theta), math.sin(theta)])
    normal = np.array([-d[1], d[0]])
    bend = rng.normal(0, 0.12) * length
    t = np.linspace(-0.5, 0.5, n)
    pts = np.array([cx, cy]) + np.outer(t * length, d) + np.outer((0.25 - t**2) * 4 * bend, normal)
    pts += rng.normal(0, 0.3, pts.shape)
    return pts


def _draw_polyline(m, pts, width, values):
    """Rasterise a polyline whose strength varies along it (values in 0..1 per point)."""
    canvas = Image.new("L", (m, m), 0)
    draw = ImageDraw.Draw(canvas)
    for (x0, y0), (x1, y1), v in zip(pts[:-1], pts[1:], values[:-1]):
        draw.line([(float(x0), float(y0)), (float(x1), float(y1))], fill=int(255 * v), width=max(1, int(round(width))))
    return np.asarray(canvas, dtype=np.float32) / 255.0


# -- defects: each returns changes to (height, albedo multiplier, albedo add) ---------
def _scratch(rng, X, Y, m, hard, on_plastic):
    height = np.zeros_like(X)
    mul = np.ones_like(X)
    add = np.zeros(X.shape + (3,), dtype=X.dtype)
    for k in range(1 if rng.random() < 0.65 else int(rng.integers(2, 4))):
        length = rng.uniform(0.45, 1.0) * m
        pts = _curve_points(rng, m, length)
        taper = np.sin(np.linspace(0, np.pi, len(pts))) ** 0.5
        taper *= np.clip(1 + 0.3 * rng.normal(size=len(pts)), 0.3, 1.3)
        width = rng.uniform(2.4, 4.5)
        mask = _draw_polyline(m, pts, width, np.clip(taper, 0, 1))
        mask = ndimage.gaussian_filter(mask, 0.7)
        strength = (1.0 - 0.55 * hard) * (1.0 if k == 0 else 0.7)
        height -= 3.0 * strength * mask
        bright = rng.random() < (0.75 if on_plastic else 0.6)
        sign = 1.0 if bright else -1.0
        add += (sign * rng.uniform(0.3, 0.55) * strength * mask)[..., None]
    return height, mul, add


def _dent(rng, X, Y, m, hard):
    cx, cy = rng.uniform(0.22 * m, 0.78 * m, 2).tolist()
    radius = rng.uniform(0.09, 0.2) * m
    ecc = rng.uniform(1.0, 1.7)
    angle = rng.uniform(0, np.pi)
    c, s = math.cos(angle), math.sin(angle)
    u = ((X - cx) * c + (Y - cy) * s) / (radius * ecc)
    v = (-(X - cx) * s + (Y - cy) * c) / radius
    r2 = (u**2 + v**2) * (1 + 0.18 * _smooth_noise(rng, X.shape, max(4, int(radius))))
    bowl = np.clip(1 - r2, 0, None) ** 2  # a smooth depression, steepest inside the rim
    # the pushed-up material around it
    lip = np.exp(-(((np.sqrt(np.clip(r2, 0, None)) - 1.05) / 0.12) ** 2))
    depth = radius * rng.uniform(0.7, 1.2) * (1.0 - 0.45 * hard)
    height = ndimage.gaussian_filter(-depth * bowl + 0.12 * depth * lip, 1.0)
    mul = 1.0 - (0.15 * (1 - 0.5 * hard)) * bowl  # slightly duller inside
    return height, mul, np.zeros(X.shape + (3,), dtype=X.dtype)


def _pits(rng, X, Y, m, hard):
    height = np.zeros_like(X)
    mul = np.ones_like(X)
    for _ in range(int(rng.integers(2, 7))):
        cx, cy = rng.uniform(0.12 * m, 0.88 * m, 2).tolist()
        r = rng.uniform(4.0, 8.0) * (1 - 0.2 * hard)
        bump = _gauss_bump(X, Y, cx, cy, r, r * rng.uniform(0.8, 1.2), 0.0)
        height -= rng.uniform(4.0, 7.0) * (1 - 0.4 * hard) * bump
        mul *= 1 - rng.uniform(0.65, 0.9) * (1 - 0.3 * hard) * bump
    return height, mul, np.zeros(X.shape + (3,), dtype=X.dtype)


def _stain(rng, X, Y, m, hard, colourful=True):
    cx, cy = rng.uniform(0.25 * m, 0.75 * m, 2).tolist()
    r = rng.uniform(0.18, 0.34) * m
    envelope = _gauss_bump(X, Y, cx, cy, r * rng.uniform(0.8, 1.6), r, rng.uniform(0, np.pi))
    blot = _smooth_noise(rng, X.shape, max(4, int(r / 3)))
    mask = np.clip((envelope * 1.6 + 0.35 * blot - 0.55) * 1.8, 0, 1)
    mask = ndimage.gaussian_filter(mask, 4.5)
    tint = np.array(_TINTS[int(rng.integers(len(_TINTS)))])
    alpha = rng.uniform(1.0, 1.3) * (1 - 0.25 * hard)
    mul3 = 1 + (tint[None, None, :] - 1) * (alpha * mask)[..., None]
    # a film has its own colour: on dark parts it shows as a coloured haze
    add3 = (0.24 * alpha * mask)[..., None] * (tint[None, None, :] / tint.max())
    return mask, mul3, add3


def _crack(rng, X, Y, m):
    canvas = Image.new("L", (m, m), 0)
    draw = ImageDraw.Draw(canvas)
    start = rng.uniform(0.2, 0.8, 2) * m
    stack = [(float(start[0]), float(start[1]), rng.uniform(0, 2 * np.pi), 60, 255)]
    while stack:
        x, y, a, steps, v = stack.pop()
        for _ in range(steps):
            a += rng.normal(0, 0.45)
            nx, ny = x + 3 * math.cos(a), y + 3 * math.sin(a)
            draw.line([(x, y), (nx, ny)], fill=int(v), width=2)
            x, y = nx, ny
            if rng.random() < 0.05 and len(stack) < 6:
                turn = rng.choice([-1, 1]) * rng.uniform(0.5, 1.1)
                stack.append((x, y, a + turn, int(steps * 0.4), v * 0.8))
    mask = ndimage.gaussian_filter(np.asarray(canvas, dtype=np.float32) / 255.0, 0.6)
    return mask


def _rust(rng, X, Y, m):
    cx, cy = rng.uniform(0.25 * m, 0.75 * m, 2).tolist()
    r = rng.uniform(0.15, 0.3) * m
    envelope = _gauss_bump(X, Y, cx, cy, r * 1.3, r, rng.uniform(0, np.pi))
    grain = ndimage.gaussian_filter(_normal(rng, X.shape), 1.2)
    grain /= grain.std()
    blot = _smooth_noise(rng, X.shape, max(4, int(r / 4)))
    mask = np.clip((envelope * 1.8 + 0.45 * blot + 0.12 * grain - 0.75) * 2.0, 0, 1)
    return ndimage.gaussian_filter(mask, 1.5), grain


# -- the picture ----------------------------------------------------------------------
def render(
    scene: Scene, size: int, camera: Camera, *, exposure: float = 1.0, warm: float = 0.0, shot: int = 0
) -> np.ndarray:
    """Render one picture as a ``(size, size, 3)`` uint8 array.

    ``exposure`` scales the scene light (the night shift runs a little darker),
    ``warm`` shifts the lamp colour (+ warmer, - cooler). ``shot`` > 0 photographs the
    same part again: the same surface and defect under a freshly drawn light (gradient,
    vignette, raking-light angle, sheen) and sensor noise.
    """
    rng = np.random.default_rng(scene.seed)
    m = 2 * size
    yy, xx = np.mgrid[0:m, 0:m].astype(np.float32)
    metal = scene.kind != "plastic"
    hard = scene.subtlety

    # geometry first: defects deform the surface, and the texture follows the deformation
    height = np.zeros((m, m), dtype=np.float32)
    mul = np.ones((m, m), dtype=np.float32)
    add = np.zeros((m, m, 3), dtype=np.float32)
    mul3 = np.ones((m, m, 3), dtype=np.float32)
    add3 = 0.0
    label = scene.label
    if label == "scratch":
        h, mu, ad = _scratch(rng, xx, yy, m, hard, not metal)
        height += h
        mul *= mu
        add += ad
    elif label == "dent":
        h, mu, ad = _dent(rng, xx, yy, m, hard)
        height += h
        mul *= mu
    elif label == "pit":
        h, mu, ad = _pits(rng, xx, yy, m, hard)
        height += h
        mul *= mu
    elif label == "discoloration":
        _, tint, film = _stain(rng, xx, yy, m, hard)
        mul3 *= tint
        add3 = film
    elif label == "crack":
        mask = _crack(rng, xx, yy, m)
        height -= 2.0 * mask
        mul *= 1 - 0.75 * mask
    elif label == "rust":
        mask, grain = _rust(rng, xx, yy, m)
        rust = np.array([0.48, 0.24, 0.10], dtype=np.float32) * (1 + 0.3 * grain)[..., None]
        base = np.maximum(scene.colour, 0.1).astype(np.float32)
        mul3 = mul3 * (1 - mask[..., None]) + mask[..., None] * rust / base
        height += 0.8 * mask * grain

    # nuisances every part has: dust specks, a faint smudge, a gentle waviness
    for _ in range(int(rng.poisson(1.5))):
        cx, cy = rng.uniform(0, m, 2).tolist()
        speck = _gauss_bump(xx, yy, cx, cy, rng.uniform(0.8, 1.8), rng.uniform(0.8, 1.8), 0.0)
        mul *= 1 + rng.choice([-1, 1]) * rng.uniform(0.08, 0.2) * speck
    if rng.random() < 0.5:
        centre = rng.uniform(0, m, 2).tolist()
        spread = (rng.uniform(0.1, 0.3, 2) * m).tolist()
        smudge = _gauss_bump(xx, yy, *centre, *spread, rng.uniform(0, np.pi))
        mul *= 1 - rng.uniform(0.03, 0.09) * smudge
    height += rng.uniform(0.5, 2.5) * _smooth_noise(rng, (m, m), m // 3)

    gy, gx = np.gradient(height)
    scale = rng.uniform(0.7, 1.6)  # texture scale
    X = xx + 5.0 * gx
    Y = yy + 5.0 * gy

    # albedo: colour x machining texture x grain x blotchiness
    colour = scene.colour.astype(np.float32)
    if metal:
        if scene.kind == "blasted":
            grain = ndimage.gaussian_filter(_normal(rng, (m, m)), 0.9 * scale)
            texture = 0.09 * grain / (grain.std() + 1e-9)
        else:
            streak = _streaks(rng, X, Y, scene.kind, scale)
            texture = rng.uniform(0.05, 0.11) * streak
        fine = ndimage.gaussian_filter(_normal(rng, (m, m)), 0.7)
        texture = texture + 0.03 * fine / (fine.std() + 1e-9)
    else:
        fine = ndimage.gaussian_filter(_normal(rng, (m, m)), 0.8 * scale)
        peel = _smooth_noise(rng, (m, m), 6)
        texture = 0.035 * fine / (fine.std() + 1e-9) + 0.02 * peel
    blotch = 0.05 * _smooth_noise(rng, (m, m), m // 4)
    albedo = colour[None, None, :] * (1 + texture + blotch)[..., None]
    albedo = albedo * mul[..., None] * mul3 + add * (0.6 + colour.mean())
    albedo = albedo + add3 * (1 + 2 * texture + blotch)[..., None]

    # light: exposure, a gradient across the part, vignette, raking-light shading, sheen
    if shot:  # another photo of the same part: the surface above is the same, the light is not
        rng = np.random.default_rng([scene.seed, shot])
    u = (xx / m) * 2 - 1
    v = (yy / m) * 2 - 1
    g_angle = rng.uniform(0, 2 * np.pi)
    grad = rng.uniform(0.05, 0.35) * (u * math.cos(g_angle) + v * math.sin(g_angle))
    vignette = 1 - rng.uniform(0.05, 0.25) * (u**2 + v**2) / 2
    light = rng.uniform(0.75, 1.15) * exposure * (1 + grad) * vignette
    l_angle = rng.uniform(0, 2 * np.pi)
    slope = gx * math.cos(l_angle) + gy * math.sin(l_angle)
    shading = np.tanh(0.6 * slope)  # -1..1
    illum = light * (1 + 0.9 * shading)
    img = albedo * illum[..., None]
    if metal:
        n_angle = rng.uniform(0, 2 * np.pi)
        pos = u * math.cos(n_angle) + v * math.sin(n_angle)
        band = np.exp(-0.5 * ((pos - rng.uniform(-0.8, 0.8)) / rng.uniform(0.15, 0.45)) ** 2)
        sheen = rng.uniform(0.05, 0.3) * band * (1 + 1.5 * texture)
        sheen = sheen + 0.35 * np.clip(shading, 0, 1) ** 2
        img = img + (sheen * light)[..., None]
    else:
        img = img + (0.2 * np.clip(shading, 0, 1) ** 2 * light)[..., None]
    lamp = np.array([1 + 0.06 * warm, 1.0, 1 - 0.06 * warm], dtype=np.float32)
    img = img * lamp

    # downsample 2x (box), then the camera
    img = img.reshape(size, 2, size, 2, 3).mean(axis=(1, 3))
    img = _camera(img, camera, rng)
    return np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)


def _camera(img: np.ndarray, cam: Camera, rng: np.random.Generator) -> np.ndarray:
    size = img.shape[0]
    if cam.softness > 1:
        small = max(1, size // cam.softness)
        img = np.stack(
            [_resize(_resize(img[..., c], small, small, Image.BOX), size, size, Image.BILINEAR) for c in range(3)],
            axis=-1,
        )
    if cam.blur > 0:
        img = ndimage.gaussian_filter(img, (cam.blur, cam.blur, 0))
    img = img * (cam.exposure * np.array(cam.cast, dtype=np.float32))
    mean = img.mean()
    img = mean + (img - mean) * cam.contrast
    img = np.clip(img, 0, None) ** cam.gamma
    noise = cam.noise * (_normal(rng, img.shape[:2])[..., None] + 0.4 * _normal(rng, img.shape))
    return img + noise
