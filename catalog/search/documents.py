"""What text of a product gets indexed, shared by both backends so they match the same words."""

from __future__ import annotations

import json


def product_body(description: str | None, specs_json: str | None) -> str:
    """The description plus the spec values: text and numbers as written, true flags by their name."""
    parts = [description or ""]
    specs = json.loads(specs_json) if specs_json else {}
    for name, value in specs.items():
        if value is True:
            parts.append(name.replace("_", " "))
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            parts.append(str(value))
    return " ".join(parts)
