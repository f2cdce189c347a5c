/**
 * Browser tests of the dashboard against the fake rig: the page connects,
 * renders a panel per pipette, follows live events and traces, draws a
 * stimulus sweep with its command, labels the thresholds from the preset,
 * offers the rig's presets with the session's selected, refuses control
 * without the token, and shows the e-stop as not armed until a token is
 * given — in place, in one step — and then it reaches the rig.
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
  rig = createFakeRig({ pipettes: 4, presets: ['acute-slice', 'culture'], thresholds: { holdingAt: 100e6, gigaseal: 1e9, breakIn: 500e6, holdingMv: -60 } });
  await rig.start({ preset: 'culture', operator: 'test' }, 'test');
  app = createServer({ rig, archive: createFakeArchive(), token: TOKEN });
  base = await app.autopatch.listen();
  browser = await launchBrowser({ width: 1500, height: 900 });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
});

describe('dashboard in Chromium, fake rig', () => {
  it('connects and renders one panel per pipette that follows live events and traces', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const page = browser!.page;
    await page.goto(base);
    await page.waitForSelector('#conn.up');
    expect(await page.locator('.pipette').count()).toBe(4);
    expect(await page.locator('.pipette .pid').allTextContents()).toEqual(['p1', 'p2', 'p3', 'p4']);

    rig.emit({ ...rig.stamp(), type: 'pipette.state', pipetteId: 'p3', attemptId: 'a1', from: 'descent', to: 'hunt', reason: 'region depth reached' });
    rig.emit({ ...rig.stamp(), type: 'pipette.testpulse', pipetteId: 'p3', attemptId: 'a1', reading: reading(12e6) });
    rig.emitTrace({ t: rig.stamp().t, pipetteId: 'p3', attemptId: 'a1', sweep: testPulseSweep({ seq: 1, startTime: 0, samples: 4000 }) });
    const p3 = page.locator('[data-pipette="p3"]');
    await expect.poll(() => p3.locator('.state').textContent()).toBe('hunt');
    await expect.poll(() => p3.locator('dd.r').textContent()).toBe('12.0 MΩ');
    expect(await p3.locator('.reason').textContent()).toContain('region depth reached');
    // the live trace is drawn, decimated for the plot (4000 samples → at most 1200)
    await expect.poll(() => p3.locator('.tp .plot-box').getAttribute('data-points')).not.toBeNull();
    const points = Number(await p3.locator('.tp .plot-box').getAttribute('data-points'));
    expect(points).toBeGreaterThan(500);
    expect(points).toBeLessThanOrEqual(1200);
    expect(await p3.locator('.tp figcaption').innerText()).toBe('test pulse (pA, ms)');
    expect(browser!.errors).toEqual([]);
  });

  it('draws a stimulus sweep with the command it played under it', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const page = browser!.page;
    const n = 3000;
    const command = new Float32Array(n).map((_, i) => (i >= 500 && i < 2500 ? 150e-12 : 0));
    const response = new Float32Array(n).map((_, i) => -0.068 + (i >= 500 && i < 2500 ? 0.012 : 0));
    rig.emit({
      ...rig.stamp(),
      type: 'sweep',
      pipetteId: 'p2',
      attemptId: 'a2',
      sweep: { channel: 1, seq: 5, kind: 'stimulus', mode: 'IC', startTime: 10_000, sampleRateHz: 20_000, response, responseUnit: 'V', holding: 0, stimulus: { name: 'long-square', mode: 'IC', sampleRateHz: 20_000, samples: command } },
    });
    const p2 = page.locator('[data-pipette="p2"]');
    await expect.poll(() => p2.locator('.tp figcaption').innerText()).toBe('stimulus IC (mV, ms) · command under it (pA)');
    expect(Number(await p2.locator('.tp .plot-box').getAttribute('data-command-points'))).toBeGreaterThan(500);
    expect(await p2.locator('.tp .plot-box').getAttribute('data-unit')).toBe('mV');
  });

  it('shows a lost pipette in the lost colour group (with fouled), its badge saying what happens next', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const p4 = browser!.page.locator('[data-pipette="p4"]');
    rig.emit({ ...rig.stamp(), type: 'pipette.state', pipetteId: 'p4', attemptId: 'a4', from: 'wholeCell', to: 'lost', reason: 'cell-lost' });
    await expect.poll(() => p4.locator('.state').textContent()).toBe('lost');
    expect(await p4.locator('.state').getAttribute('class')).toBe('state state-lost');
    expect(await p4.locator('.state').getAttribute('title')).toMatch(/seal or cell lost.*retracting, then cleaning/);
    expect(await p4.getAttribute('class')).toContain('group-lost');
    rig.emit({ ...rig.stamp(), type: 'pipette.state', pipetteId: 'p4', attemptId: 'a4', from: 'lost', to: 'broken', reason: 'tip broken' });
    await expect.poll(() => p4.locator('.state').getAttribute('class')).toBe('state state-failed');
  });

  it('labels the holding threshold with the preset’s holding potential', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const label = await browser!.page.locator('[data-pipette="p1"] figure.rt').getAttribute('aria-label');
    expect(label).toContain('−60 mV at 100 MΩ');
    expect(label).not.toContain('−70');
  });

  it('offers the presets the rig can run, with the session’s selected', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const page = browser!.page;
    // the start form shows once the session is over
    rig.emit({ ...rig.stamp(), type: 'session.ended', sessionId: rig.state.sessionId!, reason: 'completed' });
    await page.reload();
    await page.waitForSelector('#conn.up');
    await expect.poll(() => page.locator('#preset option').allTextContents()).toEqual(['acute-slice', 'culture']);
    expect(await page.locator('#preset').inputValue()).toBe('culture');
    expect(await page.locator('#preset').isVisible()).toBe(true);
  });

  it('refuses control without the token, and the rig sees no call', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const page = browser!.page;
    rig.calls.length = 0;
    await page.locator('[data-pipette="p1"] button[data-action="skip"]').click();
    await expect.poll(() => page.locator('#toast').textContent()).toMatch(/refused: enter the session token/);
    const status = await page.evaluate(async () => (await fetch('/api/session/pause', { method: 'POST' })).status);
    expect(status).toBe(401);
    expect(rig.calls).toEqual([]);
  });

  it('without a token the e-stop says it is not armed, asks for the token in place, and one step arms and stops', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const page = browser!.page;
    await rig.start({ preset: 'culture', operator: 'test' }, 'test');
    rig.calls.length = 0;
    const estop = page.locator('#estop');
    await expect.poll(() => estop.getAttribute('data-armed')).toBe('false');
    expect(await estop.innerText()).toMatch(/not armed/);
    const arm = page.locator('#estop-arm');
    expect(await arm.isVisible()).toBe(false);

    // a press without a token sends nothing and opens the token field right under the button
    await estop.click();
    await expect.poll(() => arm.isVisible()).toBe(true);
    const field = (await page.locator('#estop-token').boundingBox())!;
    const button = (await estop.boundingBox())!;
    expect(field.y).toBeGreaterThan(button.y + button.height - 1);
    expect(field.y).toBeLessThan(button.y + button.height + 120);
    expect(rig.calls).toEqual([]);
    await page.screenshot({ path: artifactPath('dashboard-fake-estop-arm.png'), clip: { x: 1000, y: 0, width: 500, height: 260 } });

    // a wrong token: refused, said so in place, still not armed
    await page.fill('#estop-token', 'not-the-token');
    await page.press('#estop-token', 'Enter');
    await expect.poll(() => arm.innerText()).toMatch(/Wrong token: the emergency stop was NOT sent/);
    expect(await estop.getAttribute('data-armed')).toBe('false');
    expect(rig.calls).toEqual([]);

    // the right one: armed and stopped in the same step
    await page.fill('#estop-token', TOKEN);
    await page.press('#estop-token', 'Enter');
    await expect.poll(() => rig.calls.map((c) => c.method)).toEqual(['emergencyStop']);
    await expect.poll(() => page.locator('#phase').textContent()).toBe('estopped');
    await expect.poll(() => estop.getAttribute('data-armed')).toBe('true');
    expect(await arm.isVisible()).toBe(false);
    expect(await estop.innerText()).not.toMatch(/not armed/);
    await page.screenshot({ path: artifactPath('dashboard-fake-estop.png') });
  });

  it('the e-stop stays in view, and once armed one click reaches the rig', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const page = browser!.page;
    await page.reload();
    await page.waitForSelector('#conn.up');
    await expect.poll(() => page.locator('#estop').getAttribute('data-armed')).toBe('true');
    rig.calls.length = 0;

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
    await page.screenshot({ path: artifactPath('dashboard-fake.png') });
    // the refused requests of the earlier tests are logged by Chromium; nothing else may be
    expect(browser!.errors.filter((e) => !/status of 40[13]/.test(e))).toEqual([]);
  });
});
