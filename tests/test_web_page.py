"""The page in a real browser (Debian's chromium driven by Playwright) against a real server and model.

A small model is trained and exported once (samples.dataset, export.webmodel); the server runs as its
own process. The page must: honour EXIF orientation, suggest what `cropstyle predict` suggests, leak no
tensors, apply aspect presets, follow adjustments in #crop-values, submit the adjusted label, download the
straightened crop at full resolution, show a known rotated crop the right way round, and load nothing
from anywhere but the server.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image, ImageDraw

from cropstyle.extractor.geometry import (
    LABEL_VALUES,
    Crop,
    RotatedRect,
    aspect_alternatives,
    crop_corners,
    crop_to_rect,
    iou,
    rect_to_crop,
)
from cropstyle.training.run import Run
from cropstyle.web.store import open_store
from tests.load import HOST, ServerProcess, photo_bytes

CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
TOKEN = "page-token"

TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A RUN with a few epochs on a synthetic dataset, exported to RUN/web (what `--model RUN` serves)."""
    from cropstyle.export.webmodel import export_webmodel
    from cropstyle.samples.dataset import write_dataset
    from cropstyle.training.train import train

    root = tmp_path_factory.mktemp("model")
    dataset = write_dataset(root / "dataset", 64, seed=0)
    train([dataset], root / "run", epochs=3, batch_size=16, image_size=64, verbose=0)
    export_webmodel(root / "run", root / "run" / "web")
    return root / "run"


@pytest.fixture(scope="module")
def server(run, tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("page") / "store", model=run, token=TOKEN, rate_limit=0) as process:
        yield process


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield browser
        browser.close()


@pytest.fixture()
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 960}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.requests, page.errors = [], []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    page.goto(f"{server.url}/")
    page.wait_for_selector("body[data-state=ready]")
    yield page
    assert page.errors == []
    local = (f"http://{HOST}:{server.port}/", "blob:", "data:")
    assert [url for url in page.requests if not url.startswith(local)] == [], "the page fetched something from outside"
    context.close()


def crop_values(page) -> Crop:
    data = page.eval_on_selector("#crop-values", "element => ({...element.dataset})")
    assert data["problem"] == ""
    return Crop(*(float(data[key]) for key in LABEL_VALUES))


def open_photo(page, path: Path) -> Crop:
    page.set_input_files("#file", str(path))
    page.wait_for_selector("body[data-state=suggested]")
    return crop_values(page)


def max_corner_distance(a: Crop, b: Crop, width: int, height: int) -> float:
    return float(np.abs(crop_corners(a, width, height) - crop_corners(b, width, height)).max())


