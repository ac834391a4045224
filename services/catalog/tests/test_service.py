"""The news use cases against a real database (SQLite and PostgreSQL), no broker: events are
read back from the outbox table they are committed to."""

from datetime import timedelta

import pytest
from sqlalchemy import insert, text

from services.catalog import search
from services.catalog.models import News, Translation
from services.catalog.tests.conftest import BASE_URL, NOW, events, item, news_body
from services.shared.errors import ServiceError


def error_of(call, *args, **kwargs) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call(*args, **kwargs)
    return caught.value


def published(catalog, clock, translations, **kwargs):
    created = catalog.create_news(translations, **kwargs)
    return catalog.publish_news(created["id"])


# -- creating and reading --------------------------------------------------------------------

def test_a_new_item_is_a_draft_with_a_slug_per_language(catalog):
    created = catalog.create_news(item("Sécurité en mer Noire", "Black Sea security"))
    assert created["status"] == "draft" and created["published_at"] is None
    assert [(t["language"], t["slug"]) for t in created["translations"]] == [
        ("fr", "securite-en-mer-noire"), ("en", "black-sea-security")]
    assert created["translations"][0]["url"] == f"{BASE_URL}/news/securite-en-mer-noire"
    assert created["body"] == news_body("Un paragraphe.") and created["language"] == "fr"


def test_slugs_stay_unique_across_items_and_languages(catalog):
    first = catalog.create_news(item("OTAN", "OTAN"))
    second = catalog.create_news(item("OTAN"))
    slugs = [t["slug"] for t in first["translations"] + second["translations"]]
    assert slugs == ["otan", "otan-2", "otan-3"]


def test_invalid_input_names_its_field(catalog):
    error = error_of(catalog.create_news, {"fr": {"title": ""}})
    assert (error.code, error.details) == ("invalid_request", {"field": "translations.fr.title",
                                                               "reason": "missing"})
    error = error_of(catalog.create_news, item("Titre"), embargo_until="demain")
    assert error.details == {"field": "embargo_until", "reason": "not_a_time"}
    assert error_of(catalog.list_news, per_page=500).details["field"] == "per_page"
    assert error_of(catalog.list_news, page=0).details["field"] == "page"
    assert error_of(catalog.list_news, lang="de").details["field"] == "lang"


def test_drafts_and_unknown_items_are_not_found(catalog):
    draft = catalog.create_news(item("Brouillon"))
    assert catalog.list_news()["total"] == 0
    for key in (draft["id"], "brouillon", "nothing-here"):
        assert error_of(catalog.get_news, key).code == "not_found"
    assert catalog.get_news("brouillon", include_unpublished=True)["status"] == "draft"
    assert catalog.list_news(include_unpublished=True)["total"] == 1


def test_an_item_is_found_by_id_in_the_asked_language_or_by_either_slug(catalog, clock):
    news = published(catalog, clock, item("Réunion des ministres", "Ministers meet"))
    assert catalog.get_news(news["id"], "en")["title"] == "Ministers meet"
    assert catalog.get_news(news["id"], "fr")["title"] == "Réunion des ministres"
    by_slug = catalog.get_news("ministers-meet", "fr")  # a slug names its language
    assert (by_slug["language"], by_slug["title"]) == ("en", "Ministers meet")
    french_only = published(catalog, clock, item("Seulement en français"))
    assert catalog.get_news(french_only["id"], "en")["language"] == "fr"


# -- publication, events, embargo ------------------------------------------------------------

def test_publishing_emits_news_published_once(catalog, session_factory, clock):
    created = catalog.create_news(item("Réunion des ministres", "Ministers meet"))
    assert events(session_factory) == []
    first = catalog.publish_news(created["id"])
    again = catalog.publish_news(created["id"])
    assert first["status"] == again["status"] == "published"
    catalog.update_news(created["id"], item("Réunion des ministres", "Ministers meet"))
    assert catalog.release_embargoes() == []  # nor an edit, nor the timer announce it again
    [event] = events(session_factory)
    assert event["type"] == "newsreel.catalog.news.published.v1"
    assert event["source"] == "/services/catalog" and event["subject"] == created["id"]
    assert event["data"] == {
        "news_id": created["id"], "published_at": "2026-11-21T12:00:00Z",
        "languages": ["fr", "en"],
        "translations": [
            {"language": "fr", "slug": "reunion-des-ministres", "title": "Réunion des ministres",
             "summary": "Résumé.", "url": f"{BASE_URL}/news/reunion-des-ministres"},
            {"language": "en", "slug": "ministers-meet", "title": "Ministers meet",
             "summary": "Summary.", "url": f"{BASE_URL}/news/ministers-meet"}],
        "video_ids": [], "poster_url": None,
    }


def test_an_incomplete_item_is_not_publishable(catalog, session_factory):
    created = catalog.create_news({"fr": {"title": "Titre", "summary": "Résumé."}})
    error = error_of(catalog.publish_news, created["id"])
    assert error.code == "not_publishable"
    assert error.details == {"language": "fr", "field": "body", "reason": "missing"}
    assert events(session_factory) == []
    assert error_of(catalog.publish_news, "no-such-id").code == "not_found"


