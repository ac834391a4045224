"""An account with its bound of jobs in hand (the transcoder's `too_many_jobs`) is answered 429
with Retry-After, in its language; the API's document says so."""

import pytest

from services.shared.errors import ServiceError

from .fakes import GOOD_TOKEN, VIDEO_ID

BEARER = {"Authorization": f"Bearer {GOOD_TOKEN}"}
DOWNLOADS = f"/api/v1/videos/{VIDEO_ID}/downloads"
CUT = {"rendition": "h264-1080p", "in": "10:00:00:10", "out": 1.6}


@pytest.mark.parametrize(("lang", "message"), [
    ("fr", "Vous avez déjà 5 téléchargements en préparation"),
    ("en", "You already have 5 downloads being made"),
])
def test_too_many_jobs_in_hand_is_429_with_retry_after(client, rpc, lang, message):
    rpc.answer("transcoder.request_download",
               ServiceError("too_many_jobs", {"limit": 5, "retry_after": 30}))
    response = client.post(f"{DOWNLOADS}?lang={lang}", json=CUT, headers=BEARER)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "30"
    error = response.json["error"]
    assert (error["code"], error["limit"], error["retry_after"]) == ("too_many_jobs", 5, 30)
    assert error["message"].startswith(message), error["message"]


def test_the_document_says_429(client):
    operation = client.get("/api/v1/openapi.json").json["paths"][
        "/api/v1/videos/{id}/downloads"]["post"]
    assert "429" in operation["responses"] and "too_many_jobs" in str(operation["responses"])
