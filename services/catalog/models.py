"""The catalog's tables. Only this service reads or writes them.

The search index is not declared here: it lives beside `news_translations` and is created by
the migration (an FTS5 table kept in step by triggers on SQLite, two partial GIN indexes on
PostgreSQL); see search.py."""

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.shared.db import NAMING_CONVENTION, UtcDateTime
from services.shared.inbox import Inbox, processed_events_table
from services.shared.outbox import Outbox, outbox_table


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


Timestamp = UtcDateTime()


class News(Base):
    """A news item. `released_at` is when a published item becomes public: its publication,
    or the end of its embargo; `announced_at` is when `news.published.v1` was written (once)."""
    __tablename__ = "news"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(10), index=True)  # draft, published
    embargo_until: Mapped[datetime | None] = mapped_column(Timestamp)
    published_at: Mapped[datetime | None] = mapped_column(Timestamp)
    released_at: Mapped[datetime | None] = mapped_column(Timestamp, index=True)
    announced_at: Mapped[datetime | None] = mapped_column(Timestamp)
    # Where an imported item came from (`seed:000_…` for the sample content): imports are
    # idempotent on it.
    source: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)

    translations: Mapped[list["Translation"]] = relationship(
        back_populates="news", cascade="all, delete-orphan", order_by="Translation.language")
    videos: Mapped[list["Video"]] = relationship(
        back_populates="news", order_by="Video.position")


class Translation(Base):
    """One language version of a news item. `body` is a list of blocks; `body_text` is the same
    as plain text, for the search index."""
    __tablename__ = "news_translations"
    __table_args__ = (UniqueConstraint("news_id", "language"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    news_id: Mapped[str] = mapped_column(ForeignKey("news.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(2))
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text)
    body: Mapped[list] = mapped_column(JSON)
    body_text: Mapped[str] = mapped_column(Text)

    news: Mapped[News] = relationship(back_populates="translations")


class Video(Base):
    """A video of a news item's programme: the master's facts as probed at ingest, and the
    shotlist. `master_path` is relative to MEDIA_ROOT."""
    __tablename__ = "videos"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    news_id: Mapped[str] = mapped_column(ForeignKey("news.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    master_path: Mapped[str] = mapped_column(String(1000))
    duration: Mapped[float] = mapped_column(Float)
    frame_rate: Mapped[str] = mapped_column(String(20))  # "25/1", "30000/1001"
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    start_timecode: Mapped[str] = mapped_column(String(20))
    audio_channels: Mapped[int] = mapped_column(Integer)
    audio_streams: Mapped[int] = mapped_column(Integer)
    video_codec: Mapped[str | None] = mapped_column(String(40))
    pixel_format: Mapped[str | None] = mapped_column(String(40))
    field_order: Mapped[str | None] = mapped_column(String(20))
    container: Mapped[str | None] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    frame_count: Mapped[int | None] = mapped_column(Integer)
    shotlist: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)

    news: Mapped[News] = relationship(back_populates="videos")
    renditions: Mapped[list["Rendition"]] = relationship(
        cascade="all, delete-orphan", order_by="Rendition.name")


class Rendition(Base):
    """What the transcoder said last about one rendition of a video. `event_time` is the time
    of that event: an older one never overwrites a newer one."""
    __tablename__ = "renditions"

    video_id: Mapped[str] = mapped_column(
        ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str] = mapped_column(String(10))  # ready, failed
    path: Mapped[str | None] = mapped_column(String(1000))  # relative to MEDIA_ROOT
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    details: Mapped[dict] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    event_id: Mapped[str] = mapped_column(String(64))
    event_time: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)


outbox = Outbox("catalog", outbox_table(Base.metadata))
inbox = Inbox(processed_events_table(Base.metadata))
