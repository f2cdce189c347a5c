/**
 * The browser UI (ui/, plain ES modules, no build step) and uPlot from
 * node_modules, so the dashboard works without internet. The pages carry no
 * rig data, so they are served without a token; the data routes check it.
 *
 *   /                  ui/index.html (live)      /sessions.html  sessions + sweep viewer
 *   /vendor/uplot/     uPlot.esm.js, uPlot.min.css
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

export const UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

/** uPlot's dist folder, found through Node's resolver rather than a guessed path. */
export function uplotDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('uplot/package.json')), 'dist');
}

export interface StaticPluginOptions {
  uiDir?: string;
}

export async function staticPlugin(app: FastifyInstance, opts: StaticPluginOptions): Promise<void> {
  await app.register(fastifyStatic, {
    root: opts.uiDir ?? UI_DIR,
    prefix: '/',
    index: ['index.html'],
    // a stale module after an update would mismatch the server's frame layout
    cacheControl: false,
    etag: true,
  });
  await app.register(fastifyStatic, {
    root: uplotDir(),
    prefix: '/vendor/uplot/',
    decorateReply: false,
    allowedPath: (path) => /^\/?uPlot\.(esm\.js|min\.css)$/.test(path),
  });
}
