import { manipulatorConformance } from '../../conformance/manipulator.ts';
import { createMp285Emulator } from './emulator.ts';
import { openMp285 } from './driver.ts';
import { BAUD } from './protocol.ts';

manipulatorConformance({
  name: 'Sutter MP-285',
  baudRate: BAUD,
  makeEmulator: (clock, start) => createMp285Emulator({ clock, initial: start }),
  open: ({ path, binding, clock, limits }) => openMp285({ path, binding, clock, limits }),
});

// Some units and USB adapters end every reply CR LF: the driver must pass the same kit.
manipulatorConformance({
  name: 'Sutter MP-285 (replies end CR LF)',
  baudRate: BAUD,
  makeEmulator: (clock, start) => createMp285Emulator({ clock, initial: start, lineEnding: 'crlf' }),
  open: ({ path, binding, clock, limits }) => openMp285({ path, binding, clock, limits }),
});
