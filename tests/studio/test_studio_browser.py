"""The web studio at / in a real browser (Chromium, driven by Playwright) against a real `imgopen
serve` process on the tiny models: sign-in, a generation watched to its picture, an inpainting mask
painted with the mouse, a tool form built from the schema, a cancel, and the history after a
reload. Each main screen is saved as a screenshot under the test's tmp_path; with
IMGOPEN_STUDIO_DOCS=1 the README's ones are refreshed in docs/ too (off by default, so a test run
never rewrites tracked files)."""

from __future__ import annotations

import base64
import io
import json
import math
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, sync_playwright

from imgopen.accounts.keys import CreatedKey, KeyStore
from imgopen.client import Client
from imgopen.db.engine import Database
from imgopen.testing.images import astronaut, data_uri, encode, noise
from imgopen.testing.server import ServerProcess

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}
DOCS = Path(__file__).resolve().parents[2] / "docs"
BASE = "/AIGCImgOpenServ/saas"


@dataclass
class Studio:
    server: ServerProcess
    alice: CreatedKey
    bob: CreatedKey
    disabled: CreatedKey

    @property
    def url(self) -> str:
        return self.server.base_url

    def client(self, key: CreatedKey) -> Client:
        return Client(self.url, key.id, key.secret)


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory, tiny_models: Path) -> Iterator[Studio]:
    data = tmp_path_factory.mktemp("studio")
    env = {"IMGOPEN_MODELS_DIR": str(tiny_models), "IMGOPEN_TORCH_THREADS": "1", "IMGOPEN_CPU_WORKERS": "1"}
    with ServerProcess(data, env) as server:
        database = Database(f"sqlite:///{data / 'imgopen.db'}")
        keys = KeyStore(database)
        disabled = keys.create("disabled")
        keys.set_disabled(disabled.id, True)
        yield Studio(server, keys.create("alice"), keys.create("bob"), disabled)
        database.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the studio's browser tests drive Debian's Chromium. Install it with "
            "`apt-get install -y chromium` (.ci/run does when it is missing).",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, studio: Studio) -> Iterator[Page]:
    """A fresh tab (its own sessionStorage) on the studio; a JavaScript error anywhere fails the test."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(studio.url + "/")
    yield tab
    context.close()
    assert errors == [], f"JavaScript errors in the page: {errors}"


def shot(page: Page, tmp_path: Path, name: str, docs: bool = False, top: bool = True) -> Path:
    """The screen as a 1280x800 PNG in tmp_path (scrolled to the top unless told otherwise);
    README screenshots go to docs/ when asked to."""
    path = tmp_path / f"studio-{name}.png"
    if top:
        page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path))
    assert path.stat().st_size > 5_000
    if docs and os.environ.get("IMGOPEN_STUDIO_DOCS") == "1":
        shutil.copyfile(path, DOCS / path.name)
    return path


def sign_in(page: Page, key: CreatedKey, secret: str | None = None) -> None:
    page.fill("#signin-id", key.id)
    page.fill("#signin-secret", secret if secret is not None else key.secret)
    page.press("#signin-secret", "Enter")  # Enter submits: the form is keyboard-usable


def signed_in(page: Page, key: CreatedKey) -> None:
    sign_in(page, key)
    page.wait_for_selector("#gen-form")
    page.wait_for_function("document.querySelectorAll('#gen-sd_model_checkpoint option').length > 2")


def picture_file(tmp_path: Path, image: Image.Image, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(encode(image))
    return path


def decode_data_uri(value: str) -> Image.Image:
    assert value.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(value.split(",", 1)[1])))


def natural_size(page: Page, selector: str) -> tuple[int, int]:
    page.wait_for_function(
        f"(() => {{ const i = document.querySelector({selector!r}); return i && i.complete && i.naturalWidth > 0; }})()"
    )
    width, height = page.evaluate(
        f"(() => {{ const i = document.querySelector({selector!r}); return [i.naturalWidth, i.naturalHeight]; }})()"
    )
    return int(width), int(height)


# --- tests ------------------------------------------------------------------------------------------
def test_sign_in_explains_a_wrong_and_a_disabled_key(page: Page, studio: Studio, tmp_path: Path) -> None:
    assert page.is_visible("#signin-form") and page.is_hidden("#nav")
    sign_in(page, studio.alice, secret="not-the-secret")
    page.wait_for_function("document.querySelector('#signin-message').textContent.includes('401')")
    wrong = page.inner_text("#signin-message")
    assert wrong.startswith("Wrong key (401)") and "imgopen keys create" in wrong  # what happened, what to do
    assert page.is_hidden("#nav")
    sign_in(page, studio.disabled)
    page.wait_for_function("document.querySelector('#signin-message').textContent.includes('403')")
    disabled = page.inner_text("#signin-message")
    assert disabled.startswith("Key disabled (403)") and "imgopen keys enable" in disabled
    assert page.evaluate("sessionStorage.length") == 0
    shot(page, tmp_path, "signin", docs=True)

    signed_in(page, studio.alice)
    assert page.inner_text("#account-id") == studio.alice.id and page.is_visible("#nav")
    kept = json.loads(page.evaluate("sessionStorage.getItem('imgopen.studio.key')"))
    assert kept == {"id": studio.alice.id, "secret": studio.alice.secret}
    assert page.evaluate("localStorage.length") == 0  # the secret never outlives the tab
    page.click("#sign-out")
    assert page.is_visible("#signin-form") and page.evaluate("sessionStorage.length") == 0


def test_text2image_shows_progress_then_the_picture_at_its_size(page: Page, studio: Studio, tmp_path: Path) -> None:
    signed_in(page, studio.alice)
    page.select_option("#gen-sd_model_checkpoint", "tiny-sd15")
    page.fill("#gen-prompt", "a red cat")
    page.fill("#gen-width", "64")
    page.fill("#gen-height", "96")
    page.fill("#gen-steps", "10")
    with page.expect_request(lambda request: request.url.endswith(f"{BASE}/sd/v2/text2image")) as submitted:
        page.click("#gen-submit")
    body = submitted.value.post_data_json
    assert body["width"] == 64 and body["height"] == 96 and body["sd_model_checkpoint"] == "tiny-sd15"

    seen: set[float] = set()
    deadline = time.monotonic() + 90
    while not page.query_selector("#gen-results img.result-image"):
        assert time.monotonic() < deadline, f"no picture; progress seen: {sorted(seen)}"
        value = page.evaluate("document.querySelector('#gen-progress').value")
        if 0 < value < 1:
            seen.add(round(value, 3))
        time.sleep(0.04)
    assert len(seen) >= 2, f"the progress bar did not move before the end: {sorted(seen)}"
    assert natural_size(page, "#gen-results img.result-image") == (64, 96)
    assert page.evaluate("document.querySelector('#gen-progress').value") == 1
    assert page.inner_text("#gen-status").startswith("Done")

    seed = page.get_attribute("#gen-results img.result-image", "data-seed")
    page.click("#gen-seed-reuse")
    assert page.input_value("#gen-seed") == seed
    page.click("#gen-seed-random")
    assert page.input_value("#gen-seed") == "-1"
    shot(page, tmp_path, "generate", docs=True)


def test_inpaint_sends_the_mask_painted_with_the_mouse(page: Page, studio: Studio, tmp_path: Path) -> None:
    signed_in(page, studio.alice)
    page.select_option("#gen-sd_model_checkpoint", "tiny-sd15")
    page.fill("#gen-prompt", "a dog")
    page.get_by_role("radio", name="Inpaint").check()
    source = astronaut().resize((64, 64))
    page.set_input_files("#gen-image_link-file", str(picture_file(tmp_path, source, "astronaut.png")))
    canvas = page.locator("#gen-mask-canvas")
    canvas.wait_for(state="visible")
    page.wait_for_function("document.querySelector('#gen-mask-canvas').width === 64")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 200  # a small picture is shown large to paint on
    brush = float(page.input_value("#gen-mask-size"))  # in the picture's pixels
    start, end = (0.2, 0.5), (0.6, 0.5)
    page.mouse.move(box["x"] + start[0] * box["width"], box["y"] + start[1] * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + end[0] * box["width"], box["y"] + end[1] * box["height"], steps=12)
    page.mouse.up()
    page.fill("#gen-steps", "2")
    with page.expect_request(lambda request: request.url.endswith(f"{BASE}/sd/v2/image2image")) as submitted:
        page.click("#gen-submit")
    body = submitted.value.post_data_json

    init = decode_data_uri(body["image_link"]).convert("RGB")
    assert init.size == (64, 64) and list(init.getdata()) == list(source.convert("RGB").getdata())
    mask = decode_data_uri(body["mask_link"]).convert("L")
    assert mask.size == (64, 64)
    ax, ay, bx, by = start[0] * 64, start[1] * 64, end[0] * 64, end[1] * 64
    white = black = 0
    for y in range(64):
        for x in range(64):
            # Distance of the pixel's centre to the stroke (a segment with round caps).
            px, py = x + 0.5, y + 0.5
            t = max(0.0, min(1.0, ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2)))
            distance = math.hypot(px - (ax + t * (bx - ax)), py - (ay + t * (by - ay)))
            value = mask.getpixel((x, y))
            if distance <= brush / 2 - 1.5:
                assert value >= 250, f"({x}, {y}) is under the brush but {value}"
                white += 1
            elif distance >= brush / 2 + 1.5:
                assert value <= 5, f"({x}, {y}) is away from the brush but {value}"
                black += 1
    assert white >= 40 and black > 3000  # a 5 px brush over 26 px: about 50 sure-white pixels
    assert body["width"] == 64 and body["height"] == 64  # the output size follows the picture
    page.wait_for_selector("#gen-results img.result-image", timeout=90_000)
    assert natural_size(page, "#gen-results img.result-image") == (64, 64)
    canvas.scroll_into_view_if_needed()
    shot(page, tmp_path, "inpaint", top=False)


def test_a_tool_form_is_built_from_the_schema(page: Page, studio: Studio, tmp_path: Path) -> None:
    schema = httpx.get(f"{studio.url}/openapi.json", trust_env=False).json()["components"]["schemas"]
    fields = schema["RemoveBgRequest"]["properties"]
    signed_in(page, studio.alice)
    page.click("a[href='#/tools']")
    page.click("a[href='#/tools/removeBg']")
    page.wait_for_selector("#tool-removeBg-form")
    options = page.eval_on_selector_all("#tool-removeBg-outputMode option", "els => els.map(e => e.value)")
    assert options == fields["outputMode"]["enum"]
    assert page.input_value("#tool-removeBg-outputMode") == fields["outputMode"]["default"]
    assert fields["outputMode"]["description"] in page.inner_text("#tool-removeBg-outputMode-help")
    assert page.get_attribute("#tool-removeBg-backgroundColor", "maxlength") == str(
        fields["backgroundColor"]["maxLength"]
    )
    # An image field is a file / paste / drop / URL input, whatever the tool calls it.
    assert page.locator("#tool-removeBg-sourceImage-file").count() == 1

    page.set_input_files(
        "#tool-removeBg-sourceImage-file", str(picture_file(tmp_path, astronaut().resize((256, 256)), "a.png"))
    )
    page.select_option("#tool-removeBg-outputMode", "color")
    page.fill("#tool-removeBg-backgroundColor", "navy")
    with page.expect_request(lambda request: request.url.endswith(f"{BASE}/tool/removeBg")) as submitted:
        page.click("#tool-removeBg-submit")
    body = submitted.value.post_data_json
    assert body["outputMode"] == "color" and body["backgroundColor"] == "navy"
    assert body["sourceImage"].startswith("data:image/png;base64,") and "model" not in body  # defaults left out
    page.wait_for_selector("#tool-removeBg-results img.result-image[data-field='maskUrl']", timeout=60_000)
    fields_shown = page.eval_on_selector_all(
        "#tool-removeBg-results img.result-image", "els => els.map(e => e.dataset.field)"
    )
    assert fields_shown == ["outputImageUrl", "maskUrl"]
    assert natural_size(page, "#tool-removeBg-results img.result-image") == (256, 256)
    corner = page.evaluate(
        """(() => {
            const img = document.querySelector('#tool-removeBg-results img.result-image');
            const canvas = document.createElement('canvas');
            canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
            const context = canvas.getContext('2d');
            context.drawImage(img, 0, 0);
            return Array.from(context.getImageData(2, 2, 1, 1).data);
        })()"""
    )
    assert corner[:3] == [0, 0, 128]  # the background is now navy
    assert "mediapipe" in page.inner_text("#tool-removeBg-results dl.facts")  # `method`, shown as a fact
    shot(page, tmp_path, "tool", docs=True)


def test_cancel_stops_a_running_generation(page: Page, studio: Studio) -> None:
    signed_in(page, studio.alice)
    page.select_option("#gen-sd_model_checkpoint", "tiny-sd15")
    page.fill("#gen-prompt", "a long one")
    page.fill("#gen-width", "64")
    page.fill("#gen-height", "64")
    page.fill("#gen-steps", "150")
    with page.expect_request(lambda request: request.url.endswith(f"{BASE}/sd/v2/text2image")) as submitted:
        page.click("#gen-submit")
    task_id = submitted.value.post_data_json["id_task"]
    page.wait_for_function(
        "document.querySelector('#gen-status').textContent.startsWith('Running') "
        "&& document.querySelector('#gen-progress').value > 0",
        timeout=60_000,
    )
    page.click("#gen-cancel")
    page.wait_for_function("document.querySelector('#gen-status').textContent.startsWith('Cancelled')", timeout=60_000)
    assert page.get_attribute(".progress-view", "data-state") == "cancelled"
    assert page.query_selector("#gen-results img.result-image") is None
    with studio.client(studio.alice) as client:
        answer = client.query_sd(task_id)
    assert answer["state"] == "cancelled" and answer["status"] == 5
    assert answer["progress"] < 1


def test_history_lists_the_keys_tasks_after_a_reload(page: Page, studio: Studio, tmp_path: Path) -> None:
    picture = data_uri(encode(noise(40, 30, seed=5)))
    with studio.client(studio.alice) as alice, studio.client(studio.bob) as bob:
        mine = alice.img_enlarge(f"history-{time.time_ns()}", source_image=picture, scale=2)
        theirs = bob.img_enlarge(f"history-bob-{time.time_ns()}", source_image=picture, scale=2)
        assert alice.wait(mine)["state"] == "success" and bob.wait(theirs)["state"] == "success"
    signed_in(page, studio.alice)
    page.click("a[href='#/history']")
    item = f"#history-grid .history-item[data-business-task-id='{mine.business_task_id}']"
    page.wait_for_selector(item)
    assert natural_size(page, f"{item} img") == (80, 60)
    assert page.query_selector(f"[data-business-task-id='{theirs.business_task_id}']") is None

    page.reload()  # the gallery is the server's record, and the key is kept for the tab
    page.wait_for_selector(item)
    assert page.is_hidden("#signin")
    assert page.query_selector(f"[data-business-task-id='{theirs.business_task_id}']") is None
    ids = page.eval_on_selector_all("#history-grid .history-item", "els => els.map(e => e.dataset.businessTaskId)")
    assert ids[0] == mine.business_task_id  # newest first
    shot(page, tmp_path, "history", docs=True)

    page.click(item)
    page.wait_for_selector("#history-dialog[open] img.result-image")
    page.click("#history-use-again")
    page.wait_for_selector("#tool-imgEnlarge-form", state="visible")
    assert page.input_value("#tool-imgEnlarge-scale") == "2"


def test_models_and_training_screens_come_from_the_server(page: Page, studio: Studio, tmp_path: Path) -> None:
    with studio.client(studio.alice) as client:
        checkpoints = client.models()["rows"]
        loras = client.loras()["rows"]
        training = httpx.get(f"{studio.url}/openapi.json", trust_env=False).json()["components"]["schemas"]
    signed_in(page, studio.alice)
    page.click("a[href='#/models']")
    page.wait_for_function(f"document.querySelectorAll('#models-cards .card').length === {len(checkpoints)}")
    shown = page.eval_on_selector_all("#models-cards .card", "els => els.map(e => e.dataset.name)")
    assert sorted(shown) == sorted(row["sdModelName"] for row in checkpoints)
    page.click("#models-tab-loras")
    page.wait_for_function(f"document.querySelectorAll('#models-cards .card[data-kind=loras]').length === {len(loras)}")
    style = next(row for row in loras if row["triggerWords"])
    assert style["triggerWords"][0] in page.inner_text(f"#models-cards .card[data-name='{style['loraName']}']")
    shot(page, tmp_path, "models")
    page.click(f"#models-cards .card[data-name='{style['loraName']}'] button")
    page.wait_for_selector("#gen-form", state="visible")
    assert f"<lora:{style['sdLoraFileSimplifyName']}:0.8>" in page.input_value("#gen-prompt")

    page.click("a[href='#/training']")
    page.wait_for_selector("#train-form")
    epochs: dict[str, Any] = training["TrainingParams"]["properties"]["maxEpochs"]
    assert page.get_attribute("#train-maxEpochs", "max") == str(int(epochs["maximum"]))
    assert page.input_value("#train-maxEpochs") == str(epochs["default"])
    shot(page, tmp_path, "training")


def test_a_request_is_shown_as_code(page: Page, studio: Studio) -> None:
    signed_in(page, studio.alice)
    page.fill("#gen-prompt", "a red cat")
    page.fill("#gen-steps", "7")
    page.click("#gen-code summary")
    page.wait_for_function("document.querySelector('#gen-code-text').textContent.includes('text2image')")
    curl = page.inner_text("#gen-code-text")
    assert f'"$IMGOPEN_URL{BASE}/sd/v2/text2image"' in curl and '"steps":7' in curl
    assert studio.alice.secret not in curl
    page.click("#gen-code-tab-python")
    python = page.inner_text("#gen-code-text")
    assert "from imgopen.client import Client" in python and "client.text2image(" in python and "steps=7," in python
    compile(python, "<studio>", "exec")  # what an integrator copies is valid Python
