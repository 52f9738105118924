"""Widgets of the terminal UI, each with its CSS next to it."""
