/**
 * The dashboard against the fake rig, for looking at it by eye:
 *
 *   npx tsx tests/browser/demo.ts [--pipettes 8] [--port 8420] [--screenshot]
 *
 * Prints a link with the token. With --screenshot it also opens Chromium,
 * saves the live and sessions pages under test-artifacts/ and exits.
 */
import { parseArgs } from 'node:util';
import { createRealClock } from '../../src/clock/index.ts';
import { createServer, dashboardUrl } from '../../src/server/index.ts';
import { createFakeArchive } from '../server/fake-archive.ts';
import { createFakeRig } from '../server/fake-rig.ts';
import { runFakeScenario } from './fake-scenario.ts';
import { artifactPath, launchBrowser } from './helpers.ts';

const { values } = parseArgs({
  options: {
    pipettes: { type: 'string', default: '4' },
    port: { type: 'string', default: '8420' },
    screenshot: { type: 'boolean', default: false },
    seconds: { type: 'string', default: '40' },
  },
});

const clock = createRealClock();
const rig = createFakeRig({ pipettes: Number(values.pipettes), clock });
const token = 'demo-token-0123';
const app = createServer({
  rig,
  archive: createFakeArchive(),
  token,
  port: values.screenshot ? 0 : Number(values.port),
  clock,
  presets: () => ['acute-slice', 'in-vivo-blind', 'culture'],
});
const base = await app.autopatch.listen();
const stop = runFakeScenario(rig, clock, { seed: 7 });
await rig.start({ preset: 'acute-slice', operator: 'demo' }, 'demo');
console.log(`dashboard: ${dashboardUrl(base, token)}`);

if (values.screenshot) {
  const n = Number(values.pipettes);
  const b = await launchBrowser({ width: 1800, height: n > 4 ? 1150 : 1050 });
  try {
    await b.page.goto(dashboardUrl(base, token));
    await b.page.waitForSelector('.pipette');
    await b.page.waitForTimeout(Number(values.seconds) * 1000);
    await b.page.screenshot({ path: artifactPath(`live-${n}.png`) });
    await b.page.goto(new URL('/sessions.html', base).toString());
    await b.page.waitForSelector('#sessions tbody tr');
    await b.page.click('#sessions tbody tr');
    await b.page.waitForSelector('#attempts tbody tr');
    await b.page.click('#attempts tbody tr');
    await b.page.waitForSelector('#sweeps tbody tr');
    await b.page.click('#sweeps tbody tr:nth-child(2)');
    await b.page.waitForSelector('#sweep-plot canvas');
    await b.page.waitForTimeout(500);
    await b.page.screenshot({ path: artifactPath('sessions.png'), fullPage: true });
    if (b.errors.length) console.log('page errors:\n' + b.errors.join('\n'));
  } finally {
    await b.close();
    stop();
    await app.close();
  }
}
