"""`?lang=` wins, then Accept-Language among fr and en, else French."""

import pytest

FRENCH = "Il n'y a rien à cette adresse."
ENGLISH = "There is nothing at this address."


@pytest.mark.parametrize(("query", "accept_language", "expected"), [
    ("", None, FRENCH),
    ("", "en", ENGLISH),
    ("", "en-GB,en;q=0.9", ENGLISH),
    ("", "de-DE,de;q=0.9,en;q=0.5,fr;q=0.4", ENGLISH),
    ("", "de, es", FRENCH),
    ("", "fr-CA", FRENCH),
    ("", "*", FRENCH),
    ("?lang=en", "fr", ENGLISH),
    ("?lang=fr", "en", FRENCH),
    ("?lang=de", "en", ENGLISH),
    ("?lang=", None, FRENCH),
])
def test_message_language(client, query, accept_language, expected):
    headers = {"Accept-Language": accept_language} if accept_language else {}
    response = client.get(f"/api/v1/missing{query}", headers=headers)
    assert response.json["error"]["message"] == expected
    assert response.headers["Content-Language"] == ("en" if expected == ENGLISH else "fr")
