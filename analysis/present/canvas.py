"""An Agg canvas that remembers its text work between charts, for the same pixels faster.

Every briefing draws the same labels, words and legends again for each
authority, and matplotlib's Agg renderer lays out and rasterises each
string afresh for every figure (its own metrics cache lives only as long as
one figure's renderer): about a third of the time a chart takes to save.
This renderer keeps, for the whole process,

* each string's measured size (``get_text_width_height_descent``),
* each string's glyph layout (which glyph, at which offset), and
* each rasterised glyph, keyed by everything FreeType is given to draw it:
  the font, size, resolution, glyph, rotation, hinting, antialiasing and the
  position's fraction of a pixel (in FreeType's 1/64 units). A glyph moved
  by whole pixels is the same bitmap moved by whole pixels, so a remembered
  one is drawn exactly where FreeType's would be.

The drawing follows ``RendererAgg._draw_text_glyphs_and_boxes`` (matplotlib
3.11) step by step, so the PNGs are byte-identical to plain Agg's (the chart
tests check it); with a matplotlib whose Agg draws text otherwise the canvas
is plain Agg. Mathtext and TeX go through Agg unchanged.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

#: Bounds on what is remembered (entries), so a long-lived worker cannot grow without end.
MAX_ENTRIES = 50_000

_metrics: dict[tuple[Any, ...], tuple[float, float, float]] = {}
_layouts: dict[tuple[Any, ...], list[tuple[Any, int, float, float]]] = {}
_glyphs: dict[tuple[Any, ...], tuple[np.ndarray, int, int]] = {}


def _remember(cache: dict, key: tuple[Any, ...], value: Any) -> Any:
    if len(cache) >= MAX_ENTRIES:
        cache.clear()
    cache[key] = value
    return value


def new_figure(**kwargs: Any) -> Any:
    """A matplotlib Figure (``kwargs`` go to it) on a ``CachingCanvasAgg``, without pyplot."""
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    _canvas_class()(fig)
    return fig


@functools.cache
def _canvas_class() -> type:
    """The canvas class, made on first use: matplotlib is imported only when a chart is drawn."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg, get_hinting_flag
    from matplotlib.ft2font import FT2Font, RenderMode

    if not all(hasattr(FT2Font, name) for name in ("_layout", "_render_glyph", "_set_transform")):
        # Agg drew text another way before matplotlib 3.11: plain Agg there (same
        # pixels, nothing remembered), rather than imitate a drawing it no longer does.
        return FigureCanvasAgg

    class CachingRendererAgg(RendererAgg):
        """RendererAgg whose text metrics, layouts and glyph bitmaps outlive one figure."""

        def get_text_width_height_descent(self, s: str, prop: Any, ismath: Any
                                          ) -> tuple[float, float, float]:
            if ismath is not False:
                return super().get_text_width_height_descent(s, prop, ismath)
            font = self._prepare_font(prop)
            flags = get_hinting_flag()
            key = (s, font, prop.get_size_in_points(), self.dpi, flags)
            hit = _metrics.get(key)
            if hit is None:
                font.set_text(s, 0.0, flags=flags)
                w, h = font.get_width_height()  # as RendererAgg: 26.6 units to pixels
                hit = _remember(_metrics, key, (w / 64.0, h / 64.0, font.get_descent() / 64.0))
            return hit

        def draw_text(self, gc: Any, x: float, y: float, s: str, prop: Any, angle: float,
                      ismath: Any = False, mtext: Any = None) -> None:
            if ismath:
                return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
            font = self._prepare_font(prop)
            size = prop.get_size_in_points()
            flags = get_hinting_flag()
            features = mtext.get_fontfeatures() if mtext is not None else None
            language = mtext.get_language() if mtext is not None else None
            key = (s, font, size, self.dpi, flags, features, language)
            items = _layouts.get(key)
            if items is None:
                items = _remember(_layouts, key, [
                    (item.ft_object, item.glyph_index, item.x, item.y)
                    for item in font._layout(s, flags=flags, features=features,
                                             language=language)])
            self._draw_glyphs(gc, x, y, angle, size, items, flags)
            return None

        def _draw_glyphs(self, gc: Any, x: float, y: float, angle: float, size: float,
                         items: list[tuple[Any, int, float, float]], flags: Any) -> None:
            """``_draw_text_glyphs_and_boxes`` for plain text (no slant, extend or boxes)."""
            cos = math.cos(math.radians(angle))
            sin = math.sin(math.radians(angle))
            matrix = (0x10000 * np.array([[cos, -sin], [sin, cos]])
                      @ [[1, 0], [0, 1]]).round().astype(int)
            matrix_key = tuple(matrix.ravel().tolist())
            antialiased = bool(gc.get_antialiased())
            height = self.height
            for ft_object, glyph_index, dx, dy in items:  # dy is upwards
                # FreeType's position in 1/64 pixel; y is upwards there.
                px = round(0x40 * (x + dx * cos - dy * sin))
                py = round(0x40 * (height - y + dx * sin + dy * cos))
                key = (ft_object, size, self.dpi, glyph_index, matrix_key, px & 63, py & 63,
                       flags, antialiased)
                hit = _glyphs.get(key)
                if hit is None:
                    ft_object.set_size(size, self.dpi)
                    ft_object._set_transform(matrix, [px & 63, py & 63])
                    bitmap = ft_object._render_glyph(
                        glyph_index, flags, RenderMode.NORMAL if antialiased else RenderMode.MONO)
                    buffer = np.array(bitmap.buffer)  # a copy: FreeType reuses its own
                    if not antialiased:
                        buffer *= 0xff
                    hit = _remember(_glyphs, key, (buffer, bitmap.left, bitmap.top))
                buffer, left, top = hit
                left += px >> 6
                top += py >> 6
                # draw_text_image's y is downwards & the bitmap bottom side.
                self._renderer.draw_text_image(
                    buffer, left, int(height) - top + buffer.shape[0], 0, gc)


    class CachingCanvasAgg(FigureCanvasAgg):
        """FigureCanvasAgg drawing with ``CachingRendererAgg``."""

        def get_renderer(self) -> CachingRendererAgg:
            w, h = self.get_width_height(physical=True)
            key = w, h, self.figure.dpi
            if self._lastKey != key:
                self.renderer = CachingRendererAgg(w, h, self.figure.dpi)
                self._lastKey = key
            return self.renderer

    return CachingCanvasAgg
