from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest

from services.catalog import domain, search
from services.catalog.domain import Invalid, InvalidShotlist, Timeline

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PAL = Timeline(Fraction(25), "10:00:00:00", 60.0)


# -- slugs -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("title", "slug"), [
    ("Sécurité : l'OTAN à Bruxelles", "securite-l-otan-a-bruxelles"),
    ("Mise en œuvre — « défense intelligente »", "mise-en-oeuvre-defense-intelligente"),
    ("  Réunion   des ministres  ", "reunion-des-ministres"),
    ("2 % du PIB", "2-du-pib"),
    ("???", "news"),
    ("Größe Ærø", "grosse-aero"),
])
def test_slugs_are_ascii_words_joined_by_hyphens(title, slug):
    assert domain.slugify(title) == slug


def test_a_long_slug_is_cut_at_a_word_boundary():
    slug = domain.slugify("ministres " * 20)
    assert len(slug) <= domain.MAX_SLUG
    assert slug.endswith("ministres") and not slug.endswith("-")


def test_a_taken_slug_gets_a_number():
    taken = {"otan", "otan-2"}
    assert domain.unique_slug("otan", taken.__contains__) == "otan-3"
    assert domain.unique_slug("libre", taken.__contains__) == "libre"
    long_base = "a" * domain.MAX_SLUG
    numbered = domain.unique_slug(long_base, {long_base}.__contains__)
    assert numbered.endswith("-2") and len(numbered) <= domain.MAX_SLUG


# -- versions and bodies -------------------------------------------------------------------------

def test_a_body_given_as_text_becomes_paragraphs_and_quotes():
    body = domain.clean_body("Premier paragraphe.\n\n« Une citation », a-t-il dit.\n\n\n"
                             "Dernier   paragraphe.")
    assert body == [
        {"type": "paragraph", "text": "Premier paragraphe."},
        {"type": "quote", "text": "« Une citation », a-t-il dit."},
        {"type": "paragraph", "text": "Dernier paragraphe."},
    ]


def test_body_blocks_are_checked():
    quote = {"type": "quote", "text": "« Oui »", "attribution": "Le secrétaire général"}
    assert domain.clean_body([quote]) == [quote]
    for blocks, field, reason in [
        ([{"type": "video", "text": "x"}], "body[0].type", "unknown_type"),
        ([{"type": "paragraph", "text": "  "}], "body[0].text", "missing"),
        ([{"type": "paragraph", "text": "x", "attribution": "y"}], "body[0].attribution",
         "only_for_quotes"),
        ([{"text": "x", "colour": "red"}], "body[0].colour", "unknown_field"),
        (b"not a list", "body", "not_a_list"),
    ]:
        with pytest.raises(Invalid) as caught:
            domain.clean_body(blocks)
        assert (caught.value.field, caught.value.reason) == (field, reason)


def test_an_item_has_one_or_two_language_versions():
    versions = domain.clean_translations({"en": {"title": "T"}, "fr": {"title": " Titre "}})
    assert list(versions) == ["fr", "en"]
    assert versions["fr"] == {"title": "Titre", "summary": "", "body": []}
    for translations, field in [({}, "translations"), ({"de": {"title": "T"}},
                                                       "translations.de"),
                                ({"fr": {"summary": "S"}}, "translations.fr.title")]:
        with pytest.raises(Invalid) as caught:
            domain.clean_translations(translations)
        assert caught.value.field == field


def test_publishing_needs_every_version_complete():
    complete = {"title": "T", "summary": "S", "body": [{"type": "paragraph", "text": "x"}]}
    assert domain.publish_problems({"fr": complete}) == []
    assert domain.publish_problems({"fr": complete, "en": {**complete, "body": []}}) == [
        {"language": "en", "field": "body", "reason": "missing"}]
    assert domain.publish_problems({}) != []


def test_the_shown_version_falls_back_to_the_other_language():
    assert domain.pick_language(["fr", "en"], "en") == "en"
    assert domain.pick_language(["fr"], "en") == "fr"
    assert domain.pick_language(["en"], None) == "en"


# -- publication and embargo -----------------------------------------------------------------

