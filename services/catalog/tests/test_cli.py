"""The command line, with the service's environment, on each database."""

import json

import pytest

from services.catalog import cli
from services.catalog.tests.conftest import events


@pytest.fixture
def shell(service_database_url, migrated_database, media_root, monkeypatch, capsys):
    migrated_database("catalog")
    monkeypatch.setenv("CATALOG_DATABASE_URL", service_database_url)
    monkeypatch.setenv("MEDIA_ROOT", str(media_root))
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://newsreel.test")

    def run(*argv):
        status = cli.main([str(arg) for arg in argv])
        out, err = capsys.readouterr()
        return status, (json.loads(out) if status == 0 else None), err

    return run


def test_an_editor_creates_ingests_publishes_and_lists(shell, tmp_path, master,
                                                       session_factory):
    item_file = tmp_path / "item.json"
    item_file.write_text(json.dumps({"translations": {
        "fr": {"title": "Réunion des ministres", "summary": "Les ministres se réunissent.",
               "body": "Premier paragraphe.\n\n« Une citation », a-t-il dit."},
        "en": {"title": "Ministers meet", "summary": "Ministers meet.", "body": "Text."}}}),
        encoding="utf-8")
    shotlist_file = tmp_path / "shotlist.json"
    shotlist_file.write_text(json.dumps([{
        "in_tc": "10:00:00:00", "out_tc": "10:00:02:00", "kind": "shot",
        "description": {"fr": "Plan large", "en": "Wide shot"}}]))

    status, created, _ = shell("create-news", "--from-json", item_file)
    assert status == 0 and created["status"] == "draft"
    assert [b["type"] for b in created["body"]] == ["paragraph", "quote"]
    status, video, _ = shell("ingest", master, "--news", created["id"],
                             "--shotlist", shotlist_file)
    assert status == 0 and video["master_path"] == "ingest/clip.mov"
    assert video["shotlist"][0]["description"]["en"] == "Wide shot"
    status, listed, _ = shell("list")
    assert listed["total"] == 0
    status, everything, _ = shell("list", "--all")
    assert [entry["status"] for entry in everything["items"]] == ["draft"]
    status, published, _ = shell("publish", created["id"])
    assert published["status"] == "published"
    status, listed, _ = shell("list", "--lang", "en", "--q", "ministres")
    assert [entry["title"] for entry in listed["items"]] == ["Ministers meet"]
    assert listed["items"][0]["videos"][0]["id"] == video["id"]
    assert [e["type"].rsplit(".", 2)[-2] for e in events(session_factory)] == [
        "ingested", "published"]


def test_refusals_are_reported_on_stderr(shell, tmp_path, master):
    status, _, err = shell("publish", "no-such-id")
    assert status == 2 and err.startswith("error: not_found")
    outside = tmp_path / "elsewhere.mov"
    outside.write_bytes(master.read_bytes())
    status, _, err = shell("ingest", outside, "--news", "whatever")
    assert status == 2 and "path_not_allowed" in err


def test_samples_load_once(shell):
    status, first, _ = shell("load-samples")
    assert status == 0 and [line["created"] for line in first] == [True] * 5
    status, second, _ = shell("load-samples")
    assert [line["created"] for line in second] == [False] * 5
    status, listed, _ = shell("list", "--per-page", "2")
    assert listed["total"] == 5 and len(listed["items"]) == 2
