"""Reads the seed pages (real French news pages of the organisation, saved as text) into
articles: each file is the whole page, the account screens' wording first, then the article.

    article = parse_seed(path.read_text(), path.stem)
    article.date, article.title, article.summary, article.body   # body: paragraph/quote blocks
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from services.shared.config import env

from ..domain import ascii_fold, is_quote

# The account screens' wording, repeated at the top of every seed page (the seed page's own
# sentences, as the portal shows them). Compared on letters and digits only, so that a doubled
# full stop or another apostrophe does not make a line look like the article.
ACCOUNT_SCREENS = (
    "COMPTE MULTIMÉDIA",
    "Le seul endroit pour accéder au contenu vidéo de qualité broadcast de l'OTAN",
    "Accédez aux ressources médiatiques officielles de l'OTAN. Un contenu de qualité "
    "professionnelle, diffusé sur les dernières actualités. La référence pour les "
    "professionnels des médias.",
    "Registre",
    "Créer un compte",
    "Vérifiez votre boîte de réception et entrez le code de vérification",
    "Check your inbox and enter verification code",
    "Nous avons envoyé un code de vérification à votre adresse e-mail. Entrez le code pour "
    "vérifier votre compte. Ce code expirera dans 30 minutes.",
    "Code de vérification",
    "Vous n'avez pas reçu de code ? Envoyer un nouveau code",
    "Vous avez créé votre compte avec succès",
    "Désormais, vous pouvez télécharger des versions complètes ou partielles de nos vidéos "
    "depuis notre site Web.",
    "Abonnez-vous à notre newsletter",
    "Si vous souhaitez également vous abonner à la newsletter et recevoir nos dernières mises "
    "à jour, cliquez sur le bouton ci-dessous.",
    "Réinitialiser le mot de passe",
    "Entrez l'adresse e-mail avec laquelle vous vous êtes inscrit et nous vous enverrons un "
    "code pour réinitialiser votre mot de passe.",
    "Créer un nouveau mot de passe",
    "Le mot de passe doit comporter au moins 12 caractères, sans espaces, inclure des lettres "
    "majuscules/minuscules, des chiffres et des symboles.",
    "Votre mot de passe a été mis à jour",
    "Cliquez sur le bouton pour revenir à la page sur laquelle vous étiez et connectez-vous "
    "avec votre nouveau mot de passe.",
)

# What the page shows under the article: the programme's heading and counter ("1/ 1"), and
# stray full stops.
_TRAILER = re.compile(r"^(programme|\d+\s*/\s*\d+|[.\s…]*)$", re.IGNORECASE)

MONTHS = {"janvier": 1, "fevrier": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6,
          "juillet": 7, "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11,
          "decembre": 12}
WEEKDAYS = {"lundi": 0, "mardi": 1, "mercredi": 2, "jeudi": 3, "vendredi": 4, "samedi": 5,
            "dimanche": 6}
_MONTH = "(" + "|".join(MONTHS) + ")"
_WEEKDAY = "(" + "|".join(WEEKDAYS) + ")"
_DAY = r"(1er|\d{1,2})"
# Matched on the accent-folded, lower-cased text: "3 décembre 2025" -> "3 decembre 2025".
_FULL_DATE = re.compile(rf"\b{_DAY}\s+{_MONTH}\s+(\d{{4}})\b")
_DATE_WITHOUT_YEAR = re.compile(rf"\b{_WEEKDAY}\s+{_DAY}\s+{_MONTH}\b(?!\s+\d{{4}})")

# A date without its year ("le mardi 9 octobre") is pinned by its weekday to a few candidate
# years; the Secretary General the article names narrows them to the one of his term (the
# organisation's news always quote him). Among what is left, the latest year not in the future.
SECRETARIES_GENERAL = (
    ("rutte", date(2024, 10, 1), None),
    ("stoltenberg", date(2014, 10, 1), date(2024, 10, 1)),
    ("rasmussen", date(2009, 8, 1), date(2014, 10, 1)),
    ("scheffer", date(2004, 1, 1), date(2009, 8, 1)),
)
FIRST_YEAR = 1949

_ABBREVIATION = re.compile(r"(?:\b(?:M|MM|Mme|Mmes|Dr|St)|\b[A-Z])\.$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[«\"“A-ZÀ-ÖØ-Þ])|(?<=[.!?]\s»)\s+(?=[A-ZÀ-ÖØ-Þ])")

TITLE_MAX = 110
SUMMARY_MIN = 150
# Where a long first sentence can be cut into a title: before the purpose, the means, or who
# said it.
_TITLE_CUTS = (" pour ", " afin de ", " par ", ", a déclaré", ", a indiqué", ", a précisé",
               " \u2013 ", "; ")  # en dash
_DANGLING = {"de", "des", "du", "d", "la", "le", "les", "l", "à", "au", "aux", "et", "en",
             "par", "pour", "sur", "dans", "un", "une", "avec", "ou", "qui", "que"}
_LEADING_DATE = re.compile(
    rf"^(?:ce|le)\s+{_WEEKDAY}\s*(?:\([^)]*\)|{_DAY}\s+{_MONTH}(?:\s+\d{{4}})?)?\s*,\s*",
    re.IGNORECASE)
_INLINE_DATE = re.compile(rf"\s*\b(?:ce|le)\s+{_WEEKDAY}\s*\({_DAY}\s+{_MONTH}\s+\d{{4}}\)",
                          re.IGNORECASE)
_BRACKETED_DATE = re.compile(rf"\s*\({_DAY}\s+{_MONTH}\s+\d{{4}}\)", re.IGNORECASE)


@dataclass(frozen=True)
class SampleArticle:
    name: str            # the seed file's name without extension: the import key
    date: date
    year_inferred: bool  # the text gave no year: see infer_year
    title: str           # French, derived from the first sentence
    summary: str         # French, the first sentences
    body: list[dict]     # paragraph and quote blocks


# The original pages (shared/seeds of the project), kept with the code so that every checkout
# and every container image has its sample content.
SHIPPED_SEEDS = Path(__file__).with_name("seed_pages")


def seeds_dir() -> Path:
    """`NEWSREEL_SEEDS`, else the seed pages shipped beside this module."""
    return Path(env("NEWSREEL_SEEDS") or SHIPPED_SEEDS)


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", ascii_fold(text).lower())


ACCOUNT_SCREEN_KEYS = frozenset(_key(line) for line in ACCOUNT_SCREENS)


def is_account_screen(line: str) -> bool:
    return _key(line) in ACCOUNT_SCREEN_KEYS


def _looks_like_interface(line: str) -> bool:
    """A short label or button, not a sentence of an article (a guard against account-screen
    wording this module does not know yet)."""
    return len(line.split()) < 8 and not line.rstrip().endswith((".", "!", "?", "»"))


def article_paragraphs(text: str) -> list[str]:
    """The article's paragraphs: everything from the first paragraph that is not the account
    screens' wording, without the programme trailer."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lines = [line for line in lines if line]
    start = next((index for index, line in enumerate(lines)
                  if not is_account_screen(line) and not _looks_like_interface(line)), None)
    if start is None:
        return []
    paragraphs = lines[start:]
    while paragraphs and _TRAILER.match(paragraphs[-1]):
        paragraphs.pop()
    return paragraphs


