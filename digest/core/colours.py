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


# Non-text marks (a theme's heading bar) need this much contrast with what they sit on (WCAG 2.1,
# 1.4.11 non-text contrast).
MIN_MARK_CONTRAST = 3.0


def lightened_until_readable(
    colour: str, background: str, minimum: float = MIN_MARK_CONTRAST
) -> str:
    """`colour` mixed with white in steps of 5% until it has `minimum` contrast with a dark
    `background`: the same hue, as light as it must be and no lighter. White, the last step,
    has more than 3:1 with any background dark enough for light text."""
    for step in range(21):
        mixed = _mix_with_white(colour, step / 20)
        if contrast_ratio(mixed, background) >= minimum:
            return mixed
    return "#ffffff"


def _mix_with_white(colour: str, share: float) -> str:
    return mixed(colour, "#ffffff", share)


def mixed(colour: str, other: str, share: float) -> str:
    """`colour` with `share` (0 to 1) of `other` mixed in, channel by channel."""
    pairs = ((int(colour[i : i + 2], 16), int(other[i : i + 2], 16)) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c + (o - c) * share):02x}" for c, o in pairs)
