"""Honest scope: the error the offline planner raises for a goal its catalog does not cover.

``OutOfScope`` lives in the error tree (``errors.py``); it is re-exported here for domain code and tests.
"""

from __future__ import annotations

from roadmap_agent.errors import OutOfScope

__all__ = ["OutOfScope"]
