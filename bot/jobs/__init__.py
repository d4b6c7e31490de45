"""Jobs: a generation's whole way from accepted request to delivered outcome.

* :mod:`~bot.jobs.service`: intake (accept, acknowledge, cancel) and the member's view;
* :mod:`~bot.jobs.admission`: the group commit of requests arriving together;
* :mod:`~bot.jobs.queue_policy`: the scheduling policy, pure (caps, queue order, places);
* :mod:`~bot.jobs.lifecycle`: create, poll, finish, fail, deliver, and restart recovery;
* :mod:`~bot.jobs.poller`: when to poll which running task;
* :mod:`~bot.jobs.delivery`: progress and outcomes on Discord (edit, channel, DM);
* :mod:`~bot.jobs.failures`: which API error becomes which outcome.
"""

from __future__ import annotations

from bot.jobs.admission import Accepted
from bot.jobs.service import JobRequest, JobService

__all__ = ["Accepted", "JobRequest", "JobService"]
