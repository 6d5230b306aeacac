"""The one error type users see: what went wrong, and where."""

from __future__ import annotations

__all__ = ["DatacentricError"]


class DatacentricError(Exception):
    """A user-facing problem (bad input, missing project, unreachable server).

    The CLI prints it as one line, ``error: <what> (<where>)``, and exits 1.
    """

    def __init__(self, what: str, where: object | None = None) -> None:
        self.what = what
        self.where = None if where is None else str(where)
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.what} ({self.where})" if self.where else self.what
