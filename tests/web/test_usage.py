"""The Usage page and the CSV download over HTTP: figures, budget line, who may see them."""

from __future__ import annotations

import csv
import io
import re
import time
import xml.etree.ElementTree as ET

from bot.quota import window_of
from tests.web.conftest import Dashboard

NS = "{http://www.w3.org/2000/svg}"


async def costed(dashboard: Dashboard, user, model: str, cost: int, images: int = 1, **extra):
    """Store a succeeded job of ``images`` images that settled at ``cost`` micro-dollars."""
    job = await dashboard.job(
        user=user,
        model=model,
        images=images,
        budget_window=window_of(time.time(), "month"),
        cost_estimate=cost,
        **extra,
    )
    settled = await dashboard.env.db.jobs.transition(
        job.id, ["succeeded"], "succeeded", cost=cost, cost_source="price"
    )
    assert settled is not None
    return settled


def chart(html: str, measure: str) -> ET.Element:
    found = re.search(rf'<svg[^>]*id="chart-{measure}".*?</svg>', html, re.S)
    assert found, f"no {measure} chart in the page"
    return ET.fromstring(found.group(0))


def segments(svg: ET.Element) -> list[str]:
    return sorted(rect.find(f"{NS}title").text.split(" · ", 1)[1] for rect in svg.iter(f"{NS}rect"))


async def seed(dashboard: Dashboard) -> None:
    fake = dashboard.fake
    await costed(dashboard, fake.alice, "nano-banana", 39_000)
    await costed(dashboard, fake.bob, "gpt-image-2", 120_000, images=2)
    await costed(dashboard, fake.bob, "nano-banana", 39_000)


async def test_a_moderator_sees_spend_and_images_per_day_by_model(dashboard: Dashboard):
    """Three settled jobs: the charts' segments and the tables carry their figures."""
    await seed(dashboard)
    client = await dashboard.client(dashboard.fake.mod)
    page = await client.get(f"/servers/{dashboard.fake.guild_id}/usage", params={"period": "month"})
    assert page.status_code == 200
    html = page.text
    assert "Usage of Lemon Grove" in html
    assert "$0.20 spent. Jobs settled: 3, images: 4." in html  # 198,000 micro-dollars, a cent up
    spend, images = chart(html, "cost"), chart(html, "images")
    assert spend.get("role") == "img" and spend.find(f"{NS}title").text == "Spend per day, by model"
    assert "Bar chart of the spend per day" in spend.find(f"{NS}desc").text
    assert "$0.20 in all" in spend.find(f"{NS}desc").text
    assert segments(spend) == ["gpt-image-2: $0.12", "nano-banana: $0.078"]
    assert segments(images) == ["gpt-image-2: 2", "nano-banana: 2"]
    table = re.search(r'<table class="figures">.*?</table>', html, re.S).group(0)
    assert re.search(r"gpt-image-2</th><td>\$0\.12</td><td>2</td>", table)
    assert re.search(r"nano-banana</th><td>\$0\.08</td><td>2</td>", table)
    assert 'class="budget"' not in html and "This server has no image budget" in html
    assert " style=" not in html and "<script" not in html  # the CSP allows neither


async def test_by_member_the_segments_are_the_members(dashboard: Dashboard):
    """?by=member: one series per member, named as the dashboard names members."""
    await seed(dashboard)
    fake = dashboard.fake
    client = await dashboard.client(fake.mod)
    page = await client.get(f"/servers/{fake.guild_id}/usage", params={"by": "member"})
    assert segments(chart(page.text, "cost")) == sorted(
        ["Bob: $0.159", "Alice: $0.039"]  # their names, as the gateway's cache has them
    )
    assert "Spend per day, by member" in page.text


