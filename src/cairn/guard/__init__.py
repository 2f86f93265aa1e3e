"""Guardrails: checks on what comes into and goes out of cairn."""
