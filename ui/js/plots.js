// @ts-check
/**
 * uPlot wrappers for the three plots the dashboard draws: a trace (test
 * pulse or sweep), resistance over time on a log axis with the protocol's
 * thresholds, and a stimulus command under a sweep. Colours come from CSS
 * variables so the theme lives in one place.
 */
import uPlot from '/vendor/uplot/uPlot.esm.js';

const css = getComputedStyle(document.documentElement);
/** @param {string} name @param {string} fallback */
const colour = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
const AXIS = colour('--plot-axis', '#9aa4ad');
const GRID = colour('--plot-grid', '#2a3036');
const TRACE = colour('--plot-trace', '#5ec8ff');
const R_LINE = colour('--plot-r', '#ffd166');
const COMMAND = colour('--plot-command', '#ffd166');
const FONT = '11px system-ui, sans-serif';

/** @param {number} size */
function axis(size) {
  return { stroke: AXIS, font: FONT, size, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID, width: 1, size: 4 } };
}

/**
 * Keeps a plot as wide as its box, and lets its box say what it draws
 * (`box.plotted`: uPlot's data arrays), for inspection and tests.
 * @param {HTMLElement} el @param {any} plot @param {number} height
 */
function fit(el, plot, height) {
  Object.defineProperty(el, 'plotted', { configurable: true, get: () => plot.data });
  const ro = new ResizeObserver(() => {
    const w = Math.max(120, Math.floor(el.clientWidth));
    if (w !== plot.width) plot.setSize({ width: w, height });
  });
  ro.observe(el);
  return ro;
}

/** Display scaling of SI samples: A → pA, V → mV. */
/** @param {string} unit */
export function displayUnit(unit) {
  return unit === 'A' ? { k: 1e12, label: 'pA' } : { k: 1e3, label: 'mV' };
}

/** @param {number} min @param {number} max */
const spanOf = (min, max) => (Number.isFinite(max - min) && max > min ? max - min : Math.abs(max) || 1);

/**
 * A trace: x in ms from the first sample, y in pA or mV. `interactive`
 * adds the cursor and a legend with values (sweep viewer). With `command`,
 * a stimulus sweep's command is drawn in a strip under the response, on its
 * own scale (the caption names its unit).
 * The box carries what is drawn (data-points, data-unit, data-command-points)
 * for tests and for anyone inspecting the page.
 * @param {HTMLElement} el @param {{height: number, stroke?: string, interactive?: boolean, label?: string, command?: boolean}} opts
 */
