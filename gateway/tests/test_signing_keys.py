"""Issue 10, point 9: a key ring per purpose. The portal's session, its CSRF tokens, the
download links and the unsubscribe links are each signed with their own keys (SESSION_KEYS,
CSRF_KEYS, DOWNLOAD_LINK_KEYS, UNSUBSCRIBE_KEYS: newest first, the others still accepted), so
rotating one breaks nothing already handed out, and a key of one purpose (the mailer holds the
unsubscribe one) forges nothing of another."""

import pytest
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeSerializer, URLSafeTimedSerializer

from gateway.app import create_app
from services.shared import unsubscribe

from .fakes import ACCOUNT, CUT_PATH, GOOD_TOKEN, READY_JOB, VIDEO_ID, FakeRpc

SITE = "https://news.example.org"
PORTAL_COOKIE = "__Host-newsreel_portal"
BEARER = {"Authorization": f"Bearer {GOOD_TOKEN}"}
DOWNLOADS = f"/api/v1/videos/{VIDEO_ID}/downloads"
CUT = {"rendition": "h264-1080p", "in": "10:00:00:10", "out": 1.6}
PASSWORD = "Tr4in-Station-Bl00m"
SETTINGS = ("SESSION_KEYS", "CSRF_KEYS", "DOWNLOAD_LINK_KEYS", "UNSUBSCRIBE_KEYS")


def key(purpose: str, generation: str) -> str:
    return f"{generation}-{purpose.lower()}-" + "k" * 40


OLD = {setting: key(setting, "old") for setting in SETTINGS}
NEW = {setting: key(setting, "new") for setting in SETTINGS}


def make_app(media_root=None, **keys):
    config = {"TESTING": True, "PUBLIC_BASE_URL": SITE, "TRUSTED_PROXY_COUNT": 0, **OLD,
              **keys}
    if media_root is not None:
        config["MEDIA_ROOT"] = media_root
    rpc = FakeRpc()
    rpc.answer("transcoder.request_download", dict(READY_JOB))
    return create_app(rpc=rpc, config=config)


@pytest.fixture
def media_root(tmp_path):
    root = tmp_path / "media"
    (root / CUT_PATH).parent.mkdir(parents=True)
    (root / CUT_PATH).write_bytes(b"a cut")
    return root


def issued_link(app) -> str:
    url = app.test_client().post(DOWNLOADS, json=CUT, headers=BEARER).json["url"]
    return url.removeprefix(SITE)


def fetch(app, link: str) -> int:
    return app.test_client().get(link, headers=BEARER).status_code


# -- rotation: what was signed with the old key still works -----------------------------------

def test_a_download_link_issued_before_a_rotation_still_works(media_root):
    before = make_app(media_root)
    link = issued_link(before)
    assert fetch(before, link) == 200

    rotated = make_app(media_root, DOWNLOAD_LINK_KEYS=f"{NEW['DOWNLOAD_LINK_KEYS']},"
                                                     f"{OLD['DOWNLOAD_LINK_KEYS']}")
    assert fetch(rotated, link) == 200
    # the new key signs: a gateway that does not know it yet refuses the new links
    assert fetch(before, issued_link(rotated)) == 404
    # once the old key is dropped, its links end (a leaked key is retired this way)
    assert fetch(make_app(media_root, DOWNLOAD_LINK_KEYS=NEW["DOWNLOAD_LINK_KEYS"]),
                 link) == 404


@pytest.mark.parametrize("setting", ["SESSION_KEYS", "CSRF_KEYS"])
def test_a_portal_form_opened_before_a_rotation_can_still_be_sent(setting):
    before = make_app().test_client()
    form = before.get("/account/login?next=/news/x")
    token = form.get_data(as_text=True).split('name="csrf_token" value="', 1)[1].split('"')[0]
    portal = before.get_cookie(PORTAL_COOKIE).value

    def send(app):
        client = app.test_client()
        client.set_cookie(PORTAL_COOKIE, portal, domain="localhost")
        return client.post("/account/login", data={
            "csrf_token": token, "email": "ana@example.org", "password": PASSWORD})

    rotated = send(make_app(**{setting: f"{NEW[setting]},{OLD[setting]}"}))
    # the form's token and the portal session (where to go back) were both still read
    assert rotated.status_code == 303 and rotated.headers["Location"] == "/news/x"
    dropped = send(make_app(**{setting: NEW[setting]}))
    assert dropped.status_code == 400   # "this form has expired"


