import { manipulatorConformance } from '../../conformance/manipulator.ts';
import { createMpc325Emulator } from './emulator.ts';
import { openMpc325 } from './driver.ts';
import { BAUD } from './protocol.ts';

manipulatorConformance({
  name: 'Sutter MPC-325 (drive 1)',
  baudRate: BAUD,
  makeEmulator: (clock, start) => createMpc325Emulator({ clock, initial: start, drives: [1, 2] }),
  open: ({ path, binding, clock, limits }) => openMpc325({ path, binding, clock, limits, drive: 1 }),
  unit: 1,
  minimumMove: 1,
});

manipulatorConformance({
  name: 'Sutter MPC-325 (drive 3 of 4)',
  baudRate: BAUD,
  makeEmulator: (clock, start) => createMpc325Emulator({ clock, initial: start, drives: [1, 2, 3, 4] }),
  open: ({ path, binding, clock, limits }) => openMpc325({ path, binding, clock, limits, drive: 3 }),
  unit: 3,
  minimumMove: 1,
});