def test_an_embargo_delays_the_release_and_a_past_one_does_not():
    later = NOW + timedelta(hours=3)
    assert domain.release_time(NOW, later) == later
    assert domain.release_time(NOW, NOW - timedelta(days=1)) == NOW
    assert domain.release_time(NOW, None) == NOW


def test_only_published_items_past_their_release_are_public():
    assert domain.is_public("published", NOW, NOW)
    assert not domain.is_public("published", NOW + timedelta(seconds=1), NOW)
    assert not domain.is_public("draft", NOW - timedelta(days=1), NOW)
    assert not domain.is_public("published", None, NOW)


def test_times_must_say_their_time_zone():
    assert domain.parse_time("2026-12-01T09:00:00+01:00", "t") == datetime(2026, 12, 1, 8,
                                                                           tzinfo=UTC)
    assert domain.parse_time("2026-12-01T09:00:00Z", "t").hour == 9
    for value, reason in [("2026-12-01T09:00:00", "needs_timezone"), ("soon", "not_a_time")]:
        with pytest.raises(Invalid) as caught:
            domain.parse_time(value, "embargo_until")
        assert caught.value.reason == reason


# -- programme ------------------------------------------------------------------------------------

def test_programme_labels_and_reordering():
    assert [domain.programme_label(i, 3) for i in (1, 2, 3)] == ["1/3", "2/3", "3/3"]
    assert domain.reorder(["a", "b", "c"], ["c", "a", "b"]) == ["c", "a", "b"]
    for wanted, reason in [(["a", "b"], "not_the_same_videos"), (["a", "a", "b"], "duplicate"),
                           (["a", "b", "x"], "not_the_same_videos"), ("abc", "not_a_list")]:
        with pytest.raises(Invalid) as caught:
            domain.reorder(["a", "b", "c"], wanted)
        assert caught.value.reason == reason


# -- timecodes ----------------------------------------------------------------------------------

def test_timecodes_count_frames_at_the_videos_rate():
    assert domain.timecode_to_frames("10:00:00:00", Fraction(25)) == 900_000
    assert domain.timecode_to_frames("00:00:01:24", Fraction(25)) == 49
    assert domain.frames_to_timecode(900_049, Fraction(25)) == "10:00:01:24"
    with pytest.raises(Invalid):
        domain.timecode_to_frames("00:00:01:25", Fraction(25))  # no 26th frame at 25 fps
    with pytest.raises(Invalid):
        domain.timecode_to_frames("0:00:01:00", Fraction(25))


def test_drop_frame_timecodes_at_2997():
    ntsc = Fraction(30000, 1001)
    assert domain.timecode_to_frames("00:01:00;02", ntsc) == 1800
    assert domain.timecode_to_frames("00:10:00;00", ntsc) == 17982
    assert domain.frames_to_timecode(1800, ntsc, drop_frame=True) == "00:01:00;02"
    assert domain.frames_to_timecode(17982, ntsc, drop_frame=True) == "00:10:00;00"
    for frames in (0, 1799, 1800, 17981, 17982, 107_892):
        label = domain.frames_to_timecode(frames, ntsc, drop_frame=True)
        assert domain.timecode_to_frames(label, ntsc) == frames
    with pytest.raises(Invalid):
        domain.timecode_to_frames("00:01:00;00", ntsc)  # a dropped label
    with pytest.raises(Invalid):
        domain.timecode_to_frames("00:01:00;05", Fraction(25))  # no drop-frame at 25 fps


def test_a_timeline_knows_its_end():
    assert PAL.end_timecode == "10:01:00:00"
    assert Timeline(Fraction(25), "10:00:00:00", 2.0).end_frame == 900_050
    assert PAL.offset_seconds("10:00:01:12") == 1.48


# -- shotlists ----------------------------------------------------------------------------------

def shot(in_tc, out_tc, kind="shot", fr="Plan large", en="Wide shot", **extra):
    return {"in_tc": in_tc, "out_tc": out_tc, "kind": kind,
            "description": {"fr": fr, "en": en}, **extra}


