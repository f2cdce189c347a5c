import { amplifierConformance } from '../../conformance/amplifier.ts';
import { createAmpBridgeEmulator } from './emulator.ts';
import { openAmpBridge } from './driver.ts';
import { encodeFrame } from './frame.ts';
import { AMP_BRIDGE_BAUD, FLAG, FRAME_TYPE, HEADER_BYTES } from './protocol.ts';

amplifierConformance({
  name: 'amp-bridge',
  baudRate: AMP_BRIDGE_BAUD,
  maxSampleRateHz: 200_000,
  modeSettleMs: 500,
  makeEmulator: (clock, electrodes) => createAmpBridgeEmulator({ clock, channels: electrodes }),
  open: ({ path, binding, clock }) => openAmpBridge({ path, binding, clock }),
  corruptFrame: () => {
    const samples = new Float32Array(340).fill(1e-9);
    const frame = encodeFrame(
      { type: FRAME_TYPE.testpulse, channel: 0, mode: 'VC', unit: 'A', flags: FLAG.last, seq: 999, sampleRateHz: 20_000, total: 340, offset: 0, dropped: 0, holding: 0, stepAmplitude: 0.01, stepOnset: 70, stepLength: 200, t0Us: 0 },
      samples,
    );
    frame[HEADER_BYTES + 17] ^= 0x01;
    return frame;
  },
});
