"""Pure domain logic: models, the bundled catalog, planning, scheduling, validation and editing."""
