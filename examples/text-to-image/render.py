"""Drawing a picture from a prompt with Pillow: no model, no download.

Everything comes from the prompt and the seed, so the same (prompt, seed)
always gives the same PNG, byte for byte, and any change to either gives
another one:

- the palette: the colours the prompt names ("a red fox in the snow" has red
  and snow), then a colour made from the hash of each other word;
- the background: a vertical gradient between two of them, and a glow (a sun)
  whose place comes from the hash of the whole prompt and the seed;
- one shape per word but the commonest ("a", "the", "in", ...): an ellipse,
  a box, a triangle, a ring or a band,
  placed and sized by the hash of that word and the seed, so the same word
  draws the same shape in another prompt;
- the prompt itself, written at the bottom with Pillow's default font.

The module imports PIL, which only the image has: app.py imports it inside
setup(), never at its top level (the host reads app.py without Pillow).
"""

import colorsys
import hashlib
import random
import re
import textwrap

from PIL import Image, ImageColor, ImageDraw, ImageFont

# The most words that each get a shape, and the most lines of prompt text.
MAX_SHAPES = 48
MAX_TEXT_LINES = 6
# Pillow's default font is a 6x11 bitmap font.
CHAR_WIDTH = 6
LINE_HEIGHT = 13


def _hash(*parts):
    """A stable integer from the parts (sha256, never Python's hash())."""
    h = hashlib.sha256("\0".join(str(p) for p in parts).encode("utf-8"))
    return int.from_bytes(h.digest(), "big")


# Words too common to get a shape of their own.
STOP_WORDS = frozenset("a an and at by for from in into of on or the to with".split())


def words_of(prompt):
    return re.findall(r"[a-z0-9']+", prompt.lower())


def _word_colour(word, seed):
    """A saturated colour from the word's hash."""
    rng = random.Random(_hash("colour", word, seed))
    r, g, b = colorsys.hsv_to_rgb(rng.random(), 0.45 + 0.5 * rng.random(),
                                  0.55 + 0.45 * rng.random())
    return (int(r * 255), int(g * 255), int(b * 255))


def palette(prompt, seed):
    """[(word, (r, g, b))]: named colours first, then one per other word."""
    named, other, seen = [], [], set()
    for w in words_of(prompt):
        if w in seen or w in STOP_WORDS:
            continue
        seen.add(w)
        if w in ImageColor.colormap:
            named.append((w, ImageColor.getrgb(w)[:3]))
        else:
            other.append((w, _word_colour(w, seed)))
    colours = named + other
    while len(colours) < 2:
        colours.append(("", _word_colour("#%d" % len(colours), seed)))
    return colours


def _shade(rgb, f):
    """Darker (f < 1) or lighter (f > 1) towards black or white."""
    if f <= 1:
        return tuple(int(c * f) for c in rgb)
    return tuple(int(c + (255 - c) * (f - 1)) for c in rgb)


def _background(w, h, colours, rng):
    top = _shade(colours[0][1], 0.35)
    bottom = _shade(colours[1][1], 1.35)
    mask = Image.linear_gradient("L").resize((w, h))
    img = Image.composite(Image.new("RGB", (w, h), bottom), Image.new("RGB", (w, h), top), mask)
    # The glow: a radial gradient of the brightest colour, somewhere upper.
    bright = max(colours, key=lambda c: sum(c[1]))[1]
    r = int(min(w, h) * (0.25 + 0.2 * rng.random()))
    cx, cy = int(w * (0.15 + 0.7 * rng.random())), int(h * (0.1 + 0.35 * rng.random()))
    glow = Image.radial_gradient("L").resize((2 * r, 2 * r))
    glow = glow.point(lambda v: max(0, 255 - 2 * v))
    img.paste(Image.new("RGB", (2 * r, 2 * r), _shade(bright, 1.2)), (cx - r, cy - r), glow)
    return img.convert("RGBA")


def _shape(draw, w, h, word, rgb, seed, index):
    rng = random.Random(_hash("shape", word, seed, index))
    kind = rng.randrange(5)
    alpha = 90 + rng.randrange(110)
    fill = rgb + (alpha,)
    size = int(min(w, h) * (0.08 + 0.22 * rng.random()))
    x, y = rng.randrange(w), int(h * 0.2 + rng.randrange(int(h * 0.65)))
    box = [x - size, y - size, x + size, y + size]
    if kind == 0:
        draw.ellipse(box, fill=fill)
    elif kind == 1:
        draw.rounded_rectangle(box, radius=size // 4, fill=fill)
    elif kind == 2:
        draw.polygon([(x, y - size), (x + size, y + size), (x - size, y + size)], fill=fill)
    elif kind == 3:
        draw.ellipse(box, outline=fill, width=max(2, size // 5))
    else:
        draw.line([(0, y), (w, y + rng.randrange(-size, size + 1))], fill=fill,
                  width=max(2, size // 3))


def _caption(img, prompt, seed):
    w, h = img.size
    font = ImageFont.load_default()
    # The default font is a Latin-1 bitmap font: other characters show as '?'.
    text = prompt.encode("latin-1", "replace").decode("latin-1")
    lines = textwrap.wrap(text, width=max(8, (w - 16) // CHAR_WIDTH))[:MAX_TEXT_LINES]
    band = len(lines) * LINE_HEIGHT + 12
    overlay = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rectangle([0, h - band, w, h], fill=(0, 0, 0, 150))
    for i, line in enumerate(lines):
        draw.text((8, h - band + 6 + i * LINE_HEIGHT), line, font=font, fill=(255, 255, 255, 255))
    mark = "seed %d" % seed
    draw.text((w - 8 - CHAR_WIDTH * len(mark), 6), mark, font=font, fill=(255, 255, 255, 200))
    return Image.alpha_composite(img, overlay)


def render_steps(prompt, width, height, seed):
    """Draw the picture, yielding (stage, done, total, image) after each stage."""
    colours = palette(prompt, seed)
    rng = random.Random(_hash("scene", prompt, seed))
    words = [c for c in colours if c[0]][:MAX_SHAPES]
    total = 2 + len(words)
    img = _background(width, height, colours, rng)
    yield "background", 1, total, img
    for i, (word, rgb) in enumerate(words):
        overlay = Image.new("RGBA", img.size, (0, 0, 0, 0))
        _shape(ImageDraw.Draw(overlay), width, height, word, rgb, seed, i)
        img = Image.alpha_composite(img, overlay)
        yield "shape:" + word, 2 + i, total, img
    img = _caption(img, prompt, seed).convert("RGB")
    yield "caption", total, total, img


def render(prompt, width=512, height=512, seed=0):
    """The finished picture (an RGB PIL image)."""
    for _stage, _done, _total, img in render_steps(prompt, width, height, seed):
        pass
    return img
