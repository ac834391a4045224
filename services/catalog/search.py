"""Full-text search over the news items' language versions (title, summary, body), one function
for both databases; the dialect decides how.

- SQLite: the FTS5 table `news_search` (external content: `news_translations`), tokenizer
  `unicode61 remove_diacritics 2` so that "securite" finds "sécurité", kept in step with
  `news_translations` by triggers. Both are created by the migration.
- PostgreSQL: `to_tsvector` with the text search configuration `catalog_fr` (French) or
  `catalog_en` (English): copies of `french` and `english` that also strip accents (unaccent),
  created by the migration, each with a partial GIN index on its language's versions; the
  user's words go through `websearch_to_tsquery`.

The document expressions below must stay exactly those of the indexes in the migration, or
PostgreSQL stops using them (test_search_uses_the_gin_indexes_on_postgresql checks it)."""

import re

from sqlalchemy import and_, func, literal_column, or_, select, table
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from .models import Translation

FTS_TABLE = "news_search"
PG_CONFIGS = {"fr": "catalog_fr", "en": "catalog_en"}
PG_DOCUMENT = "to_tsvector('{config}'::regconfig, title || ' ' || summary || ' ' || body_text)"

# Words this short are matched exactly; longer ones also as a prefix ("ministre" finds
# "ministres"), which is what SQLite's tokenizer can do instead of stemming.
PREFIX_FROM = 4

_QUERY_TOKENS = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_WORD = re.compile(r"\w+")


def has_terms(q: str | None) -> bool:
    return bool(q) and _WORD.search(q) is not None


def fts5_query(q: str) -> str | None:
    """The user's words as an FTS5 query, with websearch_to_tsquery's grammar: words (all
    required), "quoted phrases", `or` between alternatives, `-word` to exclude. Nothing the user
    types reaches FTS5 as syntax: every word is quoted."""
    groups: list[list[str]] = []
    excluded: list[str] = []
    join_next = False
    for negate, phrase, bare in _QUERY_TOKENS.findall(q):
        if bare and bare.lower() == "or":
            join_next = bool(groups)
            continue
        if bare.startswith("-") and len(bare) > 1:
            negate, bare = "-", bare[1:]
        words = _WORD.findall(bare or phrase)
        if not words:
            continue
        if bare and len(words) == 1:
            word = words[0]
            term = f'"{word}"*' if len(word) >= PREFIX_FROM else f'"{word}"'
        else:
            term = '"' + " ".join(words) + '"'  # a phrase (or a word FTS5 would split)
        if negate:
            excluded.append(term)
        elif join_next:
            groups[-1].append(term)
        else:
            groups.append([term])
        join_next = False
    if not groups:
        return None  # nothing to find: FTS5 cannot start with NOT
    query = " AND ".join("(" + " OR ".join(group) + ")" for group in groups)
    for term in excluded:
        query += f" NOT {term}"
    return query


def matching_news_ids(session: Session, q: str) -> Select | None:
    """The ids of the news items one of whose language versions matches `q` (a subquery), or
    None when `q` has no word to look for."""
    if not has_terms(q):
        return None
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        query = fts5_query(q)
        if query is None:
            return None
        fts = table(FTS_TABLE)
        rowids = select(literal_column("rowid")).select_from(fts).where(
            literal_column(FTS_TABLE).op("MATCH")(query))
        return select(Translation.news_id).where(Translation.id.in_(rowids))
    if dialect == "postgresql":
        matches = []
        for language, config in PG_CONFIGS.items():
            document = literal_column(PG_DOCUMENT.format(config=config))
            wanted = func.websearch_to_tsquery(literal_column(f"'{config}'::regconfig"), q)
            # the literal language is what lets PostgreSQL pick that language's partial index
            matches.append(and_(Translation.language == literal_column(f"'{language}'"),
                                document.op("@@")(wanted)))
        return select(Translation.news_id).where(or_(*matches))
    raise NotImplementedError(f"no full-text search for {dialect}")
