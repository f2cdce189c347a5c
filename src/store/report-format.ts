/**
 * A StoreReport as text: a readable table for technicians, JSON for tools,
 * and CSV in long form (section, group, name, value: one figure per line,
 * SI units) so a spreadsheet can pivot it.
 */
import { FUNNEL } from '../control/events.ts';
import { CELL_COLUMNS, cellValue, HARDWARE_HEADERS, hardwareRow } from './report-columns.ts';
import type { FunnelKey } from './report-figures.ts';
import type { KeyedFunnel, StoreReport } from './reports.ts';
import { csvLine, fmt, pct, renderTable } from './text-table.ts';

export type ReportFormat = 'table' | 'json' | 'csv';

const STAGES = FUNNEL as readonly FunnelKey[];

function isoMinute(epochMs: number | null): string {
  return epochMs === null ? '—' : new Date(epochMs).toISOString().slice(0, 16).replace('T', ' ');
}

function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.round(seconds % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s).padStart(2, '0')}s`;
}

function funnelTable(title: string, rows: readonly KeyedFunnel[]): string {
  const headers = [title, 'attempts', 'unfinished', ...STAGES, 'yield'];
  return renderTable(
    headers,
    rows.map((f) => [
      f.key,
      String(f.attempts),
      String(f.unfinished),
      ...STAGES.map((s) => String(f.counts[s])),
      pct(f.rates.recorded),
    ]),
  );
}

export function reportAsTable(r: StoreReport): string {
  const out: string[] = [];
  out.push(`autopatch report — ${r.sessions.length} session${r.sessions.length === 1 ? '' : 's'}\n`);
  out.push('\nSessions\n');
  out.push(
    renderTable(
      ['session', 'preset', 'operator', 'seed', 'status', 'start (UTC)', 'duration', 'pipettes', 'attempts', 'recorded', 'cells/h', '≥2 by round', 'wc overlap', 'med seal GΩ', 'med Ra MΩ'],
      r.sessions.map((s) => [
        s.id,
        s.preset,
        s.operator,
        s.seed === null ? '—' : String(s.seed),
        s.status,
        isoMinute(s.startEpochMs),
        duration(s.durationS),
        String(s.pipettes),
        s.unfinished ? `${s.attempts}+${s.unfinished}` : String(s.attempts),
        String(s.recorded),
        fmt(s.cellsPerHour),
        s.roundMode === 'synchronized' ? pct(s.simultaneousRate) : `${pct(s.simultaneousRate)} idx`,
        pct(s.overlapShare),
        fmt(s.medianSeal, 2, 1e-9),
        fmt(s.medianRa, 1, 1e-6),
      ]),
    ),
  );
  if (r.sessions.some((s) => s.roundMode !== 'synchronized')) {
    out.push(
      "idx: the pipettes ran independently, so '≥2 by round' groups attempts by index only; " +
        "'wc overlap' (share of whole-cell attempts that overlapped another pipette's) is right in any mode\n",
    );
  }
  for (const s of r.sessions) {
    if (!s.hardware?.length) continue;
    out.push(`\nHardware of ${s.id} (${s.rig})\n`);
    out.push(renderTable(HARDWARE_HEADERS, s.hardware.map(hardwareRow)));
  }
  const dropped = r.sessions.filter(
    (s) => (s.stats.backpressure_dropped_testpulse_sweeps ?? 0) + (s.stats.backpressure_dropped_readings ?? 0) + (s.stats.backpressure_dropped_positions ?? 0) > 0,
  );
  for (const s of dropped) {
    out.push(
      `note: ${s.id}: back-pressure shed ${s.stats.backpressure_dropped_testpulse_sweeps ?? 0} test-pulse sweeps, ` +
        `${s.stats.backpressure_dropped_readings ?? 0} readings, ${s.stats.backpressure_dropped_positions ?? 0} positions\n`,
    );
  }

  const f = r.funnel;
  out.push(`\nFunnel (${f.attempts} ended attempts${f.unfinished ? `, ${f.unfinished} unfinished` : ''})\n`);
  out.push(
    renderTable(
      ['stage', 'count', 'of attempts', 'of previous'],
      STAGES.map((s) => [s, String(f.counts[s]), pct(f.rates[s]), pct(f.stepRates[s])]),
    ),
  );
  out.push('\nBy pipette\n' + funnelTable('pipette', r.byPipette));
  out.push('\nBy preset\n' + funnelTable('preset', r.byPreset));
  if (r.bySession.length > 1) out.push('\nBy session\n' + funnelTable('session', r.bySession));

  out.push('\nTime per state (all pipettes)\n');
  out.push(
    renderTable(
      ['state', 'time', 'share', 'visits'],
      r.timePerState.map((s) => [s.state, duration(s.seconds), pct(s.fraction), String(s.visits)]),
    ),
  );

  out.push('\nFailure reasons\n');
  out.push(
    r.failureReasons.length
      ? renderTable(
          ['reason', 'count', 'share', 'failed in'],
          r.failureReasons.map((x) => [x.reason, String(x.count), pct(x.fraction), x.failedIn.map((s) => `${s.state} ${s.count}`).join(', ')]),
        )
      : '(none)\n',
  );

  out.push(`\nCells per hour: ${fmt(r.cellsPerHour)} (${r.recorded} recorded in ${fmt(r.hours)} h of session time)\n`);
  const sim = r.simultaneous;
  out.push('\n≥2 simultaneous whole-cell\n');
  out.push(
    `  by time: ${sim.episodes} episode${sim.episodes === 1 ? '' : 's'} with ≥2 pipettes in whole-cell or record, ${duration(sim.episodeSeconds)} in all; ` +
      `${sim.overlappingAttempts} of ${sim.wholeCellAttempts} whole-cell attempts (${pct(sim.overlapShare)}) overlapped another pipette's\n`,
  );
  out.push(`  by round: ${sim.successes} of ${sim.trials} trials (${pct(sim.rate)}); ${sim.definition}\n`);

  const q = r.quality;
  out.push('\nQuality (ended attempts where known)\n');
  const row = (name: string, d: typeof q.seal, digits: number, scale: number): string[] => [
    name,
    String(d.n),
    fmt(d.min, digits, scale),
    fmt(d.q1, digits, scale),
    fmt(d.median, digits, scale),
    fmt(d.q3, digits, scale),
    fmt(d.max, digits, scale),
  ];
  out.push(
    renderTable(
      ['figure', 'n', 'min', 'q1', 'median', 'q3', 'max'],
      [
        row('peak seal (GΩ)', q.seal, 2, 1e-9),
        row('time to seal (s)', q.timeToSeal, 1, 1),
        row('R0 (MΩ)', q.r0, 2, 1e-6),
        row('Ra (MΩ)', q.ra, 1, 1e-6),
        row('Rm (MΩ)', q.rm, 0, 1e-6),
        row('Cm (pF)', q.cm, 1, 1e12),
        row('Ihold (pA)', q.ihold, 0, 1e12),
        row('Vrest (mV)', q.vrest, 1, 1e3),
      ],
    ),
  );
  const sb = q.spontaneousBreakIn;
  out.push(`Spontaneous break-in: ${sb.spontaneous} of ${sb.attempts} attempts that reached whole-cell (${pct(sb.rate)})\n`);

  out.push(`\nRecorded cells: e-features (IPFX definitions; ${r.cells.length} cell${r.cells.length === 1 ? '' : 's'})\n`);
  if (r.cells.length === 0) out.push('(none)\n');
  else {
    out.push(
      renderTable(
        // Vrest(QC): measured at I=0 during whole-cell QC; Vbase: the e-feature baseline (mean before each long square)
        ['attempt', 'pipette', ...CELL_COLUMNS.map((c) => c.label)],
        r.cells.map((c) => [c.attemptId, c.pipetteId, ...CELL_COLUMNS.map((col) => fmt(cellValue(c, col), col.digits, col.scale))]),
      ),
    );
  }
  return out.join('');
}

