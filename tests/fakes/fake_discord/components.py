"""Discord's limits on message components (legacy rows, Components V2) and modals."""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.fake_discord.form_errors import FormErrors, Path

# Components (https://discord.com/developers/docs/components/reference).
MAX_ACTION_ROWS = 5
MAX_ROW_BUTTONS = 5
MAX_CUSTOM_ID = 100
MAX_BUTTON_LABEL = 80
MAX_SELECT_OPTIONS = 25
MAX_SELECT_OPTION_TEXT = 100
MAX_SELECT_PLACEHOLDER = 150
MAX_V2_COMPONENTS = 40
MAX_V2_TEXT = 4000
MAX_GALLERY_ITEMS = 10
MAX_MEDIA_DESCRIPTION = 1024
MAX_SECTION_TEXTS = 3

# Modals.
MAX_MODAL_TITLE = 45
MAX_MODAL_COMPONENTS = 5
MAX_TEXT_INPUT_LABEL = 45
MAX_TEXT_INPUT_VALUE = 4000
MAX_TEXT_INPUT_PLACEHOLDER = 100
MAX_LABEL_DESCRIPTION = 100

# Component types.
ACTION_ROW = 1
BUTTON = 2
STRING_SELECT = 3
TEXT_INPUT = 4
USER_SELECT = 5
ROLE_SELECT = 6
MENTIONABLE_SELECT = 7
CHANNEL_SELECT = 8
SECTION = 9
TEXT_DISPLAY = 10
THUMBNAIL = 11
MEDIA_GALLERY = 12
FILE = 13
SEPARATOR = 14
CONTAINER = 17
LABEL = 18
SELECTS = {STRING_SELECT, USER_SELECT, ROLE_SELECT, MENTIONABLE_SELECT, CHANNEL_SELECT}
# Thumbnails are only a section's accessory (Discord refuses them at the top level).
V2_TOP_LEVEL = {ACTION_ROW, SECTION, TEXT_DISPLAY, MEDIA_GALLERY, FILE, SEPARATOR, CONTAINER}
CONTAINER_CHILDREN = {ACTION_ROW, SECTION, TEXT_DISPLAY, MEDIA_GALLERY, FILE, SEPARATOR}
BUTTON_LINK = 5
BUTTON_PREMIUM = 6


# ---------------------------------------------------------------------- components


class _Walk:
    """State of one message's component walk: totals and custom_ids seen."""

    def __init__(self, errors: FormErrors, attachment_names: set[Any]) -> None:
        self.errors = errors
        self.attachment_names = attachment_names
        self.count = 0
        self.text = 0
        self.custom_ids: set[str] = set()

    def custom_id(self, path: Path, component: dict[str, Any], *, required: bool = True) -> None:
        value = component.get("custom_id")
        if value is None and not required:
            return
        if self.errors.required((*path, "custom_id"), value):
            self.errors.length((*path, "custom_id"), value, MAX_CUSTOM_ID)
            if value in self.custom_ids:
                self.errors.add(
                    (*path, "custom_id"),
                    "COMPONENT_CUSTOM_ID_DUPLICATED",
                    "Component custom id cannot be duplicated",
                )
            self.custom_ids.add(value)

    def media(self, path: Path, media: Any, *, attachment_only: bool = False) -> None:
        url = media.get("url") if isinstance(media, dict) else None
        if not self.errors.required((*path, "url"), url):
            return
        if isinstance(url, str) and url.startswith("attachment://"):
            if url.removeprefix("attachment://") not in self.attachment_names:
                self.errors.add(
                    (*path, "url"),
                    "UNFURLED_MEDIA_ITEM_ATTACHMENT_NOT_FOUND",
                    f"Attachment {url!r} is not an attachment of this message",
                )
        elif attachment_only or not (isinstance(url, str) and re.match(r"https?://", url)):
            self.errors.add(
                (*path, "url"),
                "UNFURLED_MEDIA_ITEM_INVALID_URL",
                "Must be an attachment://<filename> reference"
                + ("" if attachment_only else " or an http(s) URL"),
            )


