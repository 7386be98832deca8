"""The LangGraph workflow: nodes, graph and the runner that drives tasks through it."""
