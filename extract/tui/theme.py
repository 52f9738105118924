"""[theme] colours as a textual theme, plus the palette charts draw their lines with."""

from __future__ import annotations

from textual.theme import Theme

from extract.display.settings import ThemeConfig

#: Extra lines after the first (accent): then success, warning, error, and these.
_MORE = ("#94e2d5", "#cba6f7", "#fab387", "#f5c2e7", "#74c7ec", "#eba0ac", "#b4befe")


def build(theme: ThemeConfig) -> Theme:
    """The app's theme: [theme] keys (or the seed's defaults) as textual's colour system.

    ``border``, ``border_focused`` and ``accent_dim`` become the CSS variables
    ``$x-border``, ``$x-border-focused`` and ``$x-accent-dim``.
    """
    return Theme(
        name="extract",
        primary=theme.accent,
        secondary=theme.accent_dim,
        accent=theme.accent,
        warning=theme.warning,
        error=theme.error,
        success=theme.success,
        foreground=theme.fg,
        background=theme.bg,
        surface=theme.bg,
        panel=theme.accent_dim,
        dark=True,
        variables=variables(theme),
    )


def variables(theme: ThemeConfig) -> dict[str, str]:
    return {
        "x-border": theme.border,
        "x-border-focused": theme.border_focused,
        "x-accent-dim": theme.accent_dim,
        "x-fg": theme.fg,
        "x-bg": theme.bg,
        "block-cursor-background": theme.accent,
        "block-cursor-foreground": theme.bg,
        "footer-key-foreground": theme.accent,
    }


def palette(theme: ThemeConfig) -> list[str]:
    """Line colours for charts, most distinct first."""
    return [theme.accent, theme.success, theme.warning, theme.error, *_MORE]


def status_color(theme: ThemeConfig, status: str) -> str:
    return {
        "running": theme.warning,
        "completed": theme.success,
        "failed": theme.error,
    }.get(status, theme.accent_dim)


def priority_color(theme: ThemeConfig, priority: int) -> str:
    return {2: theme.error, 1: theme.warning}.get(priority, theme.accent_dim)
