"""News and videos through the gateway, with the fake catalog: the query string and the path
are checked before any RPC, the request's language reaches the catalog, the editors' operations
need the role, bodies are checked, the catalog's errors become their status and a sentence in
the user's language, and /media serves the preview files and nothing else."""

import json
import os

import pytest

from gateway import media, schemas
from services.shared.errors import ServiceError

from .fakes import (
    DRAFT,
    EDITOR_TOKEN,
    GOOD_TOKEN,
    NEWS_ID,
    NEWS_ITEM,
    NEWS_SUMMARY,
    SLUG,
    VIDEO,
    VIDEO_ID,
)

EDITOR = {"Authorization": f"Bearer {EDITOR_TOKEN}"}
READER = {"Authorization": f"Bearer {GOOD_TOKEN}"}
VERSION = {"title": "Réunion des ministres", "summary": "Les ministres se sont réunis.",
           "body": [{"type": "paragraph", "text": "Les ministres se sont réunis à Bruxelles."},
                    {"type": "quote", "text": "« Nous restons unis »",
                     "attribution": "Mark Rutte"}]}
DRAFT_BODY = {"translations": {"fr": VERSION}, "embargo_until": "2026-12-01T09:00:00Z"}
SHOTLIST = [
    {"in_tc": "10:00:00:00", "out_tc": "10:00:01:00", "kind": "shot",
     "description": {"fr": "Arrivée des ministres", "en": "Ministers arrive"}},
    {"in_tc": "10:00:01:00", "out_tc": "10:00:02:00", "kind": "soundbite",
     "description": {"en": "Statement"}, "speaker": "Mark Rutte"},
]
INGEST = {"news_id": NEWS_ID, "master_path": "2025/12/rutte.mov", "shotlist": SHOTLIST}


def catalog_calls(rpc):
    return [(name, kwargs) for name, kwargs in rpc.calls if name.startswith("catalog.")]


# -- the list --------------------------------------------------------------------------------

def test_the_list_passes_the_query_and_the_requests_language(client, rpc):
    response = client.get("/api/v1/news?q=otan%20bruxelles&page=2&per_page=5&lang=en")

    assert response.status_code == 200
    assert response.json == {"items": [NEWS_SUMMARY], "page": 2, "per_page": 5, "total": 1}
    assert rpc.calls == [("catalog.list_news", {"q": "otan bruxelles", "lang": "en",
                                                "page": 2, "per_page": 5})]


@pytest.mark.parametrize(("query", "headers", "expected"), [
    ("", {}, {"q": None, "lang": "fr", "page": 1, "per_page": 20}),
    ("?q=", {"Accept-Language": "en-GB,en;q=0.9"},
     {"q": None, "lang": "en", "page": 1, "per_page": 20}),
    ("?lang=de&per_page=100", {}, {"q": None, "lang": "fr", "page": 1, "per_page": 100}),
    ("?lang=en&page=1000000&per_page=1", {},
     {"q": None, "lang": "en", "page": 1_000_000, "per_page": 1}),
])
def test_defaults_and_the_language_of_the_list(client, rpc, query, headers, expected):
    assert client.get(f"/api/v1/news{query}", headers=headers).status_code == 200
    assert rpc.calls == [("catalog.list_news", expected)]


def test_an_item_of_the_list_carries_only_the_documented_fields(client, rpc):
    item = {**NEWS_ITEM, "internal_note": "x", "videos": [
        {**NEWS_ITEM["videos"][0], "master_path": "ingest/x.mov"}]}
    rpc.answer("catalog.list_news", {"items": [item], "page": 1, "per_page": 20, "total": 1,
                                     "took_ms": 3})
    answer = client.get("/api/v1/news").json
    assert set(answer) == {"items", "page", "per_page", "total"}
    assert "internal_note" not in answer["items"][0] and "body" not in answer["items"][0]
    assert "master_path" not in answer["items"][0]["videos"][0]


@pytest.mark.parametrize(("query", "field", "message"), [
    ("page=0", "page", "This value must be 1 or more."),
    ("page=-3", "page", "This value must be 1 or more."),
    ("page=abc", "page", "This value must be a whole number."),
    ("page=1.5", "page", "This value must be a whole number."),
    ("page=", "page", "This value must be a whole number."),
    ("page=1_0", "page", "This value must be a whole number."),
    ("page=%201", "page", "This value must be a whole number."),
    ("page=1000001", "page", "This value must be 1000000 or less."),
    ("page=99999999999999999999", "page", "This value must be a whole number."),
    ("per_page=0", "per_page", "This value must be 1 or more."),
    ("per_page=101", "per_page", "This value must be 100 or less."),
    ("q=" + "x" * 201, "q", "This field is too long: 200 characters at most."),
    ("q=otan%00", "q", "This field must not contain control characters."),
    ("sort=date", "sort", "This parameter is not expected here."),
    ("Page=1", "Page", "This parameter is not expected here."),
    ("page=1&page=2", "page", "This parameter must be given only once."),
])
def test_a_bad_query_is_refused_before_any_rpc(client, rpc, query, field, message):
    response = client.get(f"/api/v1/news?{query}&lang=en")

    assert response.status_code == 400
    assert response.json["error"] == {"code": "invalid_request", "message": message,
                                      "field": field}
    assert rpc.calls == []


