"""Colour contrast as WCAG 2 defines it, for the email's palette and the editor's accent."""

from __future__ import annotations

# Body text needs this much contrast with its background (WCAG 2, level AA).
MIN_CONTRAST = 4.5


def contrast_ratio(first: str, second: str) -> float:
    """The contrast ratio of two '#rrggbb' colours, from 1 (same) to 21 (black on white)."""
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _luminance(colour: str) -> float:
    red, green, blue = (int(colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return 0.2126 * _linear(red) + 0.7152 * _linear(green) + 0.0722 * _linear(blue)


def _linear(channel: float) -> float:
    return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4
