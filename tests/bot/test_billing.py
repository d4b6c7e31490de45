"""Money (issue 22): prices as micro-dollars, estimates, settled costs and exact budgets."""

from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.background import Background
from bot.billing import Price, estimate_cost, micros, price_of, settle_cost
from bot.billing.budgets import check_budget, reached
from bot.errors import BudgetExceeded
from bot.i18n import CHINESE, ENGLISH
from bot.jobs.admission import Accepted, Admissions
from bot.lemondata import Pricing, Usage
from bot.lemondata.models import parse_usage
from bot.quota import QuotaService, window_of
from bot.store import Budget, Store
from tests.factories import draft

GPT = Pricing(unit="per_1m_tokens", input_per_1m="5.00", output_per_1m="40.00", max_price="0.250")
FLAT = Pricing(unit="per_request", per_request="0.039")
MEGAPIXEL = 1024 * 1024


def test_amounts_become_integer_micro_dollars_rounded_up():
    assert micros("0.039") == 39_000
    assert micros("20") == 20_000_000
    assert micros("0.0000001") == 1  # a part of a micro-dollar still costs one
    assert micros("") is None and micros("abc") is None and micros("-1") is None
    assert price_of(FLAT) == Price(per_request=39_000)
    gpt = price_of(GPT, {"image_input_per_1m": "8.00", "cached_input_per_1m": "1.25"})
    assert gpt is not None and gpt.token_billed
    assert (gpt.text_input, gpt.image_input, gpt.cached_input, gpt.image_output) == (
        5_000_000,
        8_000_000,
        1_250_000,
        40_000_000,
    )
    assert price_of(None) is None and price_of(Pricing(unit="per_request")) is None


def test_the_estimate_is_the_worst_case():
    flat = price_of(FLAT)
    assert flat is not None
    assert estimate_cost(flat, prompt="a", count=3, pixels=MEGAPIXEL) == 117_000
    gpt = price_of(GPT)
    assert gpt is not None
    high = estimate_cost(gpt, prompt="a lemon", count=1, pixels=MEGAPIXEL, quality="high")
    low = estimate_cost(gpt, prompt="a lemon", count=1, pixels=MEGAPIXEL, quality="low")
    auto = estimate_cost(gpt, prompt="a lemon", count=1, pixels=MEGAPIXEL)
    # 4160 output tokens at $40 per million, plus 2 prompt tokens at $5 per million.
    assert high == auto == 166_400 + 10 and low == 10_880 + 10 < high
    refs = estimate_cost(gpt, prompt="a lemon", count=1, pixels=MEGAPIXEL, references=2)
    assert refs > auto
    big = estimate_cost(gpt, prompt="a lemon", count=2, pixels=4 * MEGAPIXEL, quality="high")
    assert big == 500_000  # bounded by max_price ($0.25) per image


def test_the_cost_is_settled_from_usage_else_the_price_else_the_estimate():
    gpt = price_of(GPT)
    usage = parse_usage(
        {
            "input_tokens": 1200,
            "input_tokens_details": {"text_tokens": 200, "image_tokens": 1000, "cached_tokens": 0},
            "output_tokens": 4160,
        }
    )
    assert usage == Usage(input_tokens=1200, image_tokens=1000, output_tokens=4160)
    cost = settle_cost(gpt, usage, delivered=1, asked=1, estimate=999_999)
    assert (cost.micros, cost.source) == (1000 + 5000 + 166_400, "usage")
    flat = settle_cost(price_of(FLAT), None, delivered=2, asked=3, estimate=117_000)
    assert (flat.micros, flat.source) == (78_000, "price")
    guess = settle_cost(gpt, None, delivered=1, asked=2, estimate=300_000)
    assert (guess.micros, guess.source) == (150_000, "estimate")
    assert parse_usage({"data": []}) is None and parse_usage(None) is None
    assert settle_cost(None, None, delivered=1, asked=1, estimate=0).source == "unpriced"


def budget(amount: int, member_cap: int | None = None, allow_unpriced: bool = False) -> Budget:
    return Budget(1, amount, "month", member_cap, allow_unpriced, 9, 0.0)


def test_a_request_that_does_not_fit_is_refused_in_the_members_language():
    december = draft(cost_estimate=190_000, budget_window="2026-12")
    with pytest.raises(BudgetExceeded) as caught:
        check_budget(
            budget(20_000_000),
            december,
            guild_spent=19_880_000,
            member_spent=0,
            resets_at=1_798_761_600,
        )
    said = caught.value.text.render(ENGLISH)
    assert said == (
        "This server's image budget for December ($20.00) has $0.12 left, and this image "
        "could cost up to $0.19. It resets on <t:1798761600:D>."
    )
    assert "US$0.12" in caught.value.text.render(CHINESE)  # Babel: US$ in Chinese
    with pytest.raises(BudgetExceeded, match="Your share"):
        check_budget(
            budget(20_000_000, member_cap=1_000_000),
            december,
            cap=1_000_000,
            guild_spent=0,
            member_spent=900_000,
            resets_at=0,
        )
    check_budget(budget(20_000_000), december, guild_spent=0, member_spent=0, resets_at=0)
    unpriced = draft(cost_source="unpriced", budget_window="2026-12")
    with pytest.raises(BudgetExceeded, match="no published price"):
        check_budget(budget(1), unpriced, guild_spent=0, member_spent=0, resets_at=0)
    check_budget(
        budget(1, allow_unpriced=True), unpriced, guild_spent=0, member_spent=0, resets_at=0
    )


