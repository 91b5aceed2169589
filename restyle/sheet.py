"""Contact sheets: a labelled grid of results, one row and one column per swept value."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PIL import Image, ImageDraw
from torch import Tensor

from restyle.image import to_pil

__all__ = ["contact_sheet"]

_LABELS = {"style_weight": "style", "photo_weight": "photo", "content_weight": "content"}


def contact_sheet(
    results: Mapping[tuple[Any, ...], Tensor],
    grid: Mapping[str, Sequence[Any]],
    *,
    row_key: str,
    col_key: str | None = None,
    thumb: int = 256,
) -> Image.Image:
    """Arrange sweep results in a grid: one row per ``row_key`` value, one column per
    ``col_key`` value (other swept options, if any, take their first value).

    Args:
        results: image per combination, keyed by the tuple of values in ``grid``'s order.
        grid: the swept values of each option.
        thumb: long side of each thumbnail.
    """
    keys = list(grid)
    rows = list(grid[row_key])
    cols = list(grid[col_key]) if col_key else [None]
    first = next(iter(results.values()))
    h, w = first.shape[-2:]
    scale = thumb / max(h, w)
    tw, th = max(1, round(w * scale)), max(1, round(h * scale))
    margin, label_h = 70, 18
    sheet = Image.new("RGB", (margin + len(cols) * tw, label_h + len(rows) * (th + label_h)), "white")
    draw = ImageDraw.Draw(sheet)
    for j, col in enumerate(cols):
        if col_key:
            draw.text((margin + j * tw + 4, 2), f"{_LABELS.get(col_key, col_key)} {col:g}", fill="black")
    for i, row in enumerate(rows):
        y = label_h + i * (th + label_h)
        draw.text((4, y + th // 2), f"{_LABELS.get(row_key, row_key)}\n{row:g}", fill="black")
        for j, col in enumerate(cols):
            combo = tuple(row if k == row_key else col if k == col_key else grid[k][0] for k in keys)
            if combo in results:
                sheet.paste(to_pil(results[combo]).resize((tw, th), Image.Resampling.LANCZOS), (margin + j * tw, y))
    return sheet
