/**
 * Who is writing a session, so that opening the database can tell a session
 * whose writer crashed (mark it interrupted) from one still being written by a
 * live process (leave it alone). SQLite in WAL mode only works between
 * processes of one host, so host + boot + pid identifies a writer; the boot id
 * guards against a pid reused after a reboot.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

export interface WriterIdentity {
  host: string;
  boot: string | null;
  pid: number;
}

let cachedBoot: string | null | undefined;

function bootId(): string | null {
  if (cachedBoot === undefined) {
    try {
      cachedBoot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
    } catch {
      cachedBoot = null; // not Linux: pid liveness alone
    }
  }
  return cachedBoot;
}

export function currentWriter(): WriterIdentity {
  return { host: hostname(), boot: bootId(), pid: process.pid };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Could this writer still be running? Unknown hosts count as dead (WAL cannot span hosts). */
export function writerMayBeAlive(writer: { host: string | null; boot: string | null; pid: number | null }): boolean {
  const me = currentWriter();
  if (writer.host === null || writer.pid === null || writer.host !== me.host) return false;
  if (writer.boot !== null && me.boot !== null && writer.boot !== me.boot) return false;
  if (writer.pid === me.pid) return true;
  return pidAlive(writer.pid);
}