def test_query_errors_are_in_the_users_language(client, rpc):
    response = client.get("/api/v1/news?per_page=0", headers={"Accept-Language": "fr"})
    assert response.json["error"]["message"] == "Cette valeur doit être supérieure ou égale à 1."
    response = client.get("/api/v1/news?unknown=1&lang=fr")
    assert response.json["error"]["message"] == "Ce paramètre n'est pas attendu ici."
    assert rpc.calls == []


def test_a_q_of_200_characters_is_searched(client, rpc):
    assert client.get("/api/v1/news?q=" + "é" * 200).status_code == 200
    assert rpc.calls[0][1]["q"] == "é" * 200


# -- one item, one video -----------------------------------------------------------------------

@pytest.mark.parametrize("ref", [SLUG, NEWS_ID, "news-2", "a"])
def test_an_item_by_slug_or_id_with_the_requests_language(client, rpc, ref):
    response = client.get(f"/api/v1/news/{ref}?lang=en")

    assert response.status_code == 200
    assert response.json == NEWS_ITEM
    assert rpc.calls == [("catalog.get_news", {"id_or_slug": ref, "lang": "en"})]


@pytest.mark.parametrize("path", [
    "/api/v1/news/Not-A-Slug", "/api/v1/news/a--b", "/api/v1/news/-a", "/api/v1/news/a-",
    "/api/v1/news/caf%C3%A9", "/api/v1/news/a%0A", "/api/v1/news/" + "a" * 101,
    "/api/v1/news/a_b", "/api/v1/videos/not-a-uuid", "/api/v1/videos/" + NEWS_ID.upper(),
    "/api/v1/videos/" + NEWS_ID + "0", "/api/v1/videos/" + NEWS_ID[:-1] + "%0A",
])
def test_a_malformed_id_is_404_before_any_rpc(client, rpc, path):
    response = client.get(path + "?lang=en")
    assert response.status_code == 404
    assert response.json["error"] == {"code": "not_found",
                                      "message": "There is nothing at this address."}
    assert rpc.calls == []


@pytest.mark.parametrize(("path", "call", "resource", "french", "english"), [
    (f"/api/v1/news/{SLUG}", "catalog.get_news", "news",
     "Cette actualité n'existe pas ou n'est pas encore publique.",
     "This news item does not exist or is not public yet."),
    (f"/api/v1/videos/{VIDEO_ID}", "catalog.get_video", "video",
     "Cette vidéo n'existe pas ou n'est pas encore publique.",
     "This video does not exist or is not public yet."),
])
def test_unknown_draft_or_embargoed_is_404_in_the_users_language(
        client, rpc, path, call, resource, french, english):
    # the catalog answers the same not_found for all three
    rpc.answer(call, ServiceError("not_found", {"resource": resource}))
    for language, message in (("fr", french), ("en", english)):
        response = client.get(f"{path}?lang={language}")
        assert response.status_code == 404
        assert response.json["error"] == {"code": "not_found", "message": message,
                                          "resource": resource}
        assert response.headers["Content-Language"] == language


def test_a_video_for_everyone_keeps_the_servers_paths_and_errors_to_itself(client, rpc):
    response = client.get(f"/api/v1/videos/{VIDEO_ID}")

    assert response.status_code == 200
    assert rpc.calls == [("catalog.get_video", {"video_id": VIDEO_ID})]
    video = response.json
    assert "master_path" not in video
    assert all(set(r) == {"name", "status", "size_bytes", "url", "details", "updated_at"}
               for r in video["renditions"])
    assert "/srv/media" not in response.get_data(as_text=True)
    assert video["shotlist"] == VIDEO["shotlist"]
    assert (video["duration"], video["frame_rate"], video["start_timecode"]) == (
        2.0, "25/1", "10:00:00:00")
    assert video["preview_url"] == VIDEO["preview_url"]
    assert video["poster_url"] == VIDEO["poster_url"]


# -- editors -----------------------------------------------------------------------------------

