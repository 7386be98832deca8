"""roadmap-agent: personalised learning roadmaps through a durable, checkpointed LangGraph workflow."""

__version__ = "0.1.0"