def test_an_unsubscribe_link_keeps_working_across_rotations():
    # as the mailer signed it before the rotation
    link_in_an_old_newsletter = URLSafeSerializer(
        OLD["UNSUBSCRIBE_KEYS"], salt=unsubscribe.SALT).dumps({"account": "acc-42"})
    rotated = make_app(UNSUBSCRIBE_KEYS=f"{NEW['UNSUBSCRIBE_KEYS']},{OLD['UNSUBSCRIBE_KEYS']}")
    page = rotated.test_client().get(f"/newsletter/unsubscribe?token={link_in_an_old_newsletter}")
    assert page.status_code == 200
    dropped = make_app(UNSUBSCRIBE_KEYS=NEW["UNSUBSCRIBE_KEYS"])
    page = dropped.test_client().get(f"/newsletter/unsubscribe?token={link_in_an_old_newsletter}")
    assert page.status_code == 400


# -- separation: one purpose's key forges nothing of another -----------------------------------

def forged_portal_session(secret: str, data: dict) -> str:
    """A portal session cookie made exactly as Flask makes one, but with `secret`."""
    interface = SecureCookieSessionInterface()
    return URLSafeTimedSerializer(
        secret, salt=interface.salt, serializer=interface.serializer,
        signer_kwargs={"key_derivation": interface.key_derivation,
                       "digest_method": interface.digest_method}).dumps(data)


@pytest.mark.parametrize("stolen", ["DOWNLOAD_LINK_KEYS", "UNSUBSCRIBE_KEYS"])
def test_another_purposes_key_cannot_forge_a_portal_session_or_a_form(stolen):
    # SECRET_KEY, the one key of before, is set to the stolen key: it must sign nothing now
    app = make_app(SECRET_KEY=OLD[stolen])
    client = app.test_client()
    client.set_cookie(PORTAL_COOKIE, forged_portal_session(
        OLD[stolen], {"csrf_token": "c" * 40, "return_to": "/news/forged"}), domain="localhost")
    csrf = URLSafeTimedSerializer(OLD[stolen], salt="wtf-csrf-token").dumps("c" * 40)
    answer = client.post("/account/login", data={
        "csrf_token": csrf, "email": "ana@example.org", "password": PASSWORD})
    assert answer.status_code == 400   # refused as an expired form: nothing logged in


def test_the_mailers_key_cannot_forge_a_download_link(media_root):
    app = make_app(media_root, SECRET_KEY=OLD["UNSUBSCRIBE_KEYS"])
    forged = URLSafeTimedSerializer(OLD["UNSUBSCRIBE_KEYS"], salt="download").dumps(
        {"path": CUT_PATH, "account_id": ACCOUNT["id"], "filename": "x.mp4"})
    assert fetch(app, f"/files/{forged}") == 404
    assert fetch(app, issued_link(app)) == 200   # while a real link works


def test_a_download_key_cannot_forge_an_unsubscribe_link():
    app = make_app(SECRET_KEY=OLD["DOWNLOAD_LINK_KEYS"])
    forged = URLSafeSerializer(OLD["DOWNLOAD_LINK_KEYS"], salt=unsubscribe.SALT).dumps(
        {"account": "acc-42"})
    assert app.test_client().get(f"/newsletter/unsubscribe?token={forged}").status_code == 400


# -- the settings ------------------------------------------------------------------------------

@pytest.mark.parametrize("missing", SETTINGS)
def test_the_gateway_will_not_start_without_a_key_of_each_purpose(monkeypatch, missing):
    monkeypatch.delenv(missing, raising=False)
    config = {"TESTING": True, "PUBLIC_BASE_URL": SITE, **OLD}
    del config[missing]
    with pytest.raises(RuntimeError, match=missing):
        create_app(rpc=FakeRpc(), config=config)


def test_the_one_secret_key_of_before_is_not_enough(monkeypatch):
    for setting in SETTINGS:
        monkeypatch.delenv(setting, raising=False)
    monkeypatch.setenv("SECRET_KEY", "s" * 64)
    with pytest.raises(RuntimeError, match="SECRET_KEY is no longer read"):
        create_app(rpc=FakeRpc(), config={"TESTING": True, "PUBLIC_BASE_URL": SITE})


def test_one_key_may_not_serve_two_purposes():
    with pytest.raises(RuntimeError, match="SESSION_KEYS and DOWNLOAD_LINK_KEYS share a key"):
        make_app(DOWNLOAD_LINK_KEYS=f"{NEW['DOWNLOAD_LINK_KEYS']},{OLD['SESSION_KEYS']}")


def test_a_short_key_is_refused():
    with pytest.raises(RuntimeError, match=r"CSRF_KEYS: every key must be at least 32"):
        make_app(CSRF_KEYS="too-short")