EDITOR_OPERATIONS = [
    ("POST", "/api/v1/news", DRAFT_BODY, 201, "catalog.create_news",
     {"translations": DRAFT_BODY["translations"], "embargo_until": "2026-12-01T09:00:00Z"},
     DRAFT),
    ("PUT", f"/api/v1/news/{NEWS_ID}", {"translations": {"fr": VERSION, "en": VERSION}}, 200,
     "catalog.update_news",
     {"news_id": NEWS_ID, "translations": {"fr": VERSION, "en": VERSION},
      "embargo_until": None}, DRAFT),
    ("POST", f"/api/v1/news/{NEWS_ID}/publish", {"published_at": "2025-12-03T12:00:00+01:00"},
     200, "catalog.publish_news",
     {"news_id": NEWS_ID, "published_at": "2025-12-03T12:00:00+01:00"}, NEWS_ITEM),
    ("POST", "/api/v1/videos", INGEST, 201, "catalog.ingest_video",
     {"news_id": NEWS_ID, "master_path": "2025/12/rutte.mov", "shotlist": SHOTLIST}, VIDEO),
]


def send(client, method, path, body, headers=None, language="en"):
    return client.open(f"{path}?lang={language}", method=method, headers=headers or {},
                       data=json.dumps(body), content_type="application/json")


@pytest.mark.parametrize(("method", "path", "body", "status", "call", "kwargs", "answer"),
                         EDITOR_OPERATIONS)
def test_an_editor_gets_the_catalogs_answer(client, rpc, method, path, body, status, call,
                                            kwargs, answer):
    response = send(client, method, path, body, EDITOR)

    assert response.status_code == status, response.json
    assert response.json == answer  # editors see where the files are
    assert rpc.calls == [("auth.authenticate", {"token": EDITOR_TOKEN}), (call, kwargs)]


@pytest.mark.parametrize(("method", "path", "body"),
                         [operation[:3] for operation in EDITOR_OPERATIONS])
def test_without_a_session_it_is_401_and_nothing_is_asked(client, rpc, method, path, body):
    response = send(client, method, path, body)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert rpc.calls == []


@pytest.mark.parametrize(("method", "path", "body"),
                         [operation[:3] for operation in EDITOR_OPERATIONS])
def test_an_account_without_the_editor_role_is_403_in_its_language(client, rpc, method, path,
                                                                  body):
    for language, message in (
            ("fr", "Cette action est réservée aux rédacteurs de l'organisation."),
            ("en", "This is reserved for the organisation's editors.")):
        response = send(client, method, path, body, READER, language=language)
        assert response.status_code == 403
        assert response.json["error"] == {"code": "forbidden", "message": message,
                                          "role": "editor"}
        assert response.headers["Content-Language"] == language
    assert rpc.methods_called == ["auth.authenticate", "auth.authenticate"]


def test_a_dead_session_is_401_before_the_role_is_looked_at(client, rpc):
    response = send(client, "POST", "/api/v1/news", DRAFT_BODY,
                    {"Authorization": "Bearer dead"})
    assert response.status_code == 401
    assert rpc.methods_called == ["auth.authenticate"]


def test_publishing_needs_no_body(client, rpc):
    response = client.post(f"/api/v1/news/{NEWS_ID}/publish", headers=EDITOR)
    assert response.status_code == 200
    assert rpc.calls[-1] == ("catalog.publish_news", {"news_id": NEWS_ID, "published_at": None})

    response = client.post(f"/api/v1/news/{NEWS_ID}/publish", headers=EDITOR, json={})
    assert response.status_code == 200
    assert rpc.calls[-1] == ("catalog.publish_news", {"news_id": NEWS_ID, "published_at": None})


@pytest.mark.parametrize("path", [f"/api/v1/news/{SLUG}", f"/api/v1/news/{SLUG}/publish"])
def test_editors_name_an_item_by_its_id_only(client, rpc, path):
    method = "PUT" if path.endswith(SLUG) else "POST"
    response = send(client, method, path, DRAFT_BODY if method == "PUT" else {}, EDITOR)
    assert response.status_code == 404
    assert rpc.calls == []


def test_an_article_larger_than_16_kib_is_taken_and_one_past_256_kib_is_413(client, rpc):
    long_version = {**VERSION, "body": "\n\n".join(["Les ministres ont parlé. " * 40] * 30)}
    body = {"translations": {"fr": long_version, "en": long_version}}
    assert len(json.dumps(body)) > 32 * 1024
    assert send(client, "POST", "/api/v1/news", body, EDITOR).status_code == 201

    huge = {"translations": {"fr": {**VERSION, "body": "x" * (257 * 1024)}}}
    response = send(client, "POST", "/api/v1/news", huge, EDITOR)
    assert response.status_code == 413
    assert response.json["error"]["message"] == \
        "The request body is too large: 256 KiB at most."
    assert [name for name, _ in catalog_calls(rpc)] == ["catalog.create_news"]  # the first


def with_(base: dict, **changes) -> dict:
    return {**base, **changes}


def version(**changes) -> dict:
    return {"translations": {"fr": {**VERSION, **changes}}}


def shot(**changes) -> dict:
    return {**INGEST, "shotlist": [{**SHOTLIST[0], **changes}]}


