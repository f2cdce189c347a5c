import { describe, expect, it } from 'vitest';
import type { RigEvent } from '../../src/control/events.ts';
import { createHub, type HubOptions } from '../../src/server/hub.ts';
import { decodeTraceFrame } from '../../src/server/trace-frame.ts';
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

  it('does no encoding on the push path: sweep samples are first touched by the flush', () => {
    const { rig, hub, runDeferred } = setup();
    const s = stubSocket();
    hub.addClient(s);
    let reads = 0;
    const sweep = testPulseSweep({ seq: 1, startTime: 0, samples: 20_000 });
    const event = { ...rig.stamp(), type: 'sweep', pipetteId: 'p2', attemptId: null } as Extract<RigEvent, { type: 'sweep' }>;
    Object.defineProperty(event, 'sweep', {
      get() {
        reads++;
        return sweep;
      },
    });
    hub.push(event);
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
      hub.push({ ...rig.stamp(), type: 'sweep', pipetteId: 'p1', attemptId: null, sweep: testPulseSweep({ seq: i, startTime: 0, samples: 100 }) });
      hub.push(pressureEv(rig, 'p1', i));
      hub.push(pressureEv(rig, 'p2', -i));
    }
    hub.push(stateEv(rig));
    hub.push({ ...rig.stamp(), type: 'estop', by: 'test' });
    runDeferred();

    // fast: 50 readings, 50 traces, 100 pressures, state, estop, then a fresh snapshot
    expect(eventTypes(fast).filter((t) => t === 'pipette.testpulse')).toHaveLength(50);
    expect(fast.sent.filter((d) => Buffer.isBuffer(d))).toHaveLength(50);
    expect(eventTypes(fast).filter((t) => t === 'pipette.pressure')).toHaveLength(100);

    // slow: no readings, no traces, no pressures yet; state and estop delivered
    expect(eventTypes(slow)).toEqual(['pipette.state', 'estop']);
    expect(slow.sent.filter((d) => Buffer.isBuffer(d))).toHaveLength(0);
    const stats = hub.stats().perClient.find((c) => c.id === 1)!;
    expect(stats.dropped).toBe(100);
    expect(stats.coalesced).toBe(98); // 2 keys × (50 − 1) replaced

    // once it drains, exactly the newest pressure of each pipette goes out
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
    hub.push({ ...rig.stamp(), type: 'sweep', pipetteId: 'p4', attemptId: null, sweep: testPulseSweep({ seq: 1, startTime: 0, samples: 10 }) });
    runDeferred();
    const bin = s.sent.filter((d): d is Buffer => Buffer.isBuffer(d));
    expect(decodeTraceFrame(bin[0]).pipetteIndex).toBe(0);
  });

  it('with no client connected, push keeps nothing', () => {
    const { rig, hub, deferred } = setup();
    for (let i = 0; i < 1000; i++) hub.push(tp(rig));
    expect(hub.stats().inbox).toBe(0);
    expect(deferred).toHaveLength(0);
  });
});