def check_components(
    components: Any, errors: FormErrors, *, v2: bool, attachment_names: set[Any]
) -> None:
    """Check a message's component tree (legacy action rows, or Components V2)."""
    walk = _Walk(errors, attachment_names)
    items = errors.count(("components",), components, MAX_V2_COMPONENTS if v2 else MAX_ACTION_ROWS)
    for i, component in enumerate(items):
        path: Path = ("components", i)
        allowed = V2_TOP_LEVEL if v2 else {ACTION_ROW}
        if _typed(walk, path, component, allowed):
            _component(walk, path, component)
    if v2:
        if walk.count > MAX_V2_COMPONENTS:
            errors.add(
                ("components",),
                "COMPONENT_MAX_TOTAL_COMPONENTS_EXCEEDED",
                f"A message can have at most {MAX_V2_COMPONENTS} components in total",
            )
        if walk.text > MAX_V2_TEXT:
            errors.add(
                ("components",),
                "COMPONENT_MAX_TOTAL_TEXT_EXCEEDED",
                f"Text displays can hold at most {MAX_V2_TEXT} characters in total",
            )


def _typed(walk: _Walk, path: Path, component: Any, allowed: set[int]) -> bool:
    """Check a component is an object of an allowed type; count it."""
    ctype = component.get("type") if isinstance(component, dict) else None
    if ctype not in allowed:
        walk.errors.add(
            (*path, "type"),
            "UNION_TYPE_CHOICES",
            f"Value of field 'type' must be one of {sorted(allowed)}.",
        )
        return False
    walk.count += 1
    return True


