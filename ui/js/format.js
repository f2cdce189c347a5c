// @ts-check
/** Readable numbers in the units people patch with (MΩ, pA, pF, mV, mbar, µm). */

/** @param {number | null | undefined} v @param {number} [digits] */
function num(v, digits = 3) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(digits > 2 ? 1 : 0);
  return v.toFixed(digits > 2 ? 2 : 1);
}

/** @param {number | null | undefined} ohm */
export function ohms(ohm) {
  if (ohm === null || ohm === undefined || !Number.isFinite(ohm)) return '—';
  const a = Math.abs(ohm);
  if (a >= 1e9) return `${num(ohm / 1e9)} GΩ`;
  if (a >= 1e6) return `${num(ohm / 1e6)} MΩ`;
  if (a >= 1e3) return `${num(ohm / 1e3)} kΩ`;
  return `${num(ohm)} Ω`;
}

/** @param {number | null | undefined} a */
export function amps(a) {
  if (a === null || a === undefined || !Number.isFinite(a)) return '—';
  return Math.abs(a) >= 1e-9 ? `${num(a * 1e9)} nA` : `${num(a * 1e12)} pA`;
}

/** @param {number | null | undefined} f */
export function farads(f) {
  if (f === null || f === undefined || !Number.isFinite(f)) return '—';
  return `${num(f * 1e12)} pF`;
}

/** @param {number | null | undefined} v */
export function volts(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return `${num(v * 1e3)} mV`;
}

/** @param {number | null | undefined} mbar */
export function mbar(mbar) {
  if (mbar === null || mbar === undefined || !Number.isFinite(mbar)) return '—';
  return `${mbar > 0 ? '+' : ''}${mbar.toFixed(0)} mbar`;
}

/** @param {number | null | undefined} um */
export function microns(um) {
  if (um === null || um === undefined || !Number.isFinite(um)) return '—';
  return `${um.toFixed(1)} µm`;
}

/** Holding in the unit of its mode: V in VC → mV, A in IC → pA. */
/** @param {{mode: string, value: number} | null | undefined} h */
export function holding(h) {
  if (!h) return '—';
  if (h.mode === 'VC') return `VC ${volts(h.value)}`;
  if (h.mode === 'IC') return `IC ${amps(h.value)}`;
  return 'I=0';
}

/** @param {number | null | undefined} ms */
export function duration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '—';
  const s = Math.floor(ms / 1000);
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  const p2 = (/** @type {number} */ n) => String(n).padStart(2, '0');
  return hh > 0 ? `${hh}:${p2(mm)}:${p2(ss)}` : `${mm}:${p2(ss)}`;
}

/** @param {number | null | undefined} s */
export function seconds(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return '—';
  if (s >= 120) return duration(s * 1000);
  return `${s.toFixed(s >= 10 ? 0 : 1)} s`;
}

/** @param {number} part @param {number} whole */
export function percent(part, whole) {
  if (!whole) return '—';
  return `${((100 * part) / whole).toFixed(0)} %`;
}

/** A share (0..1) as a percentage with one decimal, as `autopatch report` prints it. */
/** @param {number | null | undefined} rate */
export function share(rate) {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return '—';
  return `${(100 * rate).toFixed(1)} %`;
}

/** A value in SI shown as value × scale with fixed decimals: a table column's number. */
/** @param {number | null | undefined} v @param {number} scale @param {number} digits */
export function fixed(v, scale, digits) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return (v * scale).toFixed(digits);
}

/** @param {number | null | undefined} epochMs */
export function dateTime(epochMs) {
  if (epochMs === null || epochMs === undefined) return '—';
  const d = new Date(epochMs);
  const p2 = (/** @type {number} */ n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())} ${p2(d.getHours())}:${p2(d.getMinutes())}`;
}
