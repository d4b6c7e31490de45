"""The web dashboard in Debian's Chromium, served by the real bot process, against the fakes.

The bot runs with the WEB_* settings (``python -m bot``: the dashboard on its event
loop), makes two images through /imagine, and a moderator signs in through the fake
Discord's authorize page by pressing its "Authorize" button. Playwright drives
``/usr/bin/chromium`` (never ``playwright install``: these machines cannot download a
browser); without it the tests fail, not skip. Screenshots land in
``.test-artifacts/web/`` (git-ignored).
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.e2e.conftest import BotFactory
from tests.e2e.harness import REPO_ROOT, BotProcess, wait_for_outcome
from tests.fakes.fake_discord import FakeDiscord, FakeInteraction, FakeUser

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = REPO_ROOT / ".test-artifacts" / "web"
WEB_SECRET = "browser-test-secret-" + "x" * 32
PHONE = {"width": 390, "height": 844}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def web_env(fake: FakeDiscord, port: int) -> dict[str, str]:
    base = f"http://127.0.0.1:{port}"
    fake.oauth_redirect_uris.add(base + "/auth/callback")
    return {
        "WEB_BASE_URL": base,
        "WEB_SECRET": WEB_SECRET,
        "DISCORD_CLIENT_SECRET": fake.oauth_client_secret,
        "WEB_PORT": str(port),
    }


async def shot(page: Page, name: str) -> None:
    await asyncio.to_thread(ARTIFACTS.mkdir, parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def make_image(fake: FakeDiscord, user: FakeUser, prompt: str) -> FakeInteraction:
    interaction = await fake.invoke("imagine", {"prompt": prompt}, user)
    await wait_for_outcome(fake, interaction, timeout=20)
    return interaction


async def chromium() -> Any:
    assert await asyncio.to_thread(CHROMIUM.exists), (
        "the browser tests need Debian's chromium at /usr/bin/chromium "
        "(apt-get install chromium; .ci/run installs it)"
    )
    playwright = await async_playwright().start()
    browser = await playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
    return playwright, browser


async def sign_in(browser: Browser, base: str, **context: Any) -> Page:
    """Open the dashboard, press Authorize on the fake Discord's page; return the page."""
    page = await (await browser.new_context(**context)).new_page()
    await page.goto(base + "/")
    assert "/oauth2/authorize" in page.url  # redirected to the login, then to "Discord"
    await shot(page, "1-discord-authorize")
    await page.get_by_role("button", name="Authorize").click()
    await page.wait_for_url(base + "/")
    return page


async def no_image_without_alt(page: Page) -> None:
    missing = await page.eval_on_selector_all(
        "img", "els => els.filter(e => !e.getAttribute('alt')).length"
    )
    assert missing == 0


async def images_loaded(page: Page) -> None:
    """Wait until every image of the page has loaded, and check each has pixels.

    Not ``wait_for_function``: its polling evaluates a string inside the page, which the
    dashboard's Content-Security-Policy (no 'unsafe-eval') rightly refuses; ``expect``
    re-checks from the test side instead.
    """
    images = page.locator("img")
    for index in range(await images.count()):
        await expect(images.nth(index)).to_have_js_property("complete", True)
    widths = await images.evaluate_all("all => all.map(image => image.naturalWidth)")
    assert widths and all(width > 0 for width in widths), widths