def test_an_embargoed_item_is_invisible_and_silent_until_the_timer_releases_it(
        catalog, session_factory, clock):
    embargo = NOW + timedelta(hours=2)
    created = catalog.create_news(item("Sous embargo"), embargo_until=embargo.isoformat())
    published_item = catalog.publish_news(created["id"])
    assert published_item["published_at"] == "2026-11-21T14:00:00Z"
    assert events(session_factory) == []
    assert catalog.list_news()["total"] == 0
    assert error_of(catalog.get_news, created["id"]).code == "not_found"
    assert catalog.release_embargoes() == []  # not yet
    clock.advance(hours=1, minutes=59)
    assert catalog.release_embargoes() == [] and events(session_factory) == []
    clock.advance(minutes=1)
    assert catalog.list_news()["total"] == 1  # visible the moment the embargo ends…
    assert catalog.release_embargoes() == [created["id"]]  # …and announced by the timer
    assert catalog.release_embargoes() == []
    [event] = events(session_factory, "news.published.v1")
    assert event["data"]["published_at"] == "2026-11-21T14:00:00Z"


def test_lifting_an_embargo_announces_the_item_at_once(catalog, session_factory, clock):
    created = catalog.create_news(item("Sous embargo"),
                                  embargo_until=(NOW + timedelta(days=1)).isoformat())
    catalog.publish_news(created["id"])
    translations = item("Sous embargo")
    moved = catalog.update_news(created["id"], translations,
                                embargo_until=(NOW + timedelta(hours=1)).isoformat())
    assert moved["published_at"] == "2026-11-21T13:00:00Z" and events(session_factory) == []
    catalog.update_news(created["id"], translations, embargo_until=None)
    assert len(events(session_factory, "news.published.v1")) == 1
    assert catalog.list_news()["total"] == 1


def test_a_released_item_cannot_be_put_back_under_embargo(catalog, clock):
    news = published(catalog, clock, item("Déjà publié"))
    error = error_of(catalog.update_news, news["id"], item("Déjà publié"),
                     embargo_until=(NOW + timedelta(days=1)).isoformat())
    assert error.details == {"field": "embargo_until", "reason": "already_released"}


def test_a_published_item_can_be_backdated_but_not_dated_in_the_future(catalog, clock):
    created = catalog.create_news(item("Archive"))
    assert error_of(catalog.publish_news, created["id"],
                    (NOW + timedelta(days=1)).isoformat()).details["reason"] == "in_the_future"
    done = catalog.publish_news(created["id"], "2019-11-20T12:00:00Z")
    assert done["published_at"] == "2019-11-20T12:00:00Z"


def test_a_drafts_slug_follows_its_title_a_published_one_keeps_it(catalog, clock):
    created = catalog.create_news(item("Premier titre", "First title"))
    renamed = catalog.update_news(created["id"], item("Second titre"))
    assert [(t["language"], t["slug"]) for t in renamed["translations"]] == [
        ("fr", "second-titre")]  # the English version left out is removed
    catalog.publish_news(created["id"])
    kept = catalog.update_news(created["id"], item("Troisième titre", "Third title"))
    assert [t["slug"] for t in kept["translations"]] == ["second-titre", "third-title"]
    assert kept["title"] == "Troisième titre"
    error = error_of(catalog.update_news, created["id"], {"fr": {"title": "Sans corps"}})
    assert error.details == {"field": "translations.fr.summary", "reason": "missing"}


# -- listing and searching -------------------------------------------------------------------

@pytest.fixture
def newsroom(catalog, clock):
    """Three public items a day apart, a draft, and an embargoed item, all searchable."""
    made = {}
    for key, translations in [
        ("space", {"fr": {"title": "L'espace, milieu d'opérations",
                          "summary": "Les ministres reconnaissent l'espace.",
                          "body": news_body("Les ministres ont reconnu l'espace comme milieu "
                                            "d'opérations.")},
                   "en": {"title": "Space as an operational domain",
                          "summary": "Ministers recognise space.",
                          "body": news_body("Allies agreed on space and cyber.")}}),
        ("energy", {"fr": {"title": "Sécurité énergétique",
                           "summary": "Protéger les infrastructures critiques.",
                           "body": news_body("« La sécurité énergétique compte », a dit le "
                                             "secrétaire général.")}}),
        ("drones", {"en": {"title": "Counter-drone capabilities",
                           "summary": "Ministers strengthen counter-drone defences.",
                           "body": news_body("Integrated systems will be tested.")}}),
    ]:
        made[key] = catalog.publish_news(catalog.create_news(translations)["id"])["id"]
        clock.advance(days=1)
    made["draft"] = catalog.create_news(item("Sécurité brouillon"))["id"]
    embargoed = catalog.create_news(item("Sécurité sous embargo"),
                                    embargo_until=(clock.now + timedelta(days=7)).isoformat())
    made["embargoed"] = catalog.publish_news(embargoed["id"])["id"]
    return made


