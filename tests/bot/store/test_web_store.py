"""The dashboard's rows on both engines: sessions, thumbnails, the gallery's queries."""

from __future__ import annotations

import time

from bot.dashboard import WebSessions, hash_session_id
from bot.store import GalleryFilter, Store, StoredImage
from tests.factories import draft, insert_job


async def test_a_session_is_found_by_its_raw_id_only_while_live(db: Store):
    sessions = WebSessions(db)
    raw, session = await sessions.open(
        user_id=7, username="alice", locale="en-US", guild_ids=(1, 2), moderated_ids=(2,)
    )
    assert session.id_hash == hash_session_id(raw) and raw not in session.id_hash
    row = await db.db.fetchone("SELECT * FROM web_sessions")
    assert row is not None and raw not in str(dict(row).values())  # only the hash is kept
    found = await sessions.find(raw)
    assert found is not None and found.guild_ids == (1, 2) and found.moderated_ids == (2,)
    assert await sessions.find(raw + "x") is None
    rechecked = await sessions.rechecked(found, [])
    assert rechecked.moderated_ids == ()
    assert (await sessions.find(raw)).moderated_ids == ()  # type: ignore[union-attr]
    await sessions.revoke(found)
    assert await sessions.find(raw) is None


async def test_an_expired_session_is_not_found(db: Store):
    sessions = WebSessions(db, lifetime=-1)
    raw, _ = await sessions.open(
        user_id=7, username="a", locale="en-US", guild_ids=(), moderated_ids=()
    )
    assert await sessions.find(raw) is None


async def test_the_gallery_filters_pages_and_escapes_like_patterns(db: Store):
    ids = []
    for prompt, guild, user in [
        ("100% lemon", 1, 7),
        ("a_lemon tree", 1, 8),
        ("A LIME", 2, 7),
        ("plain lemon", 1, 7),
    ]:
        job = await insert_job(db, draft(guild_id=guild, user_id=user, prompt=prompt))
        ids.append(job.id)

    async def prompts(**filters) -> list[str]:
        return [j.prompt for j in await db.web.gallery(GalleryFilter(**filters), limit=10)]

    assert await prompts(guild_ids=(1,)) == ["plain lemon", "a_lemon tree", "100% lemon"]
    assert await prompts(guild_ids=(1,), text="%") == ["100% lemon"]
    assert await prompts(guild_ids=(1,), text="_") == ["a_lemon tree"]
    assert await prompts(guild_ids=(1, 2), text="lime") == ["A LIME"]
    assert await prompts(user_id=7) == ["plain lemon", "A LIME", "100% lemon"]
    assert await prompts(guild_ids=(1,), before_id=ids[3]) == ["a_lemon tree", "100% lemon"]
    assert await prompts(guild_ids=()) == []


async def test_thumbnails_are_stored_once_and_images_read_by_position(db: Store):
    job = await insert_job(db, draft())
    await db.images.save_images(job.id, [StoredImage(0, None, "image/png", b"png-bytes")])
    assert await db.web.image(job.id, 0) == ("image/png", b"png-bytes")
    assert await db.web.image(job.id, 1) is None
    assert await db.web.image_positions(job.id) == [0]
    assert await db.web.thumbnail(job.id, 0) is None
    await db.web.save_thumbnail(job.id, 0, b"webp-1")
    await db.web.save_thumbnail(job.id, 0, b"webp-2")  # a second maker's copy is dropped
    assert await db.web.thumbnail(job.id, 0) == b"webp-1"
    counts = await db.web.images_since([job.guild_id], time.time() - 60)
    assert counts == {}  # not succeeded


async def test_date_windows_and_the_model_list_match_a_plain_filter(db: Store):
    """A date window finds every job in it, even one created out of id order (a process
    whose clock is behind another's), newest first, with paging; the model list is each
    distinct model of the servers asked, sorted."""
    times = [100.0, 300.0, 200.0, 400.0, 250.0, 260.0]  # by id; not in time order
    models = ["b", "a", "c", "a", "b", "d"]
    jobs = [
        await insert_job(db, draft(guild_id=2 if n == 5 else 1, model=model), now=at)
        for n, (at, model) in enumerate(zip(times, models, strict=True))
    ]
    mine = [j for j in jobs if j.guild_id == 1]

    async def ids(limit: int = 10, **filters) -> list[int]:
        found = await db.web.gallery(GalleryFilter(guild_ids=(1,), **filters), limit=limit)
        return [j.id for j in found]

    def want(since: float | None, until: float | None, before: int | None = None) -> list[int]:
        return [
            j.id
            for j in reversed(mine)
            if (since is None or j.created_at >= since)
            and (until is None or j.created_at < until)
            and (before is None or j.id < before)
        ]

    windows = [(None, 250.0), (200.0, None), (200.0, 300.0), (250.0, 250.5), (150.0, 260.0)]
    windows += [(600.0, None), (None, 50.0), (300.0, 200.0), (0.0, 5e6), (150.0, 3e6)]
    for since, until in windows:
        assert await ids(since=since, until=until) == want(since, until), (since, until)
    assert await ids(limit=1, since=150.0) == want(150.0, None)[:1]
    before = want(150.0, None)[0]
    assert await ids(since=150.0, before_id=before) == want(150.0, None, before)
    assert await ids(since=150.0, model="b") == [jobs[4].id]
    assert await db.web.models_of([1]) == ["a", "b", "c"]
    assert await db.web.models_of([2, 1, 2]) == ["a", "b", "c", "d"]
    assert await db.web.models_of([3]) == []