async def test_a_moderator_signs_in_filters_opens_a_job_and_deletes_it(
    fake: FakeDiscord, make_bot: BotFactory
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    bot = make_bot(env=web_env(fake, port))
    await bot.start()
    await make_image(fake, fake.alice, "a lemon tree at dusk")
    whale = await make_image(fake, fake.bob, "a blue whale in the sky")
    reroll = await fake.press(whale, "Reroll", user=fake.bob)  # its lineage: a child
    await bot.race(wait_for_outcome(fake, reroll, timeout=20))
    fake.oauth_user = fake.mod
    playwright, browser = await chromium()
    try:
        console: list[str] = []
        page = await sign_in(browser, base)
        page.on("console", lambda message: console.append(message.text))
        await page.get_by_role("heading", name="Servers").wait_for()
        await shot(page, "2-servers")
        assert "3 images today" in await page.content()

        await page.get_by_role("link", name="Lemon Grove").click()
        await page.get_by_role("heading", name="Gallery of Lemon Grove").wait_for()
        assert await page.locator("li.tile").count() == 3
        await images_loaded(page)
        await no_image_without_alt(page)
        await shot(page, "3-gallery")

        await page.get_by_label("Text in the prompt").fill("whale")
        await page.get_by_role("button", name="Filter").click()
        await page.wait_for_url("**q=whale**")
        assert await page.locator("li.tile").count() == 2  # the whale and its reroll
        await shot(page, "4-gallery-filtered")

        await page.locator("li.tile a").first.click()
        await page.get_by_role("heading", name="Job #").wait_for()
        assert "a blue whale in the sky" in await page.content()
        image = page.locator(".images img").first
        await image.wait_for()
        assert await image.evaluate("i => i.complete && i.naturalWidth > 0")
        await no_image_without_alt(page)
        made_from = page.get_by_role("heading", name="Made from", exact=True)
        await made_from.wait_for()  # the newest is the reroll: its parent, as a thumbnail
        await images_loaded(page)
        assert await page.locator(".grid.small li.tile").count() == 1
        await shot(page, "5-job")

        message_id = bot.jobs()[-1]["delivered_message_id"]
        await page.get_by_role("button", name="Delete the result").click()
        await page.get_by_role("status").wait_for()
        assert "deleted" in (await page.get_by_role("status").inner_text()).lower()
        audit = page.get_by_role("heading", name="Moderator log")
        await audit.wait_for()
        assert "from the web dashboard" in await page.content()
        await shot(page, "6-job-deleted")
        await fake.wait_for(lambda: int(message_id) in fake.deleted_messages)
        assert bot.jobs()[-1]["deleted_by"] == fake.mod.id

        # A second action from the same page: block the member, seen on the Settings page.
        await page.get_by_role("button", name="Block Bob from /imagine").click()
        await page.get_by_role("heading", name="Settings of Lemon Grove").wait_for()
        assert "Member blocked" in await page.get_by_role("status").inner_text()
        blocked = page.locator("section[aria-labelledby=blocked] li")
        assert "Bob blocked by Mod" in await blocked.inner_text()
        await shot(page, "6b-settings-blocked")
        assert not [line for line in console if "Content Security Policy" in line]

        phone = await sign_in(
            browser, base, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
        )
        await phone.goto(base + f"/servers/{fake.guild_id}")
        await phone.get_by_role("heading", name="Gallery of Lemon Grove").wait_for()
        width = await phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]  # nothing wider than the phone: no sideways scroll
        await shot(phone, "7-phone-gallery")
        await phone.locator("li.tile a").first.click()
        await phone.get_by_role("heading", name="Job #").wait_for()
        assert await phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await shot(phone, "8-phone-job")

        # The language switch: Chinese from the header, kept on the next page.
        await phone.get_by_role("button", name="中文").click()
        await phone.get_by_role("heading", name="任务 #").wait_for()
        await phone.goto(base + f"/servers/{fake.guild_id}")
        await phone.get_by_role("heading", name="Lemon Grove 的图库").wait_for()
        assert await phone.get_attribute("html", "lang") == "zh-CN"
        chinese = phone.get_by_role("button", name="中文")
        assert await chinese.get_attribute("aria-pressed") == "true"
        await shot(phone, "9-phone-gallery-zh")
    finally:
        await browser.close()
        await playwright.stop()


async def wait_serving(bot: BotProcess, url: str) -> None:
    async def up() -> None:
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                try:
                    await client.get(url)
                    return
                except httpx.TransportError:
                    await asyncio.sleep(0.05)

    await bot.race(asyncio.wait_for(up(), 20))


