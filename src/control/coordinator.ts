/**
 * Multi-pipette coordination (Multipatcher-style):
 *  - a motion gate per pipette: closed while the session is paused, and —
 *    if the preset says so — while another pipette is forming a seal, so the
 *    tissue around a forming seal is not disturbed; moves in progress are
 *    stopped when their gate closes and resume when it reopens;
 *  - path reservations: a move may start only if, all along it, this
 *    pipette's shaft stays `clearance` away from every other pipette's shaft
 *    (where it is, and anywhere along its own reserved move) — checked
 *    exactly on the regions the shafts sweep (clearance.ts), not sampled;
 *  - FIFO locks for shared resources (cleaning wells).
 */
import type { Clock } from '../clock/clock.ts';
import { DeviceError } from '../../drivers/errors.ts';
import type { Vec3 } from '../geometry.ts';
import { parallelogramDistance, stillShaft, sweptShaft, type Parallelogram } from './clearance.ts';
import type { MotionCoordinator } from './pipette-ops.ts';

export interface CoordinatorOptions {
  clock: Clock;
  pipettes: Array<{ id: string; axis: Vec3; shaftLengthUm: number }>;
  clearanceUm: number;
  pauseOthersWhileSealing: boolean;
  /** give up waiting for a blocked path after this long, ms (coordination.path_wait_s) */
  pathWaitMs: number;
}

export interface Coordinator extends MotionCoordinator {
  setPaused(paused: boolean): void;
  setSealing(pipetteId: string, on: boolean): void;
  readonly sealing: ReadonlySet<string>;
  /** called whenever this pipette's gate opens or closes; returns unsubscribe */
  onGateChange(pipetteId: string, listener: (open: boolean) => void): () => void;
  /**
   * Drop everything a pipette holds here — its sealing flag, path reservation,
   * resource locks (handed to the next in line) and places in lock queues — for
   * a pipette whose machine is gone (crashed or stopped) and cannot release them.
   */
  forget(pipetteId: string): void;
  /** close every gate for good (emergency stop) */
  closeAll(): void;
  /** resolves when no other pipette is sealing (sealed ones wait for partners) */
  waitForNoOtherSealing(pipetteId: string, signal?: AbortSignal): Promise<void>;
}

interface Reservation {
  from: Vec3;
  to: Vec3;
}