export function reportAsCsv(r: StoreReport): string {
  const lines: string[] = [csvLine(['section', 'group', 'name', 'value'])];
  const put = (section: string, group: string, name: string, value: unknown): void => {
    lines.push(csvLine([section, group, name, value]));
  };
  for (const s of r.sessions) {
    for (const [k, v] of Object.entries(s)) {
      if (k === 'id' || k === 'stats' || k === 'hardware') continue;
      put('sessions', s.id, k, v);
    }
    for (const h of s.hardware ?? []) {
      for (const device of ['manipulator', 'pressure', 'amplifier'] as const) {
        for (const [k, v] of Object.entries(h[device])) put('hardware', s.id, `${h.pipetteId}.${device}.${k}`, v);
      }
    }
    for (const [k, v] of Object.entries(s.stats)) put('session_stats', s.id, k, v);
  }
  const funnel = (section: string, key: string, f: KeyedFunnel | StoreReport['funnel']): void => {
    put(section, key, 'attempts', f.attempts);
    put(section, key, 'unfinished', f.unfinished);
    for (const s of STAGES) {
      put(section, key, `${s}_count`, f.counts[s]);
      put(section, key, `${s}_rate`, f.rates[s]);
      put(section, key, `${s}_step_rate`, f.stepRates[s]);
    }
  };
  funnel('funnel', 'all', r.funnel);
  for (const f of r.bySession) funnel('funnel_by_session', f.key, f);
  for (const f of r.byPipette) funnel('funnel_by_pipette', f.key, f);
  for (const f of r.byPreset) funnel('funnel_by_preset', f.key, f);
  for (const s of r.timePerState) {
    put('time_per_state', s.state, 'seconds', s.seconds);
    put('time_per_state', s.state, 'fraction', s.fraction);
    put('time_per_state', s.state, 'visits', s.visits);
  }
  for (const x of r.failureReasons) {
    put('failure_reasons', x.reason, 'count', x.count);
    put('failure_reasons', x.reason, 'fraction', x.fraction);
  }
  put('cells_per_hour', 'all', 'recorded', r.recorded);
  put('cells_per_hour', 'all', 'hours', r.hours);
  put('cells_per_hour', 'all', 'per_hour', r.cellsPerHour);
  const sim = r.simultaneous;
  put('simultaneous', 'all', 'episodes', sim.episodes);
  put('simultaneous', 'all', 'episode_seconds', sim.episodeSeconds);
  put('simultaneous', 'all', 'whole_cell_attempts', sim.wholeCellAttempts);
  put('simultaneous', 'all', 'overlapping_attempts', sim.overlappingAttempts);
  put('simultaneous', 'all', 'overlap_share', sim.overlapShare);
  put('simultaneous', 'all', 'round_mode', sim.roundMode);
  put('simultaneous', 'all', 'trials', sim.trials);
  put('simultaneous', 'all', 'successes', sim.successes);
  put('simultaneous', 'all', 'rate', sim.rate);
  put('simultaneous', 'all', 'definition', sim.definition);
  for (const [name, d] of Object.entries(r.quality)) {
    for (const [k, v] of Object.entries(d)) put('quality', name, k, v);
  }
  for (const c of r.cells) {
    for (const k of ['pipetteId', 'ra', 'rm', 'cm', 'vrest'] as const) put('cells', c.attemptId, k, c[k]);
    for (const [k, v] of Object.entries(c.features)) put('cell_features', c.attemptId, k, v);
  }
  for (const [name, d] of Object.entries(r.features)) {
    for (const [k, v] of Object.entries(d)) put('features', name, k, v);
  }
  return lines.join('');
}

export function formatReport(r: StoreReport, format: ReportFormat): string {
  switch (format) {
    case 'json':
      return JSON.stringify(r, null, 2) + '\n';
    case 'csv':
      return reportAsCsv(r);
    case 'table':
      return reportAsTable(r);
  }
}
