/**
 * Browser smoke test of the dashboard against the fake rig: the page
 * connects, renders a panel per pipette, follows live events, refuses
 * control without the token, and the e-stop reaches the rig.
 * Skipped only when Chromium is missing and AUTOPATCH_REQUIRE_BROWSER is unset.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createServer } from '../../src/server/server.ts';
import { createFakeArchive } from '../server/fake-archive.ts';
import { createFakeRig, reading, testPulseSweep, type FakeRig } from '../server/fake-rig.ts';
import { artifactPath, browserSkipReason, launchBrowser, type BrowserSession } from './helpers.ts';

const TOKEN = 'browser-test-token';
const skipReason = browserSkipReason();
if (skipReason) console.warn(skipReason);

let app: FastifyInstance;
let rig: FakeRig;
let base: string;
let browser: BrowserSession | null = null;

beforeAll(async () => {
  if (skipReason) return;
  rig = createFakeRig({ pipettes: 4 });
  app = createServer({ rig, archive: createFakeArchive(), token: TOKEN });
  base = await app.autopatch.listen();
  browser = await launchBrowser({ width: 1500, height: 900 });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
});

describe('dashboard in Chromium, fake rig', () => {
  it('connects and renders one panel per pipette that follows live events', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const page = browser!.page;
    await page.goto(base);
    await page.waitForSelector('#conn.up');
    expect(await page.locator('.pipette').count()).toBe(4);
    expect(await page.locator('.pipette .pid').allTextContents()).toEqual(['p1', 'p2', 'p3', 'p4']);

    rig.emit({ ...rig.stamp(), type: 'pipette.state', pipetteId: 'p3', attemptId: 'a1', from: 'descent', to: 'hunt', reason: 'region depth reached' });
    rig.emit({ ...rig.stamp(), type: 'pipette.testpulse', pipetteId: 'p3', attemptId: 'a1', reading: reading(12e6) });
    rig.emit({ ...rig.stamp(), type: 'sweep', pipetteId: 'p3', attemptId: 'a1', sweep: testPulseSweep({ seq: 1, startTime: 0, samples: 4000 }) });
    const p3 = page.locator('[data-pipette="p3"]');
    await expect.poll(() => p3.locator('.state').textContent()).toBe('hunt');
    await expect.poll(() => p3.locator('dd.r').textContent()).toBe('12.0 MΩ');
    expect(await p3.locator('.reason').textContent()).toContain('region depth reached');
    expect(await p3.locator('.tp canvas').count()).toBe(1);
    expect(browser!.errors).toEqual([]);
  });

  it('refuses control without the token, and the rig sees no call', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const page = browser!.page;
    await page.locator('[data-pipette="p1"] button[data-action="skip"]').click();
    await expect.poll(() => page.locator('#toast').textContent()).toMatch(/refused: enter the session token/);
    const status = await page.evaluate(async () => (await fetch('/api/session/pause', { method: 'POST' })).status);
    expect(status).toBe(401);
    expect(rig.calls).toEqual([]);
  });

  it('the e-stop stays in view and one click reaches the rig once the token is given', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const page = browser!.page;
    await page.fill('#token', TOKEN);
    await page.press('#token', 'Enter');
    await page.waitForSelector('#conn.up');

    // scrolled to the bottom, the button is still fully on screen
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    const box = await page.locator('#estop').boundingBox();
    const view = page.viewportSize()!;
    expect(box).not.toBeNull();
    expect(box!.y).toBeGreaterThanOrEqual(0);
    expect(box!.y + box!.height).toBeLessThanOrEqual(view.height);
    expect(box!.width * box!.height).toBeGreaterThan(80 * 60);

    await page.locator('#estop').click();
    await expect.poll(() => rig.calls.map((c) => c.method)).toEqual(['emergencyStop']);
    await expect.poll(() => page.locator('#phase').textContent()).toBe('estopped');
    await page.screenshot({ path: artifactPath('dashboard-fake.png') });
    // the refused requests of the previous test are logged by Chromium; nothing else may be
    expect(browser!.errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
  });
});