# operation, body, field, English message
REFUSED = [
    ("POST /api/v1/news", {}, "translations", "This field is required."),
    ("POST /api/v1/news", {"translations": {}}, "translations",
     "This field must not be empty."),
    ("POST /api/v1/news", {"translations": {"de": VERSION}}, "translations.de",
     "This field is not expected here."),
    ("POST /api/v1/news", {"translations": {"fr": "Réunion"}}, "translations.fr",
     "This field must be a JSON object."),
    ("POST /api/v1/news", with_(DRAFT_BODY, status="published"), "status",
     "This field is not expected here."),
    ("POST /api/v1/news", version(title="  "), "translations.fr.title",
     "This field must not be empty."),
    ("POST /api/v1/news", {"translations": {"en": {"summary": "S"}}}, "translations.en.title",
     "This field is required."),
    ("POST /api/v1/news", version(title="T" * 301), "translations.fr.title",
     "This field is too long: 300 characters at most."),
    ("POST /api/v1/news", version(title="Titre\x00"), "translations.fr.title",
     "This field must not contain control characters."),
    ("POST /api/v1/news", version(summary=42), "translations.fr.summary",
     "This field must be a text string."),
    ("POST /api/v1/news", version(body=[{"text": "a", "style": "bold"}]),
     "translations.fr.body[0].style", "This field is not expected here."),
    ("POST /api/v1/news", version(body=[{"type": "heading", "text": "a"}]),
     "translations.fr.body[0].type", "This value is not allowed. Allowed values: paragraph, "
                                     "quote."),
    ("POST /api/v1/news", version(body=[{"type": "quote"}]), "translations.fr.body[0].text",
     "This field is required."),
    ("POST /api/v1/news", version(body=42), "translations.fr.body", "This field must be a list."),
    ("POST /api/v1/news", version(body="Un\x07texte"), "translations.fr.body",
     "This field must not contain control characters."),
    ("POST /api/v1/news", with_(DRAFT_BODY, embargo_until="2026-12-01T09:00:00"),
     "embargo_until", "This field must be a date and time with its time zone, such as "
                      "2026-01-15T09:00:00Z."),
    ("POST /api/v1/news", with_(DRAFT_BODY, embargo_until="demain"), "embargo_until",
     "This field must be a date and time with its time zone, such as 2026-01-15T09:00:00Z."),
    ("POST /api/v1/news", with_(DRAFT_BODY, embargo_until="2026-02-30T09:00:00Z"),
     "embargo_until", "This field must be a date and time with its time zone, such as "
                      "2026-01-15T09:00:00Z."),
    (f"PUT /api/v1/news/{NEWS_ID}", {"embargo_until": None}, "translations",
     "This field is required."),
    (f"PUT /api/v1/news/{NEWS_ID}", version(title=None), "translations.fr.title",
     "This field must be a text string."),
    (f"POST /api/v1/news/{NEWS_ID}/publish", {"published_at": "2025-12-03"}, "published_at",
     "This field must be a date and time with its time zone, such as 2026-01-15T09:00:00Z."),
    (f"POST /api/v1/news/{NEWS_ID}/publish", {"at": "2025-12-03T12:00:00Z"}, "at",
     "This field is not expected here."),
    ("POST /api/v1/videos", with_(INGEST, news_id="42"), "news_id",
     "This field must be an identifier (a UUID)."),
    ("POST /api/v1/videos", {"news_id": NEWS_ID}, "master_path", "This field is required."),
    ("POST /api/v1/videos", with_(INGEST, master_path=""), "master_path",
     "This field must not be empty."),
    ("POST /api/v1/videos", with_(INGEST, master_path="clip.mov\x00.txt"), "master_path",
     "This field must not contain control characters."),
    ("POST /api/v1/videos", with_(INGEST, shotlist={"in_tc": "10:00:00:00"}), "shotlist",
     "This field must be a list."),
    ("POST /api/v1/videos", shot(in_tc="10:00:00"), "shotlist[0].in_tc",
     "A timecode is written HH:MM:SS:FF (HH:MM:SS;FF for drop-frame)."),
    ("POST /api/v1/videos", shot(out_tc="10:61:00:00"), "shotlist[0].out_tc",
     "A timecode is written HH:MM:SS:FF (HH:MM:SS;FF for drop-frame)."),
    ("POST /api/v1/videos", shot(out_tc="10:00:01:00\n"), "shotlist[0].out_tc",
     "This field must not contain control characters."),
    ("POST /api/v1/videos", shot(kind="interview"), "shotlist[0].kind",
     "This value is not allowed. Allowed values: shot, soundbite."),
    ("POST /api/v1/videos", shot(description={}), "shotlist[0].description",
     "This field must not be empty."),
    ("POST /api/v1/videos", shot(description={"de": "Ankunft"}), "shotlist[0].description.de",
     "This field is not expected here."),
    ("POST /api/v1/videos", shot(camera="B"), "shotlist[0].camera",
     "This field is not expected here."),
    ("POST /api/v1/videos", with_(INGEST, shotlist=[SHOTLIST[0]] * 1001), "shotlist",
     "This list is too long: 1000 items at most."),
]


