/**
 * Runs one validated control request against the rig, for REST and /ws
 * alike, and maps the outcome to an HTTP status: 200 done, 404 unknown
 * pipette, 409 the rig refused (its reason passed on), 500 the rig threw.
 */
import type { CommandResult, RigControl } from '../control/api.ts';
import type { ControlRequest } from './schemas.ts';

export interface ControlOutcome extends CommandResult {
  status: number;
}

export async function runControl(rig: RigControl, request: ControlRequest, by: string): Promise<ControlOutcome> {
  if (request.action === 'pipette' && !rig.snapshot().pipettes.some((p) => p.pipetteId === request.pipetteId)) {
    return { ok: false, status: 404, error: `pipette '${request.pipetteId}' not found` };
  }
  let result: CommandResult;
  try {
    result = await dispatch(rig, request, by);
  } catch (err) {
    return { ok: false, status: 500, error: `rig error: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (result.ok) return { ok: true, status: 200 };
  return { ok: false, status: 409, error: result.error ?? `${request.action} refused` };
}

function dispatch(rig: RigControl, request: ControlRequest, by: string): Promise<CommandResult> {
  switch (request.action) {
    case 'start': {
      const { preset, operator, durationMin } = request;
      return rig.start(durationMin === undefined ? { preset, operator } : { preset, operator, durationMin }, by);
    }
    case 'pause':
      return rig.pause(by);
    case 'resume':
      return rig.resume(by);
    case 'abort':
      return rig.abort(by);
    case 'estop':
      return rig.emergencyStop(by);
    case 'pipette':
      return rig.pipette(request.pipetteId, request.command, by);
  }
}
