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
