"""Every sentence the gateway can show (API messages and portal pages, as pybabel extracts them
with gateway/babel.cfg) has its French translation: a new `_("…")` without one fails here,
not in front of a French reader."""

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

GATEWAY = Path(__file__).resolve().parents[1]
METHODS = [("**/templates/pages/**.html", "jinja2"), ("**.py", "python")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def extracted() -> set:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(GATEWAY), METHODS, keywords=KEYWORDS):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def test_every_message_has_a_french_translation():
    with (GATEWAY / "translations/fr/LC_MESSAGES/messages.po").open("rb") as source:
        catalog = read_po(source, locale="fr")
    translated = {}
    for message in catalog:
        if message.id and not message.fuzzy:
            key = message.id if isinstance(message.id, str) else tuple(message.id)
            strings = [message.string] if isinstance(message.string, str) else message.string
            translated[key] = all(strings)
    messages = extracted()
    assert len(messages) > 150            # the extraction found the templates and the code
    missing = sorted(str(m) for m in messages if not translated.get(m))
    assert missing == []