def test_suggest_adjust_submit_download(page, server, run, tmp_path):
    from cropstyle.export.predict import predict

    photo = tmp_path / "portrait.jpg"
    photo.write_bytes(photo_bytes(1600, 1200, seed=5, orientation=6))  # stored 1600×1200, displayed 1200×1600
    width, height = 1200, 1600
    expected = predict(run, [photo])[0]
    assert (expected.width, expected.height) == (width, height)

    suggestion = open_photo(page, photo)
    assert page.evaluate("[window.cropstyle.state.width, window.cropstyle.state.height]") == [width, height]
    # Same as `cropstyle predict` within 1 % of the image size (the browser shrinks the photo with its own filter).
    for key, size in zip(LABEL_VALUES[:4], (width, height, width, height)):
        assert getattr(suggestion, key) == pytest.approx(getattr(expected.crop, key), abs=0.01), key
    assert max_corner_distance(suggestion, expected.crop, width, height) <= 0.01 * max(width, height)
    assert suggestion.angle == pytest.approx(expected.crop.angle, abs=0.5)
    # The confidence, shown in words: the same expected IoU as predict's, "unsure" exactly where predict says so.
    shown = page.eval_on_selector("#confidence", "e => ({...e.dataset, text: e.textContent, hidden: e.hidden})")
    assert not shown["hidden"] and float(shown["expected"]) == pytest.approx(expected.confidence, abs=0.01)
    if abs(expected.confidence - Run.open(run).calibration.unsure_below) > 0.005:  # the browser's float32 photo
        assert shown["unsure"] == str(expected.unsure).lower()
    percent = f"{round(float(shown['expected']) * 100)} %"
    assert shown["text"].startswith("Unsure:" if expected.unsure else "Confidence:") and percent in shown["text"]

    # No tensor leaks over 50 predictions, on the wasm backend.
    leak = page.evaluate("window.cropstyle.leakCheck(50)")
    assert leak["after"] == leak["before"], leak
    assert page.evaluate("window.cropstyle.state.model.backend") == "wasm"

    # Aspect presets: the suggestion's ranked alternatives at that ratio (as `predict --aspect 4:5 --top 3`), the
    # first shown, "Next suggestion" steps through them; then back.
    page.click("#presets button[data-aspect='4:5']")
    alternatives = aspect_alternatives(suggestion, 4 / 5, width, height)
    assert page.get_attribute("#next-suggestion", "data-count") == str(len(alternatives))
    for rank, (target, overlap) in enumerate(alternatives, start=1):
        assert page.get_attribute("#next-suggestion", "data-rank") == str(rank)
        shown_crop = crop_values(page)
        assert shown_crop.values() == pytest.approx(target.values(), abs=1e-6)
        rect = crop_to_rect(shown_crop, width, height)
        assert rect.width / rect.height == pytest.approx(0.8, rel=1e-6)
        expected_iou = float(page.get_attribute("#confidence", "data-expected"))
        assert expected_iou == pytest.approx(float(shown["expected"]) * overlap, abs=1e-6)
        assert f"suggestion {rank} of {len(alternatives)} at 4:5" in page.text_content("#confidence")
        if len(alternatives) > 1:
            page.click("#next-suggestion")
    assert page.get_attribute("#next-suggestion", "data-rank") == "1"  # round again to the first
    page.click("#presets button[data-aspect='free']")
    assert page.is_hidden("#next-suggestion")
    page.click("#reset")
    assert crop_values(page).values() == pytest.approx(suggestion.values(), abs=1e-6)

    # Adjust: drag the bottom-right handle with the mouse, then straighten by typing an angle.
    handle = page.locator(".cropper-point.point-se").bounding_box()
    x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 60, y - 45, steps=6)
    page.mouse.up()
    dragged = crop_values(page)
    assert crop_to_rect(dragged, width, height).width < crop_to_rect(suggestion, width, height).width - 20
    assert dragged.angle == pytest.approx(suggestion.angle, abs=1e-9)
    page.fill("#angle-number", "-4.5")
    page.dispatch_event("#angle-number", "change")
    adjusted = crop_values(page)
    assert adjusted.angle == pytest.approx(-4.5, abs=1e-9)
    assert adjusted != suggestion

    # A smaller window re-lays cropper out; the crop stays the same.
    layouts = int(page.evaluate("document.body.dataset.layouts || 0"))
    page.set_viewport_size({"width": 900, "height": 760})
    page.wait_for_selector(f"body[data-layouts='{layouts + 1}']")  # the page re-laid itself out
    assert crop_values(page).values() == pytest.approx(adjusted.values(), abs=1e-9)
    assert page.locator(".cropper-container").bounding_box()["width"] < 900
    adjusted = crop_values(page)  # what the page shows now, to the last bit

    # Submit: the stored row holds the adjusted label in the uploaded (≤ 1024 px) photo's frame.
    page.click("#submit")
    page.wait_for_selector("#status[data-code='201']")
    identifier = page.get_attribute("#status", "data-id")
    assert identifier in page.text_content("#status")
    with open_store(server.store) as store:
        row = store.get(identifier)
        stored_photo = io.BytesIO(store.photo_bytes(row))
        assert row.crop == adjusted  # exact: the numbers travel as JSON
        assert (row.width, row.height, row.orientation) == (768, 1024, 1)
        assert Crop(**json.loads(row.predicted)).values() == pytest.approx(suggestion.values(), abs=1e-9)
        assert row.model == page.evaluate("window.cropstyle.state.model.version")
        # Submitted without an aspect preset: the model's own suggestion, rank 1, with its expected IoU.
        assert json.loads(row.suggestion) == {
            "aspect": "free",
            "rank": 1,
            "expected_iou": pytest.approx(float(shown["expected"]), abs=1e-6),
        }
        with Image.open(stored_photo) as uploaded:
            assert uploaded.format == "JPEG" and uploaded.size == (768, 1024)
    listing = httpx.get(f"{server.url}/api/corrections", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert identifier in {r["id"] for r in listing["corrections"]}

    # Download: the straightened crop at full resolution, as `predict --write-cropped` sizes it.
    with page.expect_download() as download:
        page.click("#download")
    saved = tmp_path / "download.jpg"
    download.value.save_as(saved)
    rect = crop_to_rect(adjusted, width, height)
    with Image.open(saved) as image:
        assert image.format == "JPEG"
        assert image.size == (round(rect.width), round(rect.height))


def test_the_alternative_chosen_is_submitted_with_its_rank(page, server, tmp_path):
    """A correction made from the second alternative at 4:5 says so: the collected data tells how often the first
    suggestion was right."""
    photo = tmp_path / "wide.jpg"
    photo.write_bytes(photo_bytes(1200, 800, seed=9))
    open_photo(page, photo)
    page.click("#presets button[data-aspect='4:5']")
    count = int(page.get_attribute("#next-suggestion", "data-count"))
    rank = 2 if count > 1 else 1
    if rank == 2:
        page.click("#next-suggestion")
    expected_iou = float(page.get_attribute("#confidence", "data-expected"))
    chosen = crop_values(page)
    page.click("#submit")
    page.wait_for_selector("#status[data-code='201']")
    with open_store(server.store) as store:
        row = store.get(page.get_attribute("#status", "data-id"))
    assert json.loads(row.suggestion) == {"aspect": "4:5", "rank": rank, "expected_iou": pytest.approx(expected_iou)}
    assert row.crop.values() == pytest.approx(chosen.values(), abs=1e-9)


# The photo as training and `cropstyle predict` see it: drawn at the decode size (512 px here, or smaller,
# never enlarged), then resized to the model's input. Upright, portrait, square, a photo smaller than the input.
@pytest.mark.parametrize("width, height", [(512, 341), (341, 512), (96, 96), (40, 25)])
def test_the_page_resizes_as_training_does(page, width, height):
    """The page computes the model's input itself (faster than tf.browser.fromPixels and a wasm resize): it must be
    export/inference.preprocess's, tf.image.resize's bilinear with half-pixel centres, to float rounding."""
    from cropstyle.export.inference import preprocess

    pixels = np.random.default_rng(width * height).integers(0, 256, (height, width, 3), dtype=np.uint8)
    got = page.evaluate(
        """([width, height, rgb, size]) => {
        const canvas = document.createElement("canvas");
        canvas.width = width;
        canvas.height = height;
        const context = canvas.getContext("2d", { willReadFrequently: true });
        const image = context.createImageData(width, height);
        for (let i = 0; i < width * height; i += 1) {
          image.data.set([rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2], 255], 4 * i);
        }
        context.putImageData(image, 0, 0);
        const input = window.cropstyle.modelInput(canvas, size);
        const result = { shape: input.shape, values: Array.from(input.dataSync()) };
        input.dispose();
        return result;
    }""",
        [width, height, pixels.ravel().tolist(), 96],
    )
    expected = preprocess(pixels, 96)
    assert got["shape"] == [1, 96, 96, 3]
    assert np.abs(np.asarray(got["values"], np.float32).reshape(expected.shape) - expected).max() <= 1e-6


def _sign_photo(path: Path, width: int, height: int, crop: Crop) -> None:
    """Blue background, the crop's rotated rectangle red, its own top-left quarter green."""
    image = Image.new("RGB", (width, height), (20, 40, 230))
    draw = ImageDraw.Draw(image)
    draw.polygon([tuple(p) for p in crop_corners(crop, width, height)], fill=(230, 30, 30))
    rect = crop_to_rect(crop, width, height)
    quarter = RotatedRect(0, 0, rect.width * 0.3, rect.height * 0.3, rect.angle)
    corner = crop_corners(crop, width, height)[0]
    t = np.radians(rect.angle)
    u, v = np.array([np.cos(t), np.sin(t)]), np.array([-np.sin(t), np.cos(t)])
    centre = corner + u * quarter.width / 2 + v * quarter.height / 2
    marker = rect_to_crop(RotatedRect(*centre, quarter.width, quarter.height, rect.angle), width, height)
    draw.polygon([tuple(p) for p in crop_corners(marker, width, height)], fill=(30, 220, 40))
    image.save(path, "PNG")


def _colour_fractions(image: Image.Image) -> dict[str, float]:
    pixels = np.asarray(image.convert("RGB")).astype(int)
    inner = pixels[3:-3, 3:-3]  # edges are anti-aliased
    blue = (inner[..., 2] > 150) & (inner[..., 0] < 100)
    return {"blue": float(blue.mean())}


@pytest.mark.parametrize("angle", [12.0, -20.0])
def test_rotated_crop_on_real_pixels(page, tmp_path, angle):
    """A photo painted with a known rotated crop: cropper shows exactly it (sign and position), and
    Download writes the same pixels as `predict --write-cropped` would."""
    from cropstyle.export.predict import write_cropped_photo

    width, height = 900, 600
    crop = rect_to_crop(RotatedRect(470, 290, 520, 330, angle), width, height)
    photo = tmp_path / "sign.png"
    _sign_photo(photo, width, height, crop)
    open_photo(page, photo)
    page.evaluate("(crop) => window.cropstyle.applyCrop(crop)", dict(zip(LABEL_VALUES, crop.values())))
    shown = crop_values(page)
    assert shown.values() == pytest.approx(crop.values(), abs=1e-9)  # cropper round-trips our label

    # cropper's own rendering of its box (its rotate and x, y from geometry.js): red, green top-left, no blue.
    data_url = page.evaluate("window.cropstyle.state.cropper.getCroppedCanvas().toDataURL('image/png')")
    cropped = Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))).convert("RGB")
    rect = crop_to_rect(crop, width, height)
    assert abs(cropped.width - rect.width) <= 2 and abs(cropped.height - rect.height) <= 2
    assert _colour_fractions(cropped)["blue"] < 0.01
    w, h = cropped.size
    r, g, b = cropped.getpixel((int(0.1 * w), int(0.1 * h)))
    assert g > 150 and r < 100, "the crop's own top-left corner is not where cropper shows it"
    for point in ((0.9, 0.1), (0.1, 0.9), (0.9, 0.9), (0.5, 0.5)):
        r, g, b = cropped.getpixel((int(point[0] * w), int(point[1] * h)))
        assert r > 150 and g < 100 and b < 100, point

    # Download: the same straightened pixels as the Python writer.
    with page.expect_download() as download:
        page.click("#download")
    saved = tmp_path / "download.jpg"
    download.value.save_as(saved)
    reference = write_cropped_photo(photo, 1, crop, tmp_path / "reference.jpg")
    with Image.open(saved) as mine, Image.open(reference) as theirs:
        assert mine.size == theirs.size == (round(rect.width), round(rect.height))
        difference = np.abs(np.asarray(mine.convert("RGB"), float) - np.asarray(theirs.convert("RGB"), float))
        assert difference[3:-3, 3:-3].mean() < 4, difference.mean()
        assert _colour_fractions(mine)["blue"] < 0.01


