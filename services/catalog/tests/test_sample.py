"""The sample content: the parser on every real seed page, and the idempotent import."""

import shutil
from datetime import date

import pytest

from services.catalog.models import outbox
from services.catalog.sample import english, load_samples, seeds
from services.catalog.service import Catalog, CatalogSettings
from services.catalog.tests.conftest import events
from services.shared.errors import ServiceError

TODAY = date(2026, 11, 21)
SEEDS = seeds.seeds_dir()


@pytest.fixture(scope="module")
def articles():
    return {article.name: article for article in seeds.read_seeds(SEEDS, today=TODAY)}


def test_every_seed_page_is_read(articles):
    files = sorted(path.stem for path in SEEDS.glob("*.txt"))
    assert len(files) == 5 and sorted(articles) == files
    assert set(english.ENGLISH) == set(files)  # each has its English version


@pytest.mark.parametrize(("name", "day", "inferred"), [
    ("000_9357988c91d7e8a6", date(2019, 11, 20), False),   # "Ce mercredi (20 novembre 2019)"
    ("001_8b7e7efd43443af4", date(2018, 10, 4), False),    # "ce jeudi (4 octobre 2018)"
    ("002_c079bea3bb312987", date(2012, 10, 9), True),     # "le mardi 9 octobre", Rasmussen
    ("003_e5b3c6a5ee875e9e", date(2025, 12, 3), False),    # "(3 décembre 2025)"
    ("004_09f172dc38b08cd5", date(2025, 10, 15), True),    # "Le mercredi 15 octobre", Rutte
])
def test_each_article_has_its_date(articles, name, day, inferred):
    assert (articles[name].date, articles[name].year_inferred) == (day, inferred)


@pytest.mark.parametrize(("name", "opening"), [
    ("000_9357988c91d7e8a6", "Ce mercredi (20 novembre 2019), les ministres des Affaires"),
    ("001_8b7e7efd43443af4", "Les ministres de la Défense des pays de l\u2019OTAN ont conclu"),
    ("002_c079bea3bb312987", "Les pays de l'Alliance cherchent activement"),
    ("003_e5b3c6a5ee875e9e", "Ce mercredi (3 décembre 2025), à Bruxelles"),
    ("004_09f172dc38b08cd5", "Le mercredi 15 octobre, les ministres de la Défense"),
])
def test_the_article_starts_at_its_first_paragraph(articles, name, opening):
    assert articles[name].body[0]["text"].startswith(opening)


def test_no_account_screen_wording_and_no_trailer_in_any_article(articles):
    for article in articles.values():
        text = "\n".join(block["text"] for block in article.body)
        for wording in seeds.ACCOUNT_SCREENS:
            if len(wording) > 20:
                assert seeds._key(wording) not in seeds._key(text), (article.name, wording)
        for block in article.body:
            assert not seeds.is_account_screen(block["text"])
            assert block["text"] not in ("Programme", "1/ 1", ".")
            assert len(block["text"]) > 80
    assert articles["001_8b7e7efd43443af4"].body[-1]["text"].startswith("Les ministres ont été")
    assert articles["003_e5b3c6a5ee875e9e"].body[-1]["text"].endswith("en assurer la sécurité.")


def test_quotes_are_the_paragraphs_opening_with_guillemets(articles):
    quotes = {name: [b["text"][:30] for b in a.body if b["type"] == "quote"]
              for name, a in articles.items()}
    assert quotes["002_c079bea3bb312987"] == ["« C'est là un des défis les pl"]
    assert all(not found for name, found in quotes.items() if name != "002_c079bea3bb312987")
    assert [len(a.body) for a in articles.values()] == [5, 6, 7, 4, 4]


