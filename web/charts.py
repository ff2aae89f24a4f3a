"""Charts for pages: plotly figures as plain data, each with the table that says the same.

A chart is `{"id", "title", "figure": {"data", "layout"}, "table": {"caption", "headers",
"rows"}}`. The template writes the figure into a `<script type="application/json">` block
that `static/charts.js` draws, and the table beside it, so a page reads the same without
JavaScript and to a screen reader. Only SVG trace types are drawn (TRACE_TYPES): plotly's
WebGL and map traces generate code from strings, which the pages' CSP forbids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jobs.clustering import CLUSTER_FEATURES
from spotify_models import FEATURE_RANGES

# Audited for the CSP (no eval, no Function): tests/web/test_assets.py checks the bundle.
TRACE_TYPES = frozenset({"scatterpolar", "heatmap", "bar"})
HOURS = tuple(range(24))
_FONT = {"family": "system-ui, sans-serif", "size": 12}


def _layout(**extra: Any) -> dict[str, Any]:
    return {
        "font": _FONT,
        "margin": {"l": 48, "r": 16, "t": 16, "b": 40},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "autosize": True,
        **extra,
    }


def chart(
    chart_id: str,
    title: str,
    data: list[dict[str, Any]],
    layout: dict[str, Any],
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> dict[str, Any]:
    return {
        "id": chart_id,
        "title": title,
        "figure": {"data": data, "layout": layout},
        "table": {"caption": title, "headers": list(headers), "rows": [list(r) for r in rows]},
    }


def scaled(feature: str, value: float) -> float:
    """A feature on 0..1 across its whole range, so tempo and loudness share an axis."""
    low, high = FEATURE_RANGES[feature]
    return round(min(max((value - low) / (high - low), 0.0), 1.0), 4)


def _radar_trace(
    name: str, centroid: Mapping[str, float], features: Sequence[str]
) -> dict[str, Any]:
    closed = [*features, features[0]]
    return {
        "type": "scatterpolar",
        "name": name,
        "r": [scaled(f, centroid[f]) for f in closed],
        "theta": closed,
        "fill": "toself",
        "opacity": 0.6,
        "hovertemplate": "%{theta}: %{r:.2f}<extra>%{fullData.name}</extra>",
    }


def radar(
    chart_id: str, title: str, shapes: Sequence[tuple[str, Mapping[str, float]]]
) -> dict[str, Any] | None:
    """Centroids (or any feature means) as a radar; None when no shape has the features."""
    features = [f for f in CLUSTER_FEATURES if shapes and all(f in s for _, s in shapes)]
    if not features:
        return None
    data = [_radar_trace(name, shape, features) for name, shape in shapes]
    layout = _layout(
        polar={
            "radialaxis": {"range": [0, 1], "showticklabels": False},
            # The longest name (instrumentalness) at the bottom, where it needs no side margin.
            "angularaxis": {"tickfont": {"size": 11}, "rotation": 70},
        },
        showlegend=True,
        legend={"orientation": "h"},
        height=440,
    )
    # Room for the feature names around the circle, which plotly leaves out of its sizing.
    layout["margin"] = {"l": 80, "r": 80, "t": 32, "b": 24}
    rows = [[name, *(round(shape[f], 3) for f in features)] for name, shape in shapes]
    return chart(chart_id, title, data, layout, ["", *features], rows)


def heatmap(chart_id: str, title: str, figures: Mapping[str, Any]) -> dict[str, Any]:
    """Minutes by weekday (rows, Monday first) and local hour, from the stats' `heatmap`."""
    weekdays = [day.capitalize() for day in figures["weekdays"]]
    minutes = figures["minutes"]
    data = [
        {
            "type": "heatmap",
            "x": list(HOURS),
            "y": weekdays,
            "z": minutes,
            # No listening is white, the most is dark green.
            "colorscale": [[0, "#f7fcf8"], [1, "#0b6b33"]],
            "hovertemplate": "%{y} %{x}:00: %{z:.0f} min<extra></extra>",
        }
    ]
    layout = _layout(
        height=300,
        yaxis={"autorange": "reversed"},
        xaxis={"title": {"text": "hour"}, "dtick": 3},
    )
    layout["margin"] = {**layout["margin"], "l": 90}
    rows = [[day, *(round(v) for v in row)] for day, row in zip(weekdays, minutes, strict=True)]
    return chart(chart_id, title, data, layout, ["", *(str(h) for h in HOURS)], rows)


def bars(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    unit: str,
    *,
    horizontal: bool = False,
) -> dict[str, Any]:
    trace: dict[str, Any] = {"type": "bar", "marker": {"color": "#1d9a4e"}}
    if horizontal:
        trace |= {"x": list(values), "y": list(labels), "orientation": "h"}
        layout = _layout(height=max(160, 28 * len(labels)), yaxis={"autorange": "reversed"})
        layout["margin"] = {**layout["margin"], "l": 160}
    else:
        trace |= {"x": list(labels), "y": list(values)}
        layout = _layout(height=260)
    label_axis, value_axis = ("y", "x") if horizontal else ("x", "y")
    trace["hovertemplate"] = f"%{{{label_axis}}}: %{{{value_axis}}} {unit}<extra></extra>"
    rows = [[label, value] for label, value in zip(labels, values, strict=True)]
    return chart(chart_id, title, [trace], layout, ["", unit], rows)


def profile_bars(chart_id: str, title: str, means: Mapping[str, float]) -> dict[str, Any] | None:
    """A taste profile: each feature's mean as a bar on 0..1; the table gives both values."""
    shown = [f for f in CLUSTER_FEATURES if f in means]
    if not shown:
        return None
    values = [scaled(f, means[f]) for f in shown]
    spec = bars(chart_id, title, shown, values, "0 to 1", horizontal=True)
    spec["table"]["headers"] = ["", "mean", "0 to 1 across its range"]
    spec["table"]["rows"] = [[f, round(means[f], 3), v] for f, v in zip(shown, values, strict=True)]
    return spec