def sentences(text: str) -> list[str]:
    parts = _SENTENCE_END.split(text)
    merged: list[str] = []
    for part in parts:
        if merged and _ABBREVIATION.search(merged[-1]):
            merged[-1] = f"{merged[-1]} {part}"
        else:
            merged.append(part)
    return [part.strip() for part in merged if part.strip()]


def infer_year(weekday: int, day: int, month: int, text: str, today: date) -> int | None:
    candidates = []
    for year in range(FIRST_YEAR, today.year + 1):
        try:
            moment = date(year, month, day)
        except ValueError:
            continue
        if moment.weekday() == weekday and moment <= today:
            candidates.append(moment)
    folded = ascii_fold(text).lower()
    for surname, start, end in SECRETARIES_GENERAL:
        if surname in folded:
            in_term = [c for c in candidates if start <= c and (end is None or c < end)]
            if in_term:
                candidates = in_term
                break
    return candidates[-1].year if candidates else None


def find_date(text: str, today: date) -> tuple[date | None, bool]:
    """The article's date and whether its year was inferred. A full date ("(20 novembre
    2019)") wins; else a weekday and a day ("le mardi 9 octobre"), the year inferred."""
    folded = ascii_fold(text).lower()
    full = _FULL_DATE.search(folded)
    if full:
        day, month, year = full.groups()
        return date(int(year), MONTHS[month], 1 if day == "1er" else int(day)), False
    partial = _DATE_WITHOUT_YEAR.search(folded)
    if partial:
        weekday, day, month = partial.groups()
        day = 1 if day == "1er" else int(day)
        year = infer_year(WEEKDAYS[weekday], day, MONTHS[month], text, today)
        if year is not None:
            return date(year, MONTHS[month], day), True
    return None, False


