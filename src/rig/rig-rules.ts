/**
 * Checks a rig description that the schema cannot: names refer to things that
 * exist, no channel or port is given to two pipettes, and each pipette's soft
 * limits contain the places the controller will send it (home, region, wells).
 * A pipette whose home lies outside its limits would have every move refused
 * mid-session; better to say so before a port is opened.
 */
import { toManipulator, type Vec3 } from '../geometry.ts';
import { fieldIs, type ProtocolProblem } from '../protocol/errors.ts';
import type { RigConfig } from './config.ts';

const AXES = ['x', 'y', 'z'];

function duplicates(values: string[]): Set<string> {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const v of values) (seen.has(v) ? dup : seen).add(v);
  return dup;
}

function uniqueIds(items: Array<{ id?: string; name?: string }>, field: 'id' | 'name', path: string): ProtocolProblem[] {
  const names = items.map((i) => String(i[field]));
  const dup = duplicates(names);
  return items.flatMap((item, i) =>
    dup.has(String(item[field])) ? [{ path: `${path}[${i}].${field}`, message: `${fieldIs(`${path}[${i}].${field}`, item[field])} is used more than once: each must be unique` }] : [],
  );
}

function outside(p: Vec3, min: Vec3, max: Vec3): number[] {
  return [0, 1, 2].filter((k) => p[k] < min[k] || p[k] > max[k]);
}

