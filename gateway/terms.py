"""The portal's terms of use: what a person accepts by creating an account.

The words live here, in both languages, rather than in the message catalogs: an account records
the version it accepted (auth keeps `terms_version` and `terms_accepted_at`), so that version
must name exactly these words. Changing a word is a new TERMS_VERSION; from then on a
registration must send the new one (`terms_not_accepted` otherwise), and accounts keep the
version they accepted."""

from dataclasses import dataclass

from .i18n import DEFAULT_LANGUAGE, LANGUAGES, current_language

TERMS_VERSION = "2026-11-21"
# The organisation whose videos these are (the seed page's: NATO), as each language names it.
CREDIT = {"fr": "© OTAN", "en": "© NATO"}


@dataclass(frozen=True)
class Terms:
    title: str
    points: tuple[str, ...]


TEXT = {
    "fr": Terms(
        title="Conditions d'utilisation des vidéos de l'OTAN",
        points=(
            "Les vidéos sont gratuites pour la presse, les médias et l'enseignement.",
            f"Chaque fois que vous utilisez une vidéo, citez la source : « {CREDIT['fr']} ».",
            "Les vidéos ne peuvent servir ni à la publicité, ni à la parodie, ni à une "
            "campagne partisane ou politique.",
            "Les vidéos ne peuvent pas être revendues.",
            "Si vous ne respectez pas ces conditions, l'OTAN peut fermer votre compte.",
        ),
    ),
    "en": Terms(
        title="Terms of use of NATO's videos",
        points=(
            "The videos are free of charge for the press, the media and education.",
            f"Whenever you use a video, credit it as \"{CREDIT['en']}\".",
            "The videos may not be used in advertising, in parody, or in a partisan or "
            "political campaign.",
            "The videos may not be resold.",
            "If you break these terms, NATO may close your account.",
        ),
    ),
}


def current_terms(language: str | None = None) -> dict:
    """The current terms in `language` (by default the request's, as i18n.py chooses it), as
    GET /api/v1/terms answers them."""
    language = language or current_language()
    if language not in LANGUAGES:
        language = DEFAULT_LANGUAGE
    text = TEXT[language]
    return {"version": TERMS_VERSION, "language": language, "title": text.title,
            "points": list(text.points)}