export function createCoordinator(options: CoordinatorOptions): Coordinator {
  const { clock } = options;
  const info = new Map(options.pipettes.map((p) => [p.id, p]));
  const positions = new Map<string, Vec3>();
  const reservations = new Map<string, Reservation>();
  const sealing = new Set<string>();
  const gateListeners = new Map<string, Set<() => void>>();
  const changeListeners = new Map<string, Set<(open: boolean) => void>>();
  let paused = false;
  let closedForGood = false;
  const waiters = new Set<() => void>();
  /** one request for a lock: the holder is the granted entry itself, so a stale release cannot free a later grant */
  interface LockEntry {
    id: string;
    grant: () => void;
  }
  const locks = new Map<string, { holder: LockEntry | null; queue: LockEntry[] }>();
  /** hands a lock to the next in line (FIFO) */
  const passOn = (l: { holder: LockEntry | null; queue: LockEntry[] }): void => {
    const next = l.queue.shift() ?? null;
    l.holder = next;
    next?.grant();
  };

  const gateOpen = (id: string): boolean =>
    !closedForGood && !paused && !(options.pauseOthersWhileSealing && [...sealing].some((s) => s !== id));

  /** wake everything waiting on a condition; each re-checks */
  const wake = (): void => {
    for (const w of [...waiters]) w();
  };

  const waitUntil = (condition: () => boolean, signal?: AbortSignal, timeoutMs = Infinity): Promise<boolean> =>
    new Promise((resolve, reject) => {
      if (condition()) return resolve(true);
      let timer = timeoutMs < Infinity ? clock.setTimeout(() => finish(false), timeoutMs) : undefined;
      const check = (): void => {
        if (condition()) finish(true);
      };
      const onAbort = (): void => {
        cleanup();
        reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
      };
      const cleanup = (): void => {
        waiters.delete(check);
        clock.clearTimeout(timer);
        timer = undefined;
        signal?.removeEventListener('abort', onAbort);
      };
      const finish = (ok: boolean): void => {
        cleanup();
        resolve(ok);
      };
      waiters.add(check);
      signal?.addEventListener('abort', onAbort, { once: true });
    });

  const notifyGateChanges = (before: Map<string, boolean>): void => {
    for (const [id, wasOpen] of before) {
      const open = gateOpen(id);
      if (wasOpen && !open) for (const l of [...(gateListeners.get(id) ?? [])]) l();
      if (wasOpen !== open) for (const l of [...(changeListeners.get(id) ?? [])]) l(open);
    }
    wake();
  };
  const snapshotGates = (): Map<string, boolean> => new Map([...info.keys()].map((id) => [id, gateOpen(id)]));

  /** Region the shaft of `id` sweeps while its tip goes from → to. */
  const swept = (id: string, from: Vec3, to: Vec3): Parallelogram => {
    const i = info.get(id)!;
    return sweptShaft(from, to, i.axis, i.shaftLengthUm);
  };

  const conflicts = (id: string, from: Vec3, to: Vec3): string | null => {
    const mine = swept(id, from, to);
    for (const [other, i] of info) {
      if (other === id) continue;
      const theirs: Parallelogram[] = [];
      const pos = positions.get(other);
      if (pos) theirs.push(stillShaft(pos, i.axis, i.shaftLengthUm));
      const res = reservations.get(other);
      if (res) theirs.push(swept(other, res.from, res.to));
      for (const region of theirs) if (parallelogramDistance(mine, region) < options.clearanceUm) return other;
    }
    return null;
  };

  return {
    get sealing() {
      return sealing;
    },
    gateOpen,
    async waitForGate(id, signal) {
      await waitUntil(() => gateOpen(id), signal);
    },
    onGateClose(id, listener) {
      let set = gateListeners.get(id);
      if (!set) gateListeners.set(id, (set = new Set()));
      set.add(listener);
      return () => set!.delete(listener);
    },
    onGateChange(id, listener) {
      let set = changeListeners.get(id);
      if (!set) changeListeners.set(id, (set = new Set()));
      set.add(listener);
      return () => set!.delete(listener);
    },
    async reservePath(id, from, to, signal) {
      let blocker: string | null = null;
      const ok = await waitUntil(
        () => {
          if (reservations.has(id)) return false;
          blocker = conflicts(id, from, to);
          return blocker === null;
        },
        signal,
        options.pathWaitMs,
      );
      if (!ok) {
        throw new DeviceError('limit', `pipette ${id}`, 'move', `path blocked by pipette ${blocker ?? '?'} for ${(options.pathWaitMs) / 1000} s (clearance ${options.clearanceUm} µm)`);
      }
      reservations.set(id, { from, to });
      return () => {
        if (reservations.get(id)?.to === to) reservations.delete(id);
        wake();
      };
    },
    async acquire(resource, id, signal) {
      let lock = locks.get(resource);
      if (!lock) locks.set(resource, (lock = { holder: null, queue: [] }));
      const l = lock;
      const entry: LockEntry = { id, grant: () => {} };
      if (l.holder === null) {
        l.holder = entry;
      } else {
        await new Promise<void>((resolve, reject) => {
          entry.grant = resolve;
          l.queue.push(entry);
          signal?.addEventListener(
            'abort',
            () => {
              const i = l.queue.indexOf(entry);
              if (i >= 0) {
                l.queue.splice(i, 1);
                reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
              }
            },
            { once: true },
          );
        });
      }
      return () => {
        if (l.holder === entry) passOn(l);
      };
    },
    reportPosition(id, world) {
      positions.set(id, world);
      wake();
    },
    setPaused(p) {
      const before = snapshotGates();
      paused = p;
      notifyGateChanges(before);
    },
    setSealing(id, on) {
      const before = snapshotGates();
      if (on) sealing.add(id);
      else sealing.delete(id);
      notifyGateChanges(before);
    },
    forget(id) {
      const before = snapshotGates();
      sealing.delete(id);
      reservations.delete(id);
      for (const l of locks.values()) {
        l.queue = l.queue.filter((q) => q.id !== id);
        if (l.holder?.id === id) passOn(l);
      }
      notifyGateChanges(before);
    },
    closeAll() {
      const before = snapshotGates();
      closedForGood = true;
      notifyGateChanges(before);
    },
    async waitForNoOtherSealing(id, signal) {
      await waitUntil(() => ![...sealing].some((s) => s !== id), signal);
    },
  };
}
