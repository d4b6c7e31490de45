"""BudgetStore: the request budget of an API key, shared by every process (a sliding log).

Each request takes a place, a row of ``request_log``, before it is sent. While the
gateway sends ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``, every answer's figures
are kept in the row (within one of its windows the lowest Remaining holds, as answers
travel out of order), and until that reset no more go than it said were left, less the
places taken, unanswered or answered since: exact however slow requests are to arrive,
since one counted in the gateway's next window is subtracted from that window's figures
too. Once that reset has passed, one request goes first and the others wait (briefly) for
its answer, which tells the new window's figures, so that a limit lowered between two
windows is heeded before a burst. Without those headers, a place counts from when it
is taken until ``window`` seconds after its answer (a request not answered by its
``lost_at`` stops counting then): the gateway counts a request when it arrives, after
its place was taken and before its answer, so however slow the way there, no window of
the gateway's length holds more than ``limit`` of them. The limit and the window are the
pair the gateway announced last (``announced_at``; a process that learned a newer pair
writes it, every process reads it at its next place). A 429 pauses
everybody until its ``Retry-After``. A place is taken in one transaction under the
key's lock, so it is exact on either engine and across processes.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.store.database import Database, Row

# A place that is refused is told to look again after at most this (another may free one).
LONGEST_WAIT = 5.0
# Log rows are removed once they cannot count for this many windows.
KEEP_WINDOWS = 2.0
# Once the gateway's announced window has reset, one request goes first and the others
# wait for its answer (the new window's figures: a new limit is heeded before a burst),
# at most this long.
OPENER_WAIT = 2.0
OPENER_POLL = 0.02  # how often a place waiting for the opener's answer looks again


@dataclass(frozen=True)
class Announcement:
    """A limit and the window it came with (``at``: when it was announced; 0: configured)."""

    limit: int
    window: float
    at: float = 0.0


@dataclass(frozen=True)
class Place:
    """The answer to a take: a place (``entry``), or the seconds to wait before asking again."""

    wait: float
    entry: int | None
    announced: Announcement


class BudgetStore:
    """Places of requests, per API key (the key's hash, never the key)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def take(
        self,
        key: str,
        *,
        announced: Announcement,
        now: float,
        lost_after: float,
        limit_only: int | None = None,
    ) -> Place:
        """Take a place for a request about to be sent now, or say how long to wait.

        ``announced`` is the newest pair this process knows; the row keeps the newer one
        and returns it. ``limit_only``: a limit this process learned without its window,
        shared only while no pair was ever announced. ``lost_after``: how long an
        unanswered request may still be arriving (its client's timeout).
        """
        async with self._db.transaction():
            await self._db.lock(f"request_budget:{key}")
            await self._db.execute(
                "INSERT INTO request_budget (key, request_limit, window_length, paused_until, "
                "announced_at) VALUES (?, ?, ?, 0, ?) ON CONFLICT (key) DO NOTHING",
                (key, announced.limit, announced.window, announced.at),
            )
            if announced.at:
                await self._announce(key, announced)
            if limit_only is not None:
                await self._db.execute(
                    "UPDATE request_budget SET request_limit = ? "
                    "WHERE key = ? AND announced_at = 0",
                    (limit_only, key),
                )
            row = await self._db.fetchone(
                "SELECT request_limit, window_length, announced_at, paused_until, "
                "gateway_remaining, gateway_reset, gateway_as_of, opener, opener_until "
                "FROM request_budget "
                "WHERE key = ?",
                (key,),
            )
            assert row is not None
            pair = Announcement(
                int(row["request_limit"]), float(row["window_length"]), float(row["announced_at"])
            )
            wait = await self._wait(key, row, pair, now)
            if wait > 0:
                return Place(wait, None, pair)
            await self._db.execute(
                "DELETE FROM request_log WHERE key = ? AND (lost_at <= ? OR answered_at <= ?)",
                (key, now, now - KEEP_WINDOWS * pair.window),
            )
            taken = await self._db.fetchone(
                "INSERT INTO request_log (key, taken_at, lost_at) VALUES (?, ?, ?) RETURNING id",
                (key, now, now + lost_after),
            )
            assert taken is not None
            if row["gateway_remaining"] is not None and float(row["gateway_reset"]) <= now:
                # The first place since the gateway's window reset: it opens the next one.
                await self._db.execute(
                    "UPDATE request_budget SET gateway_remaining = NULL, opener = ?, "
                    "opener_until = ? WHERE key = ?",
                    (taken["id"], now + OPENER_WAIT, key),
                )
        return Place(0.0, int(taken["id"]), pair)

    async def _wait(self, key: str, row: Row, pair: Announcement, now: float) -> float:
        """Return how long a request must wait before it may take a place (0: now)."""
        paused = float(row["paused_until"])
        if paused > now:
            return paused - now
        if row["opener"] is not None and float(row["opener_until"]) > now:
            return min(float(row["opener_until"]) - now, OPENER_POLL)
        if (remaining := row["gateway_remaining"]) is not None:
            # The gateway's own figures: exact whatever the latency (a request taken now
            # and counted in its next window is subtracted from that window's Remaining).
            reset = float(row["gateway_reset"])
            if reset <= now:
                return 0.0  # this place opens the next window
            # What the gateway said was left, less what it may not have counted then.
            as_of = float(row["gateway_as_of"])
            since = await self._db.fetchone(
                "SELECT COUNT(*) AS n FROM request_log WHERE key = ? AND (taken_at > ? "
                "OR (answered_at IS NULL AND lost_at > ?) OR answered_at > ?)",
                (key, as_of, now, as_of),
            )
            assert since is not None
            return reset - now if int(remaining) - int(since["n"]) <= 0 else 0.0
        # Without them, the log: requests still counting are those unanswered (until
        # lost) and those answered within the window.
        counting = await self._db.fetchall(
            "SELECT answered_at, lost_at FROM request_log WHERE key = ? "
            "AND ((answered_at IS NULL AND lost_at > ?) OR answered_at > ?)",
            (key, now, now - pair.window),
        )
        if len(counting) < pair.limit:
            return 0.0
        # A place frees when enough of them stop counting; an unanswered one's answer
        # may come at any moment, so look again soon.
        ends = sorted(
            now + LONGEST_WAIT if r["answered_at"] is None else r["answered_at"] + pair.window
            for r in counting
        )
        return max(ends[len(counting) - pair.limit] - now, 0.001)

    async def answered(
        self,
        key: str,
        entry: int,
        *,
        at: float,
        remaining: int | None = None,
        reset: float | None = None,
        announced: Announcement | None = None,
    ) -> None:
        """Record the answer to ``entry`` at ``at``, and what the gateway said was left.

        ``remaining`` until the Unix time ``reset``: within one window of the gateway the
        lowest Remaining holds (answers travel out of order); a later reset is a new window.
        ``announced``: the pair this answer announced, kept if it is the newest.
        """
        async with self._db.transaction():
            # The key's lock first, as take() does, so the two never wait on each other.
            await self._db.lock(f"request_budget:{key}")
            await self._db.execute(
                "UPDATE request_log SET answered_at = ? WHERE id = ? AND answered_at IS NULL",
                (at, entry),
            )
            if announced is not None:
                await self._announce(key, announced)
            await self._db.execute(
                "UPDATE request_budget SET opener = NULL WHERE key = ? AND opener = ?",
                (key, entry),
            )
            if remaining is None or reset is None:
                return
            row = await self._db.fetchone(
                "SELECT window_length, gateway_remaining, gateway_reset, gateway_as_of "
                "FROM request_budget "
                "WHERE key = ?",
                (key,),
            )
            if row is None:
                return
            slack = float(row["window_length"]) / 2
            known = float(row["gateway_reset"])
            if row["gateway_remaining"] is None or reset > known + slack:  # a new window
                values = (remaining, reset, at)
            elif reset >= known - slack:  # the same window: the lowest Remaining holds
                lowest = min(remaining, int(row["gateway_remaining"]))
                values = (lowest, max(reset, known), max(at, float(row["gateway_as_of"])))
            else:  # a late answer from an earlier window
                return
            await self._db.execute(
                "UPDATE request_budget SET gateway_remaining = ?, gateway_reset = ?, "
                "gateway_as_of = ? WHERE key = ?",
                (*values, key),
            )

    async def _announce(self, key: str, pair: Announcement) -> None:
        """Keep ``pair`` if it is newer than the row's."""
        await self._db.execute(
            "UPDATE request_budget SET request_limit = ?, window_length = ?, announced_at = ? "
            "WHERE key = ? AND announced_at < ?",
            (pair.limit, pair.window, pair.at, key, pair.at),
        )

    async def pause(self, key: str, until: float) -> None:
        """Stop every process's requests until ``until`` (a 429's Retry-After)."""
        await self._db.execute(
            "UPDATE request_budget SET paused_until = ? WHERE key = ? AND paused_until < ?",
            (until, key, until),
        )
