"""Image tools: one module per tool, all with the same face (tools/base.py)."""
