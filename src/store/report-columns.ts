/**
 * Report tables defined once: `autopatch report` prints them
 * (report-format.ts) and the dashboard's sessions page gets them with the
 * session's report (archive.ts), so the two cannot drift apart.
 *
 * Recorded cells: every feature in REPORTED_FEATURES is a column, in that
 * order, except that the e-feature baseline (Vbase) sits by the resting
 * potential measured at I=0 during QC (Vrest(QC)), the two resting figures
 * side by side. Hardware: one row per pipette, its three devices.
 */
import type { PipetteHardwareInfo } from '../control/events.ts';
import type { CellColumn } from '../server/archive-types.ts';
import { REPORTED_FEATURES, type RecordedCell } from './report-figures.ts';

type ReportedFeature = (typeof REPORTED_FEATURES)[number];
interface Display {
  label: string;
  scale: number;
  digits: number;
}

/** How each reported feature is shown: header with its unit, SI → that unit, decimals. */
const FEATURES: Record<ReportedFeature, Display> = {
  vBaseline: { label: 'Vbase mV', scale: 1e3, digits: 1 },
  inputResistance: { label: 'Rin MΩ', scale: 1e-6, digits: 0 },
  tau: { label: 'tau ms', scale: 1e3, digits: 1 },
  rheobaseA: { label: 'rheobase pA', scale: 1e12, digits: 0 },
  fiSlope: { label: 'f-I Hz/pA', scale: 1e-12, digits: 3 },
  apThreshold: { label: 'AP thr mV', scale: 1e3, digits: 1 },
  apAmplitude: { label: 'AP amp mV', scale: 1e3, digits: 1 },
  apWidth: { label: 'AP width ms', scale: 1e3, digits: 2 },
  apUpDownRatio: { label: 'up/down', scale: 1, digits: 2 },
  sag: { label: 'sag', scale: 1, digits: 3 },
  heroAdaptation: { label: 'adapt.', scale: 1, digits: 3 },
  heroIsiCv: { label: 'ISI CV', scale: 1, digits: 3 },
  heroFirstIsi: { label: '1st ISI ms', scale: 1e3, digits: 1 },
  heroLatency: { label: 'latency ms', scale: 1e3, digits: 1 },
};

const feature = (key: ReportedFeature): CellColumn => ({ key, of: 'feature', ...FEATURES[key] });

export const CELL_COLUMNS: readonly CellColumn[] = [
  { key: 'vrest', of: 'cell', label: 'Vrest(QC) mV', scale: 1e3, digits: 1 },
  feature('vBaseline'),
  { key: 'ra', of: 'cell', label: 'Ra MΩ', scale: 1e-6, digits: 1 },
  { key: 'cm', of: 'cell', label: 'Cm pF', scale: 1e12, digits: 1 },
  ...REPORTED_FEATURES.filter((f) => f !== 'vBaseline').map(feature),
];

/** A cell's value for a column, SI (null when unknown). */
export function cellValue(cell: Pick<RecordedCell, 'ra' | 'rm' | 'cm' | 'vrest' | 'features'>, column: CellColumn): number | null {
  return (column.of === 'feature' ? cell.features[column.key] : cell[column.key]) ?? null;
}

export const HARDWARE_HEADERS: readonly string[] = ['pipette', 'manipulator', 'port', 'pressure', 'port', 'ch', 'amplifier', 'port', 'ch'];

export function hardwareRow(h: PipetteHardwareInfo): string[] {
  return [
    h.pipetteId,
    h.manipulator.unit === null ? h.manipulator.driver : `${h.manipulator.driver} #${h.manipulator.unit}`,
    h.manipulator.path,
    h.pressure.driver,
    h.pressure.path,
    String(h.pressure.channel),
    h.amplifier.driver,
    h.amplifier.path,
    String(h.amplifier.channel),
  ];
}
