#!/usr/bin/env python3
"""Render the channel dashboard of docs/bi.md as one static SVG.

It draws, for one tenant and one quarter (in the tenant's currency):
  1. four KPI tiles: net sales (万元), collection rate, on-time delivery rate
     and return rate, from the tenant's 'country' row of
     rebate.v_region_performance (rates computed over the whole tenant);
  2. the top 10 partners by net sales, with their target achievement,
     from the quarter rows of rebate.v_partner_performance;
  3. monthly net sales against collections over the quarter's year, from the
     month rows of rebate.v_partner_performance summed per month;
  4. net sales by area (region_level 'area') from rebate.v_region_performance.

Standard library only; SQL runs through `psql`, connected by the libpq
environment variables (PGHOST, PGPORT, PGUSER, PGDATABASE, ...), read-only.
Same data, same bytes.

    python3 scripts/dashboard.py [--tenant HUAGUANG] [--quarter 2026-Q3] docs/dashboard.svg
"""
import argparse
import csv
import math
import re
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 1200, 800
FONT = "'Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', sans-serif"
INK, MUTED, GRID, FRAME = "#222222", "#666666", "#e3e3e3", "#d0d0d0"
MET, MISSED, NO_TARGET = "#2e7d32", "#e07b39", "#9e9e9e"
SALES, COLLECTED, AREA = "#1f5fa8", "#e0a030", "#4a7fb5"


# ---------------------------------------------------------------- data

def query(sql, **params):
    """Run SQL read-only through psql; psql variables :'name' carry params."""
    cmd = ["psql", "-X", "-q", "-t", "--csv", "-v", "ON_ERROR_STOP=1", "-f", "-"]
    for name, value in sorted(params.items()):
        cmd += ["-v", f"{name}={value}"]
    script = "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY;\n" + sql
    done = subprocess.run(cmd, input=script, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"dashboard: psql failed: {done.stderr.strip()}")
    return [row for row in csv.reader(done.stdout.splitlines()) if row]


def dec(text):
    """A numeric column as Decimal, or None for SQL NULL (empty in CSV)."""
    return Decimal(text) if text != "" else None


def load_tenant(code):
    rows = query("SELECT id, name, currency FROM rebate.tenant WHERE code = :'code';", code=code)
    if not rows:
        sys.exit(f"dashboard: no tenant with code {code!r}")
    return rows[0]


def load_kpis(tenant, quarter):
    """Tenant totals of the quarter: the country rows of the region view."""
    rows = query("""
        SELECT sum(net_sales), sum(collected), sum(returns), sum(gross_sales),
               CASE WHEN count(*) = 1 THEN min(on_time_rate) END
          FROM rebate.v_region_performance
         WHERE tenant_id = :'tid' AND currency = :'cur' AND grain = 'quarter'
           AND period_name = :'q' AND region_level = 'country';""",
                 tid=tenant[0], cur=tenant[2], q=quarter)
    net, collected, returns, gross, on_time = (dec(v) for v in rows[0])
    return {"net_sales": net,
            "collection_rate": collected / net if net else None,
            "on_time_rate": on_time,
            "return_rate": returns / gross if gross else None}


def load_top_partners(tenant, quarter):
    rows = query("""
        SELECT partner_name, net_sales, achievement
          FROM rebate.v_partner_performance
         WHERE tenant_id = :'tid' AND currency = :'cur' AND grain = 'quarter'
           AND period_name = :'q' AND net_sales IS NOT NULL
         ORDER BY net_sales DESC, partner_code
         LIMIT 10;""", tid=tenant[0], cur=tenant[2], q=quarter)
    return [(name, dec(net), dec(ach)) for name, net, ach in rows]


def load_monthly(tenant, year):
    rows = query("""
        SELECT period_name, coalesce(sum(net_sales), 0), coalesce(sum(collected), 0)
          FROM rebate.v_partner_performance
         WHERE tenant_id = :'tid' AND currency = :'cur' AND grain = 'month'
           AND period_name LIKE :'y' || '-%'
         GROUP BY period_name
         ORDER BY period_name;""", tid=tenant[0], cur=tenant[2], y=year)
    return [(month, dec(net), dec(col)) for month, net, col in rows]


def load_areas(tenant, quarter):
    rows = query("""
        SELECT region_name, coalesce(net_sales, 0)
          FROM rebate.v_region_performance
         WHERE tenant_id = :'tid' AND currency = :'cur' AND grain = 'quarter'
           AND period_name = :'q' AND region_level = 'area'
         ORDER BY net_sales DESC NULLS LAST, region_code;""",
                 tid=tenant[0], cur=tenant[2], q=quarter)
    return [(name, dec(net)) for name, net in rows]


# ---------------------------------------------------------------- formatting

