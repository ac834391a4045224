"""The language of the words the gateway writes (pages, error messages).

`?lang=fr|en` wins, then the portal's language cookie (the visitor's choice, remembered), then
the best match of `Accept-Language` among our languages, else French.
Catalogs: translations/<lang>/LC_MESSAGES/messages.po, compiled to .mo (see gateway/README.md).
"""

from babel.lists import format_list
from flask import Flask, request
from flask_babel import Babel, get_locale

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
LANGUAGE_COOKIE = "newsreel_lang"


def select_language() -> str:
    for asked in (request.args.get("lang", ""), request.cookies.get(LANGUAGE_COOKIE, "")):
        if asked in LANGUAGES:
            return asked
    return request.accept_languages.best_match(LANGUAGES, default=DEFAULT_LANGUAGE)


def current_language() -> str:
    return get_locale().language


def join_words(items: list[str]) -> str:
    """"a, b et c" in French, "a, b, and c" in English."""
    return format_list(items, locale=get_locale())


def init_app(app: Flask) -> None:
    Babel(app, default_locale=DEFAULT_LANGUAGE, default_translation_directories="translations",
          locale_selector=select_language)