async def test_the_budget_line_and_what_is_left(dashboard: Dashboard):
    """A $1 monthly budget: its line per day, 20 % spent and $0.80 left, on the default period."""
    await seed(dashboard)
    fake = dashboard.fake
    await dashboard.env.bot.billing.set_budget(
        fake.guild_id, fake.mod.id, amount=1_000_000, period="month", member_cap=250_000
    )
    await dashboard.env.bot.billing.set_role_cap(fake.guild_id, fake.mod.id, 4242, 500_000)
    client = await dashboard.client(fake.mod)
    html = (await client.get(f"/servers/{fake.guild_id}/usage")).text
    spend = chart(html, "cost")
    days = len(re.findall(r"<tr><th scope=\"row\">\d{4}-\d\d-\d\d</th>", html))
    assert days in (28, 29, 30, 31)  # the default period is the budget's: this month
    budget_lines = [line for line in spend.iter(f"{NS}line") if line.get("class") == "budget"]
    assert len(budget_lines) == 1
    label = f"Budget per day: $0.0{(1_000_000 // days) // 10_000}"
    assert label in [text.text for text in spend.iter(f"{NS}text")]
    assert "20% of $1.00; $0.80 left" in html
    facts = re.search(r'<dl class="facts">.*?</dl>', html, re.S).group(0)
    assert "<dt>Left</dt><dd>$0.80</dd>" in facts and "<dt>Per member</dt><dd>$0.25</dd>" in facts
    assert "<dt>Per member with role 4242</dt><dd>$0.50</dd>" in facts
    week = (await client.get(f"/servers/{fake.guild_id}/usage", params={"period": "week"})).text
    assert 'class="budget"' not in week  # a monthly budget is not drawn against a week
    assert "shown for the budget&#39;s own period" in week


async def test_the_csv_has_the_cost_columns_and_is_an_attachment(dashboard: Dashboard):
    """export.csv: /imagemod export's columns, the costs in dollars, Content-Disposition."""
    await seed(dashboard)
    fake = dashboard.fake
    client = await dashboard.client(fake.mod)
    page = (await client.get(f"/servers/{fake.guild_id}/usage")).text
    link = re.search(r'href="(/servers/\d+/export\.csv\?since=[\d-]+)" download', page)
    assert link, "no CSV link on the usage page"
    answer = await client.get(link.group(1).replace("&amp;", "&"))
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert re.fullmatch(
        rf'attachment; filename="lemonbot-jobs-{fake.guild_id}-\d{{8}}-\d{{4}}\.csv"',
        answer.headers["Content-Disposition"],
    )
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert {"cost_usd", "cost_estimate_usd", "cost_source"} <= set(rows[0])
    assert sorted(r["cost_usd"] for r in rows) == ["0.039", "0.039", "0.12"]
    assert {r["cost_source"] for r in rows} == {"price"}
    path = f"/servers/{fake.guild_id}/export.csv"
    future = await client.get(path, params={"since": "2999-01-01"})
    assert list(csv.DictReader(io.StringIO(future.text))) == []  # ?since= filters


async def test_others_get_404_for_the_page_and_the_csv(dashboard: Dashboard):
    """A member who does not moderate, and a moderator of another server, get 404."""
    await seed(dashboard)
    fake = dashboard.fake
    other = fake.add_guild("Elsewhere", members=[fake.bob])
    await dashboard.job(guild_id=other.id, user=fake.bob, prompt="a secret")
    paths = ("/usage", "/usage?period=day&by=member", "/export.csv", "/export.csv?since=2020-01-01")
    alice = await dashboard.client(fake.alice)
    mod = await dashboard.client(fake.mod)
    for client, guild_id in ((alice, fake.guild_id), (mod, other.id), (mod, 12345)):
        for path in paths:
            answer = await client.get(f"/servers/{guild_id}{path}")
            assert answer.status_code == 404, (guild_id, path)
            assert "<svg" not in answer.text and "cost_usd" not in answer.text
            assert "attachment" not in answer.headers.get("Content-Disposition", "")
    assert (await mod.get("/servers/not-a-number/usage")).status_code == 404
    assert (await mod.get(f"/servers/{fake.guild_id}/usage")).status_code == 200


async def test_the_gallery_links_to_the_usage_page(dashboard: Dashboard):
    """The gallery of a server has a link to its Usage page."""
    fake = dashboard.fake
    client = await dashboard.client(fake.mod)
    gallery = (await client.get(f"/servers/{fake.guild_id}")).text
    assert f'href="/servers/{fake.guild_id}/usage"' in gallery


async def test_the_usage_page_speaks_chinese_to_a_chinese_moderator(dashboard: Dashboard):
    """A moderator whose Discord is in Chinese reads the page, charts and amounts in Chinese."""
    await seed(dashboard)
    fake = dashboard.fake
    fake.mod.locale = "zh-CN"  # the account's language, as /users/@me says
    client = await dashboard.client(fake.mod)
    html = (await client.get(f"/servers/{fake.guild_id}/usage")).text
    assert "Lemon Grove 的用量" in html and "每日花费（按模型）" in html
    assert "下载本时段的任务（CSV）" in html
    assert "花费 US$0.20" in html and "每日数据表" in html
