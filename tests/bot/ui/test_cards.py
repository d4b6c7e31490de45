"""Cards in the member's language: failures (the bot's own details) and Details' options."""

from __future__ import annotations

import re

import pytest

from bot.errors import OWN_DETAILS
from bot.ui.cards import failure_text
from bot.ui.details import details_embed
from tests.factories import job

LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


@pytest.mark.parametrize("detail", sorted(OWN_DETAILS))
def test_the_bots_own_details_are_said_in_the_members_language(detail: str) -> None:
    failed = job(state="failed", error_code="task_failed", error_message=detail, locale="zh-CN")
    text = failure_text(failed)
    assert "：" in text, text  # the detail is there, in the Chinese punctuation
    assert not LATIN_WORD.search(text), text
    english = failure_text(failed, "en-US")
    assert english.startswith("The image service could not make this image: ")


def test_the_gateways_own_words_are_quoted_as_they_came() -> None:
    failed = job(
        state="failed", error_code="task_failed", error_message="upstream busy", locale="zh-CN"
    )
    assert "upstream busy" in failure_text(failed)


def test_details_options_are_said_in_the_members_language() -> None:
    done = job(
        state="succeeded",
        options={"prompt": "a lemon", "model": "dall-e-3", "quality": "hd", "style": "vivid"},
        locale="zh-CN",
    )
    options = {f.name: f.value for f in details_embed(done, "zh-CN").fields}["选项"]
    assert options == "质量 高清，风格 鲜明"
    english = {f.name: f.value for f in details_embed(done, "en-US").fields}["Options"]
    assert english == "quality hd, style vivid"
