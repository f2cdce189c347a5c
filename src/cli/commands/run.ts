/**
 * `autopatch run`: a session on the built-in simulated rig, or with
 * `--rig FILE` on the rig that file describes (real serial ports, real time,
 * no seed: the session records the rig's hardware list instead).
 *
 * Default (what `npm start` runs): four pipettes, the in-vivo preset, real
 * time, the dashboard on 127.0.0.1 with a control token printed at start;
 * the dashboard stays up after the session for review until Ctrl-C.
 * Ctrl-C while any session runs (the first, or one started from the
 * dashboard) aborts it, a second one during that session is an emergency
 * stop; Ctrl-C with no session running quits.
 * `--virtual` runs as fast as the work allows (deterministic from --seed),
 * prints the summary and exits.
 */
import { randomBytes } from 'node:crypto';
import type { CliCommand, CliIO } from '../io.ts';
import { createRealClock, createScaledClock, createVirtualClock, every, type Clock, type VirtualClock } from '../../clock/index.ts';
import { numberOption, parseOptions, simulatedRigNumbers, UsageError } from '../options.ts';
import type { BindingInterface } from '@serialport/bindings-interface';
import { createSimulatedLab } from '../simulated-lab.ts';
import type { Lab } from '../lab.ts';
import { createRigLab } from '../rig-lab.ts';
import { defaultSerialBinding } from '../serial-binding.ts';
import { ProtocolError } from '../../protocol/errors.ts';
import { DeviceError } from '../../../drivers/errors.ts';
import { backpressureToLog, openStoreWriter, type StoreWriter } from '../../store/writer.ts';
import { openDatabase } from '../../store/migrations.ts';
import { defaultDbPath } from '../../store/paths.ts';
import { openArchiveWorker } from '../../store/archive-thread.ts';
import { buildReport } from '../../store/reports.ts';
import { formatReport } from '../../store/report-format.ts';
import { StoreError } from '../../store/errors.ts';
import type { SessionSummary } from '../../control/supervisor.ts';
import type { RigEvent } from '../../control/events.ts';
import { isLoopbackHost } from '../../server/host-guard.ts';
import { formatProgress } from '../progress.ts';
import { performance } from 'node:perf_hooks';

/** SIGINTs closer together than this are one Ctrl-C (the same press, relayed) */
const SAME_KEY_PRESS_MS = 250;

const USAGE = `usage: autopatch run [options]
  --rig FILE           run on the rig this description file names (real serial ports) instead of the simulated one
  --targets FILE       with --rig: cell positions for a targeted preset (slice, culture)
  --virtual            simulated rig: run in virtual time, as fast as possible (no dashboard unless --dashboard)
  --seed N             simulated rig: seed of the simulated preparation (default 1)
  --pipettes N         simulated rig: number of pipettes (default 4)
  --preset NAME        autopatch preset in protocols/presets, or a preset file (default in-vivo-blind)
  --duration MIN       stop starting attempts after MIN minutes of rig time (default 20, or none with --attempts; 0 = until stopped)
  --attempts N         stop starting attempts after N attempts in total
  --speed X            real-time runs only: rig clock X times faster than the wall (default 1);
                       with --rig only to match \`autopatch emulate rig --speed X\`: real hardware runs at 1
  --port P             dashboard port (default 8780; 0 = any free port)
  --host ADDR          dashboard address (default 127.0.0.1); any other needs the token for reading too
  --dashboard / --no-dashboard
  --db PATH            SQLite database (default: $AUTOPATCH_DB or data/autopatch.sqlite)
  --operator NAME      recorded with the session (default: $USER)
  --exit               real-time runs: exit when the session ends instead of keeping the dashboard up
  --quiet              no progress lines
`;

interface RunOptions {
  /** rig description file: a real rig instead of the simulated one */
  rig: string | null;
  targets: string | null;
  virtual: boolean;
  seed: number;
  pipettes: number;
  preset: string;
  durationMin: number | null;
  attempts: number | null;
  speed: number;
  port: number;
  host: string;
  dashboard: boolean;
  db: string;
  operator: string;
  exitWhenDone: boolean;
  quiet: boolean;
}

