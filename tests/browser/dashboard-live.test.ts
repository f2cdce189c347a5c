/**
 * The live page in Debian's Chromium against a real session: the emulated rig
 * with its drivers and control core, in paced virtual time (the sessions page
 * is in sessions-page.test.ts). Screenshots go to test-artifacts/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { artifactPath, browserSkipReason, launchBrowser, type BrowserSession } from './helpers.ts';
import { startLiveSession, TOKEN, type LiveSession } from './live-session.ts';
import { ampCommands, manipulatorCommands, pressureCommands, recordHostWrites, type WireRecorder } from './wire-log.ts';
import type { SessionSnapshot } from '../../src/control/api.ts';

// Skipped only when Chromium is missing and AUTOPATCH_REQUIRE_BROWSER is unset (CI sets it).
const skip = browserSkipReason();
if (skip) console.warn(skip);
let live: LiveSession;
let browser: BrowserSession;
let wire: WireRecorder;

interface PanelState {
  id: string;
  className: string;
  state: string;
  tis: string;
  attempt: string;
  reason: string;
  r: string;
  pressure: string;
  depth: string;
  holding: string;
  cleans: string;
  wc: string | null;
  overrides: string;
  caption: string;
  trace: number[][] | null;
  rSeries: number[][] | null;
}
interface PageState {
  panels: PanelState[];
  bar: string;
  log: string[];
  preset: string;
  presets: string[];
}

/**
 * Everything the live page shows, read in the page (a plain script: the test
 * transform would wrap named inner functions in a helper the page lacks).
 */
const READ_PAGE = `(() => {
  const text = (root, sel) => root.querySelector(sel)?.textContent ?? '';
  const plotted = (root, sel) => { const d = root.querySelector(sel)?.plotted; return d ? d.map((a) => Array.from(a)) : null; };
  return {
    panels: [...document.querySelectorAll('.pipette')].map((el) => ({
      id: el.dataset.pipette, className: el.className, state: text(el, '.state'), tis: text(el, '.tis'),
      attempt: text(el, '.attempt'), reason: text(el, '.reason'), r: text(el, 'dd.r'), pressure: text(el, 'dd.pressure'),
      depth: text(el, 'dd.depth'), holding: text(el, 'dd.holding'), cleans: text(el, 'dd.cleans'),
      wc: el.querySelector('.readouts.wc').hidden ? null : text(el, '.readouts.wc'), overrides: text(el, '.overrides'),
      caption: text(el, '.tp figcaption'), trace: plotted(el, '.tp .plot-box'), rSeries: plotted(el, '.rt .plot-box'),
    })),
    bar: document.querySelector('#session-bar').innerText,
    log: [...document.querySelectorAll('#log-list li')].map((li) => li.textContent),
    preset: document.querySelector('#preset').value,
    presets: [...document.querySelectorAll('#preset option')].map((o) => o.value),
  };
})()`;
const readPage = (page: Page): Promise<PageState> => page.evaluate(READ_PAGE) as Promise<PageState>;

/** The R series the page should plot for a pipette of the snapshot: seconds from its first reading, Ω. */
const expectedSeries = (p: SessionSnapshot['pipettes'][number]): number[][] => {
  const t0 = p.history[0]?.[0] ?? 0;
  return [p.history.map(([t]) => (t - t0) / 1000), p.history.map(([, r]) => r)];
};

/** The page agrees with the rig's snapshot on what it can be compared with directly. */
function expectMatchesSnapshot(state: PageState, snap: SessionSnapshot): void {
  expect(state.panels.map((p) => p.id)).toEqual(snap.pipettes.map((p) => p.pipetteId));
  snap.pipettes.forEach((p, i) => {
    const v = state.panels[i];
    expect(v.state, p.pipetteId).toBe(p.state);
    expect(v.className, p.pipetteId).toContain(`health-${p.health}`);
    expect(v.cleans, p.pipetteId).toBe(String(p.cleanCount));
    expect(v.attempt, p.pipetteId).toBe(p.attemptId ? `#${p.attempts} · ${p.attemptId}` : `${p.attempts} attempt${p.attempts === 1 ? '' : 's'}`);
    expect(v.reason, p.pipetteId).toBe(`← ${p.lastReason}`);
    expect(v.rSeries, p.pipetteId).toEqual(expectedSeries(p));
  });
  for (const [key, n] of Object.entries(snap.funnel)) expect(state.bar, key).toContain(String(n));
}

