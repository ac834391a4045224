"""The editors' upload form in a real browser (Debian's Chromium, headless), through the front
door, with the vendored tus-js-client:

- an editor picks a news item and a master; the upload goes in chunks on a slow link (the
  browser's own throttling), the progress bar moves;
- the page is reloaded half-way: the bar shows how far the upload got before anything is
  chosen again; the same file chosen again resumes from there (the first chunk after the
  reload does not start at 0), and the video is added to the item;
- a journalist sees no form (403 page), a visitor without a session is sent to log in."""

from __future__ import annotations

import subprocess

import pytest
from playwright.sync_api import expect

from tests.journeys import bearer, editor, publish, signed_in
from tests.support.system import running_system

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CHUNK = 256 * 1024
UPLOAD_BYTES_PER_SECOND = 400 * 1024
ITEM = {"translations": {"en": {"title": "Ministers meet in Vilnius",
                                "summary": "Ministers met in Vilnius.",
                                "body": "The ministers met in Vilnius."}}}


@pytest.fixture(scope="module")
def newsroom(tmp_path_factory):
    folder = tmp_path_factory.mktemp("upload-form")
    master = folder / "vilnius-arrivals.mov"
    subprocess.run(  # about 3 MB: a dozen chunks
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
         "testsrc2=size=640x360:rate=25:duration=4", "-f", "lavfi", "-i",
         "sine=frequency=440:sample_rate=48000:duration=4", "-ac", "2", "-c:v", "mjpeg",
         "-q:v", "1", "-pix_fmt", "yuvj420p", "-c:a", "pcm_s16le", str(master)],
        check=True, timeout=60)
    with running_system(folder / "system",
                        env={"UPLOAD_CHUNK_MAX_BYTES": str(CHUNK)}) as system:
        yield system, master


def as_editor(page, system, token: str) -> None:
    page.context.add_cookies([{"name": "newsreel_session", "value": token,
                               "url": system.url}])


def test_an_upload_survives_a_reload_and_is_added_to_the_news_item(newsroom, page_factory,
                                                                   screenshot):
    system, master = newsroom
    edith = editor(system)
    item = system.api("POST", "/api/v1/news", json=ITEM, headers=bearer(edith)).json()
    page = page_factory(system.url, locale="en-GB")
    as_editor(page, system, edith)
    offsets: list[int] = []
    page.on("request", lambda request: offsets.append(int(request.headers["upload-offset"]))
            if request.method == "PATCH" else None)
    network = page.context.new_cdp_session(page)
    network.send("Network.enable")
    network.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 20, "downloadThroughput": -1,
        "uploadThroughput": UPLOAD_BYTES_PER_SECOND})

    page.goto("/editor/upload")
    expect(page.get_by_role("heading", level=1)).to_have_text("Upload a master")
    page.get_by_label("News item").select_option(item["id"])
    page.get_by_label("Master file").set_input_files(str(master))
    page.get_by_role("button", name="Upload", exact=True).click()
    bar = page.locator(".upload-progress progress")
    page.wait_for_function(
        "() => document.querySelector('.upload-progress progress').value >= 25", timeout=30_000)
    screenshot(page, "upload-in-progress")
    before_reload = max(offsets)
    assert 0 < before_reload < master.stat().st_size

    page.reload()
    # before anything is chosen again: how far it got, and what to do
    expect(page.locator(".upload-status")).to_contain_text("choose the same file again")
    assert int(bar.get_attribute("value")) >= 20
    expect(page.get_by_role("button", name="Pause")).to_be_hidden()  # nothing runs yet
    screenshot(page, "upload-after-reload")
    offsets.clear()
    page.get_by_label("News item").select_option(item["id"])
    page.get_by_label("Master file").set_input_files(str(master))
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator(".upload-status")).to_contain_text("the video is added",
                                                           timeout=60_000)
    assert offsets and offsets[0] >= before_reload  # resumed, not started again
    assert int(bar.get_attribute("value")) == 100
    screenshot(page, "upload-done")

    publish(system, edith, item)
    story = system.api("GET", f"/api/v1/news/{item['id']}").json()
    assert len(story["videos"]) == 1 and story["videos"][0]["duration"] == 4.0


def test_only_editors_see_the_upload_form(newsroom, page_factory):
    system, _ = newsroom
    page = page_factory(system.url, locale="en-GB")
    page.goto("/editor/upload")
    assert "/account/login?next=/editor/upload" in page.url
    journalist = signed_in(system, "jo@example.org", "en")
    as_editor(page, system, journalist)
    page.expect_status(403, "/editor/upload")
    page.goto("/editor/upload")
    expect(page.get_by_role("heading", level=1)).to_have_text("Reserved for editors")
    assert page.locator("input[type=file]").count() == 0
