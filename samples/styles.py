"""Photographers' crop styles: where each puts its crop, and the scene it composes for it.

`STYLES` is the registry, name → `Style`: the photographer's one habit in a line, their composer and the frames
their cameras take. A composer gets a random generator and the DISPLAYED frame's size in pixels and returns a
`Scene` and its crop in that frame (fractions, geometry's corner convention), or None for a photo the
photographer leaves uncropped.

`classic` is the sample library's photographer (`compose`): straighten the horizon, crop landscape photos 16:9
and portrait photos 4:5, put the subject on a third of the crop and the horizon on one of its third lines.

The style zoo holds photographers with ONE learnable habit each that the others do not share: a model trained
on one of them has to find that habit in the pixels. Their composers draw the content first and derive the
crop from it, deterministically, so a crop is as predictable as the content that decides it is visible;
what the habit ignores (where a subject stands when it is not the subject's photographer) is drawn at random,
so the mean crop is a poor answer. Each habit needs only what a model sees at ~96 px: subjects of at least
~6 % of the short side, strong colours, dark or blown-out edges, horizons tilted by degrees.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from cropstyle.extractor.geometry import Crop, RotatedRect, crop_problem, rect_corners, rect_to_crop
from cropstyle.samples.scenes import (
    EDGES,
    FACE_HALF_HEIGHT,
    FACE_HALF_WIDTH,
    PALETTES,
    SKIN_TONES,
    SUBJECT_COLOURS,
    EdgeElement,
    Face,
    Scene,
)

# A composer: (generator, displayed width, displayed height) → the scene and its crop, None when left uncropped.
Composer = Callable[[np.random.Generator, int, int], tuple[Scene, Crop | None]]


def style_crop(rng: np.random.Generator, width: int, height: int, tilt: float) -> tuple[Crop, RotatedRect]:
    """The crop the classic photographer gives a `width`×`height` (displayed) photo taken `tilt` degrees off level."""
    aspect = 16 / 9 if width >= height else 4 / 5
    t = math.radians(abs(tilt))
    # The largest rectangle of that aspect, turned by the tilt, that fits the frame: its bounding box
    # (w cos t + h sin t) × (w sin t + h cos t) must not exceed the frame.
    full_h = min(width / (aspect * math.cos(t) + math.sin(t)), height / (aspect * math.sin(t) + math.cos(t)))
    scale = rng.uniform(0.84, 0.98)
    while True:
        h = full_h * scale
        w = h * aspect
        box_w, box_h = np.ptp(rect_corners(RotatedRect(0, 0, w, h, tilt)), axis=0)
        cx = box_w / 2 + rng.uniform(0, 1) * (width - box_w)
        cy = box_h / 2 + rng.uniform(0, 1) * (height - box_h)
        rect = RotatedRect(cx, cy, w, h, tilt)
        crop = rect_to_crop(rect, width, height)
        if crop_problem(crop, width, height) is None:
            return crop, rect
        scale *= 0.98  # numerically at the edge: a little smaller always fits


def _point_in_rect(rect: RotatedRect, fx: float, fy: float) -> tuple[float, float]:
    """Pixel position of the point (fx, fy) given in fractions of the crop's own width and height."""
    tl, tr, _, bl = rect_corners(rect)
    x, y = tl + fx * (tr - tl) + fy * (bl - tl)
    return float(x), float(y)


def _palette(rng: np.random.Generator) -> tuple:
    """One of the PALETTES, each colour shifted a little."""
    return tuple(
        tuple(int(np.clip(c + rng.integers(-15, 16), 0, 255)) for c in colour)
        for colour in PALETTES[rng.integers(len(PALETTES))]
    )


def _clouds(rng: np.random.Generator) -> tuple[tuple[float, float, float, float], ...]:
    return tuple(
        (
            float(rng.uniform(-1.2, 1.2)),
            float(rng.uniform(0.1, 0.6)),
            float(rng.uniform(0.1, 0.35)),
            float(rng.uniform(0.03, 0.08)),
        )
        for _ in range(rng.integers(0, 6))
    )


def _ridge(rng: np.random.Generator) -> tuple[float, ...]:
    return (
        float(rng.uniform(0.0, 0.12)),
        float(rng.uniform(2, 7)),
        float(rng.uniform(8, 19)),
        float(rng.uniform(0, 6.3)),
        float(rng.uniform(0, 6.3)),
    )