@pytest.mark.parametrize(("operation", "body", "field", "message"), REFUSED)
def test_a_malformed_body_is_refused_before_any_rpc(client, rpc, operation, body, field,
                                                   message):
    method, path = operation.split()
    response = send(client, method, path, body, EDITOR)

    assert response.status_code == 400, response.json
    assert response.json["error"] == {"code": "invalid_request", "message": message,
                                      "field": field}
    assert rpc.calls == []


@pytest.mark.parametrize("body", [
    version(body="Un paragraphe.\n\nUn autre.\r\n\r\n« Une citation »"),
    version(body=[], summary=""),
    {"translations": {"en": {"title": "Only a title"}}},
    with_(DRAFT_BODY, embargo_until=None),
    with_(DRAFT_BODY, embargo_until="2026-12-01T10:00:00.123456+01:00"),
])
def test_drafts_may_wait_for_their_summary_and_body(client, rpc, body):
    assert send(client, "POST", "/api/v1/news", body, EDITOR).status_code == 201
    assert rpc.calls[-1][1]["translations"] == body["translations"]


def test_a_shotlist_may_be_left_out_or_use_drop_frame(client, rpc):
    assert send(client, "POST", "/api/v1/videos", {"news_id": NEWS_ID, "master_path": "a.mov"},
                EDITOR).status_code == 201
    assert rpc.calls[-1][1] == {"news_id": NEWS_ID, "master_path": "a.mov", "shotlist": None}
    assert send(client, "POST", "/api/v1/videos",
                shot(in_tc="01:00:00;02", out_tc="01:00:01;00"), EDITOR).status_code == 201


# code, details as nameko delivers them (strings), status, French, English, details shown
CATALOG_ERRORS = [
    ("not_publishable", {"language": "en", "field": "summary", "reason": "missing"}, 409,
     "Cette actualité ne peut pas encore être publiée : sa version anglaise n'a pas de résumé.",
     "This news item cannot be published yet: its English version has no summary.",
     {"language": "en", "field": "summary", "reason": "missing"}),
    ("not_publishable", {"language": "None", "field": "translations", "reason": "missing"},
     409,
     "Cette actualité ne peut pas encore être publiée : chacune de ses versions linguistiques "
     "doit avoir un titre, un résumé et un texte.",
     "This news item cannot be published yet: each of its language versions needs a title, "
     "a summary and a text.", {"field": "translations", "reason": "missing"}),
    ("invalid_request", {"field": "published_at", "reason": "in_the_future"}, 400,
     "La date de publication ne peut pas être dans le futur.",
     "The publication date cannot be in the future.",
     {"field": "published_at", "reason": "in_the_future"}),
    ("invalid_request", {"field": "translations.fr.summary", "reason": "something_new"}, 400,
     "La requête n'est pas valide.", "The request is not valid.",
     {"field": "translations.fr.summary", "reason": "something_new"}),
    ("invalid_shotlist", {
        "field": "shotlist[1].out_tc", "reason": "after_end", "end_timecode": "10:00:02:00",
        "problems": [{"index": "1", "field": "out_tc", "reason": "after_end"},
                     {"index": "None", "field": "shotlist", "reason": "too_long"}]}, 400,
     "La liste des plans n'est pas valide : la ligne 2 se termine après la vidéo, qui se "
     "termine à 10:00:02:00.",
     "The shotlist is not valid: row 2 ends after the video, which ends at 10:00:02:00.",
     {"field": "shotlist[1].out_tc", "reason": "after_end", "end_timecode": "10:00:02:00",
      "problems": [{"index": 1, "field": "out_tc", "reason": "after_end"},
                   {"index": None, "field": "shotlist", "reason": "too_long"}]}),
    ("invalid_shotlist", {"field": "shotlist[0].speaker", "reason": "only_for_soundbites",
                          "problems": [{"index": "0", "field": "speaker",
                                        "reason": "only_for_soundbites"}]}, 400,
     "La liste des plans n'est pas valide : la ligne 1 est un plan, et seul un extrait sonore "
     "a un intervenant.",
     "The shotlist is not valid: row 1 is a shot, and only a soundbite has a speaker.",
     {"field": "shotlist[0].speaker", "reason": "only_for_soundbites",
      "problems": [{"index": 0, "field": "speaker", "reason": "only_for_soundbites"}]}),
    ("invalid_media", {"reason": "ffprobe: ingest/clip.mov: Invalid data found"}, 422,
     "Ce fichier ne peut pas être lu comme une vidéo : vérifiez qu'il s'agit d'un fichier "
     "vidéo complet.",
     "This file cannot be read as a video: check that it is a complete video file.",
     {"reason": "ffprobe: ingest/clip.mov: Invalid data found"}),
    ("path_not_allowed", {"reason": "outside_ingest"}, 400,
     "Les masters ne sont pris que dans le dossier d'ingest : indiquez un chemin à "
     "l'intérieur de ce dossier.",
     "Masters are only taken from the ingest folder: give a path inside it.",
     {"reason": "outside_ingest"}),
    ("not_found", {"resource": "news"}, 404,
     "Cette actualité n'existe pas ou n'est pas encore publique.",
     "This news item does not exist or is not public yet.", {"resource": "news"}),
    ("forbidden", {}, 403, "Votre compte n'est pas autorisé à effectuer cette action.",
     "Your account is not allowed to do this.", {}),
]