def test_thresholds_reached():
    assert reached(20_000_000, 9_999_999) == []
    assert reached(20_000_000, 10_000_000) == [50]
    assert reached(20_000_000, 19_000_000) == [50, 80]
    assert reached(20_000_000, 25_000_000) == [50, 80, 100]


async def _budget_race(store: Store, background, amount: int, costs: list[int]) -> list[object]:
    await store.spend.set_budget(
        1, amount=amount, period="month", member_cap=None, allow_unpriced=False, set_by=9
    )
    admissions = Admissions(store, QuotaService(store, period_limit=10_000), background=background)
    drafts = [
        draft(user_id=100 + i, interaction_id=i, cost_estimate=c, quota_window="")
        for i, c in enumerate(costs)
    ]
    return await asyncio.gather(*(admissions.admit(d) for d in drafts), return_exceptions=True)


async def test_fifty_requests_at_once_never_overrun_the_budget(db, background):
    """$1.00 left and 50 requests of $0.39 at once: exactly 2 accepted (both engines)."""
    outcomes = await _budget_race(db, background, 1_000_000, [390_000] * 50)
    accepted = [o for o in outcomes if isinstance(o, Accepted)]
    assert len(accepted) == 2
    assert all(isinstance(o, (Accepted, BudgetExceeded)) for o in outcomes)
    window = window_of(accepted[0].job.created_at, "month")
    assert {o.job.budget_window for o in accepted} == {window}
    assert await db.spend.guild_spent(1, window) == 780_000


async def test_two_processes_share_one_budget_exactly(postgres_url, background):
    async with Store.open(postgres_url) as one, Store.open(postgres_url) as two:
        await one.spend.set_budget(
            1, amount=2_000_000, period="day", member_cap=None, allow_unpriced=False, set_by=9
        )
        sides = [
            Admissions(s, QuotaService(s, period_limit=10_000), background=background)
            for s in (one, two)
        ]
        drafts = [
            draft(user_id=100 + i, interaction_id=i, cost_estimate=300_000, quota_window="")
            for i in range(40)
        ]
        outcomes = await asyncio.gather(
            *(sides[i % 2].admit(d) for i, d in enumerate(drafts)), return_exceptions=True
        )
        accepted = [o for o in outcomes if isinstance(o, Accepted)]
        assert len(accepted) == 6  # 6 x $0.30 = $1.80; a seventh would pass $2.00
        window = window_of(accepted[0].job.created_at, "day")
        assert await two.spend.guild_spent(1, window) == 1_800_000


@settings(max_examples=25, deadline=None)
@given(
    amount=st.integers(min_value=0, max_value=3_000_000),
    costs=st.lists(st.integers(min_value=0, max_value=900_000), min_size=1, max_size=12),
)
def test_accepted_estimates_never_exceed_the_budget(tmp_path_factory, amount, costs):
    """Whatever the costs, what is reserved never passes the budget, and a refusal fits not."""

    async def run() -> None:
        path = tmp_path_factory.mktemp("budget") / "bot.db"
        async with Store.open(path) as store:
            owner = Background()
            try:
                outcomes = await _budget_race(store, owner, amount, costs)
            finally:
                await owner.close()
            total = sum(o.job.cost_estimate for o in outcomes if isinstance(o, Accepted))
            assert total <= amount
            for cost, outcome in zip(costs, outcomes, strict=True):
                if isinstance(outcome, BudgetExceeded):
                    assert cost > 0
            window = window_of(time.time(), "month")
            assert await store.spend.guild_spent(1, window) == total

    asyncio.run(run())


def test_a_members_cap_is_their_most_generous_roles_else_the_budgets():
    from bot.billing.budgets import member_cap

    plain = budget(20_000_000, member_cap=1_000_000)
    assert member_cap(plain, {}, [5]) == 1_000_000
    assert member_cap(plain, {5: 3_000_000, 6: 500_000}, [5, 6]) == 3_000_000
    assert member_cap(plain, {6: 500_000}, [6]) == 500_000  # a role may also lower it
    assert member_cap(budget(20_000_000), {6: 500_000}, [7]) is None


async def test_role_caps_hold_in_the_admissions_transaction(db, background):
    """A role capped at $0.10: its member gets 2 of $0.039 and 1 more refused; others not."""
    await db.spend.set_budget(
        1, amount=10_000_000, period="month", member_cap=None, allow_unpriced=False, set_by=9
    )
    await db.spend.set_role_cap(1, 50, 100_000, set_by=9)
    admissions = Admissions(db, QuotaService(db, period_limit=10_000), background=background)
    capped = [
        admissions.admit(
            draft(user_id=7, interaction_id=i, cost_estimate=39_000, quota_window=""), [50]
        )
        for i in range(3)
    ]
    free = [
        admissions.admit(
            draft(user_id=8, interaction_id=10 + i, cost_estimate=39_000, quota_window="")
        )
        for i in range(3)
    ]
    outcomes = await asyncio.gather(*capped, *free, return_exceptions=True)
    assert [isinstance(o, Accepted) for o in outcomes] == [True, True, False, True, True, True]
    assert "Your share" in outcomes[2].message
    assert await db.spend.clear_role_cap(1, 50) and not await db.spend.clear_role_cap(1, 50)
    assert await db.spend.role_caps(1) == {}