def _component(walk: _Walk, path: Path, c: dict[str, Any]) -> None:
    errors = walk.errors
    ctype = c["type"]
    if ctype == ACTION_ROW:
        children = errors.count((*path, "components"), c.get("components"), MAX_ROW_BUTTONS, 1)
        kinds = {child.get("type") for child in children if isinstance(child, dict)}
        if kinds & SELECTS and len(children) > 1:
            errors.add(
                (*path, "components"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "A select menu takes a whole action row",
            )
        for j, child in enumerate(children):
            if _typed(walk, (*path, "components", j), child, {BUTTON, *SELECTS}):
                _component(walk, (*path, "components", j), child)
    elif ctype == BUTTON:
        style = c.get("style")
        if style == BUTTON_LINK:
            errors.required((*path, "url"), c.get("url"))
        elif style != BUTTON_PREMIUM:
            walk.custom_id(path, c)
        errors.length((*path, "label"), c.get("label"), MAX_BUTTON_LABEL)
    elif ctype in SELECTS:
        walk.custom_id(path, c)
        errors.length((*path, "placeholder"), c.get("placeholder"), MAX_SELECT_PLACEHOLDER)
        if ctype == STRING_SELECT:
            options = errors.count((*path, "options"), c.get("options"), MAX_SELECT_OPTIONS, 1)
            for j, option in enumerate(options):
                option = option if isinstance(option, dict) else {}
                for key in ("label", "value"):
                    if errors.required((*path, "options", j, key), option.get(key)):
                        errors.length(
                            (*path, "options", j, key), option.get(key), MAX_SELECT_OPTION_TEXT
                        )
                errors.length(
                    (*path, "options", j, "description"),
                    option.get("description"),
                    MAX_SELECT_OPTION_TEXT,
                )
    elif ctype == CONTAINER:
        children = errors.count((*path, "components"), c.get("components"), MAX_V2_COMPONENTS, 1)
        for j, child in enumerate(children):
            if _typed(walk, (*path, "components", j), child, CONTAINER_CHILDREN):
                _component(walk, (*path, "components", j), child)
    elif ctype == SECTION:
        texts = errors.count((*path, "components"), c.get("components"), MAX_SECTION_TEXTS, 1)
        for j, child in enumerate(texts):
            if _typed(walk, (*path, "components", j), child, {TEXT_DISPLAY}):
                _component(walk, (*path, "components", j), child)
        accessory = c.get("accessory")
        if errors.required((*path, "accessory"), accessory) and _typed(
            walk, (*path, "accessory"), accessory, {THUMBNAIL, BUTTON}
        ):
            _component(walk, (*path, "accessory"), accessory)
    elif ctype == TEXT_DISPLAY:
        content = c.get("content")
        if errors.required((*path, "content"), content) and isinstance(content, str):
            walk.text += len(content)
    elif ctype == THUMBNAIL:
        walk.media((*path, "media"), c.get("media"))
        errors.length((*path, "description"), c.get("description"), MAX_MEDIA_DESCRIPTION)
    elif ctype == MEDIA_GALLERY:
        items = errors.count((*path, "items"), c.get("items"), MAX_GALLERY_ITEMS, 1)
        for j, item in enumerate(items):
            item = item if isinstance(item, dict) else {}
            walk.media((*path, "items", j, "media"), item.get("media"))
            errors.length(
                (*path, "items", j, "description"), item.get("description"), MAX_MEDIA_DESCRIPTION
            )
    elif ctype == FILE:
        walk.media((*path, "file"), c.get("file"), attachment_only=True)
    elif ctype == SEPARATOR and c.get("spacing") not in (None, 1, 2):
        errors.add((*path, "spacing"), "BASE_TYPE_CHOICES", "Value must be one of (1, 2).")


def check_modal(data: dict[str, Any]) -> None:
    """Check a modal (callback type 9): title, 1-5 rows or labels of text inputs."""
    errors = FormErrors()
    base: Path = ()
    if errors.required((*base, "title"), data.get("title")):
        errors.length((*base, "title"), data.get("title"), MAX_MODAL_TITLE, 1)
    walk = _Walk(errors, set())
    walk.custom_id(base, data)
    rows = errors.count(
        (*base, "components"), data.get("components"), MAX_MODAL_COMPONENTS, minimum=1
    )
    for i, row in enumerate(rows):
        path: Path = (*base, "components", i)
        if not _typed(walk, path, row, {ACTION_ROW, LABEL, TEXT_DISPLAY}):
            continue
        if row["type"] == ACTION_ROW:
            inputs = errors.count((*path, "components"), row.get("components"), 1, 1)
            for j, text_input in enumerate(inputs):
                if _typed(walk, (*path, "components", j), text_input, {TEXT_INPUT}):
                    _text_input(walk, (*path, "components", j), text_input, labelled=False)
        elif row["type"] == LABEL:
            if errors.required((*path, "label"), row.get("label")):
                errors.length((*path, "label"), row.get("label"), MAX_TEXT_INPUT_LABEL, 1)
            errors.length((*path, "description"), row.get("description"), MAX_LABEL_DESCRIPTION)
            inner = row.get("component")
            if _typed(walk, (*path, "component"), inner, {TEXT_INPUT, *SELECTS}):
                if inner["type"] == TEXT_INPUT:
                    _text_input(walk, (*path, "component"), inner, labelled=True)
                else:
                    _component(walk, (*path, "component"), inner)
        else:
            _component(walk, path, row)
    errors.raise_if_any()


def _text_input(walk: _Walk, path: Path, c: dict[str, Any], *, labelled: bool) -> None:
    errors = walk.errors
    walk.custom_id(path, c)
    if c.get("style") not in (1, 2):
        errors.add((*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of (1, 2).")
    if labelled:
        if c.get("label") is not None:
            errors.add((*path, "label"), "BASE_TYPE_BAD", "A labelled text input has no label")
    elif errors.required((*path, "label"), c.get("label")):
        errors.length((*path, "label"), c.get("label"), MAX_TEXT_INPUT_LABEL, 1)
    errors.length((*path, "value"), c.get("value"), MAX_TEXT_INPUT_VALUE)
    errors.length((*path, "placeholder"), c.get("placeholder"), MAX_TEXT_INPUT_PLACEHOLDER)
    for key, low in (("min_length", 0), ("max_length", 1)):
        value = c.get(key)
        if value is not None and not (
            isinstance(value, int) and low <= value <= MAX_TEXT_INPUT_VALUE
        ):
            errors.add(
                (*path, key), "NUMBER_TYPE_MAX", f"Must be between {low} and {MAX_TEXT_INPUT_VALUE}"
            )