function parseRunOptions(argv: string[]): RunOptions {
  const o = parseOptions(argv, {
    rig: { value: true },
    targets: { value: true },
    virtual: { value: false },
    seed: { value: true },
    pipettes: { value: true },
    preset: { value: true },
    duration: { value: true },
    attempts: { value: true },
    speed: { value: true },
    port: { value: true },
    host: { value: true },
    dashboard: { value: false },
    'no-dashboard': { value: false },
    db: { value: true },
    operator: { value: true },
    exit: { value: false },
    quiet: { value: false },
    help: { value: false },
  });
  if (o.flags.has('help')) throw new UsageError('');
  const num = numberOption(o);
  const virtual = o.flags.has('virtual');
  const rig = o.values.get('rig')?.[0] ?? null;
  if (rig !== null) {
    // a real rig has no seed, no pipette count of its own choosing and no virtual time
    const simulatedOnly = ['virtual', 'seed', 'pipettes'].find((k) => o.flags.has(k) || o.values.has(k));
    if (simulatedOnly) throw new UsageError(`--${simulatedOnly} applies to the simulated rig, not to --rig (the rig file says how many pipettes there are)`);
  } else if (o.values.has('targets')) {
    throw new UsageError('--targets applies to --rig (the simulated rig knows where its cells are)');
  }
  // An attempt limit alone means no time limit; otherwise 20 minutes by default.
  const duration = num('duration', o.values.has('attempts') ? 0 : 20, (n) => n >= 0, 'a number of minutes ≥ 0');
  const attempts = o.values.has('attempts') ? num('attempts', 0, (n) => Number.isInteger(n) && n >= 1, 'an integer ≥ 1') : null;
  if (virtual && duration === 0 && attempts === null) throw new UsageError('--virtual needs a --duration or --attempts limit (it would run forever)');
  const speed = num('speed', 1, (n) => n > 0 && n <= 1000, 'a factor between 0 and 1000');
  if (virtual && o.values.has('speed')) throw new UsageError('--speed applies to real-time runs; --virtual already runs as fast as possible');
  const host = o.values.get('host')?.[0] ?? '127.0.0.1';
  if (!/^[\w.:-]+$/.test(host)) throw new UsageError(`--host must be an address or a host name (got "${host}")`);
  return {
    rig,
    targets: o.values.get('targets')?.[0] ?? null,
    virtual,
    ...simulatedRigNumbers(num),
    preset: o.values.get('preset')?.[0] ?? 'in-vivo-blind',
    durationMin: duration === 0 ? null : duration,
    attempts,
    speed,
    port: num('port', 8780, (n) => Number.isInteger(n) && n >= 0 && n < 65536, 'a port number'),
    host,
    dashboard: o.flags.has('no-dashboard') ? false : o.flags.has('dashboard') || !virtual,
    db: o.values.get('db')?.[0] ?? defaultDbPath(),
    operator: o.values.get('operator')?.[0] ?? process.env.USER ?? 'operator',
    exitWhenDone: o.flags.has('exit') || virtual,
    quiet: o.flags.has('quiet'),
  };
}

export interface RunDeps {
  /** the serialport binding `--rig` opens ports through (default: the OS one; tests wrap it) */
  serialBinding?: () => Promise<BindingInterface>;
}