export function createTracePlot(el, opts) {
  let unitLabel = 'pA';
  let withCommand = false;
  /** @type {any[]} */
  const series = [
    { label: 'ms', value: (/** @type {any} */ _u, /** @type {number} */ v) => (v === null || v === undefined ? '—' : v.toFixed(2)) },
    { label: opts.label ?? 'trace', stroke: opts.stroke ?? TRACE, width: 1, points: { show: false } },
  ];
  if (opts.command) series.push({ label: 'command', stroke: COMMAND, width: 1, points: { show: false }, scale: 'cmd' });
  const plot = new uPlot(
    {
      width: Math.max(120, el.clientWidth),
      height: opts.height,
      legend: { show: !!opts.interactive },
      cursor: { show: !!opts.interactive, drag: { x: true, y: false } },
      scales: {
        x: { time: false },
        y: {
          auto: true,
          // with a command strip, the response keeps the upper two thirds
          range: (/** @type {any} */ _u, /** @type {number} */ min, /** @type {number} */ max) => {
            const span = spanOf(min, max);
            return withCommand ? [min - 0.5 * span, max + 0.05 * span] : [min - 0.05 * span, max + 0.05 * span];
          },
        },
        cmd: {
          auto: true,
          // the bottom quarter
          range: (/** @type {any} */ _u, /** @type {number} */ min, /** @type {number} */ max) => {
            const span = spanOf(min, max);
            return [min - 0.1 * span, max + 3.2 * span];
          },
        },
      },
      axes: [
        { ...axis(22), values: (/** @type {any} */ _u, /** @type {Array<number | null>} */ v) => v.map(compactTick) },
        { ...axis(46), values: (/** @type {any} */ _u, /** @type {Array<number | null>} */ v) => v.map(compactTick) },
      ],
      series,
    },
    /** @type {any} */ (series.map(() => [])),
    el,
  );
  const ro = fit(el, plot, opts.height);
  return {
    /**
     * @param {import('./trace-frame.js').TraceFrame | null} frame
     * @param {import('./trace-frame.js').TraceFrame | null} [command] the stimulus it played (plots made with `command`)
     */
    set(frame, command = null) {
      if (!frame) {
        el.dataset.points = '0';
        return plot.setData(/** @type {any} */ (series.map(() => [])));
      }
      const { k, label } = displayUnit(frame.unit);
      unitLabel = label;
      const n = frame.samples.length;
      const xs = new Array(n);
      const ys = new Array(n);
      const dt = 1000 / frame.sampleRateHz;
      for (let i = 0; i < n; i++) {
        xs[i] = i * dt;
        const v = frame.samples[i];
        ys[i] = Number.isFinite(v) ? v * k : null;
      }
      el.dataset.points = String(n);
      el.dataset.unit = label;
      if (!opts.command) return plot.setData([xs, ys]);
      withCommand = command !== null;
      const cs = new Array(n).fill(null);
      if (command) {
        // on the response's time grid (both were decimated from sweeps of the same length)
        const ck = displayUnit(command.unit).k;
        const cdt = 1000 / command.sampleRateHz;
        for (let i = 0; i < n; i++) {
          const v = command.samples[Math.min(command.samples.length - 1, Math.round(xs[i] / cdt))];
          cs[i] = Number.isFinite(v) ? v * ck : null;
        }
      }
      el.dataset.commandPoints = String(command ? command.samples.length : 0);
      plot.setData([xs, ys, cs]);
    },
    get unit() {
      return unitLabel;
    },
    destroy() {
      ro.disconnect();
      plot.destroy();
    },
  };
}

/**
 * R over time, log scale, with dashed threshold lines.
 * @param {HTMLElement} el
 * @param {{height: number}} opts
 */
