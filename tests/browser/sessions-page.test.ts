/**
 * The sessions page in Debian's Chromium on real recorded sessions: a
 * finished virtual-time session (culture, two pipettes, recorded cells) and
 * one cut short (its writer stopped mid-session, so some attempts never
 * ended), served by the archive in its worker thread as `autopatch run`
 * serves it. The page must show, value for value, the figures `buildReport`
 * (what `autopatch report` prints) gives for each session, and stay inside
 * its cards at 1600 and 1280 px. Screenshots go to test-artifacts/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { artifactPath, browserSkipReason, launchBrowser, type BrowserSession } from './helpers.ts';
import { startLiveSession, type LiveSession } from './live-session.ts';
import { recordSession } from '../integration/recorded-session.ts';
import { createVirtualClock } from '../../src/clock/index.ts';
import { createSimulatedLab } from '../../src/cli/simulated-lab.ts';
import { openDatabase } from '../../src/store/migrations.ts';
import { openStoreWriter } from '../../src/store/writer.ts';
import { buildReport, type StoreReport } from '../../src/store/reports.ts';
import { formatReport } from '../../src/store/report-format.ts';
import { decodeTraceFrames } from '../../src/server/trace-frame.ts';

const skip = browserSkipReason();
if (skip) console.warn(skip);

/** The page's own formatters (plain ES module): the page's text for a store figure. */
interface Format {
  seconds(s: number): string;
  share(rate: number | null): string;
}

/**
 * A real session whose writer stops after `minutes` of rig time while attempts
 * run: the store marks it interrupted and those attempts never end.
 */
async function recordCutSession(dbPath: string, minutes: number): Promise<string> {
  const writer = await openStoreWriter({ path: dbPath });
  const clock = createVirtualClock({ startEpochMs: Date.UTC(2026, 0, 1, 12) });
  const lab = await createSimulatedLab({ clock, seed: 2, pipettes: 2, preset: 'culture', durationMin: 30 });
  const off = lab.sink.subscribe((e) => writer.write(e));
  const supervisor = await lab.startSession({ operator: 'cut' });
  await clock.runFor(minutes * 60_000);
  off();
  await writer.close();
  await lab.host.abort('test');
  await clock.runUntilSettled(supervisor.done, 3_600_000);
  await lab.close();
  return supervisor.sessionId;
}

/** Text of each cell of each body row of a table. */
const rows = (page: Page, table: string): Promise<string[][]> =>
  page.locator(`${table} tbody tr`).evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent ?? '')));
const figure = (page: Page, key: string): Promise<string> => page.locator(`.figure[data-figure="${key}"] b`).innerText();

/** A table of the CLI report (header, then rows), cells split, from the line after the one starting with `title`. */
function cliSection(r: StoreReport, title: string): string[][] {
  const lines = formatReport(r, 'table').split('\n');
  const from = lines.findIndex((l) => l.startsWith(title));
  expect(from, title).toBeGreaterThanOrEqual(0);
  const out: string[][] = [];
  for (const line of [lines[from + 1], ...lines.slice(from + 3)]) {
    if (!line.trim()) break;
    out.push(line.trim().split(/\s{2,}/));
  }
  return out;
}

let fmt: Format;
let finishedId: string;
let cutId: string;
let finished: StoreReport;
let cut: StoreReport;
let server: LiveSession;
let b: BrowserSession;

