"""The accounts a shardline MySQL server accepts: user name -> clear-text password."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from shardline.errors import InvalidArgument


class UserStore:
    """User names and passwords; clear text so that every supported auth method can be checked."""

    def __init__(self, passwords: Mapping[str, str]) -> None:
        for user, password in passwords.items():
            if not isinstance(user, str) or not isinstance(password, str) or not user:
                raise InvalidArgument(f"invalid user entry {user!r}: user and password must be strings")
        self._passwords = dict(passwords)

    @classmethod
    def load(cls, path: str | Path) -> UserStore:
        """Reads a JSON object ``{"user": "password", ...}``."""
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise InvalidArgument(f"cannot read the user file {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidArgument(f"user file {path} must hold a JSON object of user -> password")
        return cls(data)

    def password(self, user: str) -> str | None:
        """The user's password, or None for an unknown user."""
        return self._passwords.get(user)
