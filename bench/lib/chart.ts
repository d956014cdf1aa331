import type { BenchResults, RelayStep } from './results.ts';

// A dependency-free SVG: two line charts side by side over the copy pipeline's steps.
// N is spaced evenly (a category axis), so 1, 5 and 10 stay readable next to 100.

interface Series {
  label: string;
  color: string;
  dashed?: boolean;
  values: number[];
}

const W = 460;
const H = 300;
const M = { left: 52, right: 12, top: 34, bottom: 66 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceMax(v: number): number {
  if (!Number.isFinite(v) || v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function panel(
  x0: number, title: string, yLabel: string, ns: number[], ok: boolean[], series: Series[], limit?: { value: number; label: string }, log = false,
): string {
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const all = series.flatMap((s) => s.values).filter((v) => Number.isFinite(v) && (!log || v > 0));
  const x = (i: number) => x0 + M.left + (ns.length === 1 ? pw / 2 : (i * pw) / (ns.length - 1));
  let y: (v: number) => number;
  let ticks: number[];
  if (log) {
    // Delays span from microseconds to seconds once real time fails: a log axis keeps both readable.
    const lo = Math.floor(Math.log10(Math.min(...all, limit?.value ?? 1)));
    const hi = Math.ceil(Math.log10(Math.max(...all, limit?.value ?? 1)));
    const span = Math.max(1, hi - lo);
    y = (v: number) => M.top + ph - ((Math.log10(Math.max(v, 10 ** lo)) - lo) / span) * ph;
    ticks = Array.from({ length: span + 1 }, (_, k) => 10 ** (lo + k));
  } else {
    const yMax = niceMax(Math.max(...all, limit?.value ?? 0) * 1.05);
    y = (v: number) => M.top + ph - (Math.min(v, yMax) / yMax) * ph;
    ticks = [0, 1, 2, 3, 4].map((k) => (yMax * k) / 4);
  }
  const out: string[] = [];
  out.push(`<text x="${x0 + W / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(title)}</text>`);
  for (const v of ticks) {
    out.push(`<line x1="${x0 + M.left}" x2="${x0 + W - M.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`);
    out.push(`<text x="${x0 + M.left - 6}" y="${y(v) + 4}" text-anchor="end">${+v.toPrecision(3)}</text>`);
  }
  out.push(`<text transform="translate(${x0 + 14},${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  ns.forEach((n, i) => {
    out.push(`<text x="${x(i)}" y="${M.top + ph + 16}" text-anchor="middle" fill="${ok[i] ? '#000' : '#c00'}">${n}${ok[i] ? '' : '✗'}</text>`);
  });
  out.push(`<text x="${x0 + M.left + pw / 2}" y="${M.top + ph + 32}" text-anchor="middle">concurrent publishers N (✗: real time failed)</text>`);
  if (limit) {
    out.push(`<line x1="${x0 + M.left}" x2="${x0 + W - M.right}" y1="${y(limit.value)}" y2="${y(limit.value)}" stroke="#c00" stroke-dasharray="2 3"/>`);
    out.push(`<text x="${x0 + W - M.right}" y="${y(limit.value) - 4}" text-anchor="end" fill="#c00">${esc(limit.label)}</text>`);
  }
  series.forEach((s, k) => {
    const pts = s.values.map((v, i) => (Number.isFinite(v) && (!log || v > 0) ? `${x(i).toFixed(1)},${y(v).toFixed(1)}` : '')).filter(Boolean);
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 3"' : ''} points="${pts.join(' ')}"/>`);
    for (const p of pts) out.push(`<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="2.5" fill="${s.color}"/>`);
    const lx = x0 + M.left + (k % 2) * (pw / 2);
    const ly = H - 14 + (k < 2 ? -10 : 4);
    // Two legend entries per row.
    out.push(`<line x1="${lx}" x2="${lx + 18}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 3"' : ''}/>`);
    out.push(`<text x="${lx + 22}" y="${ly}">${esc(s.label)}</text>`);
  });
  return out.join('\n');
}

/** bench/chart.svg: CPU per stream and relay delay versus N, for the copy pipeline. */
export function writeChart(r: BenchResults): string {
  const steps: RelayStep[] = r.copy;
  const ns = steps.map((s) => s.n);
  const ok = steps.map((s) => s.realTime);
  const left = panel(0, 'CPU per stream (% of one core)', '% of one core per stream', ns, ok, [
    { label: 'FFmpeg under the relay', color: '#1f77b4', values: steps.map((s) => s.usage.ffmpeg.cpuPct / s.n) },
    { label: 'FFmpeg alone (baseline)', color: '#1f77b4', dashed: true, values: steps.map((s) => (s.baseline ? s.baseline.usage.ffmpeg.cpuPct / s.n : Number.NaN)) },
    { label: 'relay process', color: '#d62728', values: steps.map((s) => s.usage.parent.cpuPct / s.n) },
  ]);
  const right = panel(W, 'Relay delay: frame arrival → FFmpeg stdin', 'milliseconds (log scale)', ns, ok, [
    { label: 'relay p50', color: '#2ca02c', values: steps.map((s) => s.relayDelay.p50) },
    { label: 'relay p99', color: '#9467bd', values: steps.map((s) => s.relayDelay.p99) },
    { label: 'relay p99, steady window', color: '#9467bd', dashed: true, values: steps.map((s) => s.relayDelaySteady.p99) },
    { label: 'FFmpeg alone: pipe p99', color: '#888', dashed: true, values: steps.map((s) => (s.baseline ? s.baseline.pipeDelay.p99 : Number.NaN)) },
  ], { value: 20, label: 'target p99 ≤ 20 ms' }, true);
  const caption = `Copy pipeline, ${r.machine.cores} cores ${r.machine.cpuModel}, ${r.startedAt.slice(0, 10)}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H + 18}" viewBox="0 0 ${2 * W} ${H + 18}" font-family="sans-serif" font-size="11">`,
    '<rect width="100%" height="100%" fill="#fff"/>',
    left,
    right,
    `<text x="${W}" y="${H + 12}" text-anchor="middle" fill="#555">${esc(caption)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
