"""Orchestration of the plugin's operations, one module per family."""