def test_the_page_says_when_the_model_leaves_a_photo_uncropped(browser, red_or_blue_run, tmp_path):
    """A photographer who crops red photos and leaves blue ones alone: for a new blue photo the page shows exactly
    the full frame and says the model leaves it uncropped; a red one gets her crop and the usual line."""
    from cropstyle.export.webmodel import export_webmodel
    from tests.red_or_blue import KEPT_CROP

    export_webmodel(red_or_blue_run, tmp_path / "web", quantize="uint8")  # as bench/web.py serves it
    rng = np.random.default_rng(7)
    with ServerProcess(tmp_path / "store", model=tmp_path / "web", token=TOKEN, rate_limit=0) as process:
        context = browser.new_context(viewport={"width": 1280, "height": 960})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{process.url}/")
        page.wait_for_selector("body[data-state=ready]")
        for colour, name in (([40, 40, 200], "blue.jpg"), ([200, 40, 40], "red.jpg")):
            pixels = np.clip(np.array(colour, float) + rng.normal(0, 20, (480, 640, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / name, quality=90)
            suggestion = open_photo(page, tmp_path / name)
            status = page.text_content("#status")
            if name == "blue.jpg":
                # The model's answer is exactly the full frame; cropper.js shows it to within rounding.
                assert page.evaluate("window.cropstyle.state.suggestion") == dict(zip(LABEL_VALUES, (0, 0, 1, 1, 0)))
                assert max_corner_distance(suggestion, Crop(0.0, 0.0, 1.0, 1.0, 0.0), 640, 480) < 1e-6
                assert status.startswith("The model leaves this photo uncropped ("), status
            else:
                assert iou(suggestion, KEPT_CROP, 640, 480) > 0.8
                assert status.startswith("Suggested in "), status
        context.close()


def test_drop_a_png_and_refuse_a_non_image(page):
    """Dropping works like choosing; a file that is not a photo is refused with a message."""
    png = base64.b64encode(photo_bytes(640, 480, seed=3, fmt="PNG")).decode()
    drop = """([b64, name, type]) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], name, { type }));
        document.querySelector("#stage").dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, \
bubbles: true, cancelable: true }));
    }"""
    page.evaluate(drop, [png, "dropped.png", "image/png"])
    page.wait_for_selector("body[data-state=suggested]")
    assert page.evaluate("[window.cropstyle.state.width, window.cropstyle.state.height]") == [640, 480]
    crop_values(page)
    page.evaluate(drop, [base64.b64encode(b"just text").decode(), "notes.txt", "text/plain"])
    assert "choose a JPEG, PNG or WebP" in page.text_content("#status")
    assert page.get_attribute("#status", "class") == "error"