export function rigRules(rig: RigConfig): ProtocolProblem[] {
  const problems: ProtocolProblem[] = [];
  const add = (path: string, message: string): void => void problems.push({ path, message });

  problems.push(...uniqueIds(rig.pressureBoxes, 'id', 'pressureBoxes'));
  problems.push(...uniqueIds(rig.amplifiers, 'id', 'amplifiers'));
  problems.push(...uniqueIds(rig.pipettes, 'id', 'pipettes'));
  problems.push(...uniqueIds(rig.wells, 'name', 'wells'));

  if (rig.travelZ > rig.standoffZ) {
    add('travelZ', `${fieldIs('travelZ', rig.travelZ)} is below the standoff plane: must be ≤ standoffZ (${rig.standoffZ} µm; z points down)`);
  }

  // One serial port, one device, except controllers that host several drives.
  const users = new Map<string, string[]>();
  const note = (path: string, who: string): void => void users.set(path, [...(users.get(path) ?? []), who]);
  rig.pressureBoxes.forEach((b, i) => note(b.path, `pressureBoxes[${i}]`));
  rig.amplifiers.forEach((a, i) => note(a.path, `amplifiers[${i}]`));
  const drives = new Map<string, { driver: string; units: number[] }>();
  rig.pipettes.forEach((p, i) => {
    const m = p.manipulator;
    if (m.driver === 'sutter-mpc325' || m.driver === 'luigs-neumann-sm10') {
      const unit = m.driver === 'sutter-mpc325' ? m.drive : m.manipulator;
      const shared = drives.get(m.path);
      const where = `pipettes[${i}].manipulator`;
      if (!shared) {
        drives.set(m.path, { driver: m.driver, units: [unit] });
        note(m.path, where);
      } else if (shared.driver !== m.driver) {
        add(`${where}.path`, `${fieldIs(`${where}.path`, m.path)} is already a ${shared.driver} controller's port`);
      } else if (shared.units.includes(unit)) {
        add(`${where}.${m.driver === 'sutter-mpc325' ? 'drive' : 'manipulator'}`, `${where}: ${m.driver} on ${m.path} unit ${unit} is given to two pipettes`);
      } else shared.units.push(unit);
    } else note(m.path, `pipettes[${i}].manipulator`);
  });
  for (const [path, who] of users) {
    if (who.length > 1) add(`${who[1]}.path`, `${fieldIs(`${who[1]}.path`, path)} is also the port of ${who[0]}: one serial port serves one device`);
  }

  const boxes = new Map(rig.pressureBoxes.map((b) => [b.id, b]));
  const amps = new Map(rig.amplifiers.map((a) => [a.id, a]));
  const wells = new Map(rig.wells.map((w) => [w.name, w]));
  const takenChannels = new Map<string, string>();
  const claim = (key: string, path: string): void => {
    const first = takenChannels.get(key);
    if (first) add(path, `${path}: ${key} is also used by ${first}`);
    else takenChannels.set(key, path);
  };

  rig.pressureBoxes.forEach((b, i) => {
    if (b.limits.min >= b.limits.max) add(`pressureBoxes[${i}].limits`, `pressureBoxes[${i}].limits: min (${b.limits.min} mbar) must be below max (${b.limits.max} mbar)`);
  });

  rig.pipettes.forEach((p, i) => {
    const at = `pipettes[${i}]`;
    const box = boxes.get(p.pressure.box);
    if (!box) add(`${at}.pressure.box`, `${fieldIs(`${at}.pressure.box`, p.pressure.box)} is not a pressure box of this rig: must be one of ${[...boxes.keys()].join(', ')}`);
    else if (p.pressure.channel >= box.channels) add(`${at}.pressure.channel`, `${fieldIs(`${at}.pressure.channel`, p.pressure.channel)}: pressure box ${box.id} has channels 0 to ${box.channels - 1}`);
    else claim(`pressure box ${box.id} channel ${p.pressure.channel}`, `${at}.pressure`);

    const amp = amps.get(p.amplifier.bridge);
    if (!amp) add(`${at}.amplifier.bridge`, `${fieldIs(`${at}.amplifier.bridge`, p.amplifier.bridge)} is not an amplifier of this rig: must be one of ${[...amps.keys()].join(', ')}`);
    else if (p.amplifier.channel >= amp.channels) add(`${at}.amplifier.channel`, `${fieldIs(`${at}.amplifier.channel`, p.amplifier.channel)}: amplifier ${amp.id} has channels 0 to ${amp.channels - 1}`);
    else claim(`amplifier ${amp.id} channel ${p.amplifier.channel}`, `${at}.amplifier`);

    const { min, max, maxSpeed } = p.limits;
    const inverted = [0, 1, 2].filter((k) => min[k] >= max[k]);
    for (const k of inverted) add(`${at}.limits`, `${at}.limits: min ${AXES[k]} (${min[k]} µm) must be below max ${AXES[k]} (${max[k]} µm)`);
    if (rig.travelSpeed > maxSpeed) add('travelSpeed', `${fieldIs('travelSpeed', rig.travelSpeed)} exceeds ${at}.limits.maxSpeed (${maxSpeed} µm/s): every trip would be refused`);

    const mustReach = (what: string, world: Vec3): void => {
      if (inverted.length > 0) return;
      const m = toManipulator(p.mount, world);
      const off = outside(m, min, max);
      if (off.length > 0) {
        const axes = off.map((k) => `${AXES[k]} = ${m[k].toFixed(1)} µm`).join(', ');
        add(`${at}.limits`, `${at}: ${what} is outside the soft limits in manipulator coordinates (${axes}); widen limits or fix the mount`);
      }
    };
    mustReach('home', p.home);
    mustReach('region', p.region);

    if (p.wells) {
      for (const kind of ['detergent', 'rinse'] as const) {
        const name = p.wells[kind];
        const well = wells.get(name);
        if (!well) add(`${at}.wells.${kind}`, `${fieldIs(`${at}.wells.${kind}`, name)} is not a well of this rig: must be one of ${[...wells.keys()].join(', ') || '(none)'}`);
        else if (well.kind !== kind) add(`${at}.wells.${kind}`, `${fieldIs(`${at}.wells.${kind}`, name)} holds ${well.kind}, not ${kind}`);
        else mustReach(`the ${kind} well ${name}`, [well.center[0], well.center[1], well.center[2] - well.depthUm / 2]);
      }
    }
  });
  return problems;
}