describe.skipIf(skip !== null)('dashboard on a live session (Chromium)', () => {
  beforeAll(async () => {
    live = await startLiveSession();
    wire = recordHostWrites(live.lab.sim, live.clock);
    await live.lab.startSession({ operator: 'browser test' });
    live.pace(20);
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    wire?.stop();
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

  it('offers only the presets this rig can run, with the session’s selected', async () => {
    const state = await readPage(browser.page);
    expect(await live.lab.host.presets()).toEqual(['in-vivo-blind']);
    expect(state.presets).toEqual(['in-vivo-blind']);
    expect(state.preset).toBe('in-vivo-blind');
  });

  it('a reload mid-session restores everything the page showed, as the rig’s snapshot has it', async () => {
    const { page } = browser;
    // let the session reach some attempts, then stop the rig's clock: nothing moves while comparing
    await expect.poll(() => live.lab.host.snapshot().funnel.attempts, { timeout: 60_000 }).toBeGreaterThan(0);
    await live.hold();
    const snap = live.lab.host.snapshot();
    // the page catches up with everything sent before the hold, then hears the rig's time now
    await expect.poll(async () => {
      try {
        expectMatchesSnapshot(await readPage(page), snap);
        return true;
      } catch {
        return false;
      }
    }, { timeout: 15_000 }).toBe(true);
    live.app.autopatch.hub.pushClock(live.clock.now(), live.clock.epochMs());
    await page.waitForTimeout(600); // a few animation frames and the 250 ms tick
    const before = await readPage(page);
    expectMatchesSnapshot(before, snap);

    await page.reload();
    await page.waitForSelector('#conn.up');
    // the last traces come right after the snapshot
    await expect.poll(async () => (await readPage(page)).panels.map((p) => p.trace?.[0]?.length ?? 0).join(), { timeout: 10_000 })
      .toBe(before.panels.map((p) => p.trace?.[0]?.length ?? 0).join());
    await page.waitForTimeout(600);
    const after = await readPage(page);

    // every panel's text, class, trace and R series, the session bar, the event log and the picker
    expect(after.panels).toEqual(before.panels);
    expect(after.bar).toBe(before.bar);
    expect(after.log).toEqual(before.log);
    expect(after.log.length).toBeGreaterThan(10);
    expect(after.preset).toBe(before.preset);
    expectMatchesSnapshot(after, live.lab.host.snapshot());
    // the comparison covers real content: readings, R histories and traces on every panel
    for (const p of after.panels) {
      expect(p.r, p.id).toMatch(/Ω/);
      expect(p.rSeries![0].length, p.id).toBeGreaterThan(0);
      expect(p.trace![0].length, p.id).toBeGreaterThan(0);
    }
    live.pace(20);
  }, 90_000);

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

  it('the emergency stop, pressed while stages move and lines are pressurised, stops every device (checked on the wire)', async () => {
    const { page } = browser;
    const { sim } = live.lab;
    await page.goto(`${live.base}?token=${TOKEN}`);
    await page.waitForSelector('#conn.up');
    await expect.poll(() => page.locator('#estop').getAttribute('data-armed')).toBe('true');

    const movingNow = (): number => [...sim.manipulators.values()].filter((m) => m.emulator.motion(m.unit).moving).length;
    const pressurisedNow = (): number =>
      [...sim.pressureBoxes.values()].reduce((n, b) => n + Array.from({ length: b.emulator.channelCount }, (_, ch) => b.emulator.state(ch).source).filter((s) => s === 'regulator').length, 0);
    // hold the rig's clock at a moment when stages move and lines are under pressure, and press then
    let held = false;
    for (let i = 0; i < 3000 && !held; i++) {
      await new Promise((r) => setTimeout(r, 10));
      if (movingNow() >= 2 && pressurisedNow() >= 1) {
        await live.hold();
        held = movingNow() >= 2 && pressurisedNow() >= 1;
        if (!held) live.pace(20);
      }
    }
    expect(held).toBe(true);

    // the instant the rig takes the e-stop (its event comes before any stop is sent)
    let at: { mark: Map<string, number>; moving: Map<string, boolean>; active: Set<string> } | null = null;
    const off = live.lab.sink.subscribe((e) => {
      if (e.type !== 'estop' || at) return;
      at = {
        mark: wire.mark(),
        moving: new Map([...sim.manipulators.values()].map((m) => [m.path, m.emulator.motion(m.unit).moving])),
        active: new Set(live.lab.host.current!.runners.filter((r) => r.state !== 'safe' && !r.finished).map((r) => r.pipetteId)),
      };
    });
    await page.locator('#estop').click();
    await expect.poll(() => at !== null, { timeout: 10_000 }).toBe(true);
    off();
    live.pace(20);
    await expect.poll(() => page.locator('#phase').textContent(), { timeout: 20_000 }).toBe('estopped');
    await expect.poll(() => live.lab.host.current!.phase, { timeout: 20_000 }).toBe('estopped');
    await new Promise((r) => setTimeout(r, 1500)); // 30 s of rig time at 20×: nothing may start again
    const { mark, moving, active } = at!;
    expect([...moving.values()].filter(Boolean).length).toBeGreaterThanOrEqual(2);

    let pressurisedAtClick = 0;
    for (const spec of sim.config.pipettes) {
      // manipulators: each got its device's stop after the click, and no motion command after that stop
      const { path, driver } = spec.manipulator;
      const decoded = manipulatorCommands(driver, wire.writes.get(path)!);
      expect(decoded.filter((d) => d.command === 'unknown').map((d) => wire.writes.get(path)![d.write].bytes.toString('hex')), path).toEqual([]);
      const before = decoded.filter((d) => d.write < mark.get(path)!).map((d) => d.command);
      const after = decoded.filter((d) => d.write >= mark.get(path)!).map((d) => d.command);
      if (moving.get(path)) expect(before.lastIndexOf('move'), `${path} was moving: a move was sent`).toBeGreaterThanOrEqual(0);
      const stop = after.indexOf('stop');
      expect(stop, `${path} (${driver}) got no stop after the click`).toBeGreaterThanOrEqual(0);
      expect(after.slice(stop).filter((c) => c === 'move'), `${path}: motion after the stop`).toEqual([]);

      // pressure: a line under pressure at the click was vented after it, and nothing pressurised it again
      const box = sim.config.pressureBoxes.find((b) => b.id === spec.pressure.box)!;
      const ch = spec.pressure.channel;
      const lines = pressureCommands(wire.writes.get(box.path)!).map((d) => ({ c: d.command, i: d.write })).filter(({ c }) => 'channel' in c && c.channel === ch);
      const valves = lines.filter(({ c }) => c.kind === 'valve') as Array<{ c: { kind: 'valve'; to: 'REG' | 'ATM' }; i: number }>;
      const lastBefore = valves.filter(({ i }) => i < mark.get(box.path)!).at(-1);
      const afterClick = lines.filter(({ i }) => i >= mark.get(box.path)!);
      if (lastBefore?.c.to === 'REG') {
        pressurisedAtClick++;
        expect(afterClick.some(({ c }) => c.kind === 'valve' && c.to === 'ATM'), `${spec.id}: line not vented`).toBe(true);
      }
      expect(valves.at(-1)?.c.to ?? 'ATM', `${spec.id}: last valve command`).toBe('ATM');
      expect(afterClick.filter(({ c }) => (c.kind === 'valve' && c.to === 'REG') || c.kind === 'pulse'), `${spec.id}: pressure after the click`).toEqual([]);

      // amplifier: voltage clamp at 0 mV (sent after the click to every pipette that was still working)
      const amp = sim.config.amplifiers.find((a) => a.id === spec.amplifier.bridge)!;
      const ampDecoded = ampCommands(wire.writes.get(amp.path)!);
      expect(ampDecoded.filter((d) => d.command.name === '(unknown)'), amp.path).toEqual([]);
      const all = ampDecoded.map((d) => d.command);
      const mine = (c: { name: string; args: string[] }): boolean => c.args[0] === String(spec.amplifier.channel);
      const modes = all.filter((c) => c.name === 'mode' && mine(c));
      const holdingsVC = all.filter((c) => c.name === 'holding' && mine(c) && (c.args.length === 2 || c.args[2] === 'VC'));
      expect(modes.at(-1)?.args[1], `${spec.id}: last mode`).toBe('VC');
      expect(Number(holdingsVC.at(-1)?.args[1]), `${spec.id}: last VC holding`).toBe(0);
      if (active.has(spec.id)) {
        const later = ampDecoded.filter((d) => d.write >= mark.get(amp.path)!).map((d) => d.command).filter(mine);
        expect(later.some((c) => c.name === 'mode' && c.args[1] === 'VC'), `${spec.id}: VC after the click`).toBe(true);
        expect(later.some((c) => c.name === 'holding' && Number(c.args[1]) === 0), `${spec.id}: 0 mV after the click`).toBe(true);
      }
    }
    expect(pressurisedAtClick).toBeGreaterThanOrEqual(1);
    expect(active.size).toBeGreaterThanOrEqual(2);
    await page.screenshot({ path: artifactPath('live-estop.png') });
  }, 120_000);
});
