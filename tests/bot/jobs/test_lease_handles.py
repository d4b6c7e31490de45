"""A step's lease handle keeps to the claim it was made under (a narrow unit test).

When this process's own lease of a job ran out during an outage, lease upkeep claims the
job again with a new token while the old claim's delivery is still in flight. The old
step's LeaseLost must not take the new claim's lease away: before, it did, the new claim
recorded nothing, and the result was delivered twice.
"""

from __future__ import annotations

from types import SimpleNamespace

import time_machine

from bot.jobs.leases import LOST_TOKEN, Leases
from tests.factories import job


def test_an_old_claims_handle_is_fenced_and_leaves_the_new_claim_alone():
    leases = Leases(store=None, seconds=30)  # type: ignore[arg-type]  # no I/O here
    leases.hold(job(id=3, lease_token=1))
    old = leases.of(3)
    assert old.token == 1
    leases.hold(job(id=3, lease_token=2))  # claimed again, by this same process
    new = leases.of(3)
    assert old.token == LOST_TOKEN  # the old step's late writes are refused
    old.lose()  # its delivery hit LeaseLost
    old.release()
    assert new.token == 2 and leases.held_token(3) == 2  # the new claim still holds it
    new.lose()
    assert new.token == LOST_TOKEN and leases.held_token(3) is None


def test_a_handle_made_before_the_claim_follows_it():
    leases = Leases(store=None, seconds=30)  # type: ignore[arg-type]
    early = leases.of(4)
    assert early.token is None
    leases.hold(job(id=4, lease_token=7))
    assert early.token == 7
    early.release()
    assert leases.held_token(4) is None


class SlowJobs:
    """A store whose renewal answers only after the database came back (time moved on)."""

    def __init__(self, traveller, waits: list[float]) -> None:
        self.traveller = traveller
        self.waits = waits
        self.written: list[float] = []

    async def renew(self, owner, lease_until, job_ids):
        self.traveller.shift(self.waits.pop(0) if self.waits else 0.0)
        self.written.append(lease_until)
        return set(job_ids)


async def test_a_renewal_that_waited_for_the_database_is_written_again_from_now():
    with time_machine.travel(1_000_000.0, tick=False) as traveller:
        jobs = SlowJobs(traveller, waits=[3.0])  # an outage longer than the lease
        leases = Leases(store=SimpleNamespace(jobs=jobs), seconds=2)  # type: ignore[arg-type]
        leases.hold(job(id=5, lease_token=1))
        assert await leases.renew() == set()
        assert jobs.written == [1_000_002.0, 1_000_005.0]  # the second from now, ahead
        assert await leases.renew() == set()  # answered at once: written once
        assert jobs.written[2:] == [1_000_005.0]