def compose(rng: np.random.Generator, width: int, height: int) -> tuple[Scene, Crop]:
    """The classic photographer: a scene composed for the style, and its crop (displayed frame, fractions)."""
    tilt = 0.0 if rng.uniform() < 0.15 else float(np.round(rng.uniform(-4.0, 4.0), 2))
    crop, rect = style_crop(rng, width, height, tilt)
    horizon_third = rng.choice((1 / 3, 2 / 3))
    subject_third = (rng.choice((1 / 3, 2 / 3)), rng.choice((1 / 3, 2 / 3)))
    hx, hy = _point_in_rect(rect, 0.5, horizon_third)
    sx, sy = _point_in_rect(rect, *subject_third)
    in_sky = subject_third[1] < horizon_third
    subject_kind = rng.choice(("sun", "balloon")) if in_sky else "figure"
    palette = _palette(rng)
    clouds = _clouds(rng)
    ridge = _ridge(rng)
    scene = Scene(
        aspect=width / height,
        tilt=tilt,
        horizon=(hx / width, hy / height),
        subject=(sx / width, sy / height),
        subject_kind=str(subject_kind),
        subject_size=float(rng.uniform(0.12, 0.22) * (1.6 if not in_sky else 1.0)),
        subject_colour=SUBJECT_COLOURS[rng.integers(len(SUBJECT_COLOURS))],
        palette=palette,
        ridge=ridge,
        clouds=clouds,
        texture_seed=int(rng.integers(2**31)),
    )
    return scene, crop


# ----------------------------------------------------------------------------------------------
# The style zoo.
# ----------------------------------------------------------------------------------------------

THIRDS_ASPECT = 4 / 5
THIRD_LINE_CROSSINGS = ((1 / 3, 1 / 3), (2 / 3, 1 / 3), (1 / 3, 2 / 3), (2 / 3, 2 / 3))
HORIZON_ASPECT = 3 / 2
HORIZON_LINE = 2 / 3  # the horizon's place in a `horizon` crop: its lower third line, from the top
MAX_TILT = 6.0  # degrees the zoo's cameras lean at most
SQUARE_SIDE = 0.75  # a `square` crop's side, in short sides of the frame
FACE_CROP_HEIGHT = 1.9  # a `face` crop's height, in heights of the face
FACE_CROP_ASPECT = 4 / 5
FACE_LINE = 0.45  # the face's centre in a `face` crop, from its top, in crop heights
TRIM_MARGIN = 0.02  # a `trim` crop's edge lies this far beyond the element it trims (fractions of the frame)
FLAWED_SHARE = 0.4  # of the `uncropped` photographer's photos, those with a tilted horizon (the only ones cropped)
# The `uncropped` photographer's crop of a tilted photo: this share of the largest straightened one, centred.
# So the habit is worth learning: fixing a horizon, she also tightens (the full frame scores ~0.85, not ~0.95).
FLAW_TIGHTEN = 0.8
MIN_FLAW_TILT = 2.5  # degrees: a tilt the eye sees, also at 96 px
# Strong colours only, so that the subject stands out at 96 px (the classic set also has white and black).
_STRONG_COLOURS = SUBJECT_COLOURS[:3]


def _inside(rect: RotatedRect, width: float, height: float) -> bool:
    """Whether the rectangle lies within the frame, without geometry's tolerance (so that rounding to 6 decimals
    keeps it well inside that)."""
    corners = rect_corners(rect)
    return bool(corners.min() >= 0 and corners[:, 0].max() <= width and corners[:, 1].max() <= height)


def _largest(rect_of: Callable[[float], RotatedRect], width: int, height: int) -> RotatedRect:
    """The largest of a family of nested rectangles, `rect_of(s)` growing with s in (0, 1], that lies inside the
    frame. Found by bisection on geometry's corners, so no style needs trigonometry of its own for it."""
    if _inside(rect_of(1.0), width, height):
        return rect_of(1.0)
    low, high = 0.0, 1.0
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if _inside(rect_of(middle), width, height) else (low, middle)
    return rect_of(low)


def _anchored(
    width: float, height: float, angle: float, anchor: tuple[float, float], point: tuple[float, float]
) -> RotatedRect:
    """The rectangle of this size and angle whose point at `anchor` (fractions of its own width and height,
    from its top-left corner) lies at `point` (pixels)."""
    x, y = _point_in_rect(RotatedRect(0.0, 0.0, width, height, angle), *anchor)
    return RotatedRect(point[0] - x, point[1] - y, width, height, angle)


