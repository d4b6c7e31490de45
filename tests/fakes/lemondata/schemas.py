"""The gateway's OpenAPI schemas, to check the emulator's answers against in tests.

``lemondata-images-schemas.json`` beside this module is a copy of
``/work/shared/contracts/lemondata-images-schemas.json`` (the image, task, model and
file routes of TokenLab's public OpenAPI contract, and the schemas they reference), kept
in the repository so that a clean clone can validate. It adds, verbatim from the full
contract (``lemondata-openapi.json``), the ``GET /v1/pricing`` route and its
``PricingResponse`` and ``PricingEntry`` schemas. The contract says OpenAPI 3.0.3
but writes 3.1 types (``["string", "null"]``), so it is read as JSON Schema 2020-12.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

SCHEMAS_FILE = Path(__file__).resolve().with_name("lemondata-images-schemas.json")


@functools.cache
def _contract() -> dict[str, Any]:
    contract: dict[str, Any] = json.loads(SCHEMAS_FILE.read_text(encoding="utf-8"))
    return contract


@functools.cache
def _validator(name: str) -> Any:
    from jsonschema import Draft202012Validator  # a development dependency: import late

    contract = _contract()
    if name not in contract["components"]["schemas"]:
        raise KeyError(f"no schema {name!r} in {SCHEMAS_FILE.name}")
    root = {"$ref": f"#/components/schemas/{name}", "components": contract["components"]}
    return Draft202012Validator(root)


def schema_errors(name: str, instance: Any) -> list[str]:
    """Return why ``instance`` breaks the contract's schema ``name`` (empty when it fits)."""
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in _validator(name).iter_errors(instance)
    ]