def wan(amount, places="0.1"):
    """An amount in 万 (10,000), grouped: 27720124 -> '2,772.0'."""
    value = (amount / 10000).quantize(Decimal(places), rounding=ROUND_HALF_UP)
    return f"{value:,}"


def pct(rate, places="0.1"):
    """A fraction as a percentage: 0.8951 -> '89.5%'; None -> '—'."""
    if rate is None:
        return "—"
    return f"{(rate * 100).quantize(Decimal(places), rounding=ROUND_HALF_UP)}%"


def nice_ticks(top, count=5):
    """Round tick values from 0 to at least top (a float), about count steps."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    ticks, value = [0.0], 0.0
    while value < top:
        value += step
        ticks.append(value)
    return ticks


def tick_label(value):
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def text_width(text, size):
    """Rough rendered width: CJK characters one em, others about 0.6 em."""
    return sum(size if ord(ch) >= 0x2E80 else size * 0.6 for ch in text)


# ---------------------------------------------------------------- svg

def n(value):
    """A coordinate, fixed to one decimal so the output is byte-stable."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def text(x, y, content, size=13, fill=INK, anchor="start", weight="normal"):
    return (f'<text x="{n(x)}" y="{n(y)}" font-size="{size}" fill="{fill}" '
            f'text-anchor="{anchor}" font-weight="{weight}">{escape(content)}</text>')


def rect(x, y, w, h, fill, stroke="none", rx=0):
    return (f'<rect x="{n(x)}" y="{n(y)}" width="{n(w)}" height="{n(h)}" '
            f'rx="{rx}" fill="{fill}" stroke="{stroke}"/>')


def line(x1, y1, x2, y2, stroke=GRID, width=1):
    return (f'<line x1="{n(x1)}" y1="{n(y1)}" x2="{n(x2)}" y2="{n(y2)}" '
            f'stroke="{stroke}" stroke-width="{width}"/>')


def panel(x, y, w, h, title):
    """A framed panel with its title; charts draw inside it."""
    return [rect(x, y, w, h, "#ffffff", FRAME, 6), text(x + 16, y + 26, title, 15, weight="bold")]


def draw_kpis(kpis, currency, x, y, w, h):
    tiles = [("净销售额 Net sales", f"{wan(kpis['net_sales'])} 万" if kpis["net_sales"] is not None else "—",
              f"{currency}, 万元 = 10,000"),
             ("回款率 Collection rate", pct(kpis["collection_rate"]), "collected / net sales"),
             ("准时交付率 On-time delivery", pct(kpis["on_time_rate"]), "on-time / promised deliveries"),
             ("退货率 Return rate", pct(kpis["return_rate"], "0.01"), "returns / gross sales")]
    gap = 20
    tile_w = (w - gap * (len(tiles) - 1)) / len(tiles)
    out = []
    for i, (label, value, note) in enumerate(tiles):
        tx = x + i * (tile_w + gap)
        out += [rect(tx, y, tile_w, h, "#f5f8fc", FRAME, 6),
                text(tx + 16, y + 26, label, 14, MUTED),
                text(tx + 16, y + 66, value, 30, SALES, weight="bold"),
                text(tx + 16, y + h - 12, note, 11, MUTED)]
    return out


def draw_partner_bars(partners, x, y, w, h):
    out = panel(x, y, w, h, "前 10 名渠道伙伴 Top 10 partners: 净销售额 (万元), 目标达成率")
    out += [rect(x + w - 250, y + 40, 10, 10, MET), text(x + w - 236, y + 49, "达成 ≥ 100%", 11, MUTED),
            rect(x + w - 150, y + 40, 10, 10, MISSED), text(x + w - 136, y + 49, "未达成 < 100%", 11, MUTED)]
    left, right, top, bottom = x + 176, x + w - 56, y + 66, y + h - 36
    ticks = nice_ticks(max((float(net) / 10000 for _, net, _ in partners), default=0))
    scale = (right - left) / ticks[-1]
    for t in ticks:
        out += [line(left + t * scale, top, left + t * scale, bottom),
                text(left + t * scale, bottom + 16, tick_label(t), 11, MUTED, "middle")]
    slot = (bottom - top) / 10
    for i, (name, net, achievement) in enumerate(partners):
        by = top + i * slot
        while text_width(name, 13) > left - x - 24:
            name = name[:-2] + "…"
        colour = NO_TARGET if achievement is None else MET if achievement >= 1 else MISSED
        bar = float(net) / 10000 * scale
        out += [text(left - 8, by + slot / 2 + 5, name, 13, INK, "end"),
                rect(left, by + slot * 0.18, bar, slot * 0.64, colour),
                text(left + bar + 6, by + slot / 2 + 5, pct(achievement, "1"), 12, colour, weight="bold")]
    out.append(line(left, top, left, bottom, MUTED))
    return out


