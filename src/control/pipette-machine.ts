/**
 * One autopatch attempt after another, for one pipette, as an xstate v5
 * machine. The machine is declarative: named guards read thresholds from the
 * preset, named actions record what happened, named actors do the hardware
 * work through PipetteOps. Test-pulse readings arrive as TP events carrying
 * time-filtered Signals (signals.ts).
 *
 * Every failure goes through `retract` (or `broken`/`fouled`), every abort or
 * device fault through `safe` — the one safe-state path.
 */
import { and, assign, fromCallback, fromPromise, setup } from 'xstate';
import type { Vec3 } from '../../drivers/types.ts';
import type { AutopatchPreset } from '../protocol/types.ts';
import type { FunnelStage, PipetteStateName } from './events.ts';
import type { Signals } from './signals.ts';

export interface Target {
  /** world µm: blind = region entry point at the surface, targeted = the cell */
  position: Vec3;
  cellId: number | null;
  kind: 'blind' | 'targeted';
}

export interface RecordResult {
  sweeps: number;
  durationS: number;
  features: Record<string, number | null>;
}

export interface QcFigures {
  ra: number | null;
  rm: number | null;
  cm: number | null;
  ihold: number | null;
  vrest: number | null;
}

/** Work the machine delegates (implemented by the pipette runner with PipetteOps). */
export interface MachineServices {
  prepareCheck(target: Target, signal: AbortSignal): Promise<void>;
  descend(target: Target, signal: AbortSignal): Promise<void>;
  /** resolves when the travel allowance is used up without a hit */
  hunt(target: Target, signal: AbortSignal): Promise<void>;
  /** restart a group of signal filters (signals.ts); 'window-off' stops the R0 window statistics */
  resetSignals(which: 'baseline' | 'window' | 'window-off' | 'seal'): void;
  /** hold the hunt baseline (a hit is being confirmed) or carry on from it (a false hit) */
  holdBaseline(on: boolean): void;
  /** clock ms now (for time that only counts while the motion gate is open) */
  now(): number;
  /** whether this pipette's motion gate is open now (GATE_OPENED / GATE_CLOSED report changes) */
  gateOpen(): boolean;
  /**
   * The latest test-pulse signals. Kept by the runner, not in the machine's
   * context: copying the context on every reading (30–100 Hz × N pipettes)
   * is the single biggest cost of a reaction that changes nothing.
   */
  lastSignals(): Signals | null;
  stopMotion(): void;
  pressure(mbar: number): void;
  atmosphere(): void;
  holding(mV: number): void;
  testPulseRate(rateHz: number): void;
  /**
   * Leaving whole-cell or a recording other than by the safe state (skip, cell
   * lost): back to voltage clamp at the seal holding with the test pulse on,
   * once the resting-potential measurement or the recording has stopped.
   */
  restoreVoltageClamp(): void;
  /** one break-in attempt: its pulses (and a zap when due) */
  breakInAttempt(attempt: number, signal: AbortSignal): Promise<void>;
  clearAccess(signal: AbortSignal): Promise<void>;
  measureVrest(signal: AbortSignal): Promise<number>;
  record(signal: AbortSignal): Promise<RecordResult>;
  retract(signal: AbortSignal): Promise<void>;
  clean(signal: AbortSignal): Promise<void>;
  safeState(reason: string): Promise<{ complete: boolean; errors: string[] }>;
  waitForBreakInPartners(signal: AbortSignal): Promise<void>;
  /** a service failed: record the whole error (message, bytes seen) as a fault event */
  reportFault(error: unknown): void;
  /** coordination: this pipette is forming a seal (others hold still) */
  sealing(on: boolean): void;
  /** the machine is ready for its next target (the runner answers with START or FINISH) */
  requestTarget(): void;
  attemptEnded(context: PipetteContext, finalState: PipetteStateName): void;
}

export interface AttemptFacts {
  stage: FunnelStage;
  r0: number | null;
  peakSeal: number | null;
  sealStartT: number | null;
  timeToSeal: number | null;
  breakInAttempts: number;
  spontaneousBreakIn: boolean;
  /** whole-cell was recognised on the transient's charge: it decayed too slowly to fit in the test-pulse step */
  breakInUnfitted: boolean;
  qc: QcFigures;
  record: RecordResult | null;
  failureReason: string | null;
  failedIn: PipetteStateName | null;
  falseHits: number;
  clearAccess: number;
  /** the tip touched a cell (needs cleaning before reuse) */
  tipUsed: boolean;
}

export interface PipetteContext {
  pipetteId: string;
  preset: AutopatchPreset;
  target: Target | null;
  attemptNo: number;
  reason: string;
  facts: AttemptFacts;
  holdingOn: boolean;
  suction: 'normal' | 'strong' | 'weak';
  /** the last reading changed the suction level (applySuction sends it) */
  suctionChanged: boolean;
  stallSince: number | null;
  /** hunt time used while the motion gate was open, ms (the gate closes while others seal or the session is paused) */
  huntUsedMs: number;
  /** clock ms when hunt time last started counting */
  huntCountingSince: number | null;
  armedSpontaneous: boolean;
  /** QC accumulation during whole-cell */
  qcSum: { n: number; ra: number; rm: number; cm: number; ihold: number };
  cleanCount: number;
  tipFouled: boolean;
  finishing: boolean;
}

export type PipetteEvent =
  | { type: 'START'; target: Target }
  | { type: 'FINISH' }
  | { type: 'TP'; s: Signals }
  | { type: 'ABORT'; reason: string }
  | { type: 'SKIP'; reason: string }
  | { type: 'RETRY' }
  | { type: 'REPLACED' }
  | { type: 'CLEAN_NOW' }
  | { type: 'DEVICE_ERROR'; error: string }
  | { type: 'GATE_OPENED' }
  | { type: 'GATE_CLOSED' }
  | { type: 'BREAKIN_ATTEMPT'; n: number }
  | { type: 'BREAKIN_EXHAUSTED' };