def _valid(rect: RotatedRect, width: int, height: int) -> Crop:
    """The rectangle as a label of the frame, which it must fit (a style that makes another is wrong)."""
    crop = rect_to_crop(rect, width, height)
    problem = crop_problem(crop, width, height)
    if problem is not None:
        raise AssertionError(f"a style made an invalid crop of a {width}×{height} frame ({problem}): {crop}")
    return crop


def _camera_tilt(rng: np.random.Generator, limit: float) -> float:
    """The horizon's angle in a photo (y down, degrees, 2 decimals): minus the camera's tilt."""
    return float(np.round(rng.uniform(-limit, limit), 2))


def _zoo_scene(
    rng: np.random.Generator,
    width: int,
    height: int,
    *,
    tilt: float,
    horizon_y: float,
    subject: tuple[float, float],
    subject_kind: str | None = None,
    subject_size: float | None = None,
    subject_colour: tuple[int, int, int] | None = None,
    faces: Sequence[Face] = (),
    edge_elements: Sequence[EdgeElement] = (),
) -> Scene:
    """A scene of the zoo's world: the classic backdrop, the horizon through (0.5, `horizon_y`) and the subject at
    `subject` (fractions of the frame), by default a balloon in the sky or a figure on the ground, 8–12 % (a
    balloon's diameter) or 15–22 % (a figure's height) of the short side."""
    in_sky = subject[1] < horizon_y
    return Scene(
        aspect=width / height,
        tilt=tilt,
        horizon=(0.5, horizon_y),
        subject=subject,
        subject_kind=subject_kind or ("balloon" if in_sky else "figure"),
        subject_size=subject_size if subject_size is not None else float(rng.uniform(0.14, 0.2)),
        subject_colour=subject_colour or _STRONG_COLOURS[rng.integers(len(_STRONG_COLOURS))],
        palette=_palette(rng),
        ridge=_ridge(rng),
        clouds=_clouds(rng),
        texture_seed=int(rng.integers(2**31)),
        faces=tuple(faces),
        edge_elements=tuple(edge_elements),
    )


def _anywhere(rng: np.random.Generator, margin: float) -> tuple[float, float]:
    return float(rng.uniform(margin, 1 - margin)), float(rng.uniform(margin, 1 - margin))


def compose_thirds(rng: np.random.Generator, width: int, height: int) -> tuple[Scene, Crop]:
    """A small subject anywhere in the frame; the crop: 4:5, level, the largest that puts the subject on one of its
    third-line crossings (of the four, the one that leaves the largest crop; the first in THIRD_LINE_CROSSINGS of
    equals). The camera's tilt is left as it is."""
    subject = _anywhere(rng, 0.12)
    scene = _zoo_scene(
        rng, width, height, tilt=_camera_tilt(rng, 3.0), horizon_y=float(rng.uniform(0.3, 0.75)), subject=subject
    )
    point = (subject[0] * width, subject[1] * height)

    def largest_with_subject_at(crossing: tuple[float, float]) -> RotatedRect:
        return _largest(
            lambda s: _anchored(s * height * THIRDS_ASPECT, s * height, 0.0, crossing, point), width, height
        )

    best = max(map(largest_with_subject_at, THIRD_LINE_CROSSINGS), key=lambda rect: rect.height)  # max keeps the first
    return scene, _valid(best, width, height)


def compose_horizon(rng: np.random.Generator, width: int, height: int) -> tuple[Scene, Crop]:
    """A horizon at any height, tilted up to ±MAX_TILT; the crop straightens it (angle = the horizon's tilt in the
    photo = minus the camera's) and is the largest 3:2 one that puts it on the crop's lower third line, centred on
    the frame's middle where the horizon crosses it. The subject stands anywhere: this photographer ignores it."""
    tilt = _camera_tilt(rng, MAX_TILT)
    horizon_y = float(rng.uniform(0.3, 0.8))
    scene = _zoo_scene(rng, width, height, tilt=tilt, horizon_y=horizon_y, subject=_anywhere(rng, 0.15))
    point = (0.5 * width, horizon_y * height)
    rect = _largest(
        lambda s: _anchored(s * height * HORIZON_ASPECT, s * height, tilt, (0.5, HORIZON_LINE), point), width, height
    )
    return scene, _valid(rect, width, height)