def test_a_good_shotlist_is_kept_normalised():
    rows = domain.clean_shotlist([
        shot("10:00:00:00", "10:00:10:00"),
        shot("10:00:10:00", "10:01:00:00", kind="soundbite", en="",
             speaker="  Mark   Rutte "),
    ], PAL)
    assert rows[1] == {"in_tc": "10:00:10:00", "out_tc": "10:01:00:00", "kind": "soundbite",
                       "description": {"fr": "Plan large", "en": ""}, "speaker": "Mark Rutte"}
    with_offsets = domain.shotlist_with_offsets(rows, PAL)
    assert [(r["in_seconds"], r["out_seconds"]) for r in with_offsets] == [(0, 10), (10, 60)]


@pytest.mark.parametrize(("entry", "field", "reason"), [
    (shot("09:59:59:24", "10:00:05:00"), "in_tc", "before_start"),
    (shot("10:00:50:00", "10:01:00:01"), "out_tc", "after_end"),
    (shot("10:00:05:00", "10:00:05:00"), "out_tc", "not_after_in"),
    (shot("10:00:05:00", "10:00:04:00"), "out_tc", "not_after_in"),
    (shot("10:00:05:00", "10:00:06:25"), "out_tc", "bad_timecode"),
    (shot("10:00:05", "10:00:06:00"), "in_tc", "bad_timecode"),
    (shot("10:00:05:00", "10:00:06:00", kind="interview"), "kind", "unknown_kind"),
    (shot("10:00:05:00", "10:00:06:00", fr="", en=" "), "description", "missing"),
    (shot("10:00:05:00", "10:00:06:00", speaker="Mark Rutte"), "speaker", "only_for_soundbites"),
    ({**shot("10:00:05:00", "10:00:06:00"), "notes": "x"}, "notes", "unknown_field"),
    ({"in_tc": "10:00:05:00", "kind": "shot", "description": {"fr": "x"}}, "out_tc", "missing"),
])
def test_a_shot_outside_the_video_or_malformed_is_refused(entry, field, reason):
    with pytest.raises(InvalidShotlist) as caught:
        domain.clean_shotlist([entry], PAL)
    assert {"index": 0, "field": field, "reason": reason} in caught.value.problems


def test_shots_must_be_in_order_without_overlapping():
    with pytest.raises(InvalidShotlist) as caught:
        domain.clean_shotlist([shot("10:00:10:00", "10:00:20:00"),
                               shot("10:00:15:00", "10:00:25:00")], PAL)
    assert caught.value.problems == [{"index": 1, "field": "in_tc",
                                      "reason": "overlaps_previous"}]


def test_every_problem_is_reported():
    with pytest.raises(InvalidShotlist) as caught:
        domain.clean_shotlist([shot("09:00:00:00", "10:00:01:00"), "nonsense",
                               shot("10:00:02:00", "11:00:00:00")], PAL)
    assert [(p["index"], p["reason"]) for p in caught.value.problems] == [
        (0, "before_start"), (1, "not_an_object"), (2, "after_end")]


# -- rendition events ---------------------------------------------------------------------------

def test_an_older_rendition_event_does_not_overwrite_a_newer_one():
    assert domain.rendition_event_applies(None, NOW)
    assert domain.rendition_event_applies(NOW, NOW + timedelta(seconds=1))
    assert not domain.rendition_event_applies(NOW, NOW - timedelta(seconds=1))


# -- the search query (SQLite's FTS5 syntax from the user's words) -----------------------------

@pytest.mark.parametrize(("q", "expected"), [
    ("sécurité", '("sécurité"*)'),
    ("mer Noire", '("mer") AND ("Noire"*)'),
    ('"mer Noire" OTAN', '("mer Noire") AND ("OTAN"*)'),
    ("Russie or Chine espace", '("Russie"* OR "Chine"*) AND ("espace"*)'),
    ("OTAN -Russie", '("OTAN"*) NOT "Russie"*'),
    ("l\u2019OTAN", '("l OTAN")'),
    ('NEAR( "a" OR', '("NEAR"*) AND ("a")'),
    ("-seulement", None),
    ("   ", None),
    ('*"', None),
])
def test_the_users_words_become_a_safe_fts5_query(q, expected):
    assert search.fts5_query(q) == expected
