"""Screens and popups of the terminal UI."""