@pytest.mark.parametrize(("code", "details", "status", "french", "english", "shown"),
                         CATALOG_ERRORS)
def test_the_catalogs_refusals_become_their_status_and_a_sentence(
        client, rpc, code, details, status, french, english, shown):
    for operation in EDITOR_OPERATIONS:
        method, path, body, _, call = operation[:5]
        rpc.answer(call, ServiceError(code, details))
        for language, message in (("fr", french), ("en", english)):
            response = send(client, method, path, body, EDITOR, language=language)
            assert response.status_code == status
            assert response.json["error"] == {"code": code, "message": message, **shown}


# -- /media ------------------------------------------------------------------------------------

PROXY = bytes(range(256)) * 4  # 1024 bytes
SECRET = b"SECRET: not a preview"
OTHER_VIDEO = "0d9e8f7a-6b5c-4d3e-9f1a-2b3c4d5e6f70"


@pytest.fixture
def media_root(tmp_path, app):
    """MEDIA_ROOT as the transcoder lays it out: a video's previews beside its broadcast
    renditions, cuts apart, masters in ingest/; and a few traps."""
    root = tmp_path / "media"
    video = root / "renditions" / VIDEO_ID
    (video / "hls").mkdir(parents=True)
    (video / "proxy.mp4").write_bytes(PROXY)
    (video / "poster.jpg").write_bytes(b"\xff\xd8\xff poster")
    (video / "storyboard.jpg").write_bytes(b"\xff\xd8\xff storyboard")
    (video / "hls" / "index.m3u8").write_text("#EXTM3U\n#EXT-X-ENDLIST\n")
    (video / "hls" / "segment_0000.ts").write_bytes(b"G" * 188)
    (video / "h264-1080p.mp4").write_bytes(SECRET)  # broadcast: downloads only
    (video / "xdcam-hd422.mxf").write_bytes(SECRET)
    (video / ".proxy.tmp-3f9a1c2e.mp4").write_bytes(SECRET)  # being written
    (root / "cuts" / VIDEO_ID).mkdir(parents=True)
    (root / "cuts" / VIDEO_ID / "abc.mp4").write_bytes(SECRET)
    (root / "ingest").mkdir()
    (root / "ingest" / "clip.mp4").write_bytes(SECRET)
    (tmp_path / "outside.jpg").write_bytes(SECRET)
    # links that lead out of where the path says
    other = root / "renditions" / OTHER_VIDEO
    (other / "hls").mkdir(parents=True)
    (other / "poster.jpg").symlink_to(tmp_path / "outside.jpg")
    (other / "proxy.mp4").symlink_to(video / "h264-1080p.mp4")
    (other / "storyboard.jpg").symlink_to(video / "storyboard.jpg")  # even a preview
    os.mkfifo(other / "hls" / "segment_0000.ts")
    linked = root / "renditions" / "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
    linked.symlink_to(root / "ingest", target_is_directory=True)
    (root / "ingest" / "proxy.mp4").write_bytes(SECRET)
    app.config["MEDIA_ROOT"] = root
    return root


def preview_url(name: str, video: str = VIDEO_ID) -> str:
    return f"/media/renditions/{video}/{name}"


def handed_over(response) -> str | None:
    """Where the gateway told nginx to send the file from (None: nothing handed over)."""
    return response.headers.get("X-Accel-Redirect")


def test_a_public_preview_is_handed_to_nginx_cacheable_briefly_with_its_type(client, rpc,
                                                                              media_root):
    response = client.get(preview_url("proxy.mp4"))

    assert response.status_code == 200
    assert handed_over(response) == f"/_internal/media/renditions/{VIDEO_ID}/proxy.mp4"
    assert response.data == b""  # nginx sends the bytes, with Range, ETag, HEAD
    assert response.mimetype == "video/mp4"
    assert response.headers["X-Newsreel-Kind"] == "preview"
    assert response.headers["Cache-Control"] == "public, max-age=60"
    assert rpc.calls == [("catalog.video_access", {"video_id": VIDEO_ID})]


