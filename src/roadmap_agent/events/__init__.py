"""Events: the durable per-task log first, then fan-out to live subscribers."""