def derive_title(first_paragraph: str) -> str:
    """A headline from the first sentence: without its date, cut before its purpose, its
    means or its speaker, at most TITLE_MAX characters, no final full stop."""
    sentence = sentences(first_paragraph)[0]
    sentence = _LEADING_DATE.sub("", sentence)
    sentence = _INLINE_DATE.sub("", sentence)
    sentence = _BRACKETED_DATE.sub("", sentence)
    cuts = [sentence.find(marker) for marker in _TITLE_CUTS]
    cuts = [position for position in cuts if position >= 30]
    if cuts:
        sentence = sentence[:min(cuts)]
    if len(sentence) > TITLE_MAX:
        sentence = sentence[:TITLE_MAX + 1].rsplit(" ", 1)[0]
        words = sentence.split()
        # a cut title does not end on a word that waits for what was cut: a function word, or
        # a participle ("consacrées [à …]")
        while words and (re.sub("[\u2019']$", "", words[-1]).lower() in _DANGLING
                         or re.search(r"(é|ée|és|ées)$", words[-1])):
            words.pop()
        sentence = " ".join(words)
    sentence = sentence.strip(" ,;:.")
    return sentence[:1].upper() + sentence[1:]


def derive_summary(paragraphs: list[str]) -> str:
    """The article's first sentences, at least SUMMARY_MIN characters (a one-line first
    paragraph takes the next paragraph's first sentence along)."""
    chosen: list[str] = []
    for paragraph in paragraphs:
        for sentence in sentences(paragraph):
            chosen.append(sentence)
            if len(" ".join(chosen)) >= SUMMARY_MIN:
                return " ".join(chosen)
    return " ".join(chosen)


def parse_seed(text: str, name: str, today: date | None = None) -> SampleArticle:
    paragraphs = article_paragraphs(text)
    if not paragraphs:
        raise ValueError(f"{name}: no article found after the account screens")
    today = today or date.today()
    found, inferred = find_date("\n".join(paragraphs), today)
    if found is None:
        raise ValueError(f"{name}: no date found in the article")
    body = [{"type": "quote" if is_quote(p) else "paragraph", "text": p} for p in paragraphs]
    return SampleArticle(name=name, date=found, year_inferred=inferred,
                         title=derive_title(paragraphs[0]), summary=derive_summary(paragraphs),
                         body=body)


def read_seeds(directory: Path | None = None, today: date | None = None) -> list[SampleArticle]:
    """Every `*.txt` seed page of `directory` (default: seeds_dir()), in file name order."""
    directory = directory or seeds_dir()
    if not directory.is_dir():
        raise FileNotFoundError(f"no seed folder at {directory} (set NEWSREEL_SEEDS)")
    return [parse_seed(path.read_text(encoding="utf-8"), path.stem, today)
            for path in sorted(directory.glob("*.txt"))]


def names(articles: Iterable[SampleArticle]) -> list[str]:
    return [article.name for article in articles]
