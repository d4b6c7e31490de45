"""The budget's spend is read from its window's rows, not from every job of the server.

A narrow check of SQLite's plan: V14's gallery index (guild_id, user_id, id) once served
this query's grouping, and every admission under a budget read all the server's jobs.
"""

from __future__ import annotations

from bot.store import Store
from bot.store.spend import SPEND


async def test_the_spend_query_searches_the_budget_window_index(tmp_path):
    async with Store.open(tmp_path / "plan.db") as db:
        rows = await db.db.fetchall(
            f"EXPLAIN QUERY PLAN SELECT guild_id, user_id, budget_window, SUM({SPEND}) "
            "FROM jobs WHERE guild_id IN (?) AND budget_window IN (?) "
            "GROUP BY guild_id, user_id, budget_window",
            (1, "2026-12"),
        )
    plan = " ".join(str(r["detail"]) for r in rows)
    assert "USING COVERING INDEX jobs_budget_window (guild_id=? AND budget_window=?)" in plan, plan
