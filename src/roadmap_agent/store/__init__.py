"""Tables (SQLAlchemy Core) and the repository over them: tasks, roadmaps, review decisions, events."""
