"""Planners: the offline planner over the bundled catalog (default) and, later, OpenAI-compatible models."""