async def test_python_m_bot_web_serves_the_same_database_beside_the_bot(
    fake: FakeDiscord, make_bot: BotFactory
) -> None:
    bot = make_bot()
    await bot.start()
    await make_image(fake, fake.alice, "a lemon for the web process")
    port = free_port()
    web = make_bot("web", env=web_env(fake, port))
    web.db_path = bot.db_path  # the same ledger
    web.args = ["web"]
    await web.start(wait_ready=False)
    base = f"http://127.0.0.1:{port}"
    await wait_serving(web, base + "/signed-out")
    fake.oauth_user = fake.alice
    playwright, browser = await chromium()
    try:
        page = await sign_in(browser, base)
        await page.get_by_role("link", name="My images").first.click()
        await page.get_by_role("heading", name="My images").wait_for()
        assert "a lemon for the web process" in await page.content()
        await shot(page, "9-web-process-mine")
    finally:
        await browser.close()
        await playwright.stop()
    assert fake.identify_count == 1  # the web process never opened a gateway session


async def test_a_moderator_reads_the_usage_chart_on_a_desktop_and_a_phone(
    fake: FakeDiscord, make_bot: BotFactory
) -> None:
    """Two priced images: the Usage page's SVG chart shows them, by model and by member, in
    light and dark mode, without sideways scroll on a phone; the CSV link downloads."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    bot = make_bot(env=web_env(fake, port))
    await bot.start()
    await make_image(fake, fake.alice, "a lemon for the usage chart")
    await make_image(fake, fake.bob, "a lime for the usage chart")
    costs = [job["cost"] for job in bot.jobs()]
    assert len(costs) == 2 and all(costs), costs
    fake.oauth_user = fake.mod
    playwright, browser = await chromium()
    try:
        page = await sign_in(browser, base, viewport={"width": 1280, "height": 900})
        await page.get_by_role("link", name="Lemon Grove").click()
        await page.get_by_role("link", name="Usage", exact=True).click()
        await page.get_by_role("heading", name="Usage of Lemon Grove").wait_for()
        spend = page.get_by_role("img", name="Spend per day, by model")
        await expect(spend).to_be_visible()
        box = await spend.bounding_box()
        assert box is not None and box["width"] > 400 and box["height"] > 150
        bars = page.locator("svg#chart-cost rect")
        assert await bars.count() == 1  # one model, one day
        model, total = bot.jobs()[0]["model"], sum(costs)
        title = await bars.first.locator("title").text_content()
        assert title is not None and title.endswith(f"{model}: ${total / 1_000_000:g}"), title
        light = await bars.first.evaluate("rect => getComputedStyle(rect).fill")
        await no_image_without_alt(page)
        await shot(page, "10-usage")

        await page.emulate_media(color_scheme="dark")
        dark = await bars.first.evaluate("rect => getComputedStyle(rect).fill")
        assert light != dark  # the palette follows prefers-color-scheme
        await shot(page, "11-usage-dark")
        await page.emulate_media(color_scheme="light")

        await page.get_by_label("Split by").select_option("member")
        await page.get_by_role("button", name="Filter").click()
        await page.wait_for_url("**by=member**")
        await expect(page.get_by_role("img", name="Spend per day, by member")).to_be_visible()
        assert await bars.count() == 2  # alice and bob, stacked on the one day
        await shot(page, "12-usage-by-member")

        async with page.expect_download() as started:
            await page.get_by_role("link", name="Download this period's jobs (CSV)").click()
        download = await started.value
        saved = await download.path()
        text = await asyncio.to_thread(Path(saved).read_text, encoding="utf-8")
        header = text.splitlines()[0].split(",")
        assert "cost_usd" in header and len(text.splitlines()) == 3

        phone = await sign_in(
            browser, base, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
        )
        await phone.goto(base + f"/servers/{fake.guild_id}/usage")
        chart = phone.get_by_role("img", name="Images per day, by model")
        await expect(chart).to_be_visible()
        box = await chart.bounding_box()
        assert box is not None and 250 < box["width"] <= PHONE["width"]
        assert await phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await shot(phone, "13-phone-usage")
    finally:
        await browser.close()
        await playwright.stop()
