/** Plain-text tables and CSV for command output. */

/** Columns padded to their widest cell; numbers-looking cells right-aligned. */
export function renderTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const width = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => /^[-+]?[\d.,]+(%|e[-+]?\d+)?$|^—$/.test(r[i] ?? '')));
  const line = (cells: readonly string[], header: boolean): string =>
    cells
      .map((c, i) => (numeric[i] && !header ? c.padStart(width[i]) : c.padEnd(width[i])))
      .join('  ')
      .trimEnd();
  return [line(headers, true), width.map((w) => '-'.repeat(w)).join('  '), ...rows.map((r) => line(r, false))].join('\n') + '\n';
}

export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const s = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(values: readonly unknown[]): string {
  return values.map(csvField).join(',') + '\n';
}

/** A number with `digits` decimals, or an em dash for null. */
export function fmt(value: number | null | undefined, digits = 2, scale = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return (value * scale).toFixed(digits);
}

export function pct(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return `${(value * 100).toFixed(1)}%`;
}
