/**
 * The dashboard in Debian's Chromium against a real session: the emulated rig
 * with its drivers and control core, in paced virtual time. Screenshots go to
 * test-artifacts/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactPath, browserSkipReason, launchBrowser, type BrowserSession } from './helpers.ts';
import { startLiveSession, TOKEN, type LiveSession } from './live-session.ts';
import { recordSession } from '../integration/recorded-session.ts';
import { openDatabase } from '../../src/store/migrations.ts';
import { buildReport } from '../../src/store/reports.ts';

// Skipped only when Chromium is missing and AUTOPATCH_REQUIRE_BROWSER is unset (CI sets it).
const skip = browserSkipReason();
if (skip) console.warn(skip);
let live: LiveSession;
let browser: BrowserSession;

describe.skipIf(skip !== null)('dashboard on a live session (Chromium)', () => {
  beforeAll(async () => {
    live = await startLiveSession();
    await live.lab.startSession({ operator: 'browser test' });
    live.pace(20);
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await live?.close();
  });

  const statesOnPage = async (): Promise<string[]> => browser.page.locator('.pipette .state').allTextContents();

  it('connects and shows four panels that follow the session', async () => {
    const { page } = browser;
    await page.goto(live.base);
    await page.waitForSelector('#conn.up');
    expect(await page.locator('.pipette').count()).toBe(4);
    expect(await page.locator('.pipette .pid').allTextContents()).toEqual(['p1', 'p2', 'p3', 'p4']);
    // the panels move on as the session does: states change and resistance readings appear
    const first = await statesOnPage();
    await expect.poll(async () => (await statesOnPage()).join(), { timeout: 30_000 }).not.toBe(first.join());
    await expect.poll(async () => page.locator('.pipette dd.r').first().textContent(), { timeout: 30_000 }).toMatch(/[0-9.]+ [MG]Ω/);
    await page.screenshot({ path: artifactPath('live-session.png') });
    expect(browser.errors).toEqual([]);
  }, 90_000);

  it('a reload mid-session restores the full current state', async () => {
    const { page } = browser;
    await live.hold();
    await page.reload();
    await page.waitForSelector('#conn.up');
    const snapshot = live.lab.host.snapshot();
    await expect.poll(statesOnPage, { timeout: 10_000 }).toEqual(snapshot.pipettes.map((p) => p.state));
    const attempts = await page.locator('#session-bar').textContent();
    expect(attempts).toContain(String(snapshot.funnel.attempts));
    live.pace(20);
  }, 60_000);

  it('refuses control commands without the token, and nothing changes', async () => {
    const { page } = browser;
    const status = await page.evaluate(async () => (await fetch('/api/session/pause', { method: 'POST' })).status);
    expect(status).toBe(401);
    const wrong = await page.evaluate(async () => (await fetch('/api/estop', { method: 'POST', headers: { authorization: 'Bearer nope-nope-nope' } })).status);
    expect(wrong).toBe(403);
    await page.locator('[data-pipette="p2"] button[data-action="skip"]').click();
    await expect.poll(() => page.locator('#toast').textContent()).toMatch(/refused/);
    expect(live.lab.host.current!.phase).toBe('running');
  }, 60_000);

  it('the emergency stop stops every pipette (checked on the emulated devices)', async () => {
    const { page } = browser;
    await page.goto(`${live.base}?token=${TOKEN}`);
    await page.waitForSelector('#conn.up');
    await page.locator('#estop').click();
    await expect.poll(() => page.locator('#phase').textContent(), { timeout: 20_000 }).toBe('estopped');
    // the page shows the e-stop as soon as it is commanded; the session is estopped once every device is stopped
    await expect.poll(() => live.lab.host.current!.phase, { timeout: 20_000 }).toBe('estopped');
    // on the devices: every stage still, every line at atmosphere, and nothing moves afterwards
    for (const [, m] of live.lab.sim.manipulators) expect(m.emulator.motion(m.unit).moving).toBe(false);
    for (const [, box] of live.lab.sim.pressureBoxes) {
      for (let ch = 0; ch < box.emulator.channelCount; ch++) expect(box.emulator.state(ch).source).toBe('atmosphere');
    }
    const moves = [...live.lab.sim.manipulators].map(([, m]) => m.emulator.moves.length);
    await new Promise((r) => setTimeout(r, 1500)); // 30 s of rig time at 20×
    expect([...live.lab.sim.manipulators].map(([, m]) => m.emulator.moves.length)).toEqual(moves);
    await page.screenshot({ path: artifactPath('live-estop.png') });
  }, 60_000);
});

describe.skipIf(skip !== null)('sessions page (Chromium)', () => {
  it("shows a finished session's report and its attempts", async () => {
    const recorded = await recordSession();
    const db = openDatabase(recorded.dbPath, { recover: false });
    const report = buildReport(db, [recorded.sessionId]);
    db.close();
    const server = await startLiveSession({ dbPath: recorded.dbPath, preset: 'culture', pipettes: 2 });
    const b = await launchBrowser();
    try {
      const { page } = b;
      await page.goto(`${server.base}sessions.html`);
      const row = page.locator(`#sessions tr[data-session="${recorded.sessionId}"]`);
      await row.waitFor();
      await row.click();
      await page.locator('#funnel-table').waitFor();
      const funnel = await page.locator('#funnel-table tbody tr').allTextContents();
      expect(funnel.find((r) => r.startsWith('recorded'))).toContain(String(report.funnel.counts.recorded));
      expect(await page.locator('#report').textContent()).toContain(`${report.funnel.attempts}`);
      await expect.poll(() => page.locator('#attempts tbody tr').count()).toBe(report.funnel.attempts + report.funnel.unfinished);
      // recorded cells with their e-features, as the report computed them
      expect(report.cells.length).toBeGreaterThan(0);
      expect(await page.locator('#cells tbody tr').count()).toBe(report.cells.length);
      const first = report.cells[0];
      const rowText = await page.locator(`#cells tr[data-attempt="${first.attemptId}"]`).textContent();
      const rheobase = first.features.rheobaseA;
      expect(rowText).toContain(rheobase == null ? '—' : (rheobase * 1e12).toFixed(0));
      expect(rowText).toContain(((first.vrest ?? NaN) * 1e3).toFixed(1));
      await page.screenshot({ path: artifactPath('sessions-report.png'), fullPage: true });
      expect(b.errors).toEqual([]);
    } finally {
      await b.close();
      await server.close();
    }
  }, 240_000);
});
