/**
 * What every amplifier emulator and driver exposes besides the contract in
 * drivers/types.ts: the commands the device decoded off the wire (tests assert
 * on what the device received, not on what the controller meant), and a
 * listener for stream errors that belong to no call (a corrupted sample frame).
 */
import type { EmulatedDevice } from '../core/emulator-binding.ts';
import type { DeviceError } from '../errors.ts';
import type { Amplifier } from '../types.ts';

export interface DecodedAmpCommand {
  /** clock time the command was decoded, ms */
  t: number;
  /** channel the command names; null for bridge-wide commands (hello, time) */
  channel: number | null;
  name: string;
  args: readonly string[];
}

export interface AmplifierEmulator extends EmulatedDevice {
  readonly channelCount: number;
  /** every command decoded, in order (garbled lines are logged with name '?') */
  readonly commands: readonly DecodedAmpCommand[];
}

export interface StreamingAmplifier extends Amplifier {
  /** errors in the sample stream (bad CRC, garbage, lost parts); the stream continues. Returns unsubscribe. */
  onError(listener: (error: DeviceError) => void): () => void;
}
