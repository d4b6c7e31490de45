"""Discord's documented limits, checked on everything the bot sends.

Each check collects Discord's own form-error shape, ``{"code": 50035, "message":
"Invalid Form Body", "errors": {"embeds": {"0": {"title": {"_errors": [...]}}}}}``,
and raises one :class:`~tests.fakes.fake_discord.errors.ApiError` marked as a limit
violation: the fake records it, and the test that caused it fails at teardown (an
overflow must fail the test, not a member's request).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from tests.fakes.fake_discord.components import check_components
from tests.fakes.fake_discord.constants import FLAG_COMPONENTS_V2
from tests.fakes.fake_discord.errors import ApiError
from tests.fakes.fake_discord.form_errors import FormErrors, Path

# Messages (https://discord.com/developers/docs/resources/message).
MAX_CONTENT = 2000
MAX_ATTACHMENTS = 10
MAX_REQUEST_UPLOAD_BYTES = 25 * 1024 * 1024
MAX_EMBEDS = 10
MAX_EMBED_TITLE = 256
MAX_EMBED_DESCRIPTION = 4096
MAX_EMBED_FIELDS = 25
MAX_EMBED_FIELD_NAME = 256
MAX_EMBED_FIELD_VALUE = 1024
MAX_EMBED_FOOTER = 2048
MAX_EMBED_AUTHOR = 256
MAX_EMBED_TOTAL = 6000

# Application commands and autocomplete.
MAX_CHOICES = 25
MAX_CHOICE_NAME = 100
MAX_CHOICE_STRING_VALUE = 100
MAX_COMMAND_NAME = 32
MAX_COMMAND_DESCRIPTION = 100
MAX_OPTIONS = 25

# Chat-input names: lowercase letters (any script), digits, - and _.
_CHAT_INPUT_NAME = re.compile(r"^[-_'\w]{1,32}$")


def too_large() -> ApiError:
    """Discord's answer to an upload over a limit."""
    return ApiError(413, 40005, "Request entity too large", violation="limit")


def check_upload_sizes(sizes: Iterable[int], per_file_limit: int) -> None:
    """Each file within the channel's upload limit, the request within 25 MiB."""
    sizes = list(sizes)
    if any(size > per_file_limit for size in sizes) or sum(sizes) > MAX_REQUEST_UPLOAD_BYTES:
        raise too_large()


# ---------------------------------------------------------------------- messages


def check_message(message: dict[str, Any]) -> None:
    """Check a message's final state (after a create or an edit) against Discord's limits."""
    errors = FormErrors()
    flags = int(message.get("flags") or 0)
    v2 = bool(flags & FLAG_COMPONENTS_V2)
    errors.length(("content",), message.get("content") or "", MAX_CONTENT)
    embeds = errors.count(("embeds",), message.get("embeds"), MAX_EMBEDS)
    errors.count(("attachments",), message.get("attachments"), MAX_ATTACHMENTS)
    if v2:
        # IS_COMPONENTS_V2 replaces content and embeds; Discord refuses both with it.
        for key in ("content", "embeds"):
            if message.get(key):
                errors.add(
                    (key,),
                    "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                    f"The '{key}' field cannot be used when using MessageFlags.IS_COMPONENTS_V2",
                )
    check_embeds(embeds, errors)
    names = {a.get("filename") for a in message.get("attachments") or []}
    check_components(message.get("components"), errors, v2=v2, attachment_names=names)
    errors.raise_if_any()


def check_embeds(embeds: list[Any], errors: FormErrors) -> None:
    """Per-embed limits and the 6,000-character total of a message."""
    total = 0
    for i, embed in enumerate(embeds):
        if not isinstance(embed, dict):
            errors.add(("embeds", i), "DICT_TYPE_CONVERT", "Only dictionaries may be used.")
            continue
        base: Path = ("embeds", i)
        parts: list[Any] = [embed.get("title"), embed.get("description")]
        errors.length((*base, "title"), embed.get("title"), MAX_EMBED_TITLE)
        errors.length((*base, "description"), embed.get("description"), MAX_EMBED_DESCRIPTION)
        fields = errors.count((*base, "fields"), embed.get("fields"), MAX_EMBED_FIELDS)
        for j, item in enumerate(fields):
            path: Path = (*base, "fields", j)
            item = item if isinstance(item, dict) else {}
            for key, maximum in (("name", MAX_EMBED_FIELD_NAME), ("value", MAX_EMBED_FIELD_VALUE)):
                if errors.required((*path, key), item.get(key)):
                    errors.length((*path, key), item.get(key), maximum)
                parts.append(item.get(key))
        footer = embed.get("footer") or {}
        errors.length((*base, "footer", "text"), footer.get("text"), MAX_EMBED_FOOTER)
        author = embed.get("author") or {}
        errors.length((*base, "author", "name"), author.get("name"), MAX_EMBED_AUTHOR)
        parts += [footer.get("text"), author.get("name")]
        total += sum(len(p) for p in parts if isinstance(p, str))
    if total > MAX_EMBED_TOTAL:
        errors.add(
            ("embeds",),
            "MAX_EMBED_SIZE_EXCEEDED",
            f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}",
        )


