/**
 * The latency chart of a report as one self-contained SVG (no scripts, fonts or images fetched
 * from anywhere), or an HTML page that holds that SVG, the summary and the report's data inline.
 * A single run shows throughput and latency over time and the latency-by-percentile curve
 * against the SLA targets; a `--find-max` run shows latency and throughput by offered rate.
 */
import type { LoadReport } from './report.js';

type Point = [number, number];

interface Series {
  name: string;
  color: string;
  points: Point[];
  dashed?: boolean;
  /** Draw a dot per point, coloured by `dotColor` when given. */
  dots?: boolean;
  dotColor?: (i: number) => string;
}

interface Axis {
  label: string;
  min: number;
  max: number;
  log?: boolean;
  /** Maps a data value before scaling (the percentile axis uses "nines"). */
  map?: (v: number) => number;
  ticks: [number, string][];
}

interface Rule {
  at: number;
  label: string;
  color: string;
}

interface Panel {
  title: string;
  x: Axis;
  y: Axis;
  series: Series[];
  hRules?: Rule[];
  vRules?: Rule[];
}

const WIDTH = 960;
const PANEL_HEIGHT = 250;
const MARGIN = { left: 70, right: 160, top: 34, bottom: 44 };
const COLORS = { p50: '#1f77b4', p95: '#ff7f0e', p99: '#d62728', max: '#7f7f7f', rate: '#2ca02c', upsert: '#9467bd', pass: '#2ca02c', fail: '#d62728' };

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const num = (v: number): string => (Math.round(v * 100) / 100).toString();
/** Tick and rule labels: at most 3 significant digits, no trailing zeros. */
const short = (v: number): string => (Math.abs(v) >= 1000 ? Math.round(v).toString() : Number(v.toPrecision(3)).toString());

/** 1-2-5 ticks covering [min, max] on a log axis. */
function logTicks(min: number, max: number): [number, string][] {
  const out: [number, string][] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= min * 0.999 && v <= max * 1.001) out.push([v, short(v)]);
    }
  }
  return out;
}

function linearTicks(min: number, max: number, count = 6): [number, string][] {
  const span = max - min || 1;
  const raw = span / count;
  const step = [1, 2, 2.5, 5, 10].map((m) => m * 10 ** Math.floor(Math.log10(raw))).find((s) => s >= raw) ?? raw;
  const out: [number, string][] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + 1e-9; v += step) out.push([v, short(v)]);
  return out;
}

/** A log latency axis spanning the values and the SLA targets. */
function latencyAxis(label: string, values: number[]): Axis {
  const positive = values.filter((v) => v > 0 && Number.isFinite(v));
  const lo = Math.max(0.01, Math.min(...positive, 1));
  const hi = Math.max(...positive, 1);
  const min = 10 ** Math.floor(Math.log10(lo));
  const max = 10 ** Math.ceil(Math.log10(hi * 1.05));
  return { label, min, max, log: true, ticks: logTicks(min, max) };
}

function linearAxis(label: string, values: number[], floorZero = true): Axis {
  const finite = values.filter(Number.isFinite);
  const min = floorZero ? 0 : Math.min(...finite, 0);
  const max = Math.max(...finite, 1) * 1.08;
  return { label, min, max, ticks: linearTicks(min, max) };
}

function scaler(axis: Axis, from: number, to: number): (v: number) => number {
  const f = (v: number): number => {
    const m = axis.map ? axis.map(v) : v;
    return axis.log ? Math.log10(Math.max(m, axis.min)) : m;
  };
  const a = f(axis.min);
  const b = f(axis.max);
  return (v) => from + ((f(v) - a) / (b - a || 1)) * (to - from);
}