export function createResistancePlot(el, opts) {
  const figure = el.closest('figure') ?? el;
  /** @type {Array<{v: number, label: string, colour: string, side: 'left' | 'right', below: boolean}>} */
  let thresholds = [];
  const plot = new uPlot(
    {
      width: Math.max(120, el.clientWidth),
      height: opts.height,
      legend: { show: false },
      cursor: { show: false },
      scales: {
        x: { time: false },
        y: {
          distr: 3,
          log: 10,
          // always show the thresholds, whatever R is doing
          range: (/** @type {any} */ _u, /** @type {number} */ min, /** @type {number} */ max) => {
            const lo = Math.min(Number.isFinite(min) ? min : 1e6, ...thresholds.map((t) => t.v), 1e6);
            const hi = Math.max(Number.isFinite(max) ? max : 1e9, ...thresholds.map((t) => t.v));
            return [Math.max(1, lo / 2), hi * 3];
          },
        },
      },
      axes: [
        {
          ...axis(22),
          // whole seconds and round minutes only
          incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600],
          values: (/** @type {any} */ _u, /** @type {Array<number | null>} */ v) => v.map(clockLabel),
        },
        { ...axis(46), splits: decades, values: (/** @type {any} */ _u, /** @type {Array<number | null>} */ v) => v.map(ohmTick) },
      ],
      // uPlot's default shows points only where data are sparse, so a lone first reading is visible
      series: [{}, { stroke: R_LINE, width: 1.5 }],
      hooks: {
        draw: [
          (/** @type {any} */ u) => {
            const ctx = u.ctx;
            const { left, top, width, height } = u.bbox;
            const dpr = devicePixelRatio || 1;
            for (const th of thresholds) {
              const y = Math.round(u.valToPos(th.v, 'y', true));
              if (y < top || y > top + height) continue;
              ctx.save();
              ctx.strokeStyle = th.colour;
              ctx.setLineDash([5 * dpr, 4 * dpr]);
              ctx.lineWidth = dpr;
              ctx.beginPath();
              ctx.moveTo(left, y);
              ctx.lineTo(left + width, y);
              ctx.stroke();
              ctx.fillStyle = th.colour;
              ctx.font = `${10 * dpr}px system-ui, sans-serif`;
              // uPlot leaves its own alignment on the context; labels alternate sides so close thresholds stay legible
              ctx.textAlign = th.side === 'right' ? 'right' : 'left';
              ctx.textBaseline = th.below ? 'top' : 'bottom';
              ctx.fillText(th.label, th.side === 'right' ? left + width - 4 * dpr : left + 4 * dpr, th.below ? y + 2 * dpr : y - 2 * dpr);
              ctx.restore();
            }
          },
        ],
      },
    },
    [[], []],
    el,
  );
  const ro = fit(el, plot, opts.height);
  return {
    /** @param {{holdingAt: number, gigaseal: number, breakIn: number, holdingMv: number} | null} th */
    setThresholds(th) {
      thresholds = th
        ? [
            { v: th.holdingAt, label: `${signed(th.holdingMv)} mV at ${ohmTick(th.holdingAt)}Ω`, colour: colour('--th-holding', '#9b8cff'), side: 'left', below: true },
            { v: th.breakIn, label: `break-in < ${ohmTick(th.breakIn)}Ω`, colour: colour('--th-breakin', '#50d890'), side: 'right', below: true },
            { v: th.gigaseal, label: `gigaseal ${ohmTick(th.gigaseal)}Ω`, colour: colour('--th-gigaseal', '#ff7b72'), side: 'right', below: false },
          ]
        : [];
      // the canvas labels, readable by screen readers (and tests)
      figure.setAttribute('aria-label', `R against thresholds: ${thresholds.map((t) => t.label).join('; ')}`);
      plot.redraw(false, true);
    },
    /** @param {{t: number[], r: number[]}} history @param {number} t0 clock ms the x axis starts from */
    set(history, t0) {
      const xs = history.t.map((t) => (t - t0) / 1000);
      const ys = history.r.map((r) => (r > 0 && Number.isFinite(r) ? r : null));
      plot.setData([xs, ys]);
    },
    destroy() {
      ro.disconnect();
      plot.destroy();
    },
  };
}

/** One grid line per decade: a log axis with every 2…9 multiple is unreadable at this size. */
/** @param {any} _u @param {number} _axis @param {number} min @param {number} max */
function decades(_u, _axis, min, max) {
  const out = [];
  for (let e = Math.ceil(Math.log10(min)); e <= Math.floor(Math.log10(max)); e++) out.push(10 ** e);
  return out;
}

/** Tick text short enough for a narrow axis: 12000 → 12k. */
/** @param {number | null} x */
function compactTick(x) {
  if (x === null || !Number.isFinite(x)) return '';
  const a = Math.abs(x);
  if (a >= 1000) return `${+(x / 1000).toPrecision(3)}k`;
  return `${+x.toPrecision(3)}`;
}

/** @param {number | null} s */
function clockLabel(s) {
  if (s === null || !Number.isFinite(s)) return '';
  const sign = s < 0 ? '−' : '';
  const a = Math.abs(Math.round(s));
  return `${sign}${Math.floor(a / 60)}:${String(a % 60).padStart(2, '0')}`;
}

/** −70 with a real minus sign, +10 with a plus */
/** @param {number} v */
function signed(v) {
  return v < 0 ? `−${Math.abs(v)}` : v > 0 ? `+${v}` : '0';
}

/** @param {number | null} v */
export function ohmTick(v) {
  // uPlot passes null for ticks it skips
  if (v === null || !Number.isFinite(v)) return '';
  if (v >= 1e9) return `${+(v / 1e9).toPrecision(3)} G`;
  if (v >= 1e6) return `${+(v / 1e6).toPrecision(3)} M`;
  if (v >= 1e3) return `${+(v / 1e3).toPrecision(3)} k`;
  return `${+v.toPrecision(3)}`;
}
