"""The workflow's step names: stable, they name log lines (``<step>_started``), events (``step``), metrics
labels, per-step model settings (``LLM_MODEL_<STEP>``) and message keys (``step.<name>``)."""

from __future__ import annotations

INTENT_ANALYSIS = "intent_analysis"
CURRICULUM_DESIGN = "curriculum_design"
STRUCTURE_VALIDATION = "structure_validation"
ROADMAP_EDIT = "roadmap_edit"
HUMAN_REVIEW = "human_review"
FINALIZE = "finalize"
STEPS = (INTENT_ANALYSIS, CURRICULUM_DESIGN, STRUCTURE_VALIDATION, ROADMAP_EDIT, HUMAN_REVIEW, FINALIZE)