export interface PipetteInput {
  pipetteId: string;
  preset: AutopatchPreset;
  cleanCount?: number;
}

const STAGE_ORDER: FunnelStage[] = ['none', 'approached', 'detected', 'sealed', 'wholeCell', 'recorded'];
const atLeast = (current: FunnelStage, next: FunnelStage): FunnelStage =>
  STAGE_ORDER.indexOf(next) > STAGE_ORDER.indexOf(current) ? next : current;

const freshFacts = (): AttemptFacts => ({
  stage: 'none',
  r0: null,
  peakSeal: null,
  sealStartT: null,
  timeToSeal: null,
  breakInAttempts: 0,
  spontaneousBreakIn: false,
  breakInUnfitted: false,
  qc: { ra: null, rm: null, cm: null, ihold: null, vrest: null },
  record: null,
  failureReason: null,
  failedIn: null,
  falseHits: 0,
  clearAccess: 0,
  tipUsed: false,
});

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * A failure reason short enough to group in reports: the device error's kind,
 * command and device (`device-timeout: mode (…) on amp-bridge @ sim:amp-1`);
 * the full message, with the bytes seen, goes to the fault event.
 */
export function faultReason(e: unknown): string {
  const d = e as { kind?: unknown; device?: unknown; command?: unknown };
  if (d && typeof d.kind === 'string' && typeof d.device === 'string') return `device-${d.kind}: ${String(d.command ?? '?')} on ${d.device}`;
  const text = errorText(e);
  return `fault: ${text.length > 160 ? `${text.slice(0, 157)}…` : text}`;
}
const tpOf = (event: PipetteEvent): Signals | null => (event.type === 'TP' ? event.s : null);

/** An exponential fit this reading can be trusted on (the preset's confidence cut-off). */
const fitted = (s: Signals, preset: AutopatchPreset): boolean => s.cm !== null && s.fitQuality >= preset.test_pulse.analysis.min_fit_quality;

/**
 * A membrane capacitance above `pF` shows in this reading: by the fit, or — when
 * the transient decays too slowly to fit in the step — by the charge it carried,
 * which bounds Cm from below (testpulse.ts).
 */
const capacitanceAbove = (s: Signals, preset: AutopatchPreset, pF: number): boolean =>
  fitted(s, preset) ? s.cm! > pF : s.transient === 'slow' && s.cmAtLeast !== null && s.cmAtLeast > pF;