export const createRunCommand = (deps: RunDeps = {}): CliCommand => async (argv, io) => {
  let opts: RunOptions;
  try {
    opts = parseRunOptions(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      if (e.message) io.stderr(`autopatch run: ${e.message}\n`);
      io.stderr(USAGE);
      return e.message ? 2 : 0;
    }
    throw e;
  }
  try {
    return await runSession(opts, io, deps);
  } catch (e) {
    if (e instanceof ProtocolError || e instanceof StoreError) {
      io.stderr(`autopatch run: ${e.message}\n`);
      return 1;
    }
    if (e instanceof DeviceError && opts.rig !== null) {
      // a port missing, or a device that is not what the rig file says (its driver's handshake failed)
      io.stderr(`autopatch run: cannot open the rig of ${opts.rig}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
};

export const runCommand: CliCommand = createRunCommand();

class StartupError extends Error {}

async function runSession(opts: RunOptions, io: CliIO, deps: RunDeps): Promise<number> {
  const clock: Clock = opts.virtual ? createVirtualClock({ startEpochMs: Date.now() }) : opts.speed === 1 ? createRealClock() : createScaledClock(opts.speed);
  // Everything opened is closed on every way out (a failed start included), newest first.
  const closers: Array<() => Promise<void> | void> = [];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (e) {
        io.stderr(`autopatch run: while shutting down: ${(e as Error).message}\n`);
      }
    }
  };
  try {
    // back-pressure episodes become warn events of the rig, so the store and the dashboard have them
    let rigSink: Lab['sink'] | null = null;
    const writer: StoreWriter = await openStoreWriter({
      path: opts.db,
      onBackpressure: backpressureToLog((e) => rigSink?.emit(e)),
      onError: (e) => io.stderr(`store: ${e.message}\n`),
    });
    closers.push(() => writer.close());
    // One read connection for the final summary; the dashboard's archive reads in a thread of its own.
    const readDb = openDatabase(opts.db, { readonly: true });
    closers.push(() => void readDb.close());
    const lab: Lab = opts.rig
      ? await createRigLab({
          clock,
          rigFile: opts.rig,
          targetsFile: opts.targets,
          preset: opts.preset,
          operator: opts.operator,
          durationMin: opts.durationMin,
          maxAttempts: opts.attempts,
          binding: await (deps.serialBinding ?? defaultSerialBinding)(),
        })
      : await createSimulatedLab({
          clock,
          seed: opts.seed,
          pipettes: opts.pipettes,
          preset: opts.preset,
          operator: opts.operator,
          durationMin: opts.durationMin,
          maxAttempts: opts.attempts,
        });
    closers.push(() => lab.close());
    lab.sink.subscribe((e: RigEvent) => writer.write(e));
    rigSink = lab.sink;
    if (!opts.quiet) {
      lab.sink.subscribe((e: RigEvent) => {
        if (e.type === 'fault') io.stderr(`fault: ${e.pipetteId ?? 'rig'} ${e.device}: ${e.message}\n`);
        if (e.type === 'estop') io.stdout(`EMERGENCY STOP by ${e.by}\n`);
      });
    }

    io.stdout(`autopatch: ${lab.rig.setup.name}${opts.rig ? ` (${opts.rig})` : ''}; preset ${opts.preset}; ${opts.virtual ? 'virtual time' : opts.speed === 1 ? 'real time' : `${opts.speed}× real time`}\n`);
    io.stdout(`database: ${opts.db}\n`);

    let dashboard = false;
    if (opts.dashboard) {
      const { createServer, dashboardUrl } = await import('../../server/index.ts');
      const token = randomBytes(12).toString('hex');
      const archive = await openArchiveWorker(opts.db);
      closers.push(() => archive.close());
      const app = createServer({ rig: lab.host, archive, token, host: opts.host, port: opts.port, clock });
      closers.push(() => app.close());
      let url: string;
      try {
        url = await app.autopatch.listen();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
          throw new StartupError(`port ${opts.port} on ${opts.host} is already in use (another autopatch running?): choose another with --port N, or --port 0 for any free port`);
        }
        if ((e as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL' || (e as NodeJS.ErrnoException).code === 'ENOTFOUND') {
          throw new StartupError(`cannot listen on ${opts.host}: not an address of this machine`);
        }
        throw e;
      }
      dashboard = true;
      const local = isLoopbackHost(opts.host);
      if (!local) {
        io.stderr(
          `warning: the dashboard listens on ${opts.host}, reachable from other machines: anyone with the token can control the rig; ` +
            'reading needs the token too, and the traffic is not encrypted\n',
        );
      }
      io.stdout(`dashboard: ${dashboardUrl(url, token)}\n`);
      io.stdout(`control token: ${token} (needed for commands${local ? '; viewing is open on this machine' : ' and for viewing'})\n`);
    }

    const supervisor = await lab.startSession();
    const stopProgress = opts.quiet ? () => {} : every(clock, opts.virtual ? 60_000 : 10_000, () => io.stdout(formatProgress(lab.host.snapshot()) + '\n'));
    closers.push(stopProgress);

    // Ctrl-C: abort whichever session is running (the first or one started from the dashboard),
    // a second during that session is an emergency stop; with none running, quit.
    let interrupted = false; // the first session was aborted by Ctrl-C: exit after its report
    let abortedByCtrlC: string | null = null;
    let quit: (() => void) | null = null;
    let lastSigintAt = -Infinity;
    const onSigint = (): void => {
      // One key press can arrive more than once: the terminal signals the whole process
      // group and npm and tsx relay it to this process as well. Wall time, not rig time.
      const at = performance.now();
      if (at - lastSigintAt < SAME_KEY_PRESS_MS) return;
      lastSigintAt = at;
      const current = lab.host.current;
      if (current && !['ended', 'estopped'].includes(current.phase)) {
        if (abortedByCtrlC === current.sessionId) {
          io.stderr('second Ctrl-C: emergency stop\n');
          void lab.host.emergencyStop('operator (Ctrl-C twice)');
          return;
        }
        abortedByCtrlC = current.sessionId;
        if (current === supervisor) interrupted = true;
        io.stderr(`\nCtrl-C: aborting session ${current.sessionId} (pipettes retract to safety; Ctrl-C again for an emergency stop)\n`);
        void lab.host.abort('operator (Ctrl-C)');
        return;
      }
      interrupted = true;
      quit?.();
    };
    process.on('SIGINT', onSigint);
    closers.push(() => void process.off('SIGINT', onSigint));

    const summary: SessionSummary =
      clock.kind === 'virtual' ? await (clock as VirtualClock).runUntilSettled(supervisor.done, 48 * 3_600_000) : await supervisor.done;
    stopProgress();
    await writer.flush();
    io.stdout(`\nsession ${summary.sessionId} ended (${summary.reason}) after ${(summary.durationS / 60).toFixed(1)} min of rig time\n`);
    try {
      io.stdout(formatReport(buildReport(readDb, [summary.sessionId]), 'table'));
    } catch (e) {
      // the data is stored; only the printout failed
      io.stderr(`autopatch run: could not print the summary (${(e as Error).message}); see \`autopatch report --session ${summary.sessionId}\`\n`);
    }

    if (!opts.exitWhenDone && dashboard && !interrupted) {
      io.stdout('the dashboard stays up for review and new sessions; Ctrl-C aborts a running session, and quits when none runs\n');
      await new Promise<void>((resolve) => (quit = resolve));
    }
    return 0;
  } catch (e) {
    if (e instanceof StartupError) {
      io.stderr(`autopatch run: ${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    await closeAll();
  }
}
