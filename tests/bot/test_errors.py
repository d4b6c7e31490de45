"""The one exception tree (bot/errors.py) and how the error router branches on it."""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
import re

import pytest

import bot
from bot import errors
from bot.errors import GatewayError, LemonbotError, Refusal, StorageError, log_failure
from bot.lemondata import ServerError
from bot.store.jobs import LeaseLost
from bot.store.outage import DatabaseUnavailable
from bot.ui.replies import CheckRefused, branch_of, error_text


def exception_classes() -> dict[str, type[BaseException]]:
    """Every exception class defined in a module of bot/, by name."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(bot.__path__, "bot."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found[name] = value
    return found


def test_every_exception_of_the_bot_descends_from_lemonbot_error():
    """One tree: no class of bot/ raises outside LemonbotError."""
    classes = exception_classes()
    assert len(classes) > 20
    assert [n for n, c in classes.items() if not issubclass(c, LemonbotError)] == []


def test_the_documented_tree_is_the_tree():
    """bot/errors.py's docstring names every class, each under its own parent."""
    classes = exception_classes()
    block = (errors.__doc__ or "").split("::\n\n", 1)[1].split("\n\n", 1)[0]
    lines = block.splitlines()
    depth_of = {}
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in lines:
        match = re.search(r"([A-Z]\w+)", line)
        assert match is not None
        name, depth = match.group(1), match.start()
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[name] = stack[-1][1]
        stack.append((depth, name))
        depth_of[name] = depth
    assert set(depth_of) == set(classes)
    for name, parent in parents.items():
        assert issubclass(classes[name], classes[parent]), (name, parent)
        assert classes[name].__bases__[0] is classes[parent], (name, parent)


@pytest.mark.parametrize(
    ("error", "branch"),
    [
        (ServerError("boom", status=502), "GatewayError"),
        (LeaseLost("job 1"), "StorageError"),
        (CheckRefused("refusal.check_failed"), "Refusal"),
        (StorageError("x"), "StorageError"),
    ],
)
def test_the_branch_of_an_error(error, branch):
    assert branch_of(error) == branch


def test_the_router_branches_on_the_tree(caplog):
    """A refusal is said; the gateway failing is said as such; the rest get a reference."""
    caplog.set_level(logging.INFO, logger="bot.ui.replies")
    assert error_text(Refusal("refusal.remix_expired"), "here", "en-US").startswith(
        "This Remix form has expired"
    )
    assert caplog.records == []

    gateway = error_text(ServerError("upstream down", status=503), "modal x", "en-US")
    assert gateway == "The image service is unavailable right now. Please try again later."
    [record] = caplog.records
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "upstream down" in record.getMessage()

    caplog.clear()
    stored = error_text(LeaseLost("job 7 is leased elsewhere"), "button x", "en-US")
    assert stored.startswith("Something went wrong (ref ")
    [record] = caplog.records
    assert record.exc_info is None
    assert "StorageError: job 7 is leased elsewhere" in record.getMessage()

    caplog.clear()
    crash = error_text(RuntimeError("bug"), "command imagine", "en-US")
    ref = re.search(r"ref (\w+)", crash)
    assert ref is not None
    [record] = caplog.records
    assert record.exc_info is not None and ref.group(1) in record.getMessage()
    assert isinstance(ServerError("x"), GatewayError)


def test_the_logs_branch_on_the_tree(caplog):
    """The bot's own error: one warning naming its branch; anything else: its traceback."""
    logger = logging.getLogger("tests.errors")
    with caplog.at_level(logging.WARNING, logger="tests.errors"):
        try:
            raise DatabaseUnavailable("sqlite")
        except DatabaseUnavailable as exc:
            log_failure(logger, exc, "job %s: step failed", 7)
        try:
            raise KeyError("bug")
        except KeyError as exc:
            log_failure(logger, exc, "job %s: step failed", 8)
    expected, bug = caplog.records
    assert expected.levelno == logging.WARNING and expected.exc_info is None
    assert expected.getMessage().startswith("job 7: step failed: StorageError: ")
    assert "Traceback" not in caplog.text.split("job 8")[0]
    assert bug.levelno == logging.ERROR and bug.getMessage() == "job 8: step failed"
    assert bug.exc_info is not None and bug.exc_info[0] is KeyError