describe.skipIf(skip !== null)('sessions page on recorded sessions (Chromium)', () => {
  beforeAll(async () => {
    fmt = (await import(new URL('../../ui/js/format.js', import.meta.url).href)) as Format;
    const recorded = await recordSession();
    finishedId = recorded.sessionId;
    cutId = await recordCutSession(recorded.dbPath, 4);
    server = await startLiveSession({ dbPath: recorded.dbPath, preset: 'culture', pipettes: 2 });
    const db = openDatabase(recorded.dbPath, { readonly: true });
    finished = buildReport(db, [finishedId]);
    cut = buildReport(db, [cutId]);
    db.close();
    b = await launchBrowser({ width: 1600, height: 1000 });
  }, 240_000);
  afterAll(async () => {
    await b?.close();
    await server?.close();
  });

  const open = async (sessionId: string): Promise<Page> => {
    const { page } = b;
    await page.goto('about:blank'); // a new document each time: the page reads the hash once, on load
    await page.goto(`${server.base}sessions.html#session=${encodeURIComponent(sessionId)}`);
    await page.locator('#report-title').filter({ hasText: sessionId }).waitFor();
    return page;
  };

  it('a finished session: the funnel, unfinished count, simultaneity and the other sections show what buildReport gives', async () => {
    const page = await open(finishedId);
    const r = finished;
    const [row] = r.sessions;
    const f = r.funnel;
    expect(row.status).toBe('completed');

    // the session: seed, pipettes, hardware
    expect(await page.locator('#session-meta').innerText()).toContain(`seed ${row.seed} · ${row.pipettes} pipettes`);
    expect(await page.locator('#hardware thead th').allTextContents()).toEqual(cliSection(r, `Hardware of ${finishedId}`)[0]);
    expect(await rows(page, '#hardware')).toEqual(cliSection(r, `Hardware of ${finishedId}`).slice(1));
    expect(row.hardware!.length).toBe(row.pipettes);

    // the funnel: counts, share of attempts and of the previous stage, and the unfinished attempts
    expect(await figure(page, 'attempts')).toBe(String(f.attempts));
    expect(await figure(page, 'unfinished')).toBe(String(f.unfinished));
    expect(await figure(page, 'recorded')).toBe(String(f.counts.recorded));
    expect(await figure(page, 'cells-per-hour')).toBe(r.cellsPerHour!.toFixed(2));
    expect(await rows(page, '#funnel-table')).toEqual([
      ['ended attempts', String(f.attempts), '', ''],
      ...(['approached', 'detected', 'sealed', 'wholeCell', 'recorded'] as const).map((s, i) => [
        ['approached', 'cell detected', 'sealed', 'whole-cell', 'recorded'][i],
        String(f.counts[s]),
        fmt.share(f.rates[s]),
        fmt.share(f.stepRates[s]),
      ]),
      ['unfinished (never ended)', String(f.unfinished), '', ''],
    ]);
    expect(f.counts.recorded).toBeGreaterThan(0);

    // ≥ 2 simultaneous: by time, and by round labelled by how the rounds were formed
    const sim = r.simultaneous;
    const byRound = row.roundMode === 'synchronized' ? 'by round' : 'by attempt index';
    expect(row.roundMode).toBe('independent'); // culture: pipettes run independently
    expect(await rows(page, '#simultaneity')).toEqual([
      ['by time: episodes with ≥2 pipettes in whole-cell or record', String(sim.episodes)],
      ['by time: their total time', fmt.seconds(sim.episodeSeconds)],
      ["by time: whole-cell attempts that overlapped another pipette's", `${sim.overlappingAttempts} of ${sim.wholeCellAttempts} (${fmt.share(sim.overlapShare)})`],
      [`${byRound}: trials with ≥2 overlapping whole-cell`, `${sim.successes} of ${sim.trials} (${fmt.share(sim.rate)})`],
    ]);
    expect(sim.wholeCellAttempts).toBeGreaterThan(0);
    expect(await page.locator('p.definition').innerText()).toBe(sim.definition);
    expect(await figure(page, 'overlap')).toBe(fmt.share(sim.overlapShare));
    expect(await figure(page, 'by-round')).toBe(fmt.share(sim.rate));

    // time per state, failure reasons ranked, break-ins, the quality figures' counts
    expect(await rows(page, '#time-per-state')).toEqual(r.timePerState.map((s) => [s.state, '', fmt.seconds(s.seconds), fmt.share(s.fraction), String(s.visits)]));
    expect(await rows(page, '#failures')).toEqual(
      r.failureReasons.map((x) => [x.reason, '', String(x.count), fmt.share(x.fraction), x.failedIn.map((s) => `${s.state} ${s.count}`).join(', ')]),
    );
    expect(r.failureReasons.length).toBeGreaterThan(0);
    const sb = r.quality.spontaneousBreakIn;
    expect(await page.locator('#spontaneous-break-in').innerText()).toBe(
      `Spontaneous break-in: ${sb.spontaneous} of ${sb.attempts} attempts that reached whole-cell (${fmt.share(sb.rate)})`,
    );
    const quality = Object.fromEntries((await rows(page, '#quality')).map((x) => [x[0], Number(x[1])]));
    const q = r.quality;
    expect(quality).toEqual({
      'peak seal': q.seal.n, 'time to seal': q.timeToSeal.n, R0: q.r0.n, Ra: q.ra.n, Rm: q.rm.n, Cm: q.cm.n, Ihold: q.ihold.n, Vrest: q.vrest.n,
    });
    expect(q.vrest.n).toBeGreaterThan(0);

    // per pipette and per preset: attempts, unfinished, each stage, yield
    const funnelRow = (k: StoreReport['byPipette'][number]): string[] => [
      k.key, String(k.attempts), String(k.unfinished), ...(['approached', 'detected', 'sealed', 'wholeCell', 'recorded'] as const).map((s) => String(k.counts[s])),
      fmt.share(k.rates.wholeCell), fmt.share(k.rates.recorded),
    ];
    expect((await rows(page, '#by-pipette')).map((x) => x.slice(0, -1))).toEqual(r.byPipette.map(funnelRow));
    expect((await rows(page, '#by-preset')).map((x) => x.slice(0, -1))).toEqual(r.byPreset.map(funnelRow));
    expect(b.errors).toEqual([]);
  }, 60_000);

  it('its recorded cells carry the columns and values of the CLI table (ISI CV, first ISI, Vbase next to Vrest(QC))', async () => {
    const page = await open(finishedId);
    const r = finished;
    const [cliHeader, ...cliRows] = cliSection(r, 'Recorded cells:');
    expect(r.cells.length).toBeGreaterThan(0);
    expect(cliRows.map((x) => x[0])).toEqual(r.cells.map((c) => c.attemptId));
    const header = await page.locator('#cells thead th').allTextContents();
    expect(header).toEqual(cliHeader);
    expect(header.slice(2, 4)).toEqual(['Vrest(QC) mV', 'Vbase mV']);
    expect(header).toEqual(expect.arrayContaining(['ISI CV', '1st ISI ms']));
    const onPage = await rows(page, '#cells');
    expect(onPage).toEqual(cliRows);
    // the values themselves, from the store's figures: Vbase mV, ISI CV, first ISI ms, Vrest mV
    const col = (name: string): number => header.indexOf(name);
    const shown = (v: number | null | undefined, scale: number, digits: number): string => (v == null ? '—' : (v * scale).toFixed(digits));
    r.cells.forEach((c, i) => {
      expect(onPage[i][col('Vbase mV')], c.attemptId).toBe(shown(c.features.vBaseline, 1e3, 1));
      expect(onPage[i][col('ISI CV')], c.attemptId).toBe(shown(c.features.heroIsiCv, 1, 3));
      expect(onPage[i][col('1st ISI ms')], c.attemptId).toBe(shown(c.features.heroFirstIsi, 1e3, 1));
      expect(onPage[i][col('Vrest(QC) mV')], c.attemptId).toBe(shown(c.vrest, 1e3, 1));
    });
    // the comparison covers real numbers, not only dashes
    expect(r.cells.some((c) => c.features.heroIsiCv != null)).toBe(true);
    expect(r.cells.every((c) => c.features.vBaseline != null)).toBe(true);
  }, 60_000);

  it('a session cut short shows its unfinished attempts, per session, per pipette and in the list', async () => {
    const r = cut;
    const [row] = r.sessions;
    expect(row.status).toBe('interrupted');
    expect(r.funnel.unfinished).toBeGreaterThan(0);
    const page = await open(cutId);
    expect(await page.locator(`#sessions tr[data-session="${cutId}"] td`).nth(5).innerText()).toBe(`${row.attempts}+${row.unfinished}`);
    expect(await figure(page, 'unfinished')).toBe(String(r.funnel.unfinished));
    expect(await figure(page, 'attempts')).toBe(String(r.funnel.attempts));
    expect(await page.locator('#report h2', { hasText: 'Funnel' }).innerText()).toBe(`Funnel (${r.funnel.attempts} ended attempts, ${r.funnel.unfinished} unfinished)`);
    expect((await rows(page, '#funnel-table')).at(-1)).toEqual(['unfinished (never ended)', String(r.funnel.unfinished), '', '']);
    expect((await rows(page, '#by-pipette')).map((x) => [x[0], x[1], x[2]])).toEqual(r.byPipette.map((k) => [k.key, String(k.attempts), String(k.unfinished)]));
    // the finished session's row in the list has no unfinished part
    expect(await page.locator(`#sessions tr[data-session="${finishedId}"] td`).nth(5).innerText()).toBe(String(finished.funnel.attempts));
  }, 60_000);

  it("an attempt's timeline in order, with the legend's groups, and its sweeps plotted", async () => {
    const page = await open(finishedId);
    const first = finished.cells[0];
    const api = async <T>(path: string): Promise<T> => (await fetch(new URL(path, server.base))).json() as Promise<T>;
    await expect.poll(() => page.locator('#attempts tbody tr').count()).toBe(finished.funnel.attempts);
    expect(await page.locator('#timeline-legend span').allTextContents()).toEqual([
      'approach', 'seal', 'cell', 'retract · clean', 'lost · fouled', 'broken · needs pipette', 'idle · safe · done',
    ]);
    // a recorded attempt: its timeline shows its states in the order it went through them
    const attempts = await api<Array<{ record: { attemptId: string }; transitions: Array<{ to: string }> }>>(`/api/sessions/${encodeURIComponent(finishedId)}/attempts`);
    const attempt = attempts.find((a) => a.record.attemptId === first.attemptId)!;
    const attemptRow = page.locator(`#attempts tr[data-attempt="${first.attemptId}"]`);
    const timeline = await attemptRow.locator('.timeline i').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.state));
    expect(timeline).toEqual(attempt.transitions.map((t) => t.to));
    expect(timeline).toEqual(expect.arrayContaining(['pipetteCheck', 'seal', 'wholeCell', 'record']));
    expect(timeline.indexOf('seal')).toBeLessThan(timeline.indexOf('wholeCell'));
    expect(timeline.indexOf('wholeCell')).toBeLessThan(timeline.indexOf('record'));
    // every segment has its group's colour, lost ones (if any) the lost group's
    const segs = await page.locator('#attempts .timeline i').evaluateAll((els) => els.map((e) => [(e as HTMLElement).dataset.state, e.className]));
    for (const [state, cls] of segs) if (state === 'lost' || state === 'fouled') expect(cls).toBe('seg-lost');
    for (const [state, cls] of segs) if (state === 'record') expect(cls).toBe('seg-cell');

    // its sweeps: the list, then a stimulus sweep plotted with its command, in the right units and points
    await attemptRow.click();
    const sweeps = await api<Array<{ sweepId: number; kind: string; samples: number; stimulusName: string | null }>>(`/api/attempts/${encodeURIComponent(first.attemptId)}/sweeps`);
    await expect.poll(() => page.locator('#sweeps tbody tr').count()).toBe(sweeps.length);
    const stim = sweeps.find((s) => s.kind === 'stimulus' && s.stimulusName?.startsWith('long-square'))!;
    await page.locator(`#sweeps tr[data-sweep="${stim.sweepId}"]`).click();
    const bin = new Uint8Array(await (await fetch(new URL(`/api/sweeps/${stim.sweepId}?format=bin&maxPoints=4000`, server.base))).arrayBuffer());
    const [response, command] = decodeTraceFrames(bin);
    expect(response.originalLength).toBe(stim.samples);
    await expect.poll(() => page.locator('#sweep-plot').getAttribute('data-points')).toBe(String(response.samples.length));
    expect(response.samples.length).toBeLessThanOrEqual(4000);
    expect(await page.locator('#sweep-plot').getAttribute('data-unit')).toBe(response.unit === 'V' ? 'mV' : 'pA');
    expect(await page.locator('#sweep-caption').innerText()).toMatch(response.unit === 'V' ? /^response, mV vs ms/ : /^response, pA vs ms/);
    expect(command).toBeDefined();
    expect(await page.locator('#command-figure').isVisible()).toBe(true);
    expect(await page.locator('#command-plot').getAttribute('data-points')).toBe(String(command.samples.length));
    expect(await page.locator('#command-caption').innerText()).toBe(`command, ${command.unit === 'V' ? 'mV' : 'pA'} vs ms`);
    // a current step: the command plot holds its amplitude, not a flat line
    expect(Math.max(...command.samples) - Math.min(...command.samples)).toBeGreaterThan(1e-12);
    expect(b.errors).toEqual([]);
  }, 60_000);

  it('at 1600 and 1280 px nothing spills out of its card: wide tables scroll inside them', async () => {
    for (const width of [1600, 1280]) {
      await b.page.setViewportSize({ width, height: 1000 });
      const page = await open(finishedId);
      await page.locator(`#attempts tr[data-attempt="${finished.cells[0].attemptId}"]`).click();
      await page.locator('#sweeps tbody tr').first().waitFor();
      expect(await page.evaluate(() => document.documentElement.scrollWidth), `${width}`).toBeLessThanOrEqual(width);
      // no card needs to scroll itself, and nothing outside a table's own scroller reaches past its card
      const spills = await page.evaluate(() => {
        const out: string[] = [];
        for (const card of Array.from(document.querySelectorAll('.card')) as HTMLElement[]) {
          if (card.hidden) continue;
          if (card.scrollWidth > card.clientWidth + 1) out.push(`${card.id} scrolls: ${card.scrollWidth} > ${card.clientWidth}`);
          const box = card.getBoundingClientRect();
          for (const el of Array.from(card.querySelectorAll('*')) as HTMLElement[]) {
            if (el.closest('.scroll-x, .sweep-list, .plot-box') && !el.matches('.scroll-x, .sweep-list')) continue;
            const r = el.getBoundingClientRect();
            if (r.width === 0) continue;
            if (r.right > box.right + 1 || r.left < box.left - 1) out.push(`${card.id}: <${el.tagName.toLowerCase()} id=${el.id} class=${el.className}> ${Math.round(r.left)}..${Math.round(r.right)} outside ${Math.round(box.left)}..${Math.round(box.right)}`);
          }
        }
        return out;
      });
      expect(spills, `${width}`).toEqual([]);
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: artifactPath(`sessions-report-${width}.png`), fullPage: true });
    }
    await b.page.locator('#attempts-card').screenshot({ path: artifactPath('sessions-attempts.png') });
    await b.page.locator('#sweep-viewer').screenshot({ path: artifactPath('sessions-sweep.png') });
    expect(b.errors).toEqual([]);
  }, 90_000);
});
