import { describe, expect, it } from 'vitest';
import type { LiveTrace } from '../../src/control/api.ts';
import type { RigEvent } from '../../src/control/events.ts';
import { createHub, type HubOptions } from '../../src/server/hub.ts';
import { RECENT_LOG } from '../../src/server/hub.ts';
import { decodeTraceFrame, decodeTraceFrames } from '../../src/server/trace-frame.ts';
import { createFakeRig, reading, testPulseSweep, type FakeRig } from './fake-rig.ts';

interface StubSocket {
  readyState: number;
  buffered: number;
  bufferedReads: number;
  sent: Array<string | Buffer>;
  closed: { code?: number; reason?: string } | null;
  readonly bufferedAmount: number;
  send(data: string | Buffer): void;
  close(code?: number, reason?: string): void;
}

/** A socket whose backlog the test controls; `grow` bytes are added per send (a client that reads nothing). */
function stubSocket(buffered = 0, grow = 0): StubSocket {
  return {
    readyState: 1,
    buffered,
    bufferedReads: 0,
    sent: [],
    closed: null,
    get bufferedAmount() {
      this.bufferedReads++;
      return this.buffered;
    },
    send(data) {
      this.sent.push(data);
      this.buffered += grow;
    },
    close(code, reason) {
      this.closed = { code, reason };
      this.readyState = 3;
    },
  };
}

const texts = (s: StubSocket) =>
  s.sent.filter((d): d is string => typeof d === 'string').map((d) => JSON.parse(d) as { type: string; event?: RigEvent });
const eventTypes = (s: StubSocket) => texts(s).filter((m) => m.type === 'event').map((m) => m.event!.type);

function setup(over: Partial<HubOptions> = {}) {
  const rig = createFakeRig({ pipettes: 4 });
  const deferred: Array<() => void> = [];
  const hub = createHub({
    snapshot: () => rig.snapshot(),
    limits: { highWaterBytes: 1000, maxBufferedBytes: 100_000 },
    maxInbox: 1000,
    maxPoints: 600,
    encoding: 'float32',
    defer: (fn) => deferred.push(fn),
    ...over,
  });
  const runDeferred = () => {
    while (deferred.length) deferred.shift()!();
  };
  return { rig, hub, deferred, runDeferred };
}

const trace = (rig: FakeRig, pipetteId: string, seq: number, samples = 100): LiveTrace => ({
  t: rig.stamp().t,
  pipetteId,
  attemptId: null,
  sweep: testPulseSweep({ seq, startTime: seq, samples }),
});
const binaries = (s: StubSocket) => s.sent.filter((d): d is Buffer => Buffer.isBuffer(d));
const tp = (rig: FakeRig, pipetteId = 'p1', r = 5e6): RigEvent => ({ ...rig.stamp(), type: 'pipette.testpulse', pipetteId, attemptId: null, reading: reading(r) });
const stateEv = (rig: FakeRig, pipetteId = 'p1'): RigEvent => ({
  ...rig.stamp(),
  type: 'pipette.state',
  pipetteId,
  attemptId: 'a1',
  from: 'descent',
  to: 'hunt',
  reason: 'region reached',
});
const pressureEv = (rig: FakeRig, pipetteId: string, mbar: number): RigEvent => ({
  ...rig.stamp(),
  type: 'pipette.pressure',
  pipetteId,
  mbar,
  source: 'regulator',
});