export function createPipetteMachine(services: MachineServices) {
  return setup({
    types: {
      context: {} as PipetteContext,
      events: {} as PipetteEvent,
      input: {} as PipetteInput,
    },
    actors: {
      prepareCheck: fromPromise<void, Target>(({ input, signal }) => services.prepareCheck(input, signal)),
      descend: fromPromise<void, Target>(({ input, signal }) => services.descend(input, signal)),
      hunt: fromPromise<void, Target>(({ input, signal }) => services.hunt(input, signal)),
      // The pause after each pulse (break_in.pulse_interval_s) is part of an attempt (the breakInAttempt service).
      breakInSequence: fromCallback<PipetteEvent, { maxAttempts: number }>(({ input, sendBack }) => {
        const ac = new AbortController();
        void (async () => {
          for (let n = 1; n <= input.maxAttempts; n++) {
            if (ac.signal.aborted) return;
            sendBack({ type: 'BREAKIN_ATTEMPT', n });
            await services.breakInAttempt(n, ac.signal);
          }
          if (!ac.signal.aborted) sendBack({ type: 'BREAKIN_EXHAUSTED' });
        })().catch((e: unknown) => {
          if (!ac.signal.aborted) sendBack({ type: 'DEVICE_ERROR', error: errorText(e) });
        });
        // Leaving break-in (whole-cell detected, abort, fault) ends the sequence: no pulse after this.
        return () => ac.abort();
      }),
      clearAccess: fromPromise<void>(({ signal }) => services.clearAccess(signal)),
      measureVrest: fromPromise<number>(({ signal }) => services.measureVrest(signal)),
      record: fromPromise<RecordResult>(({ signal }) => services.record(signal)),
      retract: fromPromise<void>(({ signal }) => services.retract(signal)),
      clean: fromPromise<void>(({ signal }) => services.clean(signal)),
      safeState: fromPromise<{ complete: boolean; errors: string[] }, string>(({ input }) => services.safeState(input)),
      partners: fromPromise<void>(({ signal }) => services.waitForBreakInPartners(signal)),
    },
    guards: {
      // ---- pipette check
      windowReady: ({ context, event }) => {
        const s = tpOf(event);
        const p = context.preset.pipette_check;
        return !!s && s.windowCount >= p.readings && s.windowSpread <= p.max_spread_MOhm;
      },
      r0InRange: ({ context, event }) => {
        const s = tpOf(event)!;
        return s.windowMedian >= context.preset.pipette_check.min_MOhm && s.windowMedian <= context.preset.pipette_check.max_MOhm;
      },
      r0TooLow: ({ context, event }) => tpOf(event)!.windowMedian < context.preset.pipette_check.min_MOhm,
      // ---- descent and hunt
      tipBroken: ({ context, event }) => {
        const s = tpOf(event);
        return !!s && context.facts.r0 !== null && s.rShort < context.facts.r0 - context.preset.descent.broken_drop_MOhm;
      },
      tipClogged: ({ context, event }) => {
        const s = tpOf(event);
        return !!s && context.facts.r0 !== null && s.rShort > context.facts.r0 + context.preset.descent.clogged_rise_MOhm;
      },
      isHit: ({ context, event }) => {
        const s = tpOf(event);
        if (!s) return false;
        const h = context.preset.hunt;
        const rise = s.rShort - s.baseline;
        return (s.rising >= h.hit_consecutive && rise >= h.hit_rise_MOhm) || s.r - s.baseline >= h.hit_jump_MOhm;
      },
      cloggedWhileHunting: ({ context, event }) => {
        const s = tpOf(event);
        return !!s && context.facts.r0 !== null && s.baseline - context.facts.r0 > context.preset.hunt.clog_drift_MOhm;
      },
      deadElectrode: ({ context, event }) => {
        const s = tpOf(event);
        return !!s && s.rangeKOhm !== null && s.rangeKOhm < context.preset.hunt.dead_range_kOhm;
      },
      hitHolds: ({ context }) => {
        const s = services.lastSignals();
        return !!s && s.rShort - s.baseline >= context.preset.confirm.rise_MOhm;
      },
      falseHitsLeft: ({ context }) => context.facts.falseHits < context.preset.confirm.max_false_hits,
      // ---- seal
      holdingDue: ({ context, event }) => {
        const s = tpOf(event);
        return !!s && !context.holdingOn && s.rHold >= context.preset.seal.holding_at_MOhm;
      },
      gigaseal: ({ context, event }) => {
        const s = tpOf(event);
        return !!s && s.rGiga >= context.preset.seal.gigaseal_MOhm;
      },
      spontaneousBreakIn: ({ context, event }) => {
        // Judged on each reading's own transient, not a 1 s average: at 6 Hz that average
        // hid break-ins for seconds while suction stayed on (a known bug of existing tools).
        const s = tpOf(event);
        return (
          !!s &&
          context.armedSpontaneous &&
          s.r < context.preset.seal.gigaseal_MOhm &&
          capacitanceAbove(s, context.preset, context.preset.cell_attached.spontaneous_cm_pF)
        );
      },
      sealStalled: ({ context, event }) => {
        const s = tpOf(event);
        return !!s && context.stallSince !== null && (s.t - context.stallSince) / 1000 >= context.preset.seal.stall_s;
      },
      sealTierMissed: ({ context, event }) => {
        const s = tpOf(event);
        if (!s || context.facts.sealStartT === null) return false;
        const elapsed = (s.t - context.facts.sealStartT) / 1000;
        return context.preset.seal.tiers.some((tier) => elapsed >= tier.at_s && s.rGiga < tier.min_MOhm);
      },
      sealLost: ({ context, event }) => {
        const s = tpOf(event);
        const c = context.preset.cell_attached;
        return !!s && (s.rGiga < c.lost_MOhm || s.ihold < c.lost_ihold_pA);
      },
      breakInTogether: ({ context }) => context.preset.coordination.break_in_together,
      // ---- break-in and whole-cell
      brokeIn: ({ context, event }) => {
        const s = tpOf(event);
        const b = context.preset.break_in;
        return !!s && s.r < b.success_MOhm && fitted(s, context.preset) && s.cm! > b.success_cm_pF;
      },
      /** R collapsed and the transient carries a whole cell's charge, but decays too slowly for the step to fit */
      brokeInUnfitted: ({ context, event }) => {
        const s = tpOf(event);
        const b = context.preset.break_in;
        return !!s && s.r < b.success_MOhm && !fitted(s, context.preset) && capacitanceAbove(s, context.preset, b.success_cm_pF);
      },
      sealGoneWithoutCell: ({ context, event }) => {
        const s = tpOf(event);
        // A slow transient is a cell the step is too short to fit, not a lost seal.
        return !!s && s.rGiga < context.preset.cell_attached.lost_MOhm && s.transient !== 'slow' && !capacitanceAbove(s, context.preset, context.preset.break_in.success_cm_pF);
      },
      cellLost: ({ context, event }) => {
        const s = tpOf(event);
        return !!s && s.ihold < context.preset.whole_cell.lost_ihold_pA;
      },
      accessCreeping: ({ context, event }) => {
        const s = tpOf(event);
        const w = context.preset.whole_cell;
        return !!s && s.ra !== null && fitted(s, context.preset) && s.ra > w.clear_access_MOhm && context.facts.clearAccess < w.clear_access_max;
      },
      qcPasses: ({ context, event }) => qcFailure(context, (event as unknown as { output: number }).output) === null,
      // ---- after the attempt
      needsCleaning: ({ context }) => context.preset.clean.enabled && (context.facts.tipUsed || context.tipFouled),
      // judged before countClean runs: this clean is the max_cleans-th
      cleansExhausted: ({ context }) => context.cleanCount + 1 >= context.preset.clean.max_cleans,
      cleaningEnabled: ({ context }) => context.preset.clean.enabled,
      finishing: ({ context }) => context.finishing,
      gateOpen: () => services.gateOpen(),
    },
    actions: {
      note: assign({ reason: (_, params: { reason: string }) => params.reason }),
      noteEvent: assign({
        reason: ({ event }) => (event.type === 'ABORT' || event.type === 'SKIP' ? event.reason : event.type === 'DEVICE_ERROR' ? event.error : event.type),
      }),
      beginAttempt: assign({
        target: ({ event }) => (event.type === 'START' ? event.target : null),
        attemptNo: ({ context }) => context.attemptNo + 1,
        facts: () => freshFacts(),
        holdingOn: false,
        suction: 'normal' as const,
        suctionChanged: false,
        stallSince: null,
        armedSpontaneous: false,
        qcSum: { n: 0, ra: 0, rm: 0, cm: 0, ihold: 0 },
        reason: 'new attempt',
      }),
      fail: assign({
        facts: ({ context }, params: { reason: string; state: PipetteStateName }) => ({
          ...context.facts,
          failureReason: params.reason,
          failedIn: params.state,
        }),
        reason: (_, params: { reason: string; state: PipetteStateName }) => params.reason,
      }),
      failFromEvent: assign({
        // Without a state, the failure is placed in the state the pipette was in (an abort or fault from anywhere).
        facts: ({ context, event, self }, params: { state?: PipetteStateName }) => ({
          ...context.facts,
          failureReason:
            context.facts.failureReason ??
            (event.type === 'ABORT' || event.type === 'SKIP' || event.type === 'DEVICE_ERROR' ? (event.type === 'DEVICE_ERROR' ? event.error : event.reason) : 'error'),
          failedIn: context.facts.failedIn ?? params.state ?? topStateOf(self.getSnapshot().value),
        }),
      }),
      failFromError: assign({
        facts: ({ context, event }, params: { state: PipetteStateName }) => ({
          ...context.facts,
          failureReason: context.facts.failureReason ?? faultReason((event as unknown as { error: unknown }).error),
          failedIn: context.facts.failedIn ?? params.state,
        }),
        reason: ({ event }) => faultReason((event as unknown as { error: unknown }).error),
      }),
      reportFault: ({ event }) => services.reportFault((event as unknown as { error: unknown }).error),
      reachStage: assign({
        facts: ({ context }, params: { stage: FunnelStage }) => ({ ...context.facts, stage: atLeast(context.facts.stage, params.stage) }),
      }),
      setR0: assign({
        facts: ({ context, event }) => ({ ...context.facts, r0: tpOf(event)!.windowMedian }),
      }),
      countFalseHit: assign({ facts: ({ context }) => ({ ...context.facts, falseHits: context.facts.falseHits + 1 }) }),
      markTipUsed: assign({ facts: ({ context }) => ({ ...context.facts, tipUsed: true }) }),
      markFouled: assign({ tipFouled: true }),
      // ---- hardware side effects (fire-and-forget; failures come back as DEVICE_ERROR)
      stopMotion: () => services.stopMotion(),
      atmosphere: () => services.atmosphere(),
      huntPressure: ({ context }) => services.pressure(context.preset.hunt.pressure_mbar),
      restoreVoltageClamp: () => services.restoreVoltageClamp(),
      normalTestPulse: ({ context }) => services.testPulseRate(context.preset.test_pulse.rate_Hz),
      fastTestPulse: ({ context }) => services.testPulseRate(context.preset.test_pulse.break_in_rate_Hz),
      resetBaseline: () => services.resetSignals('baseline'),
      resetWindow: () => services.resetSignals('window'),
      closeWindow: () => services.resetSignals('window-off'),
      resetSeal: () => services.resetSignals('seal'),
      freezeBaseline: () => services.holdBaseline(true),
      resumeBaseline: () => services.holdBaseline(false),
      // ---- hunt time, counted only while the motion gate is open
      startHuntTime: assign({ huntUsedMs: 0, huntCountingSince: null }),
      huntClockOn: assign({ huntCountingSince: () => services.now() }),
      huntClockOff: assign({
        huntUsedMs: ({ context }) => context.huntUsedMs + (context.huntCountingSince === null ? 0 : services.now() - context.huntCountingSince),
        huntCountingSince: null,
      }),
      // ---- seal
      startSeal: assign({
        facts: ({ context }) => ({ ...context.facts, sealStartT: services.lastSignals()?.t ?? null, tipUsed: true }),
        suction: 'normal' as const,
        suctionChanged: false,
        holdingOn: false,
        stallSince: null,
      }),
      applySealSuction: ({ context }) => services.pressure(context.preset.seal.suction_mbar),
      sealingOn: () => services.sealing(true),
      sealingOff: () => services.sealing(false),
      switchHolding: assign({ holdingOn: true }),
      applyHolding: ({ context }) => services.holding(context.preset.seal.holding_mV),
      trackSeal: assign(({ context, event }) => {
        const s = tpOf(event);
        if (!s) return {};
        const seal = context.preset.seal;
        const stalling = s.rGiga < seal.stall_MOhm && s.slope !== null && s.slope < seal.stall_rate_MOhm_per_s;
        const peak = Math.max(context.facts.peakSeal ?? 0, s.rGiga);
        return {
          stallSince: stalling ? (context.stallSince ?? s.t) : null,
          armedSpontaneous: context.armedSpontaneous || s.rGiga >= context.preset.cell_attached.spontaneous_arm_MOhm,
          facts: { ...context.facts, peakSeal: peak },
        };
      }),
      chooseSuction: assign(({ context, event }) => {
        const s = tpOf(event);
        if (!s || s.slope === null) return { suctionChanged: false };
        const seal = context.preset.seal;
        // Rate-adaptive suction: push harder while R climbs slowly, ease off when it climbs fast or falls.
        const level: PipetteContext['suction'] =
          s.slope < 0 || s.slope > seal.fast_rate_MOhm_per_s ? 'weak' : s.slope < seal.slow_rate_MOhm_per_s ? 'strong' : 'normal';
        return { suction: level, suctionChanged: level !== context.suction };
      }),
      applySuction: ({ context }) => {
        if (!context.suctionChanged) return;
        const seal = context.preset.seal;
        services.pressure(context.suction === 'strong' ? seal.strong_suction_mbar : context.suction === 'weak' ? seal.weak_suction_mbar : seal.suction_mbar);
      },
      markSealed: assign({
        facts: ({ context, event }) => {
          const s = tpOf(event);
          const start = context.facts.sealStartT;
          return {
            ...context.facts,
            stage: atLeast(context.facts.stage, 'sealed'),
            timeToSeal: s && start !== null ? (s.t - start) / 1000 : context.facts.timeToSeal,
            peakSeal: Math.max(context.facts.peakSeal ?? 0, s?.rGiga ?? 0),
          };
        },
      }),
      markUnfitted: assign({ facts: ({ context }) => ({ ...context.facts, breakInUnfitted: true }) }),
      markSpontaneous: assign({
        facts: ({ context }) => ({ ...context.facts, spontaneousBreakIn: true, stage: atLeast(context.facts.stage, 'sealed') }),
      }),
      countBreakIn: assign({
        facts: ({ context, event }) => ({ ...context.facts, breakInAttempts: event.type === 'BREAKIN_ATTEMPT' ? event.n : context.facts.breakInAttempts }),
      }),
      // ---- whole-cell
      accumulateQc: assign({
        qcSum: ({ context, event }) => {
          const s = tpOf(event);
          if (!s || s.ra === null || s.cm === null || s.rm === null || !fitted(s, context.preset)) return context.qcSum;
          const q = context.qcSum;
          return { n: q.n + 1, ra: q.ra + s.ra, rm: q.rm + s.rm, cm: q.cm + s.cm, ihold: q.ihold + s.ihold };
        },
      }),
      countClearAccess: assign({ facts: ({ context }) => ({ ...context.facts, clearAccess: context.facts.clearAccess + 1 }) }),
      storeVrest: assign({
        facts: ({ context, event }) => {
          const vrest = (event as unknown as { output: number }).output;
          const q = context.qcSum;
          const n = Math.max(q.n, 1);
          const last = services.lastSignals();
          return {
            ...context.facts,
            qc: {
              ra: q.n ? (q.ra / n) * 1e6 : null,
              rm: q.n ? (q.rm / n) * 1e6 : null,
              cm: q.n ? (q.cm / n) * 1e-12 : null,
              ihold: q.n ? (q.ihold / n) * 1e-12 : last ? last.ihold * 1e-12 : null,
              vrest,
            },
          };
        },
      }),
      failQc: assign({
        facts: ({ context }) => ({ ...context.facts, failureReason: qcFailure(context, context.facts.qc.vrest) ?? 'qc-failed', failedIn: 'wholeCell' as const }),
        reason: ({ context }) => qcFailure(context, context.facts.qc.vrest) ?? 'qc-failed',
      }),
      storeRecord: assign({
        facts: ({ context, event }) => {
          const rec = (event as unknown as { output: RecordResult }).output;
          return { ...context.facts, record: rec, stage: rec.sweeps > 0 ? atLeast(context.facts.stage, 'recorded') : context.facts.stage };
        },
      }),
      // ---- attempt bookkeeping
      endAttempt: ({ context }, params: { state: PipetteStateName }) => services.attemptEnded(context, params.state),
      requestTarget: () => services.requestTarget(),
      countClean: assign({ cleanCount: ({ context }) => context.cleanCount + 1, tipFouled: false }),
      freshPipette: assign({ cleanCount: 0, tipFouled: false }),
      finish: assign({ finishing: true }),
    },
    delays: {
      checkTimeout: ({ context }) => context.preset.pipette_check.timeout_s * 1000,
      huntTimeLeft: ({ context }) => Math.max(0, context.preset.hunt.timeout_s * 1000 - context.huntUsedMs),
      confirmWait: ({ context }) => context.preset.confirm.wait_s * 1000,
      sealTimeout: ({ context }) => context.preset.seal.timeout_s * 1000,
      cellAttachedWait: ({ context }) => context.preset.cell_attached.wait_s * 1000,
      partnerWait: ({ context }) => context.preset.coordination.break_in_wait_s * 1000,
      qcWindow: ({ context }) => context.preset.whole_cell.qc_s * 1000,
      restBeforeRecording: ({ context }) => context.preset.record.rest_s * 1000,
    },
  }).createMachine({
    id: 'pipette',
    context: ({ input }) => ({
      pipetteId: input.pipetteId,
      preset: input.preset,
      target: null,
      attemptNo: 0,
      reason: 'created',
      facts: freshFacts(),
      holdingOn: false,
      suction: 'normal',
      suctionChanged: false,
      stallSince: null,
      huntUsedMs: 0,
      huntCountingSince: null,
      armedSpontaneous: false,
      qcSum: { n: 0, ra: 0, rm: 0, cm: 0, ihold: 0 },
      cleanCount: input.cleanCount ?? 0,
      tipFouled: false,
      finishing: false,
    }),
    initial: 'idle',
    on: {
      // One safe-state path for every abort and every device fault, from any state.
      ABORT: { target: '.safe', actions: ['noteEvent', { type: 'failFromEvent', params: {} }] },
      DEVICE_ERROR: { target: '.safe', actions: ['noteEvent', { type: 'failFromEvent', params: {} }] },
      FINISH: { actions: 'finish' },
    },
    states: {
      idle: {
        entry: 'requestTarget',
        on: {
          START: { target: 'pipetteCheck', actions: 'beginAttempt' },
          FINISH: { target: 'done', actions: ['finish', { type: 'note', params: { reason: 'session finished' } }] },
          CLEAN_NOW: { target: 'clean', guard: 'cleaningEnabled', actions: { type: 'note', params: { reason: 'clean requested by operator' } } },
        },
      },
      pipetteCheck: {
        initial: 'preparing',
        on: { SKIP: { target: 'retract', actions: ['noteEvent', { type: 'failFromEvent', params: { state: 'pipetteCheck' } }] } },
        states: {
          preparing: {
            invoke: {
              src: 'prepareCheck',
              input: ({ context }) => context.target!,
              onDone: { target: 'measuring', actions: { type: 'note', params: { reason: 'in the bath: measuring R0' } } },
              onError: { target: '#pipette.safe', actions: ['reportFault', { type: 'failFromError', params: { state: 'pipetteCheck' } }] },
            },
          },
          measuring: {
            entry: 'resetWindow',
            exit: 'closeWindow',
            after: {
              checkTimeout: {
                target: '#pipette.retract',
                actions: { type: 'fail', params: { reason: 'pipette-resistance-unstable', state: 'pipetteCheck' } },
              },
            },
            on: {
              TP: [
                {
                  guard: and(['windowReady', 'r0InRange']),
                  target: '#pipette.descent',
                  actions: ['setR0', { type: 'note', params: { reason: 'R0 accepted' } }],
                },
                {
                  guard: and(['windowReady', 'r0TooLow']),
                  target: '#pipette.broken',
                  actions: ['setR0', { type: 'fail', params: { reason: 'pipette-resistance-too-low', state: 'pipetteCheck' } }],
                },
                {
                  guard: 'windowReady',
                  target: '#pipette.fouled',
                  actions: ['setR0', { type: 'fail', params: { reason: 'pipette-resistance-too-high', state: 'pipetteCheck' } }],
                },
              ],
            },
          },
        },
      },
      descent: {
        invoke: {
          src: 'descend',
          input: ({ context }) => context.target!,
          onDone: { target: 'hunt', actions: ['resetBaseline', { type: 'reachStage', params: { stage: 'approached' } }, { type: 'note', params: { reason: 'region reached' } }] },
          onError: { target: 'safe', actions: ['reportFault', { type: 'failFromError', params: { state: 'descent' } }] },
        },
        on: {
          TP: [
            { guard: 'tipBroken', target: 'broken', actions: [{ type: 'fail', params: { reason: 'tip-broken', state: 'descent' } }] },
            { guard: 'tipClogged', target: 'fouled', actions: [{ type: 'fail', params: { reason: 'tip-clogged', state: 'descent' } }] },
          ],
          SKIP: { target: 'retract', actions: ['noteEvent', { type: 'failFromEvent', params: { state: 'descent' } }] },
        },
      },
      hunt: {
        // The baseline restarts when the region is reached (descent), not here: after a false hit it carries on.
        entry: ['huntPressure', 'startHuntTime'],
        exit: 'stopMotion',
        invoke: {
          src: 'hunt',
          input: ({ context }) => context.target!,
          onDone: { target: 'retract', actions: { type: 'fail', params: { reason: 'no-cell-within-travel', state: 'hunt' } } },
          onError: { target: 'safe', actions: ['reportFault', { type: 'failFromError', params: { state: 'hunt' } }] },
        },
        // The hunt timeout counts only while the motion gate is open: a pipette held
        // still while another seals (or the session is paused) is not using its time.
        initial: 'gate',
        states: {
          gate: { always: [{ guard: 'gateOpen', target: 'counting' }, { target: 'held' }] },
          counting: {
            entry: 'huntClockOn',
            exit: 'huntClockOff',
            after: {
              huntTimeLeft: { target: '#pipette.retract', actions: { type: 'fail', params: { reason: 'hunt-timeout', state: 'hunt' } } },
            },
            on: { GATE_CLOSED: 'held' },
          },
          held: { on: { GATE_OPENED: 'counting' } },
        },
        on: {
          TP: [
            { guard: 'tipBroken', target: 'broken', actions: [{ type: 'fail', params: { reason: 'tip-broken', state: 'hunt' } }] },
            { guard: 'isHit', target: 'confirmHit', actions: [{ type: 'note', params: { reason: 'resistance rise: possible cell' } }] },
            { guard: 'cloggedWhileHunting', target: 'fouled', actions: [{ type: 'fail', params: { reason: 'tip-clogged', state: 'hunt' } }] },
            { guard: 'deadElectrode', target: 'retract', actions: [{ type: 'fail', params: { reason: 'dead-electrode', state: 'hunt' } }] },
          ],
          SKIP: { target: 'retract', actions: ['noteEvent', { type: 'failFromEvent', params: { state: 'hunt' } }] },
        },
      },
      confirmHit: {
        // The baseline is held from the hit on: the rise is judged against where R was before it.
        entry: ['stopMotion', 'atmosphere', 'freezeBaseline'],
        on: {
          SKIP: { target: 'retract', actions: ['noteEvent', { type: 'failFromEvent', params: { state: 'confirmHit' } }] },
        },
        after: {
          confirmWait: [
            {
              guard: 'hitHolds',
              target: 'seal',
              actions: [{ type: 'reachStage', params: { stage: 'detected' } }, 'markTipUsed', { type: 'note', params: { reason: 'cell confirmed at atmosphere' } }],
            },
            {
              guard: 'falseHitsLeft',
              target: 'hunt',
              actions: ['countFalseHit', 'resumeBaseline', { type: 'note', params: { reason: 'false hit: resistance fell back at atmosphere' } }],
            },
            { target: 'retract', actions: ['countFalseHit', { type: 'fail', params: { reason: 'too-many-false-hits', state: 'confirmHit' } }] },
          ],
        },
      },
      seal: {
        entry: ['startSeal', 'resetSeal', 'sealingOn', 'applySealSuction'],
        // Every way out of sealing releases suction first — gigaseal, break-in, stall, skip, abort, fault.
        exit: ['atmosphere', 'sealingOff'],
        after: {
          sealTimeout: { target: 'retract', actions: { type: 'fail', params: { reason: 'seal-timeout', state: 'seal' } } },
        },
        on: {
          TP: [
            // Order matters: a break-in or a gigaseal is judged before anything else.
            {
              guard: 'spontaneousBreakIn',
              target: 'wholeCell',
              actions: ['trackSeal', 'markSpontaneous', { type: 'note', params: { reason: 'spontaneous break-in during sealing' } }],
            },
            {
              guard: 'gigaseal',
              target: 'cellAttached',
              actions: ['trackSeal', 'markSealed', { type: 'note', params: { reason: 'gigaseal' } }],
            },
            { guard: 'sealStalled', target: 'retract', actions: ['trackSeal', { type: 'fail', params: { reason: 'seal-stalled', state: 'seal' } }] },
            { guard: 'sealTierMissed', target: 'retract', actions: ['trackSeal', { type: 'fail', params: { reason: 'seal-too-slow', state: 'seal' } }] },
            { guard: 'holdingDue', actions: ['trackSeal', 'switchHolding', 'applyHolding', 'chooseSuction', 'applySuction'] },
            { actions: ['trackSeal', 'chooseSuction', 'applySuction'] },
          ],
          SKIP: { target: 'retract', actions: ['noteEvent', { type: 'failFromEvent', params: { state: 'seal' } }] },
        },
      },
      cellAttached: {
        initial: 'holding',
        on: {
          TP: [
            {
              guard: 'spontaneousBreakIn',
              target: 'wholeCell',
              actions: ['markSpontaneous', { type: 'note', params: { reason: 'spontaneous break-in in cell-attached' } }],
            },
            { guard: 'sealLost', target: 'lost', actions: [{ type: 'fail', params: { reason: 'seal-lost', state: 'cellAttached' } }] },
          ],
          SKIP: { target: 'retract', actions: ['noteEvent', { type: 'failFromEvent', params: { state: 'cellAttached' } }] },
        },
        states: {
          holding: {
            entry: ['atmosphere', 'applyHolding', 'switchHolding'],
            after: {
              cellAttachedWait: [
                { guard: 'breakInTogether', target: 'waitingForPartners' },
                { target: '#pipette.breakIn', actions: { type: 'note', params: { reason: 'seal held: breaking in' } } },
              ],
            },
          },
          waitingForPartners: {
            invoke: {
              src: 'partners',
              onDone: { target: '#pipette.breakIn', actions: { type: 'note', params: { reason: 'partners ready: breaking in together' } } },
              onError: { target: '#pipette.breakIn', actions: { type: 'note', params: { reason: 'breaking in without partners' } } },
            },
            after: { partnerWait: { target: '#pipette.breakIn', actions: { type: 'note', params: { reason: 'partner wait over: breaking in' } } } },
          },
        },
      },
      breakIn: {
        entry: 'fastTestPulse',
        // Leaving break-in vents first: the whole-cell detection reaction stops suction before anything else.
        exit: ['atmosphere', 'normalTestPulse'],
        invoke: {
          src: 'breakInSequence',
          input: ({ context }) => ({ maxAttempts: context.preset.break_in.max_attempts }),
        },
        on: {
          TP: [
            { guard: 'brokeIn', target: 'wholeCell', actions: [{ type: 'note', params: { reason: 'broke in' } }] },
            {
              guard: 'brokeInUnfitted',
              target: 'wholeCell',
              actions: ['markUnfitted', { type: 'note', params: { reason: 'broke in: R collapsed with a whole cell\'s charge, too slow to fit in the test-pulse step' } }],
            },
            { guard: 'sealGoneWithoutCell', target: 'lost', actions: [{ type: 'fail', params: { reason: 'seal-lost-during-break-in', state: 'breakIn' } }] },
          ],
          BREAKIN_ATTEMPT: { actions: 'countBreakIn' },
          BREAKIN_EXHAUSTED: { target: 'retract', actions: { type: 'fail', params: { reason: 'break-in-failed', state: 'breakIn' } } },
          SKIP: { target: 'retract', actions: ['noteEvent', { type: 'failFromEvent', params: { state: 'breakIn' } }] },
        },
      },
      wholeCell: {
        entry: [{ type: 'reachStage', params: { stage: 'wholeCell' } }, 'applyHolding'],
        initial: 'qc',
        on: {
          TP: [
            { guard: 'cellLost', target: 'lost', actions: [{ type: 'fail', params: { reason: 'cell-lost', state: 'wholeCell' } }, 'restoreVoltageClamp'] },
            { guard: 'accessCreeping', target: '.clearing', actions: ['countClearAccess'] },
            { actions: ['accumulateQc'] },
          ],
          // The resting potential may be under way at I=0: back to voltage clamp on the way out.
          SKIP: { target: 'retract', actions: ['noteEvent', { type: 'failFromEvent', params: { state: 'wholeCell' } }, 'restoreVoltageClamp'] },
        },
        states: {
          qc: {
            after: { qcWindow: 'vrest' },
          },
          clearing: {
            invoke: {
              src: 'clearAccess',
              onDone: { target: 'qc', actions: { type: 'note', params: { reason: 'clear-access pulse given' } } },
              onError: { target: '#pipette.safe', actions: ['reportFault', { type: 'failFromError', params: { state: 'wholeCell' } }] },
            },
          },
          vrest: {
            invoke: {
              src: 'measureVrest',
              onDone: [
                { guard: 'qcPasses', target: '#pipette.record', actions: ['storeVrest', { type: 'note', params: { reason: 'whole-cell QC passed' } }] },
                { target: '#pipette.retract', actions: ['storeVrest', 'failQc'] },
              ],
              onError: { target: '#pipette.safe', actions: ['reportFault', { type: 'failFromError', params: { state: 'wholeCell' } }] },
            },
          },
        },
      },
      record: {
        initial: 'resting',
        on: {
          TP: [
            { guard: 'cellLost', target: 'lost', actions: [{ type: 'fail', params: { reason: 'cell-lost', state: 'record' } }, 'restoreVoltageClamp'] },
          ],
          // Out of a recording other than by the safe state (which owns the amplifier): back to
          // voltage clamp at the holding, test pulse on, no bias left — as a completed recording ends.
          SKIP: { target: 'retract', actions: ['noteEvent', { type: 'failFromEvent', params: { state: 'record' } }, 'restoreVoltageClamp'] },
        },
        states: {
          resting: { after: { restBeforeRecording: 'stimulating' } },
          stimulating: {
            invoke: {
              src: 'record',
              onDone: { target: '#pipette.retract', actions: ['storeRecord', { type: 'note', params: { reason: 'recording complete' } }] },
              onError: { target: '#pipette.safe', actions: ['reportFault', { type: 'failFromError', params: { state: 'record' } }] },
            },
          },
        },
      },
      retract: {
        invoke: {
          src: 'retract',
          onDone: [
            { guard: 'needsCleaning', target: 'clean', actions: [{ type: 'endAttempt', params: { state: 'retract' } }] },
            { target: 'idle', actions: [{ type: 'endAttempt', params: { state: 'retract' } }] },
          ],
          onError: { target: 'safe', actions: ['reportFault', { type: 'failFromError', params: { state: 'retract' } }] },
        },
      },
      lost: {
        // The seal or the cell is gone: leave it, and clean the tip it fouled.
        invoke: {
          src: 'retract',
          onDone: [
            { guard: 'needsCleaning', target: 'clean', actions: [{ type: 'endAttempt', params: { state: 'lost' } }] },
            { target: 'idle', actions: [{ type: 'endAttempt', params: { state: 'lost' } }] },
          ],
          onError: { target: 'safe', actions: ['reportFault', { type: 'failFromError', params: { state: 'lost' } }] },
        },
      },
      broken: {
        invoke: {
          src: 'retract',
          onDone: { target: 'needsPipette', actions: [{ type: 'endAttempt', params: { state: 'broken' } }, { type: 'note', params: { reason: 'tip broken: fit a new pipette' } }] },
          onError: { target: 'safe', actions: ['reportFault', { type: 'failFromError', params: { state: 'broken' } }] },
        },
      },
      fouled: {
        entry: 'markFouled',
        invoke: {
          src: 'retract',
          onDone: [
            { guard: 'cleaningEnabled', target: 'clean', actions: [{ type: 'endAttempt', params: { state: 'fouled' } }] },
            { target: 'needsPipette', actions: [{ type: 'endAttempt', params: { state: 'fouled' } }, { type: 'note', params: { reason: 'tip fouled and cleaning is off' } }] },
          ],
          onError: { target: 'safe', actions: ['reportFault', { type: 'failFromError', params: { state: 'fouled' } }] },
        },
      },
      clean: {
        invoke: {
          src: 'clean',
          onDone: [
            { guard: 'cleansExhausted', target: 'needsPipette', actions: ['countClean', { type: 'note', params: { reason: 'pipette cleaned its maximum number of times' } }] },
            { target: 'idle', actions: ['countClean', { type: 'note', params: { reason: 'tip cleaned' } }] },
          ],
          onError: { target: 'safe', actions: { type: 'note', params: { reason: 'cleaning failed' } } },
        },
      },
      needsPipette: {
        // A FINISH that arrived while retracting was only noted: honour it on arrival.
        always: { guard: 'finishing', target: 'done' },
        on: {
          REPLACED: { target: 'idle', actions: ['freshPipette', { type: 'note', params: { reason: 'new pipette fitted' } }] },
          FINISH: { target: 'done', actions: 'finish' },
        },
      },
      safe: {
        initial: 'securing',
        states: {
          securing: {
            invoke: {
              src: 'safeState',
              input: ({ context }) => context.reason,
              onDone: { target: 'secured', actions: { type: 'endAttempt', params: { state: 'safe' } } },
              onError: { target: 'secured', actions: { type: 'endAttempt', params: { state: 'safe' } } },
            },
          },
          secured: {
            always: { guard: 'finishing', target: '#pipette.done' },
            on: {
              RETRY: { target: '#pipette.idle', actions: { type: 'note', params: { reason: 'retry requested' } } },
              REPLACED: { target: '#pipette.idle', actions: ['freshPipette', { type: 'note', params: { reason: 'new pipette fitted' } }] },
              FINISH: { target: '#pipette.done', actions: 'finish' },
            },
          },
        },
        // A second abort while securing must not restart the safe-state path.
        on: { ABORT: {}, DEVICE_ERROR: {} },
      },
      // A finished pipette leaves nothing on: whatever path led here, the line is vented.
      done: { type: 'final', entry: 'atmosphere' },
    },
  });
}

/** The top-level state of a snapshot value ('seal' for { seal: 'suction' }). */
function topStateOf(value: unknown): PipetteStateName {
  return (typeof value === 'string' ? value : Object.keys(value as object)[0]) as PipetteStateName;
}

/** First whole-cell QC criterion that fails (given the measured resting potential, V), or null. */
export function qcFailure(context: PipetteContext, vrest: number | null): string | null {
  const w = context.preset.whole_cell;
  const q = context.qcSum;
  if (q.n === 0) return 'qc-no-access-fit';
  const ra = q.ra / q.n;
  const rm = q.rm / q.n;
  const ihold = q.ihold / q.n;
  if (ra > w.ra_max_MOhm) return 'qc-access-too-high';
  if (rm > 0 && ra / rm > w.ra_over_rm_max) return 'qc-access-to-membrane-ratio';
  if (ihold < w.ihold_min_pA || ihold > w.ihold_max_pA) return 'qc-holding-current';
  if (vrest !== null && vrest * 1000 > w.vrest_max_mV) return 'qc-resting-potential';
  return null;
}
