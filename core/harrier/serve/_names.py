"""The model ids a server answers to by default: the Hub id, then the model as given."""

from __future__ import annotations

import json
import re
from pathlib import Path

_HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")


def default_names(model: str | Path) -> list[str]:
    """``model`` as given, preceded by its Hub id when ``model`` is a local folder that is a
    Hub snapshot (``.../models--ORG--NAME/snapshots/REV``) or whose ``config.json`` names one
    (``_name_or_path``)."""
    given = str(model)
    folder = Path(model)
    if not folder.is_dir():
        return [given]
    hub_id = _snapshot_id(folder.resolve()) or _config_id(folder)
    return [hub_id, given] if hub_id and hub_id != given else [given]


def _snapshot_id(folder: Path) -> str | None:
    parts = folder.parts
    if len(parts) >= 3 and parts[-2] == "snapshots" and parts[-3].startswith("models--"):
        org, _, name = parts[-3].removeprefix("models--").partition("--")
        return f"{org}/{name}" if name else org
    return None


def _config_id(folder: Path) -> str | None:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = config.get("_name_or_path") if isinstance(config, dict) else None
    if isinstance(name, str) and _HUB_ID.fullmatch(name) and not Path(name).exists():
        return name
    return None
