import { pressureConformance } from '../../conformance/pressure.ts';
import { openPressureBox, type PressureBox } from './driver.ts';
import { createPressureBoxEmulator } from './emulator.ts';
import { BAUD } from './protocol.ts';

pressureConformance({
  name: 'autopatch pressure box',
  baudRate: BAUD,
  channels: 4,
  makeEmulator: (clock) => createPressureBoxEmulator({ clock, channels: 4, seed: 7 }),
  open: ({ path, binding, clock, limits }) => openPressureBox({ path, binding, clock, limits }),
  select: (controller, index) => (controller as PressureBox).channel(index),
  // τ = 100 ms towards the regulator: 10 τ leaves < 0.005 % of a step
  settleMs: 1_000,
  // sensor σ 0.2 mbar (±5 σ), DAC step 0.42 mbar (±0.21), 0.1 mbar print resolution
  toleranceMbar: 1.5,
});