def ids(answer):
    return [entry["id"] for entry in answer["items"]]


def test_the_list_is_public_items_newest_first(catalog, newsroom):
    answer = catalog.list_news()
    assert ids(answer) == [newsroom["drones"], newsroom["energy"], newsroom["space"]]
    assert (answer["page"], answer["per_page"], answer["total"]) == (1, 20, 3)
    entry = answer["items"][-1]
    assert set(entry) >= {"id", "slug", "title", "summary", "published_at", "language",
                          "poster_url", "videos"}
    assert entry["published_at"] == "2026-11-21T12:00:00Z" and entry["videos"] == []


def test_the_list_speaks_the_asked_language_when_the_item_does(catalog, newsroom):
    english = {e["id"]: (e["language"], e["title"]) for e in catalog.list_news(lang="en")["items"]}
    assert english[newsroom["space"]] == ("en", "Space as an operational domain")
    assert english[newsroom["energy"]] == ("fr", "Sécurité énergétique")
    french = {e["id"]: e["language"] for e in catalog.list_news(lang="fr")["items"]}
    assert french[newsroom["space"]] == "fr" and french[newsroom["drones"]] == "en"


def test_pages(catalog, newsroom):
    first = catalog.list_news(page=1, per_page=2)
    second = catalog.list_news(page=2, per_page=2)
    beyond = catalog.list_news(page=3, per_page=2)
    assert ids(first) == [newsroom["drones"], newsroom["energy"]]
    assert ids(second) == [newsroom["space"]]
    assert beyond["items"] == [] and first["total"] == second["total"] == beyond["total"] == 3


@pytest.mark.parametrize(("q", "expected"), [
    ("securite", ["energy"]),             # without its accents
    ("SÉCURITÉ énergétique", ["energy"]),
    ("infrastructures critiques", ["energy"]),   # the summary
    ("secrétaire général", ["energy"]),          # a quote in the body
    ("espace", ["space"]),
    ("operational domain", ["space"]),           # the English version
    ("cyber", ["space"]),                        # the English body
    ("counter-drone", ["drones"]),
    ("ministres", ["space"]),
    ("espace or drone", ["drones", "space"]),
    ('"milieu d\'opérations"', ["space"]),
    ("brouillon", []),                           # drafts are not found
    ("embargo", []),                             # nor embargoed items
    ("introuvable", []),
])
def test_search_in_both_languages(catalog, newsroom, q, expected):
    answer = catalog.list_news(q=q)
    assert ids(answer) == [newsroom[key] for key in expected]
    assert answer["total"] == len(expected)


def test_search_pages_and_counts(catalog, clock):
    for number in range(5):
        catalog.publish_news(catalog.create_news(item(f"Défense numéro {number}"))["id"])
        clock.advance(minutes=1)
    catalog.publish_news(catalog.create_news(item("Autre sujet"))["id"])
    first = catalog.list_news(q="defense", per_page=2)
    third = catalog.list_news(q="defense", page=3, per_page=2)
    assert first["total"] == third["total"] == 5
    assert [e["title"] for e in first["items"]] == ["Défense numéro 4", "Défense numéro 3"]
    assert [e["title"] for e in third["items"]] == ["Défense numéro 0"]


def test_the_index_follows_edits_and_removed_versions(catalog, clock):
    news = catalog.create_news(item("Ancien titre", "Old title"))
    catalog.publish_news(news["id"])
    assert catalog.list_news(q="old")["total"] == 1
    catalog.update_news(news["id"], item("Nouveau titre"))
    assert catalog.list_news(q="old")["total"] == 0
    assert catalog.list_news(q="ancien")["total"] == 0
    assert catalog.list_news(q="nouveau")["total"] == 1


def test_the_search_uses_its_index(catalog, session_factory, newsroom):
    """SQLite: the FTS5 table holds every version, drafts included (visibility is decided
    apart). PostgreSQL: on a table of some size, the planner picks the two GIN indexes, which
    it can only do while their expressions are exactly search.py's."""
    with session_factory() as session:
        if session.get_bind().dialect.name == "sqlite":
            count = session.execute(text(
                "SELECT count(*) FROM news_search WHERE news_search MATCH 'securite'")).scalar()
            assert count == 3  # energy, the draft, the embargoed item
            return
        with session.begin():
            session.execute(insert(News), [
                {"id": f"bulk-{n}", "status": "draft", "created_at": NOW, "updated_at": NOW}
                for n in range(300)])
            session.execute(insert(Translation), [
                {"news_id": f"bulk-{n}", "language": language, "slug": f"bulk-{n}-{language}",
                 "title": f"Titre {n}", "summary": "Résumé", "body": [], "body_text": "Texte"}
                for n in range(300) for language in ("fr", "en")])
        session.execute(text("ANALYZE news_translations"))
        query = search.matching_news_ids(session, "sécurité")
        compiled = query.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        plan = "\n".join(row[0] for row in session.execute(text(f"EXPLAIN {compiled}")))
    assert "ix_news_translations_search_fr" in plan, plan
    assert "ix_news_translations_search_en" in plan, plan