function renderPanel(p: Panel, top: number): string {
  const x0 = MARGIN.left;
  const x1 = WIDTH - MARGIN.right;
  const y0 = top + MARGIN.top;
  const y1 = top + PANEL_HEIGHT - MARGIN.bottom;
  const sx = scaler(p.x, x0, x1);
  const sy = scaler(p.y, y1, y0);
  const clampY = (v: number): number => Math.min(y1, Math.max(y0, v));
  const out: string[] = [];
  out.push(`<text x="${x0}" y="${top + 20}" class="title">${escapeXml(p.title)}</text>`);
  out.push(`<rect x="${x0}" y="${y0}" width="${x1 - x0}" height="${y1 - y0}" class="frame"/>`);
  for (const [v, label] of p.y.ticks) {
    const y = num(sy(v));
    out.push(`<line x1="${x0}" x2="${x1}" y1="${y}" y2="${y}" class="grid"/><text x="${x0 - 6}" y="${y}" class="ytick">${escapeXml(label)}</text>`);
  }
  for (const [v, label] of p.x.ticks) {
    const x = num(sx(v));
    out.push(`<line x1="${x}" x2="${x}" y1="${y0}" y2="${y1}" class="grid"/><text x="${x}" y="${y1 + 16}" class="xtick">${escapeXml(label)}</text>`);
  }
  out.push(`<text x="${(x0 + x1) / 2}" y="${y1 + 36}" class="xlabel">${escapeXml(p.x.label)}</text>`);
  out.push(`<text transform="translate(${x0 - 52} ${(y0 + y1) / 2}) rotate(-90)" class="ylabel">${escapeXml(p.y.label)}</text>`);
  for (const r of p.hRules ?? []) {
    const y = num(clampY(sy(r.at)));
    out.push(`<line x1="${x0}" x2="${x1}" y1="${y}" y2="${y}" stroke="${r.color}" class="rule"/><text x="${x1 - 4}" y="${Number(y) - 4}" class="rulelabel" fill="${r.color}">${escapeXml(r.label)}</text>`);
  }
  for (const r of p.vRules ?? []) {
    const x = num(sx(r.at));
    out.push(`<line x1="${x}" x2="${x}" y1="${y0}" y2="${y1}" stroke="${r.color}" class="rule"/><text x="${Number(x) + 4}" y="${y0 + 12}" class="vrulelabel" fill="${r.color}">${escapeXml(r.label)}</text>`);
  }
  p.series.forEach((s, i) => {
    if (s.points.length > 0) {
      const d = s.points.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${num(sx(x))},${num(clampY(sy(y)))}`).join(' ');
      out.push(`<path d="${d}" stroke="${s.color}" class="series${s.dashed ? ' dashed' : ''}"/>`);
      if (s.dots) s.points.forEach(([x, y], j) => out.push(`<circle cx="${num(sx(x))}" cy="${num(clampY(sy(y)))}" r="4" fill="${s.dotColor?.(j) ?? s.color}"/>`));
    }
    const ly = y0 + 14 + i * 18;
    out.push(`<line x1="${x1 + 14}" x2="${x1 + 38}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" class="series${s.dashed ? ' dashed' : ''}"/><text x="${x1 + 44}" y="${ly}" class="legend">${escapeXml(s.name)}</text>`);
  });
  return out.join('\n');
}

/** Percentile → "nines" (0 → 0, 90 → 1, 99 → 2, 99.9 → 3 …), capped at 5. */
const nines = (p: number): number => Math.min(5, -Math.log10(Math.max(1e-5, 1 - p / 100)));

function runPanels(r: LoadReport): Panel[] {
  const run = r.run!;
  const t = r.sla.thresholds;
  const tl = run.timeline;
  const slaRules: Rule[] = [
    { at: t.p95Ms, label: `p95 target ${short(t.p95Ms)} ms`, color: COLORS.p95 },
    { at: t.p99Ms, label: `p99 target ${short(t.p99Ms)} ms`, color: COLORS.p99 },
  ];
  const tMax = Math.max(1, ...tl.map((p) => p.t));
  const timeAxis: Axis = { label: 'seconds since start', min: 0, max: tMax, ticks: linearTicks(0, tMax) };
  const throughput: Panel = {
    title: 'Requests finished per second',
    x: timeAxis,
    y: linearAxis('req/s', tl.map((p) => p.rate).concat(run.offeredRate)),
    series: [{ name: 'finished/s', color: COLORS.rate, points: tl.map((p) => [p.t, p.rate]) }],
    hRules: run.offeredRate > 0 ? [{ at: run.offeredRate, label: `offered ${short(run.offeredRate)}/s`, color: '#555' }] : [],
  };
  const overTime: Panel = {
    title: `Latency per second, from the intended send time (${run.model} model)`,
    x: timeAxis,
    y: latencyAxis('ms (log)', [...tl.flatMap((p) => [p.p50, p.p99, p.max]), t.p95Ms, t.p99Ms]),
    series: [
      { name: 'p50', color: COLORS.p50, points: tl.filter((p) => p.p50 > 0).map((p) => [p.t, p.p50]) },
      { name: 'p99', color: COLORS.p99, points: tl.filter((p) => p.p99 > 0).map((p) => [p.t, p.p99]) },
      { name: 'max', color: COLORS.max, dashed: true, points: tl.filter((p) => p.max > 0).map((p) => [p.t, p.max]) },
    ],
    hRules: slaRules,
  };
  const specSeries: Series[] = [];
  const opColors: Record<string, string> = { query: COLORS.p50, upsert: COLORS.upsert };
  for (const [op, s] of Object.entries(run.byOp)) if (s && s.spectrum.length) specSeries.push({ name: op, color: opColors[op] ?? '#333', points: s.spectrum });
  const spectrum: Panel = {
    title: 'Latency by percentile over the whole run',
    x: { label: 'percentile', min: 0, max: 100, map: nines, ticks: [[0, '0'], [90, '90'], [99, '99'], [99.9, '99.9'], [99.99, '99.99'], [100, 'max']] },
    y: latencyAxis('ms (log)', [...specSeries.flatMap((s) => s.points.map((p) => p[1])), t.p95Ms, t.p99Ms]),
    series: specSeries,
    hRules: slaRules,
    vRules: [
      { at: 95, label: 'p95', color: COLORS.p95 },
      { at: 99, label: 'p99', color: COLORS.p99 },
    ],
  };
  return [throughput, overTime, spectrum];
}

function findMaxPanels(r: LoadReport): Panel[] {
  const f = r.findMax!;
  const t = r.sla.thresholds;
  const steps = [...f.steps].sort((a, b) => a.rate - b.rate);
  const rates = steps.map((s) => s.rate);
  const rateAxis: Axis = { label: 'offered req/s', min: 0, max: Math.max(...rates, 1) * 1.08, ticks: linearTicks(0, Math.max(...rates, 1) * 1.08) };
  const best: Rule[] = f.best === null ? [] : [{ at: f.best, label: `max ${f.best}/s`, color: COLORS.pass }];
  const passColor = (i: number): string => (steps[i]!.pass ? COLORS.pass : COLORS.fail);
  return [
    {
      title: 'Latency by offered rate (dots: green met the SLA, red failed)',
      x: rateAxis,
      y: latencyAxis('ms (log)', [...steps.flatMap((s) => [s.p50, s.p95, s.p99]), t.p95Ms, t.p99Ms]),
      series: [
        { name: 'p50', color: COLORS.p50, points: steps.map((s) => [s.rate, s.p50]) },
        { name: 'p95', color: COLORS.p95, points: steps.map((s) => [s.rate, s.p95]) },
        { name: 'p99', color: COLORS.p99, points: steps.map((s) => [s.rate, s.p99]), dots: true, dotColor: passColor },
      ],
      hRules: [
        { at: t.p95Ms, label: `p95 target ${short(t.p95Ms)} ms`, color: COLORS.p95 },
        { at: t.p99Ms, label: `p99 target ${short(t.p99Ms)} ms`, color: COLORS.p99 },
      ],
      vRules: best,
    },
    {
      title: 'Answers per second by offered rate',
      x: rateAxis,
      y: linearAxis('ok/s', steps.map((s) => s.achievedRate).concat(rates)),
      series: [
        { name: 'offered', color: COLORS.max, dashed: true, points: steps.map((s) => [s.rate, s.rate]) },
        { name: 'answered ok', color: COLORS.rate, points: steps.map((s) => [s.rate, s.achievedRate]), dots: true, dotColor: passColor },
      ],
      vRules: best,
    },
  ];
}

export function chartTitle(r: LoadReport): string {
  const w = r.workload;
  const what = `${w.scenario} over ${w.transport}, ${r.dataset.n}×${r.dataset.dim} ${r.dataset.metric}`;
  if (r.findMax) return `hotvec --find-max: ${what}: ${r.findMax.best === null ? 'no rate met the SLA' : `max ${r.findMax.best} req/s`}`;
  const run = r.run!;
  return `hotvec load test: ${what}, ${run.model === 'open' ? `${short(run.offeredRate)} req/s offered` : 'closed model'}, SLA ${r.sla.pass ? 'met' : 'failed'}`;
}

export function renderSvg(r: LoadReport): string {
  const panels = r.findMax ? findMaxPanels(r) : runPanels(r);
  const height = 40 + panels.length * PANEL_HEIGHT;
  const style = [
    'text{font-family:sans-serif;font-size:12px;fill:#222}',
    '.title{font-size:14px;font-weight:bold}',
    '.heading{font-size:16px;font-weight:bold}',
    '.frame{fill:none;stroke:#999}',
    '.grid{stroke:#e5e5e5}',
    '.ytick{text-anchor:end;dominant-baseline:middle}',
    '.xtick,.xlabel{text-anchor:middle}',
    '.ylabel{text-anchor:middle}',
    '.rule{stroke-dasharray:6 4;stroke-width:1.5}',
    '.rulelabel{text-anchor:end;font-size:11px}',
    '.vrulelabel{font-size:11px}',
    '.series{fill:none;stroke-width:2}',
    '.dashed{stroke-dasharray:4 3;stroke-width:1.5}',
    '.legend{dominant-baseline:middle}',
  ].join('');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}">`,
    `<style>${style}</style>`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="${MARGIN.left}" y="26" class="heading">${escapeXml(chartTitle(r))}</text>`,
    ...panels.map((p, i) => renderPanel(p, 40 + i * PANEL_HEIGHT)),
    '</svg>',
    '',
  ].join('\n');
}

/** The SVG plus the summary text and the whole report as inline JSON; nothing is fetched. */
export function renderHtml(r: LoadReport, summary: string): string {
  const data = JSON.stringify(r).replace(/</g, '\\u003c');
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${escapeXml(chartTitle(r))}</title>`,
    '<style>body{font-family:sans-serif;margin:24px;color:#222}pre{background:#f6f6f6;padding:12px;white-space:pre-wrap}</style>',
    '</head><body>',
    renderSvg(r),
    `<pre>${escapeXml(summary)}</pre>`,
    `<script type="application/json" id="report">${data}</script>`,
    '</body></html>',
    '',
  ].join('\n');
}