describe('live hub', () => {
  it('sends the snapshot first, then events in order, and only after the deferred flush', () => {
    const { rig, hub, deferred, runDeferred } = setup();
    const s = stubSocket();
    hub.addClient(s);
    expect(texts(s).map((m) => m.type)).toEqual(['snapshot']);
    const readsBefore = s.bufferedReads;

    hub.push(stateEv(rig));
    hub.push(tp(rig));
    hub.push(pressureEv(rig, 'p1', 30));
    // the rig's call path: nothing sent, socket not even looked at, one flush armed
    expect(s.sent).toHaveLength(1);
    expect(s.bufferedReads).toBe(readsBefore);
    expect(deferred).toHaveLength(1);

    runDeferred();
    expect(eventTypes(s)).toEqual(['pipette.state', 'pipette.testpulse', 'pipette.pressure']);
  });

  it('does no encoding on the push path: trace samples are first touched by the flush', () => {
    const { rig, hub, runDeferred } = setup();
    const s = stubSocket();
    hub.addClient(s);
    let reads = 0;
    const sweep = testPulseSweep({ seq: 1, startTime: 0, samples: 20_000 });
    const live = { t: rig.stamp().t, pipetteId: 'p2', attemptId: null } as LiveTrace;
    Object.defineProperty(live, 'sweep', {
      get() {
        reads++;
        return sweep;
      },
    });
    hub.pushTrace(live);
    expect(reads).toBe(0);
    runDeferred();
    expect(reads).toBeGreaterThan(0);
    const bin = s.sent.filter((d): d is Buffer => Buffer.isBuffer(d));
    expect(bin).toHaveLength(1);
    const frame = decodeTraceFrame(bin[0]);
    expect(frame.pipetteIndex).toBe(1); // p2 is the second pipette of the snapshot
    expect(frame.samples.length).toBeLessThanOrEqual(600);
    expect(frame.originalLength).toBe(20_000);
  });

  it('bounds the inbox: past maxInbox, droppable events are counted and dropped, critical ones kept', () => {
    const { rig, hub, deferred, runDeferred } = setup({ maxInbox: 100 });
    const s = stubSocket();
    hub.addClient(s);
    for (let i = 0; i < 10_000; i++) hub.push(tp(rig));
    hub.push(stateEv(rig));
    expect(deferred).toHaveLength(1);
    expect(hub.stats().inbox).toBe(101);
    expect(hub.stats().inboxDropped).toBe(9_900);
    runDeferred();
    const types = eventTypes(s);
    expect(types.filter((t) => t === 'pipette.testpulse')).toHaveLength(100);
    expect(types.at(-1)).toBe('pipette.state');
  });

  it('a slow client loses traces, gets only the newest latest-values, never loses critical events; a fast one gets all', () => {
    const { rig, hub, runDeferred } = setup();
    const slow = stubSocket(50_000); // far above highWaterBytes (1000)
    const fast = stubSocket(0);
    hub.addClient(slow);
    hub.addClient(fast);
    for (let i = 0; i < 50; i++) {
      hub.push(tp(rig));
      hub.pushTrace(trace(rig, 'p1', i));
      hub.push(pressureEv(rig, 'p1', i));
      hub.push(pressureEv(rig, 'p2', -i));
      runDeferred(); // one flush per test-pulse period, as on a rig
    }
    hub.push(stateEv(rig));
    hub.push({ ...rig.stamp(), type: 'estop', by: 'test' });
    runDeferred();

    // fast: 50 readings, 50 traces, 100 pressures, state, estop, then a fresh snapshot
    expect(eventTypes(fast).filter((t) => t === 'pipette.testpulse')).toHaveLength(50);
    // 50 traces, then after the e-stop's snapshot the last trace once more
    expect(binaries(fast)).toHaveLength(51);
    expect(eventTypes(fast).filter((t) => t === 'pipette.pressure')).toHaveLength(100);

    // slow: no readings, no traces, no pressures yet; state and estop delivered, then the
    // snapshot that follows an e-stop (it drops the pressures still waiting: it holds newer values)
    expect(eventTypes(slow)).toEqual(['pipette.state', 'estop']);
    expect(texts(slow).map((m) => m.type)).toEqual(['snapshot', 'event', 'event', 'snapshot']);
    // after each snapshot the last trace of each pipette (part of the snapshot, so sent regardless)
    expect(binaries(slow)).toHaveLength(1);
    const stats = hub.stats().perClient.find((c) => c.id === 1)!;
    expect(stats.dropped).toBe(100);
    expect(stats.coalesced).toBe(98); // 2 keys × (50 − 1) replaced

    // once it drains, nothing older than the snapshot it already has goes out
    slow.buffered = 0;
    hub.flush();
    expect(eventTypes(slow)).toEqual(['pipette.state', 'estop']);
  });

  it('a slow client gets only the newest latest-value of each key once it drains', () => {
    const { rig, hub, runDeferred } = setup();
    const slow = stubSocket(50_000);
    hub.addClient(slow);
    for (let i = 0; i < 50; i++) {
      hub.push(pressureEv(rig, 'p1', i));
      hub.push(pressureEv(rig, 'p2', -i));
    }
    runDeferred();
    expect(hub.stats().perClient[0].coalesced).toBe(98); // 2 keys × (50 − 1) replaced
    slow.buffered = 0;
    hub.flush();
    const pressures = texts(slow)
      .filter((m) => m.event?.type === 'pipette.pressure')
      .map((m) => m.event as Extract<RigEvent, { type: 'pipette.pressure' }>);
    expect(pressures.map((p) => [p.pipetteId, p.mbar])).toEqual([
      ['p1', 49],
      ['p2', -49],
    ]);
  });

  it('a snapshot (resync or after a session event) drops latest-values still waiting: nothing older reaches the page after it', () => {
    const { rig, hub, runDeferred } = setup();
    const slow = stubSocket(50_000);
    const client = hub.addClient(slow);
    hub.push(pressureEv(rig, 'p1', 30));
    hub.push({ ...rig.stamp(), type: 'pipette.position', pipetteId: 'p1', world: [1, 2, 3], manipulator: [1, 2, 3] });
    hub.push({ ...rig.stamp(), type: 'pipette.holding', pipetteId: 'p1', mode: 'VC', holding: -0.07 });
    runDeferred();
    // the rig moves on; the client asks for a snapshot: it has pressure 30 in it
    hub.resync(client);
    slow.buffered = 0;
    hub.flush();
    expect(texts(slow).map((m) => m.type)).toEqual(['snapshot', 'snapshot']);
    expect(eventTypes(slow)).toEqual([]);

    // the same after a session event's snapshot
    slow.buffered = 50_000;
    hub.push(pressureEv(rig, 'p2', 40));
    hub.push({ ...rig.stamp(), type: 'session.started', sessionId: 's1', preset: 'x', pipettes: ['p1', 'p2', 'p3', 'p4'], seed: 1, rig: 'fake', operator: 'o', virtual: true, limits: { durationMs: null, maxAttempts: null } });
    runDeferred();
    slow.buffered = 0;
    hub.flush();
    expect(eventTypes(slow)).toEqual(['session.started']);
    expect(texts(slow).at(-1)?.type).toBe('snapshot');
  });

  it('closes a client whose backlog passes maxBufferedBytes, and keeps serving the others', () => {
    const { rig, hub, runDeferred } = setup({ limits: { highWaterBytes: 1000, maxBufferedBytes: 5000 } });
    const hopeless = stubSocket(0, 1000); // never reads: every frame adds 1000 bytes
    const good = stubSocket(0);
    hub.addClient(hopeless);
    hub.addClient(good);
    for (let i = 0; i < 20; i++) hub.push(stateEv(rig));
    runDeferred();
    expect(hopeless.closed).toEqual({ code: 1013, reason: 'client too slow' });
    expect(hub.stats().clients).toBe(1);
    expect(eventTypes(good)).toHaveLength(20);
    hub.push(stateEv(rig));
    runDeferred();
    expect(eventTypes(good)).toHaveLength(21);
  });

  it('a client that vanished is skipped and removed', () => {
    const { rig, hub, runDeferred } = setup();
    const gone = stubSocket();
    hub.addClient(gone);
    gone.readyState = 3;
    hub.push(stateEv(rig));
    runDeferred();
    expect(gone.sent).toHaveLength(1); // only the snapshot from before it went
    expect(hub.stats().clients).toBe(0);
  });

  it('a client joining mid-stream gets only what its snapshot does not already hold', () => {
    const { rig, hub, runDeferred } = setup();
    const early = stubSocket();
    hub.addClient(early);
    hub.push(tp(rig, 'p1', 1e6));
    const late = stubSocket();
    hub.addClient(late); // snapshot taken now: includes the 1 MΩ reading
    hub.push(tp(rig, 'p1', 2e6));
    runDeferred();
    const rs = (s: StubSocket) => texts(s).filter((m) => m.type === 'event').map((m) => (m.event as Extract<RigEvent, { type: 'pipette.testpulse' }>).reading.r);
    expect(rs(early)).toEqual([1e6, 2e6]);
    expect(rs(late)).toEqual([2e6]);
  });

  it('after session.started everyone gets a fresh snapshot, and trace indices follow its pipette list', async () => {
    const { rig, hub, runDeferred } = setup();
    const s = stubSocket();
    hub.addClient(s);
    rig.state.pipettes.reverse(); // the new session lists p4 first
    hub.push({ ...rig.stamp(), type: 'session.started', sessionId: 's1', preset: 'x', pipettes: ['p4', 'p3', 'p2', 'p1'], seed: 1, rig: 'fake', operator: 'o', virtual: true, limits: { durationMs: null, maxAttempts: null } });
    hub.push(tp(rig)); // covered by the snapshot, not sent separately
    runDeferred();
    expect(texts(s).map((m) => m.type)).toEqual(['snapshot', 'event', 'snapshot']);
    hub.pushTrace(trace(rig, 'p4', 1, 10));
    runDeferred();
    expect(decodeTraceFrame(binaries(s)[0]).pipetteIndex).toBe(0);
  });

  it('with no client connected, push keeps nothing to send', () => {
    const { rig, hub, deferred } = setup();
    for (let i = 0; i < 1000; i++) hub.push(tp(rig));
    for (let i = 0; i < 1000; i++) hub.pushTrace(trace(rig, 'p1', i));
    expect(hub.stats().inbox).toBe(0);
    expect(deferred).toHaveLength(0);
  });

  it('of several traces of one pipette in a flush only the newest is sent; stored test-pulse sweeps are not sent', () => {
    const { rig, hub, runDeferred } = setup();
    const s = stubSocket();
    hub.addClient(s);
    for (let seq = 1; seq <= 5; seq++) {
      hub.pushTrace(trace(rig, 'p1', seq));
      hub.pushTrace(trace(rig, 'p2', 100 + seq));
    }
    // the storage copy of a test pulse: the live trace already showed it
    hub.push({ ...rig.stamp(), type: 'sweep', pipetteId: 'p1', attemptId: null, sweep: testPulseSweep({ seq: 5, startTime: 0, samples: 100 }) });
    runDeferred();
    const frames = binaries(s).map((b) => decodeTraceFrame(b));
    expect(frames.map((f) => [f.pipetteIndex, f.seq])).toEqual([
      [0, 5],
      [1, 105],
    ]);
    expect(hub.stats().tracesSuperseded).toBe(8);
  });

  it('a stimulus sweep goes out as its response and, in the same message, the command it played', () => {
    const { rig, hub, runDeferred } = setup({ maxPoints: 400 });
    const s = stubSocket();
    hub.addClient(s);
    const n = 5000;
    const command = new Float32Array(n).map((_, i) => (i >= 1000 && i < 4000 ? 100e-12 : 0));
    const response = new Float32Array(n).map((_, i) => -0.07 + (i >= 1000 && i < 4000 ? 0.01 : 0));
    hub.push({
      ...rig.stamp(),
      type: 'sweep',
      pipetteId: 'p3',
      attemptId: 'a1',
      sweep: { channel: 0, seq: 9, kind: 'stimulus', mode: 'IC', startTime: 50, sampleRateHz: 20_000, response, responseUnit: 'V', holding: 0, stimulus: { name: 'long-square', mode: 'IC', sampleRateHz: 20_000, samples: command } },
    });
    runDeferred();
    const [message] = binaries(s);
    const frames = decodeTraceFrames(message);
    expect(frames.map((f) => [f.kind, f.unit, f.mode, f.seq, f.pipetteIndex, f.originalLength])).toEqual([
      ['stimulus', 'V', 'IC', 9, 2, n],
      ['command', 'A', 'IC', 9, 2, n],
    ]);
    for (const f of frames) expect(f.samples.length).toBeLessThanOrEqual(400);
    expect(Math.max(...frames[1].samples)).toBeCloseTo(100e-12, 15);
  });

  it('a snapshot carries the recent logged events and is followed by each pipette’s last traces, also for a client that joins later', () => {
    const { rig, hub, runDeferred } = setup();
    // nobody connected yet: the hub still keeps what a later snapshot needs
    hub.push(stateEv(rig, 'p2'));
    hub.push(tp(rig, 'p2')); // not logged
    hub.push({ ...rig.stamp(), type: 'fault', pipetteId: 'p3', device: 'mp285', kind: 'timeout', message: 'no reply' });
    hub.pushTrace(trace(rig, 'p1', 7));
    hub.pushTrace(trace(rig, 'p1', 8));
    hub.pushTrace(trace(rig, 'p4', 3));
    for (let i = 0; i < RECENT_LOG + 10; i++) hub.push({ ...rig.stamp(), type: 'log', level: 'info', pipetteId: null, message: `line ${i}` });
    const s = stubSocket();
    hub.addClient(s);
    runDeferred();
    const [snap] = texts(s) as Array<{ type: string; recent?: RigEvent[] }>;
    expect(snap.type).toBe('snapshot');
    // the newest RECENT_LOG logged events, oldest first
    expect(snap.recent).toHaveLength(RECENT_LOG);
    expect(snap.recent!.at(-1)).toMatchObject({ type: 'log', message: `line ${RECENT_LOG + 9}` });
    // 212 logged (state, fault, 210 lines): the first 12 are gone
    expect(snap.recent![0]).toMatchObject({ type: 'log', message: 'line 10' });
    const frames = decodeTraceFrames(binaries(s)[0]);
    expect(frames.map((f) => [f.pipetteIndex, f.seq])).toEqual([
      [0, 8],
      [3, 3],
    ]);
    // the binary message comes right after the snapshot
    expect(Buffer.isBuffer(s.sent[1])).toBe(true);
  });
});