def test_the_urls_the_catalog_links_are_handed_over(client, media_root):
    for url in (VIDEO["poster_url"], VIDEO["preview_url"], VIDEO["hls_url"]):
        response = client.get(url.removeprefix("http://127.0.0.1:8000"))
        assert response.status_code == 200 and handed_over(response), url


@pytest.mark.parametrize(("name", "mimetype"), [
    ("hls/index.m3u8", "application/vnd.apple.mpegurl"),
    ("hls/segment_0000.ts", "video/mp2t"),
    ("poster.jpg", "image/jpeg"),
    ("storyboard.jpg", "image/jpeg"),
    ("proxy.mp4", "video/mp4"),
])
def test_each_kind_of_preview_has_its_content_type(client, media_root, name, mimetype):
    response = client.get(preview_url(name))
    assert response.status_code == 200
    assert response.mimetype == mimetype


def not_public(rpc, video_id: str = VIDEO_ID) -> None:
    rpc.answer("catalog.video_access", {"video_id": video_id, "public": False})


@pytest.mark.parametrize("headers", [{}, READER, {"Authorization": "Bearer dead-token"}])
def test_an_unreleased_items_previews_are_a_404_for_everyone_but_editors(
        client, rpc, media_root, headers):
    not_public(rpc)
    for name in ("poster.jpg", "storyboard.jpg", "proxy.mp4", "hls/index.m3u8",
                 "hls/segment_0000.ts"):
        response = client.get(preview_url(name) + "?lang=en", headers=headers)
        assert response.status_code == 404, name
        assert response.json["error"] == {"code": "not_found",
                                          "message": "There is nothing at this address."}
        assert handed_over(response) is None
        assert response.headers["Cache-Control"] == "no-store"


def test_an_editor_sees_an_unreleased_items_previews_privately(client, rpc, media_root):
    not_public(rpc)
    response = client.get(preview_url("poster.jpg"), headers=EDITOR)
    assert response.status_code == 200 and handed_over(response)
    assert response.headers["Cache-Control"] == "private, no-store"  # never a shared cache


def test_a_video_the_catalog_does_not_know_is_a_404(client, rpc, media_root):
    rpc.answer("catalog.video_access", ServiceError("not_found", {"resource": "video"}))
    response = client.get(preview_url("poster.jpg"), headers=EDITOR)
    assert response.status_code == 404 and handed_over(response) is None


def test_the_catalogs_word_is_kept_a_few_seconds_then_asked_again(app, client, rpc,
                                                                 media_root):
    now = [100.0]
    app.extensions["preview_access"] = media.AccessCache(5, clock=lambda: now[0])
    not_public(rpc)
    assert client.get(preview_url("hls/segment_0000.ts")).status_code == 404
    rpc.answer("catalog.video_access", {"video_id": VIDEO_ID, "public": True})  # released
    now[0] += 4.9
    assert client.get(preview_url("hls/segment_0000.ts")).status_code == 404  # still known
    now[0] += 0.2
    assert client.get(preview_url("hls/segment_0000.ts")).status_code == 200  # no restart
    assert [name for name, _ in rpc.calls].count("catalog.video_access") == 2


@pytest.mark.parametrize("path", [
    # climbing out
    preview_url("../../../ingest/clip.mp4"),
    preview_url("%2e%2e/%2e%2e/%2e%2e/ingest/clip.mp4"),
    preview_url("%2E%2E%2F%2E%2E%2F%2E%2E%2Fingest%2Fclip.mp4"),
    preview_url("hls/../../../ingest/clip.mp4"),
    "/media/renditions/../ingest/clip.mp4",
    "/media//etc/passwd",
    "/media/%2Fetc%2Fpasswd",
    f"/media/{'/'.join(['..'] * 8)}/etc/passwd",
    # the masters, the broadcast renditions, the cuts
    "/media/ingest/clip.mp4",
    preview_url("h264-1080p.mp4"),
    preview_url("xdcam-hd422.mxf"),
    f"/media/cuts/{VIDEO_ID}/abc.mp4",
    # half-written, unknown, missing, malformed
    preview_url(".proxy.tmp-3f9a1c2e.mp4"),
    preview_url("proxy.mp4.part"),
    preview_url("hls/segment_0001.ts"),
    preview_url("proxy.mp4", video="not-a-video"),
    preview_url("proxy.mp4", video=VIDEO_ID.upper()),
    preview_url("proxy.mp4%00.jpg"),
    preview_url("PROXY.MP4"),
    f"/media/renditions/{VIDEO_ID}//proxy.mp4",
    f"/media/renditions/{VIDEO_ID}/",
    "/media/renditions",
    # links out of where the path says, and a FIFO
    preview_url("poster.jpg", video=OTHER_VIDEO),
    preview_url("proxy.mp4", video=OTHER_VIDEO),
    preview_url("storyboard.jpg", video=OTHER_VIDEO),
    preview_url("proxy.mp4", video="aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"),
    preview_url("hls/segment_0000.ts", video=OTHER_VIDEO),
])
def test_anything_but_a_preview_file_is_a_json_404_and_nothing_is_handed_over(
        client, media_root, path):
    response = client.get(path + "?lang=en", headers=EDITOR)

    assert response.status_code == 404
    assert response.json["error"] == {"code": "not_found",
                                      "message": "There is nothing at this address."}
    assert response.headers["Cache-Control"] == "no-store"
    assert handed_over(response) is None
    assert SECRET not in response.data