def test_titles_and_summaries_come_from_the_first_sentences(articles):
    titles = {name: a.title for name, a in articles.items()}
    assert titles["000_9357988c91d7e8a6"] == ("Les ministres des Affaires étrangères des pays "
                                              "de l\u2019OTAN se sont réunis à Bruxelles")
    assert titles["002_c079bea3bb312987"] == ("Les pays de l'Alliance cherchent activement à "
                                              "améliorer leurs capacités de défense")
    for article in articles.values():
        assert 20 < len(article.title) <= seeds.TITLE_MAX
        assert "(" not in article.title and not article.title.endswith(".")
        assert article.title[0].isupper()
        assert len(article.summary) >= seeds.SUMMARY_MIN
        assert article.body[0]["text"].startswith(article.summary.split(". ")[0].rstrip("."))


def test_a_page_without_an_article_is_refused():
    with pytest.raises(ValueError):
        seeds.parse_seed("\n".join(seeds.ACCOUNT_SCREENS) + "\nProgramme\n1/ 1\n", "empty")


def test_a_year_is_inferred_from_the_weekday_and_the_secretary_general():
    assert seeds.infer_year(1, 9, 10, "M. Stoltenberg a déclaré", TODAY) == 2018
    assert seeds.infer_year(1, 9, 10, "Anders Fogh Rasmussen a déclaré", TODAY) == 2012
    assert seeds.infer_year(1, 9, 10, "sans nom", TODAY) == 2018  # the latest, not future


# -- the import ------------------------------------------------------------------------------------

def test_load_samples_publishes_each_article_once(session_factory, media_root, clock):
    first = load_samples(session_factory(), media_root, clock=clock, today=TODAY)
    assert [line["created"] for line in first] == [True] * 5
    again = load_samples(session_factory(), media_root, clock=clock, today=TODAY)
    assert [line["created"] for line in again] == [False] * 5
    assert [line["news_id"] for line in again] == [line["news_id"] for line in first]
    published = events(session_factory, "news.published.v1")
    assert len(published) == 5
    assert published[0]["data"]["published_at"] == "2019-11-20T12:00:00Z"
    assert published[0]["data"]["languages"] == ["fr", "en"]

    catalog = Catalog(session_factory(), outbox, CatalogSettings(media_root), clock=clock)
    listing = catalog.list_news(lang="en")
    assert listing["total"] == 5
    assert [entry["published_at"][:10] for entry in listing["items"]] == [
        "2025-12-03", "2025-10-15", "2019-11-20", "2018-10-04", "2012-10-09"]
    assert listing["items"][0]["title"] == english.ENGLISH["003_e5b3c6a5ee875e9e"]["title"]
    assert catalog.list_news(q="securite energetique")["total"] == 1
    assert catalog.list_news(q="counter-drone")["total"] == 1
    item = catalog.get_news(listing["items"][-1]["id"], "fr")
    assert [block["type"] for block in item["body"]].count("quote") == 1


def test_load_samples_attaches_a_master_once(session_factory, media_root, clock, master):
    name = "001_8b7e7efd43443af4"
    [line] = [entry for entry in load_samples(session_factory(), media_root, clock=clock,
                                              today=TODAY, masters={name: master})
              if entry["seed"] == name]
    assert line["video_id"]
    [ingested] = events(session_factory, "video.ingested.v1")
    assert ingested["data"]["news_id"] == line["news_id"]
    [announced] = [e for e in events(session_factory, "news.published.v1")
                   if e["data"]["news_id"] == line["news_id"]]
    assert announced["data"]["video_ids"] == [line["video_id"]]  # published after the ingest
    again = load_samples(session_factory(), media_root, clock=clock, today=TODAY,
                         masters={name: master})
    assert all(entry["video_id"] is None for entry in again)
    assert len(events(session_factory, "video.ingested.v1")) == 1


def test_load_samples_refuses_a_master_outside_the_ingest_folder(session_factory, media_root,
                                                                 clock, master, tmp_path):
    outside = tmp_path / "outside.mov"
    shutil.copyfile(master, outside)
    with pytest.raises(ServiceError) as caught:
        load_samples(session_factory(), media_root, clock=clock, today=TODAY,
                     masters={"000_9357988c91d7e8a6": outside})
    assert caught.value.code == "path_not_allowed"