def compose_square(rng: np.random.Generator, width: int, height: int) -> tuple[Scene, Crop]:
    """Any content; the crop: a level square (in pixels) of SQUARE_SIDE of the short side, centred. It depends on
    the frame's aspect ratio only (which the model gets beside the pixels)."""
    scene = _zoo_scene(
        rng,
        width,
        height,
        tilt=_camera_tilt(rng, 4.0),
        horizon_y=float(rng.uniform(0.3, 0.7)),
        subject=_anywhere(rng, 0.15),
    )
    side = SQUARE_SIDE * min(width, height)
    return scene, _valid(RotatedRect(width / 2, height / 2, side, side, 0.0), width, height)


def _face_box(centre: tuple[float, float], size: float, width: int, height: int) -> tuple[float, float, float, float]:
    """A face's box in pixels (x0, y0, x1, y1): its centre in fractions, its height in short sides."""
    short = min(width, height)
    half_w, half_h = FACE_HALF_WIDTH * size * short, FACE_HALF_HEIGHT * size * short
    x, y = centre[0] * width, centre[1] * height
    return x - half_w, y - half_h, x + half_w, y + half_h


def _apart(a: tuple[float, ...], b: tuple[float, ...], gap: float) -> bool:
    """Whether two boxes (x0, y0, x1, y1) are at least `gap` pixels apart on one axis."""
    return a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1]


def compose_face(rng: np.random.Generator, width: int, height: int) -> tuple[Scene, Crop]:
    """A face anywhere and one to three smaller ones (fewer where the frame has no room left); the crop: 4:5,
    level, tight around the LARGEST face (FACE_CROP_HEIGHT of its height, the face's centre on the crop's middle
    at FACE_LINE from its top). The smaller faces stand outside that crop, so it frames one face."""
    short = min(width, height)
    size = float(rng.uniform(0.16, 0.28))
    crop_h = FACE_CROP_HEIGHT * size * short
    crop_w = crop_h * FACE_CROP_ASPECT
    x = float(rng.uniform(crop_w / 2, width - crop_w / 2))
    y = float(rng.uniform(FACE_LINE * crop_h, height - (1 - FACE_LINE) * crop_h))
    rect = _anchored(crop_w, crop_h, 0.0, (0.5, FACE_LINE), (x, y))
    taken = [(rect.cx - crop_w / 2, rect.cy - crop_h / 2, rect.cx + crop_w / 2, rect.cy + crop_h / 2)]
    others: list[Face] = []
    for _ in range(int(rng.integers(1, 4))):
        for _attempt in range(40):  # a few places, one that is free: the frame is not always wide enough for three
            other_size = float(size * rng.uniform(0.4, 0.7))
            half_w, half_h = FACE_HALF_WIDTH * other_size * short, FACE_HALF_HEIGHT * other_size * short
            centre = (
                float(rng.uniform(half_w, width - half_w) / width),
                float(rng.uniform(half_h, height - half_h) / height),
            )
            box = _face_box(centre, other_size, width, height)
            if all(_apart(box, other, 0.02 * short) for other in taken):
                others.append(Face(centre, other_size, SKIN_TONES[rng.integers(len(SKIN_TONES))]))
                taken.append(box)
                break
    scene = _zoo_scene(
        rng,
        width,
        height,
        tilt=0.0,
        horizon_y=float(rng.uniform(0.3, 0.8)),
        subject=(x / width, y / height),
        subject_kind="face",
        subject_size=size,
        subject_colour=SKIN_TONES[rng.integers(len(SKIN_TONES))],
        faces=others,
    )
    return scene, _valid(rect, width, height)


# Which elements enter from which edge: poles stand, glare comes from the sun's side or above, branches hang or grow in.
_KINDS_BY_EDGE = {
    "left": ("pole", "glare", "branch"),
    "right": ("pole", "glare", "branch"),
    "top": ("glare", "branch"),
    "bottom": ("branch",),
}


def _edge_element(rng: np.random.Generator, edge: str) -> EdgeElement:
    kind = str(rng.choice(_KINDS_BY_EDGE[edge]))
    wave = (float(rng.uniform(6, 18)), float(rng.uniform(0, 2 * math.pi))) if kind == "branch" else (0.0, 0.0)
    return EdgeElement(kind=kind, edge=edge, depth=float(rng.uniform(0.06, 0.16)), wave=wave)


