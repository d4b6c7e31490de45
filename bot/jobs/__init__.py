"""Jobs: a generation's whole way from accepted request to delivered outcome.

* :mod:`~bot.jobs.service`: intake (accept, acknowledge, cancel) and the member's view;
* :mod:`~bot.jobs.admission`: the group commit of requests arriving together;
* :mod:`~bot.jobs.queue_policy`: the scheduling policy, pure (caps, queue order, places);
* :mod:`~bot.jobs.dispatcher`: the passes that start queued jobs by that policy;
* :mod:`~bot.jobs.lifecycle`: the runner: create, poll, finish, fail, deliver, take over;
* :mod:`~bot.jobs.leases`: which process works on which job, with fenced writes;
* :mod:`~bot.jobs.recovery`: what the restart rules do with each job taken over, decided;
* :mod:`~bot.jobs.takeover`: the runner doing it, at a start and every third of a lease;
* :mod:`~bot.jobs.poller`: when to poll which running task;
* :mod:`~bot.jobs.outcomes`: a finished job's delivery, retried, and its record and refund;
* :mod:`~bot.jobs.delivery`: progress and outcomes on Discord (edit, channel, DM);
* :mod:`~bot.jobs.kept`: the small copy kept of reference images once a job is over;
* :mod:`~bot.jobs.failures`: which API error becomes which outcome (and what a refusal allowed);
* :mod:`~bot.jobs.formats`: the output format picked when a member picks none;
* :mod:`~bot.jobs.policies`: what the bot and the server decide (strictness, seed, format);
* :mod:`~bot.jobs.references`: reference images, read from messages, checked, made inputs;
* :mod:`~bot.jobs.readings`: one member's reference readings, taken in turn.
"""

from __future__ import annotations

from bot.jobs.admission import Accepted
from bot.jobs.service import JobRequest, JobService

__all__ = ["Accepted", "JobRequest", "JobService"]
