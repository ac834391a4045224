"""Steps of the account journey through the gateway, shared by the integration tests and the
benchmarks."""

from __future__ import annotations

import shutil
from pathlib import Path

import requests

from gateway.terms import TERMS_VERSION
from tests.support.smtp import find_code, sent_to

PASSWORD = "Tr4in-Station-Bl00m"
NEW_PASSWORD = "Gl4cier-Harbour-Mint"
# what the transcoder makes of every ingested video for the portal's player
PREVIEWS = {"poster", "storyboard", "proxy", "hls"}


def register(system, email: str, language: str = "fr", password: str = PASSWORD,
             full_name: str = "Jane Doe") -> requests.Response:
    response = system.api("POST", "/api/v1/accounts", json={
        "email": email, "password": password, "full_name": full_name,
        "organisation": "Example News", "language": language, "terms_version": TERMS_VERSION})
    assert response.status_code == 202, response.text
    return response


def code_mails(system, email: str, count: int = 1, timeout: float = 30.0):
    return system.smtp.wait_for(sent_to(email), count=count, timeout=timeout)


def latest_code(system, email: str, count: int = 1) -> str:
    return find_code(code_mails(system, email, count)[-1])


def verify_with_newest_code(system, email: str) -> requests.Response:
    """When several codes went out together (a client that retried its registration), their
    mails may arrive in any order; a code replaced by newer ones may no longer work, so try
    them from the last arrived back (a wrong try counts towards the address's code lock, five
    to a lock)."""
    codes = [find_code(m) for m in code_mails(system, email)]
    for code in reversed(dict.fromkeys(codes)):
        response = verify(system, email, code)
        if response.status_code == 200:
            return response
    return response


def verify(system, email: str, code: str, password: str = PASSWORD) -> requests.Response:
    """The code mailed AND the password chosen at registration (register's default)."""
    return system.api("POST", "/api/v1/accounts/verify",
                      json={"email": email, "code": code, "password": password})


def login(system, email: str, password: str = PASSWORD,
          user_agent: str | None = None) -> requests.Response:
    headers = {"User-Agent": user_agent} if user_agent else None
    return system.api("POST", "/api/v1/sessions", json={"email": email, "password": password},
                      headers=headers)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def error_code(response: requests.Response) -> str:
    return response.json()["error"]["code"]


def signed_in(system, email: str, language: str = "fr") -> str:
    """A registered, verified account's session token."""
    register(system, email, language=language)
    response = verify(system, email, latest_code(system, email))
    assert response.status_code == 200, response.text
    return response.json()["token"]


def editor(system, email: str = "edith@example.org") -> str:
    """A verified account granted the editor role with the auth command line."""
    token = signed_in(system, email)
    granted = system.run_python("-m", "services.auth.cli", "grant", "editor", email)
    assert granted.returncode == 0, granted.stderr
    return token


def subscribe(system, token: str) -> None:
    response = system.api("PUT", "/api/v1/me/newsletter", json={"subscribed": True},
                          headers=bearer(token))
    assert response.status_code == 200, response.text


# -- videos and downloads -----------------------------------------------------------------

def ingest(system, token: str, tap, item: dict, master: Path, name: str,
           shotlist: list | None = None, timeout: float = 180) -> tuple[dict, dict]:
    """An editor's new item (a draft) with one video from `master`, copied into the ingest
    folder, its previews made (`tap` sees the transcoder's rendition.ready.v1 for each);
    returns (item, video) as the editor's API answers them."""
    target = Path(system.env["MEDIA_ROOT"]) / "ingest" / "e2e" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(master, target)
    created = system.api("POST", "/api/v1/news", json=item, headers=bearer(token))
    assert created.status_code == 201, created.text
    video = system.api("POST", "/api/v1/videos", headers=bearer(token), json={
        "news_id": created.json()["id"], "master_path": f"e2e/{name}",
        "shotlist": shotlist or []})
    assert video.status_code == 201, video.text
    video_id = video.json()["id"]
    ready = tap.wait_for(lambda m: m.routing_key == "rendition.ready.v1"
                         and m.json()["data"]["video_id"] == video_id, count=len(PREVIEWS),
                         timeout=timeout)
    assert {m.json()["data"]["rendition"] for m in ready} == PREVIEWS
    return created.json(), video.json()


def publish(system, token: str, item: dict) -> dict:
    """An editor publishes `item`; the published item."""
    published = system.api("POST", f"/api/v1/news/{item['id']}/publish",
                           headers=bearer(token))
    assert published.status_code == 200, published.text
    return published.json()


def as_user(token: str, lang: str = "en") -> dict:
    return {**bearer(token), "Accept-Language": lang}


def request_download(system, token: str, video_id: str, lang: str = "en", **body):
    return system.api("POST", f"/api/v1/videos/{video_id}/downloads", json=body,
                      headers=as_user(token, lang))


def until_ready(system, token: str, answer: requests.Response, timeout: float = 240,
                lang: str = "en", interval: float = 0.25) -> dict:
    """The download's answer once it is ready (polling its status_url as a client would, in
    the same language); every answer on the way is checked to carry no link."""
    assert answer.status_code in (200, 202), answer.text
    if answer.status_code == 200:
        return answer.json()
    status_url = answer.json()["status_url"]

    def ready():
        state = system.api("GET", status_url, headers=as_user(token, lang))
        assert state.status_code == 200, state.text
        body = state.json()
        assert body["status"] in ("queued", "running", "ready"), body
        if body["status"] != "ready":
            assert body["url"] is None and 0 <= body["progress"] < 100
            return None
        return body
    return system.wait_until(ready, timeout=timeout, interval=interval,
                             message=f"{status_url} was not ready in {timeout} s")
