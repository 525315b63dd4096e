/* global window */
/**
 * A small time-series line chart on <canvas>: no library, no build step. Draws the last
 * `spanMs` of points, dashed horizontal target lines, a y axis that grows to fit the data
 * and the targets, and a legend. `draw()` returns how many points it plotted, and stores it
 * on the canvas as `data-plotted` so a test can read what the chart shows.
 */

const GRID = 'rgba(148, 163, 184, 0.18)';
const AXIS_TEXT = '#94a3b8';
const FONT = '11px system-ui, -apple-system, "Segoe UI", sans-serif';

/** 1, 2, 5 × 10^n at or above x. */
function niceCeil(x) {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

export function formatValue(v, unit) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (unit === '%') return `${(v * 100).toFixed(v >= 0.995 || v === 0 ? 0 : 1)}%`;
  const abs = Math.abs(v);
  const s = abs >= 1000 ? `${(v / 1000).toFixed(abs >= 10000 ? 0 : 1)}k` : abs >= 100 ? v.toFixed(0) : abs >= 10 ? v.toFixed(1) : abs >= 1 ? v.toFixed(2) : v === 0 ? '0' : v.toPrecision(2);
  return unit ? `${s} ${unit}` : s;
}

export class LineChart {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{ unit?: string, series: {key: string, label: string, color: string}[],
   *           targets?: () => {value: number, label: string, color: string}[],
   *           yMax?: number, spanMs?: number, robust?: boolean }} options
   */
  constructor(canvas, options) {
    this.canvas = canvas;
    this.options = { spanMs: 5 * 60 * 1000, targets: () => [], ...options };
  }

  draw(points) {
    const { canvas, options } = this;
    const dpr = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(height * dpr);
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = FONT;

    const pad = { left: 52, right: 12, top: 22, bottom: 22 };
    const plotW = width - pad.left - pad.right;
    const plotH = height - pad.top - pad.bottom;
    const end = points.length ? points[points.length - 1].t : Date.now();
    const start = end - options.spanMs;
    const visible = points.filter((p) => p.t >= start);
    const targets = options.targets();

    const values = [];
    for (const p of visible) for (const s of options.series) if (typeof p[s.key] === 'number') values.push(p[s.key]);
    values.sort((a, b) => a - b);
    // `robust`: scale to the 98th percentile so one start-up spike does not flatten the rest;
    // what is above runs along the top edge.
    let max = values.length === 0 ? 0 : options.robust ? values[Math.floor((values.length - 1) * 0.98)] : values[values.length - 1];
    for (const t of targets) max = Math.max(max, t.value * 1.15);
    const yMax = options.yMax ?? niceCeil(max * 1.1);
    const x = (t) => pad.left + ((t - start) / options.spanMs) * plotW;
    const y = (v) => pad.top + plotH - (Math.min(v, yMax) / yMax) * plotH;

    // Grid and y labels.
    ctx.strokeStyle = GRID;
    ctx.fillStyle = AXIS_TEXT;
    ctx.lineWidth = 1;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (let i = 0; i <= 4; i++) {
      const v = (yMax * i) / 4;
      const yy = Math.round(y(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(pad.left, yy);
      ctx.lineTo(pad.left + plotW, yy);
      ctx.stroke();
      ctx.fillText(formatValue(v, options.unit), pad.left - 6, yy);
    }
    // Time labels: minutes before now.
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    const minutes = Math.round(options.spanMs / 60000);
    for (let m = 0; m <= minutes; m++) {
      const xx = x(end - m * 60000);
      ctx.fillText(m === 0 ? 'now' : `-${m}m`, xx, pad.top + plotH + 6);
    }

    // Targets.
    ctx.setLineDash([6, 4]);
    ctx.lineWidth = 1.5;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'bottom';
    for (const [i, t] of targets.entries()) {
      const yy = y(t.value);
      ctx.strokeStyle = t.color;
      ctx.beginPath();
      ctx.moveTo(pad.left, yy);
      ctx.lineTo(pad.left + plotW, yy);
      ctx.stroke();
      ctx.fillStyle = t.color;
      // Side by side, so the labels of close targets do not overlap.
      ctx.fillText(t.label, pad.left + 4 + i * 150, yy - 2);
    }
    ctx.setLineDash([]);

    // Series.
    let plotted = 0;
    ctx.lineWidth = 2;
    ctx.lineJoin = 'round';
    for (const s of options.series) {
      ctx.strokeStyle = s.color;
      ctx.beginPath();
      let open = false;
      for (const p of visible) {
        const v = p[s.key];
        if (typeof v !== 'number') {
          open = false;
          continue;
        }
        if (open) ctx.lineTo(x(p.t), y(v));
        else ctx.moveTo(x(p.t), y(v));
        open = true;
        plotted++;
      }
      ctx.stroke();
    }

    // Legend with the latest values.
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    let lx = pad.left;
    const last = visible[visible.length - 1];
    for (const s of options.series) {
      const label = `${s.label} ${last ? formatValue(last[s.key], options.unit) : '–'}`;
      ctx.fillStyle = s.color;
      ctx.fillRect(lx, 7, 10, 3);
      ctx.fillStyle = '#cbd5e1';
      ctx.fillText(label, lx + 14, 9);
      lx += ctx.measureText(label).width + 30;
    }

    canvas.dataset.plotted = String(plotted);
    return plotted;
  }
}
