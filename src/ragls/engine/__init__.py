"""Pipelines that join retrieval and models: completion, fix, test generation, grounding. No LSP here."""
