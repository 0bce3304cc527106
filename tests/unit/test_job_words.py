"""What each job does, in words, for the Jobs page."""

from __future__ import annotations

from hub.queue.job_words import JOB_WORDS, job_words
from hub.queue.kinds import JobKind


def test_every_job_the_hub_runs_says_what_it_does():
    missing = sorted(str(kind) for kind in JobKind if kind not in JOB_WORDS)
    assert not missing, f"no words in hub.queue.job_words for: {missing}"
    assert job_words("payment.capture") == "Take the payment"
    assert job_words(JobKind.CHANNEL_PULL) == "Fetch orders from the channel"


def test_a_plugins_job_without_words_reads_as_its_name():
    assert job_words("acme.label_print") == "Acme: label print"
