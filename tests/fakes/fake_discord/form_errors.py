"""Discord's nested form-error shape (``errors`` of a 400/50035 answer)."""

from __future__ import annotations

from typing import Any

from tests.fakes.fake_discord.errors import ApiError

Path = tuple[str | int, ...]


class FormErrors:
    """Collects errors in Discord's nested ``errors`` shape."""

    def __init__(self) -> None:
        self.errors: dict[str, Any] = {}

    def add(self, path: Path, code: str, message: str) -> None:
        node = self.errors
        for key in path or ("_root",):
            node = node.setdefault(str(key), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def length(self, path: Path, value: Any, maximum: int, minimum: int = 0) -> None:
        """Check a string's length (None counts as absent, checked by ``required``)."""
        if value is None:
            return
        if not isinstance(value, str):
            self.add(path, "BASE_TYPE_STRING", "Must be a string.")
        elif len(value) > maximum:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {maximum} or fewer in length.")
        elif len(value) < minimum:
            self.add(path, "BASE_TYPE_MIN_LENGTH", f"Must be {minimum} or more in length.")

    def count(self, path: Path, items: Any, maximum: int, minimum: int = 0) -> list[Any]:
        """Check a list's length; return it (or [] when it is not a list)."""
        if items is None:
            items = []
        if not isinstance(items, list):
            self.add(path, "LIST_TYPE_CONVERT", "Must be a list.")
            return []
        if len(items) > maximum:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {maximum} or fewer in length.")
        elif len(items) < minimum:
            self.add(path, "BASE_TYPE_MIN_LENGTH", f"Must be {minimum} or more in length.")
        return items

    def required(self, path: Path, value: Any) -> bool:
        """Check a value is present and not empty; return whether it is."""
        if value is None or value == "" or value == []:
            self.add(path, "BASE_TYPE_REQUIRED", "This field is required")
            return False
        return True

    def raise_if_any(self) -> None:
        if self.errors:
            raise ApiError(400, 50035, "Invalid Form Body", errors=self.errors, violation="limit")
