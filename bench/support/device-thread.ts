/**
 * The device side of a simulated rig in its own thread: every emulator and
 * the physics behind them, on their own event loop, as hardware would be on
 * its own processors. The controller's thread reaches them through
 * thread-binding.ts. Messages (structured clone; bytes as Uint8Array):
 *   in:  open {path, baudRate} · write {path, bytes} · close {path}
 *   out: ready {config} · opened {path} · failed {path, message} · data {path, bytes} · closed {path}
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { BindingPortInterface } from '@serialport/bindings-interface';
import { createScaledClock } from '../../src/clock/index.ts';
import { createSimulatedRigFor } from '../../src/rig/simulated-rig.ts';
import { loadPreset } from '../../src/protocol/load.ts';

const { seed, pipettes, speed, preset } = workerData as { seed: number; pipettes: number; speed: number; preset: string };
const port = parentPort!;
const clock = createScaledClock(speed);
// built for the preset exactly as the simulated lab builds it, so both bench modes run the same rig
const sim = createSimulatedRigFor(loadPreset(preset), { clock, seed, pipettes });
const open = new Map<string, BindingPortInterface>();

async function pump(path: string, p: BindingPortInterface): Promise<void> {
  const buffer = Buffer.alloc(65_536);
  while (open.get(path) === p) {
    try {
      const { bytesRead } = await p.read(buffer, 0, buffer.length);
      if (bytesRead > 0) port.postMessage({ op: 'data', path, bytes: Uint8Array.prototype.slice.call(buffer, 0, bytesRead) });
    } catch {
      return; // closed (or pulled): the host side hears of it from its own close
    }
  }
}

port.on('message', (m: { op: string; path: string; baudRate?: number; bytes?: Uint8Array }) => {
  void (async () => {
    try {
      if (m.op === 'open') {
        const p = await sim.binding.open({ path: m.path, baudRate: m.baudRate! });
        open.set(m.path, p);
        port.postMessage({ op: 'opened', path: m.path });
        void pump(m.path, p);
      } else if (m.op === 'write') {
        await open.get(m.path)?.write(Buffer.from(m.bytes!.buffer, m.bytes!.byteOffset, m.bytes!.byteLength));
      } else if (m.op === 'close') {
        const p = open.get(m.path);
        open.delete(m.path);
        await p?.close();
        port.postMessage({ op: 'closed', path: m.path });
      }
    } catch (e) {
      port.postMessage({ op: 'failed', path: m.path, message: e instanceof Error ? e.message : String(e) });
    }
  })();
});
port.postMessage({ op: 'ready', config: sim.config });
