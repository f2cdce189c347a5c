import { manipulatorConformance } from '../../conformance/manipulator.ts';
import { createSm10Emulator } from './emulator.ts';
import { openSm10 } from './driver.ts';
import { BAUD_SM10, BAUD_SM5 } from './protocol.ts';

manipulatorConformance({
  name: 'Luigs & Neumann SM-10 (manipulator 1)',
  baudRate: BAUD_SM10,
  makeEmulator: (clock, start) => createSm10Emulator({ clock, initial: start }),
  open: ({ path, binding, clock, limits }) => openSm10({ path, binding, clock, limits, manipulator: 1 }),
  unit: 1,
});

manipulatorConformance({
  name: 'Luigs & Neumann SM-10 (manipulator 2)',
  baudRate: BAUD_SM10,
  makeEmulator: (clock, start) => createSm10Emulator({ clock, initial: start }),
  open: ({ path, binding, clock, limits }) => openSm10({ path, binding, clock, limits, manipulator: 2 }),
  unit: 2,
});

manipulatorConformance({
  name: 'Luigs & Neumann SM-5 (session times out)',
  baudRate: BAUD_SM5,
  makeEmulator: (clock, start) => createSm10Emulator({ clock, initial: start, model: 'SM-5', manipulators: 1 }),
  open: ({ path, binding, clock, limits }) => openSm10({ path, binding, clock, limits, model: 'SM-5' }),
  unit: 1,
});
