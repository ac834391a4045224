"""The newsletter's unsubscribe link: a page with one button, RFC 8058 one-click for mail
clients, and nothing done for a forged or altered token."""

import os

import pytest

from services.shared import unsubscribe


@pytest.fixture
def token():
    return unsubscribe.sign(os.environ["UNSUBSCRIBE_KEYS"], "acc-42")


def test_opening_the_link_only_asks(client, rpc, token):
    page = client.get(f"/newsletter/unsubscribe?token={token}&lang=fr")
    assert page.status_code == 200 and page.mimetype == "text/html"
    body = page.get_data(as_text=True)
    assert "Se désabonner" in body and f'value="{token}"' in body
    assert rpc.calls == []   # a mail scanner opening links unsubscribes nobody
    assert "nonce-" in page.headers["Content-Security-Policy"]


def test_the_button_unsubscribes_in_the_users_language(client, rpc, token):
    rpc.answer("auth.unsubscribe_newsletter", None)
    done = client.post("/newsletter/unsubscribe?lang=en", data={"token": token})
    assert done.status_code == 200 and "You are unsubscribed" in done.get_data(as_text=True)
    assert rpc.calls == [("auth.unsubscribe_newsletter", {"account_id": "acc-42"})]


def test_a_mail_clients_one_click_post_is_rfc_8058(client, rpc, token):
    rpc.answer("auth.unsubscribe_newsletter", None)
    answer = client.post(f"/newsletter/unsubscribe?token={token}",
                         data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 204
    assert rpc.methods_called == ["auth.unsubscribe_newsletter"]


@pytest.mark.parametrize("bad", ["", "garbage", "x" * 5000])
def test_a_forged_or_altered_token_changes_nothing(client, rpc, token, bad):
    for forged in (bad, token[:-3] + "abc"):
        assert client.get(f"/newsletter/unsubscribe?token={forged}").status_code == 400
        assert client.post("/newsletter/unsubscribe", data={"token": forged}).status_code == 400
    other_key = unsubscribe.sign("another-key-" * 5, "acc-42")
    assert client.post("/newsletter/unsubscribe", data={"token": other_key}).status_code == 400
    assert rpc.calls == []