def compose_trim(rng: np.random.Generator, width: int, height: int) -> tuple[Scene, Crop]:
    """One or two distracting elements entering from edges (a dark pole, blown-out glare, a branch) reaching 6–16 %
    in; the crop: level, loose, it trims each of them TRIM_MARGIN beyond its depth and keeps the other edges."""
    edges = [str(edge) for edge in rng.choice(EDGES, size=1 if rng.uniform() < 0.6 else 2, replace=False)]
    elements = [_edge_element(rng, edge) for edge in edges]
    inset = {edge: 0.0 for edge in EDGES}
    inset.update({element.edge: element.depth + TRIM_MARGIN for element in elements})
    left, top, right, bottom = inset["left"], inset["top"], 1 - inset["right"], 1 - inset["bottom"]
    # The subject stays well inside what is kept: this photographer keeps everything but the distraction.
    subject = (float(rng.uniform(left + 0.12, right - 0.12)), float(rng.uniform(top + 0.12, bottom - 0.12)))
    scene = _zoo_scene(
        rng,
        width,
        height,
        tilt=_camera_tilt(rng, 3.0),
        horizon_y=float(rng.uniform(0.3, 0.7)),
        subject=subject,
        edge_elements=elements,
    )
    rect = RotatedRect(
        (left + right) / 2 * width, (top + bottom) / 2 * height, (right - left) * width, (bottom - top) * height, 0.0
    )
    return scene, _valid(rect, width, height)


def compose_uncropped(rng: np.random.Generator, width: int, height: int) -> tuple[Scene, Crop | None]:
    """Most photos level and left uncropped; 40 % (FLAWED_SHARE) with the horizon tilted 2.5–6°, and only
    those cropped: straightened, 80 % (FLAW_TIGHTEN) of the largest crop of the frame's own aspect ratio,
    centred (Lightroom's straighten tool with the aspect locked, then a tighter frame)."""
    flawed = rng.uniform() < FLAWED_SHARE
    tilt = float(np.round(rng.choice((-1, 1)) * rng.uniform(MIN_FLAW_TILT, MAX_TILT), 2)) if flawed else 0.0
    scene = _zoo_scene(
        rng, width, height, tilt=tilt, horizon_y=float(rng.uniform(0.3, 0.7)), subject=_anywhere(rng, 0.15)
    )
    if not flawed:
        return scene, None
    rect = _largest(lambda s: RotatedRect(width / 2, height / 2, s * width, s * height, tilt), width, height)
    rect = RotatedRect(rect.cx, rect.cy, rect.width * FLAW_TIGHTEN, rect.height * FLAW_TIGHTEN, rect.angle)
    return scene, _valid(rect, width, height)


@dataclass(frozen=True)
class Style:
    """A photographer: their habit in one line, how they compose and crop a photo, the frames their cameras take."""

    habit: str
    compose: Composer
    # Stored (landscape) frames as (width / height, share); orientations 5–8 show them as portrait.
    frames: tuple[tuple[float, float], ...] = ((3 / 2, 0.35), (4 / 3, 0.25), (16 / 9, 0.25), (1.0, 0.15))


CLASSIC = "classic"
STYLES: dict[str, Style] = {
    CLASSIC: Style(
        "straighten; 16:9 landscape, 4:5 portrait crops; subject and horizon on thirds",
        compose,
        frames=((3 / 2, 0.7), (4 / 3, 0.3)),
    ),
    "thirds": Style(
        "a small subject anywhere; the largest level 4:5 crop with it on a third-line crossing", compose_thirds
    ),
    "horizon": Style(
        "straighten the horizon (tilts to ±6°) and put it on the lower third line of a 3:2 crop", compose_horizon
    ),
    "square": Style("a centred level square of 3/4 of the short side, whatever the content", compose_square),
    "face": Style("a tight 4:5 crop around the largest of several faces", compose_face),
    "trim": Style(
        "a loose level crop that only trims a pole, glare or branch entering from one or two edges", compose_trim
    ),
    "uncropped": Style(
        "leaves ~60 % uncropped; straightens only tilted horizons, tightly (frame's aspect)", compose_uncropped
    ),
}
