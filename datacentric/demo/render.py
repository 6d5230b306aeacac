"""Rendering one demo picture: a part surface (from :mod:`~datacentric.demo.defects` and
:mod:`~datacentric.demo.textures`) under light, through a camera.

Every function is pure given its random generator. A picture is rendered at twice
its output size in linear float RGB as albedo (surface colour), a height map
(shaded by a raking light) and a specular sheen, then box-downsampled, passed
through a camera model (exposure, contrast, blur, sensor noise) and quantised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from datacentric.demo.defects import Layers, defect_layers
from datacentric.demo.scene import Scene
from datacentric.demo.textures import gauss_bump, normal_noise, resize, smooth_noise, surface_texture

__all__ = ["CAMERAS", "Camera", "render"]


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
    # geometry first: defects deform the surface, and the texture follows the deformation
    layers = defect_layers(rng, scene, xx, yy, m)
    _add_nuisances(rng, layers, xx, yy, m)
    gy, gx = np.gradient(layers.height)
    scale = rng.uniform(0.7, 1.6)  # texture scale
    texture = surface_texture(rng, scene.kind, xx + 5.0 * gx, yy + 5.0 * gy, m, scale)
    albedo = _albedo(rng, scene.colour.astype(np.float32), layers, texture, m)
    if shot:  # another photo of the same part: the surface above is the same, the light is not
        rng = np.random.default_rng([scene.seed, shot])
    img = _light(rng, albedo, texture, (gx, gy), scene.kind != "plastic", exposure=exposure, warm=warm)
    # downsample 2x (box), then the camera
    img = img.reshape(size, 2, size, 2, 3).mean(axis=(1, 3))
    img = _camera(img, camera, rng)
    return np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)


def _add_nuisances(rng: np.random.Generator, layers: Layers, xx: np.ndarray, yy: np.ndarray, m: int) -> None:
    """What every part has, drawn into ``layers``: dust specks, a faint smudge, a gentle waviness."""
    for _ in range(int(rng.poisson(1.5))):
        cx, cy = rng.uniform(0, m, 2).tolist()
        speck = gauss_bump(xx, yy, cx, cy, rng.uniform(0.8, 1.8), rng.uniform(0.8, 1.8), 0.0)
        layers.mul *= 1 + rng.choice([-1, 1]) * rng.uniform(0.08, 0.2) * speck
    if rng.random() < 0.5:
        centre = rng.uniform(0, m, 2).tolist()
        spread = (rng.uniform(0.1, 0.3, 2) * m).tolist()
        smudge = gauss_bump(xx, yy, *centre, *spread, rng.uniform(0, np.pi))
        layers.mul *= 1 - rng.uniform(0.03, 0.09) * smudge
    layers.height += rng.uniform(0.5, 2.5) * smooth_noise(rng, (m, m), m // 3)


def _albedo(rng: np.random.Generator, colour: np.ndarray, layers: Layers, texture: np.ndarray, m: int) -> np.ndarray:
    """Surface colour: colour x machining texture x blotchiness, with the defect's colour changes."""
    blotch = 0.05 * smooth_noise(rng, (m, m), m // 4)
    albedo = colour[None, None, :] * (1 + texture + blotch)[..., None]
    albedo = albedo * layers.mul[..., None] * layers.mul3 + layers.add * (0.6 + colour.mean())
    return albedo + layers.add3 * (1 + 2 * texture + blotch)[..., None]


def _light(
    rng: np.random.Generator,
    albedo: np.ndarray,
    texture: np.ndarray,
    slopes: tuple[np.ndarray, np.ndarray],
    metal: bool,
    *,
    exposure: float,
    warm: float,
) -> np.ndarray:
    """Light the surface: exposure, a gradient across the part, vignette, raking-light shading, sheen."""
    m = albedo.shape[0]
    yy, xx = np.mgrid[0:m, 0:m].astype(np.float32)
    gx, gy = slopes
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
    return img * lamp


def _camera(img: np.ndarray, cam: Camera, rng: np.random.Generator) -> np.ndarray:
    size = img.shape[0]
    if cam.softness > 1:
        small = max(1, size // cam.softness)
        img = np.stack(
            [resize(resize(img[..., c], small, small, Image.BOX), size, size, Image.BILINEAR) for c in range(3)],
            axis=-1,
        )
    if cam.blur > 0:
        img = ndimage.gaussian_filter(img, (cam.blur, cam.blur, 0))
    img = img * (cam.exposure * np.array(cam.cast, dtype=np.float32))
    mean = img.mean()
    img = mean + (img - mean) * cam.contrast
    img = np.clip(img, 0, None) ** cam.gamma
    noise = cam.noise * (normal_noise(rng, img.shape[:2])[..., None] + 0.4 * normal_noise(rng, img.shape))
    return img + noise
