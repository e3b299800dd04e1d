"""Draw the VS Code extension's icon (editors/vscode/images/icon.png, 128x128).

The Marketplace wants a PNG of at least 128 px; drawing it from code keeps it
reproducible and free of anyone else's artwork. Run once after changing it:
``python scripts/draw-vscode-icon.py``.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 128
OUT = Path(__file__).resolve().parents[1] / "editors" / "vscode" / "images" / "icon.png"


def draw() -> Image.Image:
    """A rounded teal tile with a diff's "-" and "+" lines: what Amigo hands back."""
    scale = 4  # draw large, then downsample, for smooth edges
    s = SIZE * scale
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((0, 0, s - 1, s - 1), radius=26 * scale, fill=(18, 104, 112, 255))
    rows = ((34, (229, 83, 75), "-", 52), (64, (87, 201, 126), "+", 70), (94, (87, 201, 126), "+", 40))
    for y, colour, sign, length in rows:
        y0, y1 = (y - 8) * scale, (y + 8) * scale
        d.rounded_rectangle((16 * scale, y0, 104 * scale, y1), radius=5 * scale, fill=(255, 255, 255, 40))
        cx, cy, arm = 27 * scale, y * scale, 5 * scale
        d.line((cx - arm, cy, cx + arm, cy), fill=colour, width=3 * scale)
        if sign == "+":
            d.line((cx, cy - arm, cx, cy + arm), fill=colour, width=3 * scale)
        d.rounded_rectangle((40 * scale, cy - 3 * scale, (40 + length) * scale, cy + 3 * scale),
                            radius=3 * scale, fill=colour)
    return img.resize((SIZE, SIZE), Image.LANCZOS)


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    draw().save(OUT, optimize=True)
    print(OUT)