# ---------------------------------------------------------------------- interactions


def check_autocomplete_choices(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Check an autocomplete result (callback type 8); return its choices."""
    errors = FormErrors()
    choices = _choices(errors, ("choices",), data.get("choices"), required=True)
    errors.raise_if_any()
    return choices


def _choices(errors: FormErrors, path: Path, choices: Any, *, required: bool) -> list[Any]:
    if choices is None and not required:
        return []
    items = errors.count(path, choices, MAX_CHOICES)
    for i, choice in enumerate(items):
        choice = choice if isinstance(choice, dict) else {}
        if errors.required((*path, i, "name"), choice.get("name")):
            errors.length((*path, i, "name"), choice.get("name"), MAX_CHOICE_NAME, 1)
        if isinstance(choice.get("value"), str):
            errors.length((*path, i, "value"), choice["value"], MAX_CHOICE_STRING_VALUE)
        elif not isinstance(choice.get("value"), int | float) or isinstance(choice["value"], bool):
            errors.add((*path, i, "value"), "BASE_TYPE_REQUIRED", "This field is required")
        _localizations(errors, (*path, i, "name_localizations"), choice, MAX_CHOICE_NAME)
    return items


# ---------------------------------------------------------------------- commands


def check_commands(commands: list[Any]) -> None:
    """Check a bulk overwrite (PUT): every command, errors keyed by index."""
    errors = FormErrors()
    for i, command in enumerate(commands):
        _command(errors, (i,), command if isinstance(command, dict) else {})
    errors.raise_if_any()


def check_command(command: dict[str, Any]) -> None:
    """Check one command (POST or PATCH)."""
    errors = FormErrors()
    _command(errors, (), command)
    errors.raise_if_any()


def _command(errors: FormErrors, path: Path, command: dict[str, Any]) -> None:
    chat_input = int(command.get("type") or 1) == 1
    _name_and_description(errors, path, command, chat_input=chat_input)
    options = errors.count((*path, "options"), command.get("options"), MAX_OPTIONS)
    if options and not chat_input:
        errors.add((*path, "options"), "BASE_TYPE_BAD", "Only chat input commands have options")
    _options(errors, (*path, "options"), options)


def _options(errors: FormErrors, path: Path, options: list[Any]) -> None:
    for i, option in enumerate(options):
        option = option if isinstance(option, dict) else {}
        _name_and_description(errors, (*path, i), option, chat_input=True)
        if option.get("type") in (1, 2):
            sub = errors.count((*path, i, "options"), option.get("options"), MAX_OPTIONS)
            _options(errors, (*path, i, "options"), sub)
        _choices(errors, (*path, i, "choices"), option.get("choices"), required=False)


def _name_and_description(
    errors: FormErrors, path: Path, item: dict[str, Any], *, chat_input: bool
) -> None:
    name = item.get("name")
    if errors.required((*path, "name"), name):
        _command_name(errors, (*path, "name"), name, chat_input=chat_input)
    for locale, localized in (item.get("name_localizations") or {}).items():
        _command_name(
            errors, (*path, "name_localizations", locale), localized, chat_input=chat_input
        )
    description = item.get("description")
    if chat_input:
        if errors.required((*path, "description"), description):
            errors.length((*path, "description"), description, MAX_COMMAND_DESCRIPTION, 1)
        _localizations(
            errors, (*path, "description_localizations"), item, MAX_COMMAND_DESCRIPTION, minimum=1
        )
    elif description:
        errors.add((*path, "description"), "BASE_TYPE_BAD", "Context menu commands have none")


def _command_name(errors: FormErrors, path: Path, name: Any, *, chat_input: bool) -> None:
    if not isinstance(name, str):
        errors.add(path, "BASE_TYPE_STRING", "Must be a string.")
    elif chat_input and (not _CHAT_INPUT_NAME.match(name) or name != name.lower()):
        errors.add(path, "APPLICATION_COMMAND_INVALID_NAME", f"Command name is invalid: {name!r}")
    else:
        errors.length(path, name, MAX_COMMAND_NAME, 1)


def _localizations(
    errors: FormErrors, path: Path, item: dict[str, Any], maximum: int, *, minimum: int = 0
) -> None:
    key = str(path[-1])
    for locale, text in (item.get(key) or {}).items():
        errors.length((*path[:-1], key, locale), text, maximum, minimum)
