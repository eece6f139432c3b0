"""Photo-like scenes with known content: a level world (sky, mountains, ground, clouds, a subject) seen by a
slightly tilted camera, drawn at any size. Positions are fractions of the displayed frame, so a style
(samples/styles.py) can place the subject and the horizon where its crop wants them.

Besides the subject a scene may hold more faces and elements that enter the picture from its edges (a pole,
a blown-out band, a branch): what the style zoo's photographers react to. A scene without them is drawn
exactly as before they existed.
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
SKIN_TONES = ((240, 200, 170), (225, 180, 145), (190, 135, 100), (140, 95, 65))
HAIR = (50, 34, 24)
# A face's upright box about its centre, in face heights (the drawing stays inside it): half width, half height.
FACE_HALF_WIDTH, FACE_HALF_HEIGHT = 0.4, 0.5
EDGES = ("left", "right", "top", "bottom")
EDGE_KINDS = ("pole", "glare", "branch")


@dataclass(frozen=True)
class Face:
    """A face looking at the camera (hair, skin, eyes, mouth), upright in the world."""

    centre: tuple[float, float]  # fractions of the displayed frame
    size: float  # its height, hair to chin, as a fraction of the frame's short side
    skin: tuple[int, int, int]


@dataclass(frozen=True)
class EdgeElement:
    """Something entering the picture from one edge of the displayed frame, along all of it: a dark pole,
    a blown-out band of glare, a branch with a ragged inner edge. It covers nothing beyond `depth`."""

    kind: str  # one of EDGE_KINDS
    edge: str  # one of EDGES
    depth: float  # how far in it reaches: a fraction of the frame's width (left, right) or height (top, bottom)
    wave: tuple[float, float] = (0.0, 0.0)  # a branch's ragged edge: frequency along the edge, phase


@dataclass(frozen=True)
class Scene:
    """Everything needed to draw a photo at any size: positions are fractions of the displayed frame."""

    aspect: float  # displayed width / height
    tilt: float  # degrees: the horizon runs along (cos, sin) of it, y down, like a crop's top edge
    horizon: tuple[float, float]  # a point on the horizon
    subject: tuple[float, float]  # the subject's centre
    subject_kind: str  # "figure" (stands on the ground), "sun"/"balloon" (in the sky) or "face"
    subject_size: float  # fraction of the frame's short side (a face's: its height)
    subject_colour: tuple[int, int, int]
    palette: tuple
    ridge: tuple[float, ...]  # mountain amplitude, two frequencies, two phases
    clouds: tuple[tuple[float, float, float, float], ...]  # (along, above, radius along, radius across)
    texture_seed: int
    faces: tuple[Face, ...] = ()  # more faces beside the subject
    edge_elements: tuple[EdgeElement, ...] = ()


def subject_half_extent(scene: Scene) -> tuple[float, float]:
    """Half the width and half the height of the subject's upright box about its centre, in short sides of the
    frame (exact for a face or a balloon in a level scene; a figure's is the box of its body and head)."""
    size = scene.subject_size
    if scene.subject_kind == "face":
        return FACE_HALF_WIDTH * size, FACE_HALF_HEIGHT * size
    if scene.subject_kind == "figure":
        return 0.22 * size, 0.56 * size
    return 0.3 * size, 0.3 * size


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
    # Only the ground (below ≥ 0) uses them; above it the divisor can reach 0: no warning for values never shown.
    with np.errstate(divide="ignore", invalid="ignore"):
        furrows = 1 + np.float32(0.05) * np.sin(40 * along / (below + np.float32(0.08))) * np.clip(below * 8, 0, 1)

    # The subject and any more faces, upright in the world (so tilted in the picture like everything else).
    subject_layers = []  # (mask or weight, colour or colour map) painted in order
    for face in scene.faces:
        fu, fv = level(face.centre[0] * width, face.centre[1] * height)
        subject_layers += _layers("face", along - fu, below - fv, face.size, face.skin)
    su, sv = level(scene.subject[0] * width, scene.subject[1] * height)
    subject_layers += _layers(scene.subject_kind, along - su, below - sv, scene.subject_size, scene.subject_colour)
    edge_layers = [layer for element in scene.edge_elements for layer in _edge_layers(element, x / width, y / height)]

    # A lens vignette and sensor grain, shared by the channels.
    vignette = (1 - np.float32(0.35) * (y / height - 0.5) ** 2) - np.float32(0.35) * (x / width - 0.5) ** 2
    grain = np.random.default_rng(scene.texture_seed).standard_normal((height, width), dtype=np.float32)
    grain *= np.float32(3.5)

    image = np.empty((height, width, 3), np.uint8)
    for c in range(3):
        channel = sky_low[c] + np.float32(sky_top[c] - sky_low[c]) * sky_t
        channel += (np.float32(245) - channel) * cloud
        np.copyto(channel, mountain[c] * mountain_shade, where=is_mountain)
        np.copyto(
            channel, (ground_far[c] + np.float32(ground_near[c] - ground_far[c]) * ground_t) * furrows, where=is_ground
        )
        _paint(channel, subject_layers, c)
        channel *= vignette
        _paint(channel, edge_layers, c)  # after the vignette: glare is blown out, not shaded
        channel += grain
        image[..., c] = np.clip(channel, 0, 255)
    return image


def _paint(channel: np.ndarray, layers: list, c: int) -> None:
    """Paint (mask, colour) layers over one colour channel in order; a float weight blends instead."""
    for where, colour in layers:
        if where.dtype == bool:
            channel[where] = colour[c]
        else:
            channel += (np.float32(colour[c]) - channel) * where


def _layers(kind: str, du, dv, size: float, colour: tuple[int, int, int]) -> list:
    """What to paint for one subject at world offsets (du, dv) from its centre: (mask or weight, colour) pairs."""
    if kind == "figure":
        body = (du / (0.22 * size)) ** 2 + ((dv - 0.12 * size) / (0.42 * size)) ** 2 < 1
        head = du**2 + (dv + 0.42 * size) ** 2 < (0.14 * size) ** 2
        return [(body, colour), (head, (225, 185, 150))]
    if kind == "face":  # hair behind the skin, two eyes and a mouth: inside FACE_HALF_WIDTH × FACE_HALF_HEIGHT
        hair = (du / (0.40 * size)) ** 2 + ((dv + 0.06 * size) / (0.44 * size)) ** 2 < 1
        skin = (du / (0.33 * size)) ** 2 + ((dv - 0.06 * size) / (0.42 * size)) ** 2 < 1
        eyes = (np.abs(du) - 0.13 * size) ** 2 + (dv + 0.02 * size) ** 2 < (0.055 * size) ** 2
        mouth = (du / (0.12 * size)) ** 2 + ((dv - 0.24 * size) / (0.035 * size)) ** 2 < 1
        return [(hair, HAIR), (skin, colour), (eyes, (25, 25, 30)), (mouth, (150, 45, 55))]
    r2 = (du**2 + dv**2) / (0.3 * size) ** 2
    if kind == "sun":
        return [(np.exp(-r2 / 4) * np.float32(0.6), (255, 255, 255)), (r2 < 1, (255, 245, 215))]
    highlight = np.clip(1.3 - ((du + 0.1 * size) ** 2 + (dv + 0.1 * size) ** 2) / (0.2 * size) ** 2, 0, 1)
    return [(r2 < 1, colour), (np.where(r2 < 1, highlight * 0.5, 0), (255, 255, 255))]


def _edge_layers(element: EdgeElement, fx, fy) -> list:
    """What to paint for an edge element, from the pixels' positions as fractions of the frame (fx, fy)."""
    inward = {"left": fx, "right": 1 - fx, "top": fy, "bottom": 1 - fy}[element.edge]
    along = fy if element.edge in ("left", "right") else fx
    inward, along = np.broadcast_arrays(inward, along)
    depth = np.float32(element.depth)
    if element.kind == "pole":  # dark and straight, a dull highlight down its length
        return [(inward < depth, (30, 28, 26)), ((inward > 0.55 * depth) & (inward < 0.7 * depth), (75, 70, 64))]
    if element.kind == "glare":  # blown-out white, fading out over its last quarter
        return [(np.clip((depth - inward) / (np.float32(0.25) * depth), 0, 1), (255, 255, 252))]
    # A branch: dark wood and sunlit leaf tips (so that it shows on dark and bright backgrounds alike), its ragged edge
    # reaching 70 to 100 % of depth.
    frequency, phase = element.wave
    edge = depth * (np.float32(0.85) + np.float32(0.15) * np.sin(np.float32(frequency) * along + np.float32(phase)))
    branch = inward < edge
    lit = edge * (
        np.float32(0.45) + np.float32(0.15) * np.sin(np.float32(1.7 * frequency) * along + np.float32(2 * phase))
    )
    leaves = branch & (inward > lit)  # the sunlit tips
    return [(branch, (42, 34, 26)), (leaves, (125, 190, 55))]
