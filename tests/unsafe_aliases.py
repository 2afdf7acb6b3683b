"""Dangerous callables under innocent names, as a careless or hostile tools module has them.

The tool loader must judge what a function is, not only what the path says.
"""

from __future__ import annotations

import functools
import os
import subprocess
from os import system as tidy

run_shell = functools.partial(subprocess.run, shell=True)


@functools.wraps(os.system)
def wrapped(command: str) -> int:
    """Looks like ours; is os.system underneath."""
    return os.system(command)


__all__ = ["run_shell", "tidy", "wrapped"]
