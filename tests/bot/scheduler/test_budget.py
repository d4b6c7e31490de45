"""RequestBudget on a simulated clock: limits, headers, 429s, probes and priorities."""

from __future__ import annotations

import asyncio
import itertools
import math
import random

import pytest

from bot.scheduler import RequestBudget, RequestKind, VirtualClock, parse_rate_headers
from bot.scheduler.budget import POLL_SHARE
from tests.bot.scheduler.gateway import FixedWindowGateway, send

WALL = 1_700_000_000.0


def sent_times(budget: RequestBudget) -> list[float]:
    return [at for at, _ in budget.history]


def max_in_any_window(times: list[float], window: float = 60.0) -> int:
    """Return the most requests sent in any ``window`` seconds (a sliding window)."""
    times, most, first = sorted(times), 0, 0
    for last, at in enumerate(times):
        while times[first] <= at - window:
            first += 1
        most = max(most, last - first + 1)
    return most


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-RateLimit-Reset": "30"}, 30.0),  # seconds until the reset
        ({"x-ratelimit-reset": str(WALL + 42)}, 42.0),  # a Unix time
        ({"X-RateLimit-Reset": str((WALL + 7) * 1000)}, 7.0),  # Unix milliseconds
        ({"X-RateLimit-Reset": "soon"}, None),
    ],
)
def test_reset_header_is_read_as_seconds_or_unix_time(headers, expected):
    """Small Reset values are seconds to wait, large ones Unix times (s or ms)."""
    assert parse_rate_headers(headers, WALL).reset_in == expected


def test_retry_after_may_be_an_http_date():
    """Retry-After is read in seconds or as an HTTP date."""
    info = parse_rate_headers({"Retry-After": "Tue, 14 Nov 2023 22:14:20 GMT"}, 1_700_000_000)
    assert info.retry_after == pytest.approx(60.0)
    assert parse_rate_headers({"Retry-After": "12"}, WALL).retry_after == 12.0


def test_without_headers_it_sends_rpm_per_sliding_minute():
    """With no rate headers, never more than rpm requests in any 60 s."""
    clock = VirtualClock()
    budget = RequestBudget(rpm=6, clock=clock)

    async def main() -> None:
        for _ in range(20):
            grant = await budget.acquire("create")
            budget.observe(200, {}, grant)

    clock.run(main())
    times = sent_times(budget)
    assert len(times) == 20
    assert max_in_any_window(times) == 6
    assert times[:7] == [0.0] * 6 + [60.0]


def test_creates_wait_for_room_instead_of_failing():
    """Creates beyond the budget all succeed, each once the window has room."""
    clock = VirtualClock()
    budget = RequestBudget(rpm=2, clock=clock)

    async def create() -> float:
        grant = await budget.acquire("create")
        budget.observe(200, {}, grant)
        return grant.at

    async def main() -> list[float]:
        return await asyncio.gather(*(create() for _ in range(5)))

    assert clock.run(main()) == [0.0, 0.0, 60.0, 60.0, 120.0]
    assert budget.stats().waited == 3


def test_retry_after_is_honoured():
    """After a 429 with Retry-After: 30, nothing is sent for 30 s; then one probe goes."""
    clock = VirtualClock()
    budget = RequestBudget(rpm=60, clock=clock)

    async def main() -> tuple[list[tuple[float, bool]], list[tuple[float, bool]]]:
        grant = await budget.acquire("poll")
        await clock.sleep(1)
        budget.observe(429, {"Retry-After": "30"}, grant)
        waiting = [asyncio.ensure_future(budget.acquire("create")) for _ in range(3)]
        await clock.sleep(100)
        probes = [w.result() for w in waiting if w.done()]
        for probe in probes:
            budget.observe(200, {}, probe)
        rest = await asyncio.gather(*(w for w in waiting if not w.done()))
        return [(g.at, g.probe) for g in probes], [(g.at, g.probe) for g in rest]

    probes, rest = clock.run(main())
    assert probes == [(31.0, True)]  # one probe, at the end of the pause
    assert rest == [(101.0, False), (101.0, False)]  # the others after its answer
    assert budget.stats().throttled == 1


