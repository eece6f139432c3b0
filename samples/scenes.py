"""Photo-like scenes with known content: a level world (sky, mountains, ground, clouds, a subject) seen by a
slightly tilted camera, drawn at any size. Positions are fractions of the displayed frame, so a style
(samples/styles.py) can place the subject and the horizon where its crop wants them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

RENDER_CAP = 1280  # scenes are drawn at most this large, then resized: big images stay fast

PALETTES = (
    # sky top, sky at horizon, mountains, ground far, ground near
    ((60, 120, 200), (185, 210, 235), (95, 115, 140), (120, 150, 80), (55, 85, 40)),  # summer day
    ((55, 45, 105), (250, 165, 90), (60, 45, 70), (80, 65, 55), (30, 25, 22)),  # sunset
    ((145, 150, 158), (205, 205, 205), (110, 115, 120), (105, 115, 95), (65, 72, 58)),  # overcast
    ((90, 150, 215), (215, 228, 242), (150, 165, 185), (235, 238, 245), (195, 200, 212)),  # snow
    ((70, 140, 215), (200, 225, 240), (120, 140, 150), (40, 105, 150), (215, 195, 150)),  # sea and beach
)
SUBJECT_COLOURS = ((205, 35, 40), (30, 60, 190), (250, 200, 30), (240, 240, 240), (20, 20, 25))


@dataclass(frozen=True)
class Scene:
    """Everything needed to draw a photo at any size: positions are fractions of the displayed frame."""

    aspect: float  # displayed width / height
    tilt: float  # degrees: the horizon runs along (cos, sin) of it, y down, like a crop's top edge
    horizon: tuple[float, float]  # a point on the horizon
    subject: tuple[float, float]  # the subject's centre
    subject_kind: str  # "figure" (stands on the ground) or "sun"/"balloon" (in the sky)
    subject_size: float  # fraction of the frame's short side
    subject_colour: tuple[int, int, int]
    palette: tuple
    ridge: tuple[float, ...]  # mountain amplitude, two frequencies, two phases
    clouds: tuple[tuple[float, float, float, float], ...]  # (along, above, radius along, radius across)
    texture_seed: int


def render(scene: Scene, width: int, height: int) -> np.ndarray:
    """The displayed photo as a `height`×`width`×3 uint8 array."""
    return np.asarray(render_image(scene, width, height))


def render_image(scene: Scene, width: int, height: int) -> Image.Image:
    """The displayed photo. Large sizes are drawn small and resized (Pillow, C speed, no extra array copies)."""
    scale = min(1.0, RENDER_CAP / max(width, height))
    draw_w, draw_h = max(1, round(width * scale)), max(1, round(height * scale))
    image = Image.fromarray(draw(scene, draw_w, draw_h))
    if (draw_w, draw_h) != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    return image


def draw(scene: Scene, width: int, height: int) -> np.ndarray:
    """Draw the scene: 2-D maps (where things are) computed once, then each colour channel composed from them."""
    short = float(min(width, height))
    x = (np.arange(width, dtype=np.float32) + 0.5)[None, :]
    y = (np.arange(height, dtype=np.float32) + 0.5)[:, None]
    cos, sin = math.cos(math.radians(scene.tilt)), math.sin(math.radians(scene.tilt))

    def level(px, py) -> tuple:
        """World coordinates (along the horizon, below it) in short sides, of pixel positions."""
        dx, dy = px - scene.horizon[0] * width, py - scene.horizon[1] * height
        return (dx * cos + dy * sin) / short, (-dx * sin + dy * cos) / short

    along, below = level(x, y)
    sky_top, sky_low, mountain, ground_far, ground_near = scene.palette

    # Sky: a gradient up from the horizon, with soft clouds.
    sky_t = np.clip(below * np.float32(-1 / 0.9), 0, 1)
    cloud = np.zeros_like(along)
    for cu, cv, ru, rv in scene.clouds:
        cloud += np.exp(-(((along - cu) / ru) ** 2 + ((below + cv) / rv) ** 2))
    cloud = np.clip(cloud * np.float32(0.8), 0, 0.85)
    # Mountains: a ridge of two sines standing on the horizon, gently shaded.
    amp, f1, f2, p1, p2 = scene.ridge
    ridge = amp * (0.55 + 0.45 * np.sin(f1 * along + p1)) * (0.7 + 0.3 * np.sin(f2 * along + p2))
    is_mountain = (below < 0) & (below > -ridge)
    mountain_shade = 1 + np.float32(0.15) * np.sin(9 * along + 3 * below)
    # Ground: far to near colour, with furrows that converge like a field seen in perspective.
    is_ground = below >= 0
    ground_t = np.clip(below * np.float32(1 / 0.6), 0, 1)
    furrows = 1 + np.float32(0.05) * np.sin(40 * along / (below + np.float32(0.08))) * np.clip(below * 8, 0, 1)

    # The subject, upright in the world (so tilted in the picture like everything else).
    su, sv = level(scene.subject[0] * width, scene.subject[1] * height)
    du, dv, size = along - su, below - sv, scene.subject_size
    subject_layers = []  # (mask or weight, colour or colour map) painted in order
    if scene.subject_kind == "figure":
        body = (du / (0.22 * size)) ** 2 + ((dv - 0.12 * size) / (0.42 * size)) ** 2 < 1
        head = du ** 2 + (dv + 0.42 * size) ** 2 < (0.14 * size) ** 2
        subject_layers = [(body, scene.subject_colour), (head, (225, 185, 150))]
    else:
        r2 = (du ** 2 + dv ** 2) / (0.3 * size) ** 2
        if scene.subject_kind == "sun":
            subject_layers = [(np.exp(-r2 / 4) * np.float32(0.6), (255, 255, 255)), (r2 < 1, (255, 245, 215))]
        else:
            highlight = np.clip(1.3 - ((du + 0.1 * size) ** 2 + (dv + 0.1 * size) ** 2) / (0.2 * size) ** 2, 0, 1)
            subject_layers = [(r2 < 1, scene.subject_colour), (np.where(r2 < 1, highlight * 0.5, 0), (255, 255, 255))]

    # A lens vignette and sensor grain, shared by the channels.
    vignette = (1 - np.float32(0.35) * (y / height - 0.5) ** 2) - np.float32(0.35) * (x / width - 0.5) ** 2
    grain = np.random.default_rng(scene.texture_seed).standard_normal((height, width), dtype=np.float32)
    grain *= np.float32(3.5)

    image = np.empty((height, width, 3), np.uint8)
    for c in range(3):
        channel = sky_low[c] + np.float32(sky_top[c] - sky_low[c]) * sky_t
        channel += (np.float32(245) - channel) * cloud
        np.copyto(channel, mountain[c] * mountain_shade, where=is_mountain)
        np.copyto(channel, (ground_far[c] + np.float32(ground_near[c] - ground_far[c]) * ground_t) * furrows,
                  where=is_ground)
        for where, colour in subject_layers:
            if where.dtype == bool:
                channel[where] = colour[c]
            else:
                channel += (np.float32(colour[c]) - channel) * where
        channel *= vignette
        channel += grain
        image[..., c] = np.clip(channel, 0, 255)
    return image
