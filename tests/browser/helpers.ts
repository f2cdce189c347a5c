/**
 * Browser tests run Debian's Chromium through playwright-core (playwright's
 * own browser download does not work on these machines).
 *
 * They are skipped, with a message saying why, only when /usr/bin/chromium
 * is missing AND AUTOPATCH_REQUIRE_BROWSER is unset. CI sets the variable
 * and installs chromium, so there a missing browser is a failure, not a skip.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * The flags these machines need. --user-data-dir is not among them: playwright
 * takes the (fresh, temporary) profile directory as launchPersistentContext's
 * first argument and refuses it in `args`.
 */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ARTIFACTS_DIR = join(REPO, 'test-artifacts');

/** Why browser tests cannot run here, or null when they must run. */
export function browserSkipReason(): string | null {
  if (existsSync(CHROMIUM_PATH)) return null;
  if (process.env.AUTOPATCH_REQUIRE_BROWSER) return null; // required: let the launch fail loudly
  return `browser test skipped: ${CHROMIUM_PATH} not found (apt-get install -y chromium; set AUTOPATCH_REQUIRE_BROWSER=1 to make this a failure)`;
}

export interface BrowserSession {
  context: BrowserContext;
  page: Page;
  /** uncaught page errors and console errors, for asserting a clean run */
  errors: string[];
  close(): Promise<void>;
}

export async function launchBrowser(options: { width?: number; height?: number } = {}): Promise<BrowserSession> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`AUTOPATCH_REQUIRE_BROWSER is set but ${CHROMIUM_PATH} is missing: install it (apt-get install -y chromium)`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'autopatch-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: options.width ?? 1600, height: options.height ?? 1000 },
    });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  return {
    context,
    page,
    errors,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Path for a screenshot or other artefact under test-artifacts/ (gitignored). */
export function artifactPath(name: string): string {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  return join(ARTIFACTS_DIR, name);
}
