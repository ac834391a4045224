"""The transcoder's tables. Only this service reads or writes them.

`videos` is a projection of the catalog's `video.ingested.v1` (what the transcoder needs to
resolve timecodes and make renditions); `jobs` is every piece of work ever asked for, one row
per distinct request (`cache_key`), which is also the cache of finished cuts."""

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.shared.db import NAMING_CONVENTION, UtcDateTime
from services.shared.inbox import Inbox, processed_events_table
from services.shared.outbox import Outbox, outbox_table


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


Timestamp = UtcDateTime()


class Video(Base):
    """A master as the catalog probed it at ingest. `master_path` is relative to MEDIA_ROOT."""
    __tablename__ = "videos"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    news_id: Mapped[str | None] = mapped_column(String(36))
    master_path: Mapped[str] = mapped_column(String(1000))
    duration: Mapped[float] = mapped_column(Float)
    frame_rate: Mapped[str] = mapped_column(String(20))  # "25/1", "30000/1001"
    start_timecode: Mapped[str] = mapped_column(String(20))
    frame_count: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    audio_channels: Mapped[int | None] = mapped_column(Integer)
    audio_streams: Mapped[int | None] = mapped_column(Integer)
    video_codec: Mapped[str | None] = mapped_column(String(40))
    field_order: Mapped[str | None] = mapped_column(String(20))
    container: Mapped[str | None] = mapped_column(String(100))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    ingested_at: Mapped[datetime | None] = mapped_column(Timestamp)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)


class Job(Base):
    """One piece of work: `preview` (poster, storyboard, proxy, HLS at ingest), `rendition` (a
    whole rendition) or `cut` (frames [in_frame, out_frame) of a rendition, `accuracy` fast or
    frame). Status: queued, running, ready, failed, evicted (a cut whose file the cache
    dropped: asking again makes it again). `in_tc`/`out_tc` are what was really delivered (a
    fast cut widens to whole GOPs), `requested_*` what was asked. Paths relative to MEDIA_ROOT.
    A running job is leased: `lease_owner` (one run of it) renews `lease_until` while it works;
    a second copy of its queue message finds the lease live and comes back later."""
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_kind_last_access", "status", "kind", "last_access"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"),
                                          index=True)
    rendition: Mapped[str] = mapped_column(String(40))
    in_frame: Mapped[int | None] = mapped_column(Integer)
    out_frame: Mapped[int | None] = mapped_column(Integer)  # exclusive
    accuracy: Mapped[str | None] = mapped_column(String(10))
    cache_key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(10))
    progress: Mapped[int] = mapped_column(Integer, default=0)
    output_path: Mapped[str | None] = mapped_column(String(1000))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    requested_in_tc: Mapped[str | None] = mapped_column(String(20))
    requested_out_tc: Mapped[str | None] = mapped_column(String(20))
    in_tc: Mapped[str | None] = mapped_column(String(20))
    out_tc: Mapped[str | None] = mapped_column(String(20))
    method: Mapped[str | None] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    account_id: Mapped[str | None] = mapped_column(String(64))  # who asked first
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    started_at: Mapped[datetime | None] = mapped_column(Timestamp)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)
    last_access: Mapped[datetime] = mapped_column(Timestamp)
    lease_owner: Mapped[str | None] = mapped_column(String(36))
    lease_until: Mapped[datetime | None] = mapped_column(Timestamp)


class Download(Base):
    """A download link the gateway issued: who (account, email and organisation as they were
    then), what (video, rendition, the delivered in/out) and when. `job_id` is null for the
    `original` (the master, no job). Written when the link is issued, not when the file is
    fetched."""
    __tablename__ = "downloads"
    __table_args__ = (Index("ix_downloads_video_id_created_at", "video_id", "created_at"),
                      Index("ix_downloads_account_id_created_at", "account_id", "created_at"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    job_id: Mapped[str | None] = mapped_column(String(36))
    account_id: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(320))
    organisation: Mapped[str | None] = mapped_column(String(200))
    video_id: Mapped[str] = mapped_column(String(36))
    rendition: Mapped[str] = mapped_column(String(40))
    in_tc: Mapped[str | None] = mapped_column(String(20))
    out_tc: Mapped[str | None] = mapped_column(String(20))
    accuracy: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(Timestamp, index=True)


outbox = Outbox("transcoder", outbox_table(Base.metadata))
inbox = Inbox(processed_events_table(Base.metadata))
