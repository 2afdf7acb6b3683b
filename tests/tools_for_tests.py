"""Functions the tool tests load by import path, as a workflow would."""

from __future__ import annotations


def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


async def shout(text: str, times: int = 1) -> str:
    """Say it louder."""
    return (text.upper() + "!") * times


def broken(x: int) -> int:
    """Always fails."""
    raise RuntimeError(f"cannot handle {x}")


def list_folder(path: str) -> list[str]:
    """The names in a folder (as the OS gives them: a non-UTF-8 name comes back escaped)."""
    import os

    return sorted(os.listdir(path))


def finish(summary: str) -> str:
    """Hand in the final answer."""
    return f"filed: {summary}"


def not_the_author_twice(participants, recent) -> list[str]:
    """A candidate function: after the author, only the reviewers may speak."""
    if recent and recent[-1].sender == "author":
        return [p.id for p in participants if p.id != "author"]
    return ["author"]
