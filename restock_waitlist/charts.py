"""Small SVG charts drawn on the server, for the admin's demand dashboard.

No script and no stylesheet of their own beyond the admin's: colours come from the admin's
CSS variables (``restock_waitlist/admin/dashboard.css``), so light and dark themes both
work. Each series also has its own fill pattern (solid, hatched, dotted) and every bar its
value written beside it, so a chart reads without colour. Every text is escaped; each chart
has a ``<title>`` and ``<desc>`` and each bar a ``<title>`` of its own.
"""

from itertools import count

from django.utils.formats import number_format
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe

#: Fill patterns, one per series in turn (the last two drawn in each chart's ``<defs>``).
PATTERNS = ("solid", "hatched", "dotted")
_ids = count(1)

WIDTH = 480
LABEL_WIDTH = 180
VALUE_WIDTH = 60
BAR_HEIGHT = 18
GAP = 8


def _defs(prefix):
    """The fill patterns of one chart; ids carry ``prefix`` so charts on a page differ."""
    return format_html(
        "<defs>"
        '<pattern id="{0}-hatched" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)">'
        '<rect class="rw-pattern-bg" width="6" height="6"/>'
        '<rect class="rw-pattern-fg rw-s1" width="3" height="6"/></pattern>'
        '<pattern id="{0}-dotted" width="5" height="5" patternUnits="userSpaceOnUse">'
        '<rect class="rw-pattern-bg" width="5" height="5"/>'
        '<circle class="rw-pattern-fg rw-s2" cx="2.5" cy="2.5" r="1.5"/></pattern>'
        "</defs>",
        prefix,
    )


def _fill(prefix, series):
    """The ``fill`` attribute and class of a series' shapes."""
    pattern = PATTERNS[series % len(PATTERNS)]
    if pattern == "solid":
        return mark_safe('class="rw-s0"')
    return format_html('fill="url(#{}-{})" class="rw-stroke rw-s{}"', prefix, pattern, series)


def _svg(prefix, title, description, height, body):
    return format_html(
        '<svg class="rw-chart" viewBox="0 0 {} {}" role="img" '
        'aria-labelledby="{}-title {}-desc" xmlns="http://www.w3.org/2000/svg">'
        '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>{}{}</svg>',
        WIDTH,
        height,
        prefix,
        prefix,
        prefix,
        title,
        prefix,
        description,
        _defs(prefix),
        body,
    )


def _legend(prefix, series, y):
    """Swatches with the series' names, in a row at ``y``."""
    parts, x = [], 0
    for index, name in enumerate(series):
        parts.append(
            format_html(
                '<rect x="{}" y="{}" width="14" height="14" {}/>'
                '<text x="{}" y="{}" class="rw-label">{}</text>',
                x,
                y,
                _fill(prefix, index),
                x + 20,
                y + 11,
                name,
            )
        )
        x += 36 + _text_width(name)
    return _joined(parts)


def bar_chart(title, rows, series, description=""):
    """Horizontal bars, one per row, stacked by series.

    ``rows`` are ``(label, [value per series])``; ``series`` the series' names (a legend is
    drawn when there are more than one). Each bar ends with its total; each segment has a
    ``<title>`` naming its row, series and value.
    """
    prefix = f"rw-chart-{next(_ids)}"
    legend = len(series) > 1
    top = 24 if legend else 0
    largest = max((sum(values) for _label, values in rows), default=0) or 1
    room = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    parts = []
    for index, (label, values) in enumerate(rows):
        y = top + index * (BAR_HEIGHT + GAP)
        parts.append(
            format_html(
                '<text x="{}" y="{}" class="rw-label" text-anchor="end">{}</text>',
                LABEL_WIDTH - 8,
                y + BAR_HEIGHT - 5,
                _clip(label),
            )
        )
        x = LABEL_WIDTH
        for position, value in enumerate(values):
            if not value:
                continue
            width = max(room * value / largest, 1)
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" {}><title>{}: {} {}</title></rect>',
                    _n(x),
                    y,
                    _n(width),
                    BAR_HEIGHT,
                    _fill(prefix, position),
                    label,
                    series[position],
                    number_format(value),
                )
            )
            x += width
        parts.append(
            format_html(
                '<text x="{}" y="{}" class="rw-value">{}</text>',
                _n(x + 6),
                y + BAR_HEIGHT - 5,
                number_format(sum(values)),
            )
        )
    if legend:
        parts.insert(0, _legend(prefix, series, 0))
    height = top + max(len(rows), 1) * (BAR_HEIGHT + GAP)
    return _svg(prefix, title, description, height, _joined(parts))


def column_chart(title, labels, series, description=""):
    """Columns over time: ``labels`` along the bottom (a few shown), and for each label one
    column per series side by side. ``series`` are ``(name, [value per label])``.

    The largest value is written at the top of the scale; each column has a ``<title>``
    with its label, series and value.
    """
    prefix = f"rw-chart-{next(_ids)}"
    left, top, plot_height, bottom = 48, 30, 160, 22
    plot_width = WIDTH - left - 8
    largest = max((max(values, default=0) for _name, values in series), default=0) or 1
    slot = plot_width / max(len(labels), 1)
    column = max((slot - 2) / max(len(series), 1), 1)
    parts = [_legend(prefix, [name for name, _values in series], 0)]
    base = top + plot_height
    parts.append(
        format_html(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" class="rw-axis"/>'
            '<line x1="{}" y1="{}" x2="{}" y2="{}" class="rw-grid"/>'
            '<text x="{}" y="{}" class="rw-value" text-anchor="end">{}</text>'
            '<text x="{}" y="{}" class="rw-value" text-anchor="end">0</text>',
            left,
            base,
            WIDTH - 8,
            base,
            left,
            top,
            WIDTH - 8,
            top,
            left - 6,
            top + 4,
            number_format(largest),
            left - 6,
            base,
        )
    )
    every = max(len(labels) // 4, 1)  # five labels or so, each about 65 wide
    for index, label in enumerate(labels):
        x = left + index * slot + 1
        for position, (name, values) in enumerate(series):
            value = values[index]
            height = plot_height * value / largest
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" {}><title>{}: {} {}</title></rect>',
                    _n(x + position * column),
                    _n(base - height),
                    _n(column),
                    _n(height),
                    _fill(prefix, position),
                    label,
                    name,
                    number_format(value),
                )
            )
        if index % every == 0 and x + _text_width(label) <= WIDTH:
            parts.append(
                format_html(
                    '<text x="{}" y="{}" class="rw-label">{}</text>',
                    _n(x),
                    base + bottom - 6,
                    label,
                )
            )
    height = base + bottom
    return _svg(prefix, title, description, height, _joined(parts))


def _n(value):
    """A coordinate, to a tenth of a unit."""
    return f"{value:.1f}"


def _joined(parts):
    """SVG fragments as one; anything not already safe is escaped."""
    return mark_safe("".join(conditional_escape(part) for part in parts))


def _text_width(text):
    """About how wide ``text`` is drawn at 12 px: wide (CJK) characters count double."""
    return sum(12 if ord(char) >= 0x1100 else 7 for char in str(text))


def _clip(label, width=LABEL_WIDTH - 12):
    """A bar's label cut to fit beside it; the bar's ``<title>`` keeps it whole."""
    label = str(label)
    if _text_width(label) <= width:
        return label
    while label and _text_width(label + "…") > width:
        label = label[:-1]
    return label + "…"
