/** One progress line per tick: rig time, each pipette's state and time in it, the running funnel. */
import type { SessionSnapshot } from '../control/api.ts';

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

export function formatProgress(s: SessionSnapshot): string {
  const elapsed = s.startedAt === null ? 0 : s.now - s.startedAt;
  const pipettes = s.pipettes.map((p) => `${p.pipetteId} ${p.state} ${formatDuration(s.now - p.stateSince)}`).join(' | ');
  const f = s.funnel;
  return `[${formatDuration(elapsed)}] ${pipettes} || attempts ${f.attempts}, sealed ${f.sealed}, whole-cell ${f.wholeCell}, recorded ${f.recorded} (${s.cellsPerHour.toFixed(1)} cells/h)`;
}