@pytest.mark.parametrize("subpath", [
    "../ingest/clip.mp4", f"renditions/{VIDEO_ID}/../../ingest/clip.mp4", "/etc/passwd",
    "ingest/clip.mp4", f"renditions/{VIDEO_ID}/h264-1080p.mp4",
    f"renditions/{OTHER_VIDEO}/poster.jpg", f"renditions/{OTHER_VIDEO}/proxy.mp4",
    f"/renditions/{VIDEO_ID}/proxy.mp4", f"renditions/{VIDEO_ID}/proxy.mp4\n",
])
def test_the_path_check_itself_refuses_what_routing_might_let_through(app, media_root,
                                                                     subpath):
    with app.test_request_context():
        assert media.preview_file(subpath) is None


def test_a_media_root_and_renditions_folder_on_another_volume_are_followed(
        client, app, media_root, tmp_path):
    # deployments may link MEDIA_ROOT, or its renditions/ folder, to where the space is
    (tmp_path / "volume").mkdir()
    (media_root / "renditions").rename(tmp_path / "volume" / "renditions")
    (media_root / "renditions").symlink_to(tmp_path / "volume" / "renditions")
    (tmp_path / "root-link").symlink_to(media_root)
    app.config["MEDIA_ROOT"] = tmp_path / "root-link"
    assert handed_over(client.get(preview_url("proxy.mp4")))
    assert client.get(preview_url("h264-1080p.mp4")).status_code == 404


def test_media_is_read_only(client, media_root):
    response = client.post(preview_url("proxy.mp4"))
    assert response.status_code == 405
    assert response.json["error"]["code"] == "method_not_allowed"
    assert (media_root / "renditions" / VIDEO_ID / "proxy.mp4").read_bytes() == PROXY


# -- the document --------------------------------------------------------------------------------

def test_the_document_publishes_the_query_and_path_schemas_that_are_enforced(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    listing = paths["/api/v1/news"]["get"]
    query = {p["name"]: p for p in listing["parameters"] if p["in"] == "query"}
    assert set(query) == {"lang", "q", "page", "per_page"}
    assert query["per_page"]["schema"] == schemas.NEWS_QUERY["properties"]["per_page"]
    assert query["per_page"]["schema"]["maximum"] == 100
    assert query["q"]["schema"]["maxLength"] == 200
    assert not any(p["required"] for p in query.values())
    assert "400" in listing["responses"]
    assert listing["responses"]["200"]["content"]["application/json"]["schema"] == \
        schemas.NEWS_PAGE

    for path, method, schema in [("/api/v1/news/{id}", "get", schemas.NEWS_REF),
                                 ("/api/v1/news/{id}", "put", schemas.NEWS_ID),
                                 ("/api/v1/news/{id}/publish", "post", schemas.NEWS_ID),
                                 ("/api/v1/videos/{id}", "get", schemas.VIDEO_ID)]:
        [parameter] = [p for p in paths[path][method]["parameters"] if p["in"] == "path"]
        assert parameter == {"name": "id", "in": "path", "required": True,
                             "description": schema["description"], "schema": schema}
        assert "404" in paths[path][method]["responses"]


def test_the_document_says_which_operations_are_for_editors(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    editors = [("/api/v1/news", "post", "201"), ("/api/v1/news/{id}", "put", "200"),
               ("/api/v1/news/{id}/publish", "post", "200"), ("/api/v1/videos", "post", "201")]
    for path, method, status in editors:
        operation = paths[path][method]
        assert status in operation["responses"]
        assert "`forbidden`" in operation["responses"]["403"]["description"]
        assert "`unauthorized`" in operation["responses"]["401"]["description"]
        assert "`editor` role" in operation["description"]
        assert operation["x-required-role"] == "editor"
        assert operation["security"]
    for path, method in [("/api/v1/news", "get"), ("/api/v1/news/{id}", "get"),
                         ("/api/v1/videos/{id}", "get")]:
        assert "security" not in paths[path][method]
        assert "403" not in paths[path][method]["responses"]
    assert paths["/api/v1/news/{id}/publish"]["post"]["requestBody"]["required"] is False
    assert paths["/api/v1/news"]["post"]["requestBody"]["description"] == "At most 256 KiB."
    assert "409" in paths["/api/v1/news/{id}/publish"]["post"]["responses"]
    assert {"400", "404", "422"} <= set(paths["/api/v1/videos"]["post"]["responses"])
