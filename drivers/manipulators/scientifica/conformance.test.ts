import { manipulatorConformance } from '../../conformance/manipulator.ts';
import { createScientificaEmulator } from './emulator.ts';
import { openScientifica } from './driver.ts';
import { BAUD, FAST_BAUD } from './protocol.ts';

manipulatorConformance({
  name: 'Scientifica PatchStar (v2 firmware, 0.1 µm)',
  baudRate: BAUD,
  makeEmulator: (clock, start) => createScientificaEmulator({ clock, initial: start, version: 2 }),
  open: ({ path, binding, clock, limits }) => openScientifica({ path, binding, clock, limits }),
});

manipulatorConformance({
  name: 'Scientifica LinLab (v3 firmware, 0.01 µm, 38400 baud)',
  baudRate: FAST_BAUD,
  makeEmulator: (clock, start) => createScientificaEmulator({ clock, initial: start, version: 3, model: 'LinLab' }),
  open: ({ path, binding, clock, limits }) => openScientifica({ path, binding, clock, limits, baudRate: FAST_BAUD }),
});
