"""An account has a bounded number of jobs in hand (queued or running: JOBS_PER_ACCOUNT), and a
cut is at most CUT_MAX_SECONDS long; asking for a job that already exists is never refused
(identical requests share one job, whoever asks)."""

import dataclasses

import pytest

from services.shared.errors import ServiceError
from services.transcoder.models import outbox
from services.transcoder.service import Outcome, Transcoder

from .test_service import CountingToolkit


@pytest.fixture
def limited(session_factory, settings, clock):
    settings = dataclasses.replace(settings, jobs_per_account=2, cut_max_seconds=2.0)
    return Transcoder(session_factory(), outbox, settings, toolkit=CountingToolkit(),
                      clock=clock)


def test_an_account_has_at_most_its_bound_of_jobs_in_hand(limited, video_id):
    first = limited.request(video_id, "proxy", 0, 1, "fast", account_id="ana")
    limited.request(video_id, "proxy", 1, 2, "fast", account_id="ana")
    with pytest.raises(ServiceError) as refused:
        limited.request(video_id, "proxy", 2, 3, "fast", account_id="ana")
    assert refused.value.code == "too_many_jobs"
    assert refused.value.details["limit"] == 2 and refused.value.details["retry_after"] > 0
    with pytest.raises(ServiceError):                    # a whole rendition is a job too
        limited.request(video_id, "xdcam-hd422", account_id="ana")

    # an identical request shares the job: never refused, by her or by anyone
    assert limited.request(video_id, "proxy", 0, 1, "fast", account_id="ana")["id"] == \
        first["id"]
    limited.request(video_id, "proxy", 2, 3, "fast", account_id="ben")
    limited.request(video_id, "proxy", 3, 4, "frame", account_id="ben")
    assert limited.request(video_id, "proxy", 0, 1, "fast", account_id="ben")["id"] == \
        first["id"]

    assert limited.run_job(first["id"]) == Outcome.READY  # one done: room for another
    assert limited.request(video_id, "proxy", 2, 3, "fast", account_id="ana")["status"] == \
        "queued"


def test_a_cut_longer_than_the_maximum_is_refused(limited, video_id):
    with pytest.raises(ServiceError) as refused:
        limited.request(video_id, "proxy", 0, 2.5, "fast", account_id="ana")
    assert refused.value.code == "cut_too_long"
    assert refused.value.details["maximum_s"] == 2.0
    assert limited.request(video_id, "proxy", 0, 2, "fast", account_id="ana")["status"] == \
        "queued"
