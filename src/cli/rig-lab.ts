/**
 * The lab on a real rig: the rig description file, its devices opened on the
 * OS serial ports (or any serialport binding), and the same lab the
 * simulated rig gets (lab.ts). Everything that can be checked without a port
 * (the files, the preset against the rig, cells for a targeted preset) is
 * checked before one is opened; a device that is missing or is not what the
 * file says fails the open, and every port opened so far is closed again.
 */
import type { BindingInterface } from '@serialport/bindings-interface';
import type { Clock } from '../clock/clock.ts';
import { checkPresetAgainstRig, loadPreset } from '../protocol/load.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { rigLimits, type RigConfig } from '../rig/config.ts';
import { loadRigFile } from '../rig/load.ts';
import { openRig } from '../rig/open-rig.ts';
import { loadTargetsFile } from '../rig/targets-file.ts';
import { checkTargetsFor, createLab, type Lab } from './lab.ts';
import { defaultSerialBinding } from './serial-binding.ts';

export interface RigLabOptions {
  clock: Clock;
  rigFile: string;
  /** cell positions for targeted presets */
  targetsFile?: string | null;
  preset: string;
  operator?: string;
  durationMin?: number | null;
  maxAttempts?: number | null;
  /** serialport binding (default: the OS one) */
  binding?: BindingInterface;
}

export interface RigLab extends Lab {
  config: RigConfig;
}

/** Loads and checks the files, before any port is opened. */
export function loadRigLabFiles(options: Pick<RigLabOptions, 'rigFile' | 'targetsFile' | 'preset'>) {
  const config = loadRigFile(options.rigFile);
  const preset = loadPreset(options.preset);
  checkPresetAgainstRig(preset, rigLimits(config), options.preset);
  if (options.targetsFile && preset.targeting === 'blind') {
    throw new ProtocolError(options.targetsFile, [{ path: '', message: `preset ${preset.name} is blind: it finds its own cells, a targets file does not apply` }]);
  }
  const cells = options.targetsFile ? loadTargetsFile(options.targetsFile) : undefined;
  checkTargetsFor(preset, options.preset, cells !== undefined);
  return { config, preset, cells };
}

export async function createRigLab(options: RigLabOptions): Promise<RigLab> {
  const { config, cells } = loadRigLabFiles(options);
  const binding = options.binding ?? (await defaultSerialBinding());
  const rig = await openRig(config, binding, options.clock);
  try {
    const lab = createLab({
      clock: options.clock,
      config,
      rig,
      preset: options.preset,
      seed: null,
      operator: options.operator,
      durationMin: options.durationMin,
      maxAttempts: options.maxAttempts,
      cells: cells && (() => cells),
    });
    return {
      ...lab,
      config,
      async close() {
        // Leave the amplifiers quiet: a bridge that never sees the port close (a PTY, a USB
        // adapter without DTR) would go on test-pulsing the cell and streaming into the port.
        await Promise.all(rig.hardware.map((h) => h.amplifier.setTestPulse({ enabled: false }).catch(() => {})));
        await lab.close();
      },
    };
  } catch (e) {
    await rig.close();
    throw e;
  }
}