def draw_monthly_lines(months, quarter, x, y, w, h):
    out = panel(x, y, w, h, f"{quarter[:4]} 月度净销售额与回款 Monthly net sales vs collected (万元)")
    left, right, top, bottom = x + 64, x + w - 24, y + 66, y + h - 40
    ticks = nice_ticks(max((float(v) / 10000 for _, a, b in months for v in (a, b)), default=0))
    yscale = (bottom - top) / ticks[-1]
    xstep = (right - left) / 12
    first = (int(quarter[-1]) - 1) * 3
    out += [rect(left + first * xstep, top, 3 * xstep, bottom - top, "#eef3fa"),
            text(left + (first + 1.5) * xstep, top + 14, quarter, 11, MUTED, "middle")]
    for t in ticks:
        ty = bottom - t * yscale
        out += [line(left, ty, right, ty), text(left - 8, ty + 4, tick_label(t), 11, MUTED, "end")]
    for m in range(12):
        out.append(text(left + (m + 0.5) * xstep, bottom + 18, f"{m + 1}月", 11, MUTED, "middle"))
    for column, colour in ((1, SALES), (2, COLLECTED)):
        points = [(left + (int(row[0][5:]) - 0.5) * xstep, bottom - float(row[column]) / 10000 * yscale)
                  for row in months]
        if points:
            path = " ".join(f"{n(px)},{n(py)}" for px, py in points)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
            out += [f'<circle cx="{n(px)}" cy="{n(py)}" r="3" fill="{colour}"/>' for px, py in points]
    out += [line(left, bottom, right, bottom, MUTED),
            rect(x + w - 250, y + 40, 14, 4, SALES), text(x + w - 230, y + 46, "净销售额 Net sales", 11, MUTED),
            rect(x + w - 120, y + 40, 14, 4, COLLECTED), text(x + w - 100, y + 46, "回款 Collected", 11, MUTED)]
    return out


def draw_area_bars(areas, quarter, x, y, w, h):
    out = panel(x, y, w, h, f"{quarter} 各大区净销售额 Net sales by area (万元)")
    left, right, top, bottom = x + 64, x + w - 24, y + 56, y + h - 34
    ticks = nice_ticks(max((float(net) / 10000 for _, net in areas), default=0))
    yscale = (bottom - top) / ticks[-1]
    for t in ticks:
        ty = bottom - t * yscale
        out += [line(left, ty, right, ty), text(left - 8, ty + 4, tick_label(t), 11, MUTED, "end")]
    slot = (right - left) / max(len(areas), 1)
    for i, (name, net) in enumerate(areas):
        cx, bar = left + (i + 0.5) * slot, float(net) / 10000 * yscale
        out += [rect(cx - slot * 0.3, bottom - bar, slot * 0.6, bar, AREA),
                text(cx, bottom - bar - 5, wan(net), 11, INK, "middle"),
                text(cx, bottom + 18, name, 12, INK, "middle")]
    out.append(line(left, bottom, right, bottom, MUTED))
    return out


def render(tenant_name, currency, quarter, kpis, partners, months, areas):
    body = [rect(0, 0, WIDTH, HEIGHT, "#ffffff"),
            text(30, 42, f"{tenant_name} — 渠道绩效 {quarter} (sample data)", 24, weight="bold"),
            text(WIDTH - 30, 42, "rebate.v_partner_performance · rebate.v_region_performance", 11, MUTED, "end")]
    body += draw_kpis(kpis, currency, 30, 62, WIDTH - 60, 100)
    body += draw_partner_bars(partners, 30, 182, 560, 596)
    body += draw_monthly_lines(months, quarter, 610, 182, 560, 300)
    body += draw_area_bars(areas, quarter, 610, 498, 560, 280)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="{FONT}">\n'
            + "\n".join(body) + "\n</svg>\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenant", default="HUAGUANG", help="tenant code (default HUAGUANG)")
    parser.add_argument("--quarter", default="2026-Q3", help="quarter as YYYY-Qn (default 2026-Q3)")
    parser.add_argument("output", help="SVG file to write")
    args = parser.parse_args()
    if not re.fullmatch(r"\d{4}-Q[1-4]", args.quarter):
        parser.error("--quarter must look like 2026-Q3")
    tenant = load_tenant(args.tenant)
    partners = load_top_partners(tenant, args.quarter)
    if not partners:
        sys.exit(f"dashboard: no {tenant[2]} sales for {args.tenant} in {args.quarter}")
    svg = render(tenant[1], tenant[2], args.quarter, load_kpis(tenant, args.quarter), partners,
                 load_monthly(tenant, args.quarter[:4]), load_areas(tenant, args.quarter))
    with open(args.output, "w", encoding="utf-8", newline="\n") as out:
        out.write(svg)


if __name__ == "__main__":
    main()