def test_remaining_zero_stops_sending_until_the_reset():
    """X-RateLimit-Remaining: 0 holds every request until X-RateLimit-Reset."""
    clock = VirtualClock()
    budget = RequestBudget(rpm=60, clock=clock)

    async def main() -> list[float]:
        grant = await budget.acquire("poll")
        budget.observe(200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "20"}, grant)
        opener = await budget.acquire("create")
        budget.observe(200, {"X-RateLimit-Remaining": "58", "X-RateLimit-Reset": "60"}, opener)
        second = await budget.acquire("create")
        return [opener.at, second.at]

    assert clock.run(main()) == [20.0, 20.0]


def test_after_a_reset_the_first_answer_is_heard_before_a_burst():
    """The window reset: one request goes, and its answer (a limit lowered to 2 per 5 s)
    is heard before the others go, so the burst that follows never exceeds the new limit."""
    clock = VirtualClock()
    budget = RequestBudget(rpm=60, clock=clock)

    async def main() -> list[float]:
        grant = await budget.acquire("poll")
        budget.observe(200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "20"}, grant)
        waiting = [asyncio.ensure_future(budget.acquire("create")) for _ in range(4)]
        await clock.sleep(20.5)
        done = [w for w in waiting if w.done()]
        assert len(done) == 1  # the opener alone
        await clock.sleep(0.5)  # its answer: the new window allows 2, one of them used
        headers = {"X-RateLimit-Limit": "2", "X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "5"}
        budget.observe(200, headers, done[0].result())
        await asyncio.sleep(0)
        assert sum(w.done() for w in waiting) == 2  # one more, then the new window's end
        assert budget.limit == 2
        for w in waiting:
            w.cancel()
        return [done[0].result().at]

    assert clock.run(main()) == [20.0]


def test_remaining_counts_requests_still_in_flight():
    """Remaining: 3 with two requests still unanswered leaves room for one more."""
    clock = VirtualClock()
    budget = RequestBudget(rpm=60, clock=clock)

    async def main() -> list[float]:
        first, *_ = [await budget.acquire("create") for _ in range(3)]
        budget.observe(200, {"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "50"}, first)
        assert budget.remaining == 1
        grants = [await budget.acquire("create") for _ in range(2)]
        return [g.at for g in grants]

    assert clock.run(main()) == [0.0, 50.0]


def test_unix_reset_is_converted_with_the_wall_clock():
    """An X-RateLimit-Reset given as a Unix time is waited for in clock time."""
    clock = VirtualClock()
    budget = RequestBudget(rpm=60, clock=clock, wall=lambda: WALL + clock.now())

    async def main() -> float:
        grant = await budget.acquire("poll")
        budget.observe(
            200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(WALL + 15)}, grant
        )
        return (await budget.acquire("poll")).at

    assert clock.run(main()) == pytest.approx(15.0)


def test_a_higher_limit_in_the_headers_is_used():
    """Configured for 6 a minute, the budget uses the 100 the gateway announces."""
    clock = VirtualClock()
    budget = RequestBudget(rpm=6, clock=clock)
    headers = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "94", "X-RateLimit-Reset": "60"}

    async def main() -> list[float]:
        grant = await budget.acquire("create")
        budget.observe(200, headers, grant)
        grants = []
        for _ in range(50):
            grants.append(await budget.acquire("create"))
            budget.observe(200, {}, grants[-1])
        return [g.at for g in grants]

    assert clock.run(main()) == [0.0] * 50
    assert budget.limit == 100


@pytest.mark.parametrize("headers", ["all", "429", "none"])
def test_no_request_beyond_the_budget_in_a_long_run(headers):
    """Two simulated hours of random traffic: never over the limit in any window, no 429."""
    clock = VirtualClock()
    limit = 30
    budget = RequestBudget(rpm=limit, clock=clock)
    gateway = FixedWindowGateway(clock, limit, phase=17.0, headers=headers)
    rng = random.Random(7)

    async def client(kind: RequestKind) -> None:
        while clock.now() < 7200:
            await send(budget, gateway, kind, rtt=rng.uniform(0.05, 2.0))
            await clock.sleep(rng.expovariate(1 / 3))

    async def main() -> None:
        creates: list[RequestKind] = ["create"] * 4
        polls: list[RequestKind] = ["poll"] * 8
        kinds: list[RequestKind] = [*creates, *polls, "models"]
        await asyncio.gather(*(client(kind) for kind in kinds))

    clock.run(main())
    assert gateway.throttled == []
    assert max(gateway.counts.values()) <= limit
    if headers != "all":  # without the gateway's windows, no 60 s may hold more than 30
        assert max_in_any_window(sent_times(budget)) <= limit
    assert len(gateway.log) > 100 * limit  # and the budget was used


def test_at_most_one_probe_per_retry_after_window():
    """While the gateway keeps answering 429, one request per Retry-After window goes."""
    clock = VirtualClock()
    budget = RequestBudget(rpm=60, clock=clock)
    sent: list[tuple[float, int]] = []

    async def client() -> None:
        while clock.now() < 400:
            grant = await budget.acquire("poll")
            await clock.sleep(0.1)
            status = 429 if clock.now() < 300 else 200
            sent.append((clock.now(), status))
            await clock.sleep(0.1)
            budget.observe(status, {"Retry-After": "30"} if status == 429 else {}, grant)

    async def main() -> None:
        await asyncio.gather(*(client() for _ in range(3)))

    clock.run(main())
    throttled = [at for at, status in sent if status == 429]
    first_answer = throttled[0] + 0.1
    in_flight_then = [at for at in throttled if at < first_answer]
    probes = [at for at in throttled if at > first_answer]
    assert len(in_flight_then) <= 3  # sent before any 429 was known
    assert probes[0] >= first_answer + 30  # the pause
    assert all(b - a >= 30 for a, b in itertools.pairwise(probes))  # one per window
    assert len(probes) <= 300 / 30
    assert any(status == 200 for _, status in sent)  # and it recovered
    assert budget.stats().throttled == len(throttled)


def test_a_lower_real_limit_is_learned_from_a_429():
    """Believing 60 a minute against a real 6 (no headers): one burst of 429s, then none."""
    clock = VirtualClock()
    budget = RequestBudget(rpm=60, clock=clock)
    gateway = FixedWindowGateway(clock, limit=6, headers="none")  # Retry-After only

    async def client() -> None:
        while clock.now() < 500:
            await send(budget, gateway, "create", rtt=0.2)

    async def main() -> None:
        await asyncio.gather(*(client() for _ in range(3)))

    clock.run(main())
    first = gateway.throttled[0]
    assert all(at < first + 0.2 for at in gateway.throttled)  # only those in flight then
    assert max(gateway.admitted_per_window().values()) <= 6
    assert len(gateway.log) >= 6 * 8  # it still used what the gateway allows
    assert budget.limit == 6


def test_after_the_probe_succeeds_sending_resumes():
    """A probe answered 200 ends the probing: requests flow again within the limit."""
    clock = VirtualClock()
    budget = RequestBudget(rpm=10, clock=clock)

    async def main() -> list[float]:
        grant = await budget.acquire("poll")
        budget.observe(429, {"Retry-After": "5"}, grant)
        probe = await budget.acquire("poll")
        assert probe.probe and probe.at == 5.0
        budget.observe(200, {}, probe)
        assert not budget.probing
        return [(await budget.acquire("create")).at for _ in range(3)]

    assert clock.run(main()) == [5.0, 5.0, 5.0]


def test_ordinary_polls_are_spread_over_the_window():
    """Polls are paced to what is left of the window; creates are not."""
    clock = VirtualClock()
    budget = RequestBudget(rpm=60, clock=clock)

    async def main() -> tuple[list[float], list[float]]:
        polls = [await budget.acquire("poll") for _ in range(6)]
        creates = [await budget.acquire("create") for _ in range(3)]
        return [g.at for g in polls], [g.at for g in creates]

    polls, creates = clock.run(main())
    assert polls == [0.0, 0.0, 2.0, 2.0, 4.0, 4.0]  # two per 2 x (60 s / 60)
    assert creates == [4.0, 4.0, 4.0]


def test_final_polls_then_creates_then_ordinary_polls():
    """When requests wait together: the final poll first, then the create, then the poll."""
    clock = VirtualClock()
    budget = RequestBudget(rpm=1, clock=clock)
    order: list[str] = []

    async def take(name: str, kind: RequestKind, final: bool = False) -> None:
        grant = await budget.acquire(kind, final=final)
        order.append(name)
        budget.observe(200, {}, grant)

    async def main() -> None:
        await take("first", "poll")  # fills the window
        await asyncio.gather(
            take("poll", "poll"), take("create", "create"), take("final", "poll", final=True)
        )

    clock.run(main())
    assert order == ["first", "final", "create", "poll"]


def test_polls_get_a_share_under_a_flood_of_creates():
    """Behind many waiting creates, a waiting poll still gets one grant in POLL_SHARE."""
    clock = VirtualClock()
    budget = RequestBudget(rpm=1, clock=clock)
    order: list[str] = []

    async def take(kind: RequestKind) -> None:
        grant = await budget.acquire(kind)
        order.append(kind)
        budget.observe(200, {}, grant)

    async def main() -> None:
        await take("create")
        await asyncio.gather(*(take("create") for _ in range(10)), take("poll"))

    clock.run(main())
    assert order.index("poll") <= POLL_SHARE


class Demand:
    def __init__(self, likely: int = 0, expected: float = 0.0, wanted: float = math.inf) -> None:
        self.likely, self.expected, self.wanted = likely, expected, wanted

    def likely_due(self) -> int:
        return self.likely

    def expected_done(self, until: float) -> float:
        return self.expected

    def polls_wanted(self) -> float:
        return self.wanted


@pytest.mark.parametrize(("wanted", "expected"), [(6.0, [0.0] * 6), (61.0, [0, 0, 2, 2, 4, 4])])
def test_polls_are_not_paced_when_the_window_holds_all_that_are_wanted(wanted, expected):
    """Six polls wanted in a window of 60: none waits; wanting more than it holds: paced."""
    clock = VirtualClock()
    budget = RequestBudget(rpm=60, clock=clock)
    budget.set_poll_demand(Demand(wanted=wanted))

    async def main() -> list[float]:
        return [(await budget.acquire("poll")).at for _ in range(6)]

    assert clock.run(main()) == expected


def test_likely_polls_go_before_creates_and_keep_room():
    """While due polls would likely find their task done, creates leave them room."""
    clock = VirtualClock()
    budget = RequestBudget(rpm=4, clock=clock)
    budget.set_poll_demand(Demand(likely=2))
    order: list[tuple[str, float]] = []

    async def take(kind: RequestKind) -> None:
        grant = await budget.acquire(kind)
        order.append((kind, grant.at))
        budget.observe(200, {}, grant)

    async def main() -> None:
        await asyncio.gather(*(take("create") for _ in range(4)))

    clock.run(main())
    # Of a window of 4, two are held for the polls: creates get 2 per window.
    assert [at for _, at in order] == [0.0, 0.0, 60.0, 60.0]


def test_downloads_from_the_cdn_are_exempt():
    """Downloads do not count by default; with exempt_downloads=False they do."""
    clock = VirtualClock()
    free = RequestBudget(rpm=1, clock=clock)
    counted = RequestBudget(rpm=1, clock=clock, exempt_downloads=False)

    async def main() -> tuple[list[float], float]:
        grants = [await free.acquire("download") for _ in range(5)]
        first = await counted.acquire("download")
        counted.observe(200, {}, first)
        second = await counted.acquire("download")
        return [g.at for g in grants], second.at - first.at

    assert clock.run(main()) == ([0.0] * 5, 60.0)
    assert free.stats().exempt == 5 and free.stats().sent["download"] == 0


def test_a_released_grant_is_given_back():
    """release() returns an unused grant: the next request goes at once."""
    clock = VirtualClock()
    budget = RequestBudget(rpm=1, clock=clock)

    async def main() -> float:
        budget.release(await budget.acquire("poll"))
        return (await budget.acquire("create")).at

    assert clock.run(main()) == 0.0
    assert budget.stats().sent == {"create": 1, "poll": 0, "download": 0, "models": 0}


def test_request_context_counts_a_lost_answer():
    """Leaving budget.request() without an answer still ends the request in flight."""
    clock = VirtualClock()
    budget = RequestBudget(rpm=5, clock=clock)

    async def main() -> int:
        with pytest.raises(ConnectionError):
            async with budget.request("models"):
                raise ConnectionError
        async with budget.request("models") as slot:
            slot.observe(200, {"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "60"})
        return budget.remaining

    assert clock.run(main()) == 3


def test_a_cancelled_wait_leaves_no_trace():
    """Cancelling a waiting acquire() removes it; the next waiter is served in its place."""
    clock = VirtualClock()
    budget = RequestBudget(rpm=1, clock=clock)

    async def main() -> float:
        budget.observe(200, {}, await budget.acquire("poll"))
        waiting = asyncio.ensure_future(budget.acquire("create"))
        await clock.sleep(1)
        waiting.cancel()
        return (await budget.acquire("create")).at

    assert clock.run(main()) == 60.0
    assert budget.stats().sent["create"] == 1
