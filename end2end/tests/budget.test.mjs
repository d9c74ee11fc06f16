// What a browser downloads (PERFORMANCE.md P4): pages are split out of the main wasm (lazy routes,
// `cargo leptos build --split`), so a page costs the main files plus the files the split manifest
// lists for it. This checks that the release build is split that way and reports each page's weight;
// the goal itself (350 KB brotli) is compared in `scripts/bench`, not asserted here. Skipped on a dev
// build, which has no precompressed files.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const BUDGET = 350_000;
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const pkg = join(process.env.BERTH_SITE_ROOT ?? join(root, 'target/site'), 'pkg');
const SPLIT_JS = '__wasm_split.______________________.js';
const size = (file) => statSync(join(pkg, `${file}.br`)).size;

test('every page is split out of the main wasm', (t) => {
  const main = ['berth.wasm', 'berth.js', 'berth.css', SPLIT_JS, '__wasm_split_manifest.json'];
  if (!main.every((f) => existsSync(join(pkg, `${f}.br`)))) {
    t.skip('no precompressed, split release build in target/site');
    return;
  }
  const base = main.reduce((sum, f) => sum + size(f), 0);
  const manifest = JSON.parse(readFileSync(join(pkg, '__wasm_split_manifest.json'), 'utf8'));
  const pages = Object.entries(manifest)
    .filter(([name]) => name.endsWith('_view_5730362503236367315') || name.includes('_page_view_'))
    .map(([name, files]) => [name.replace(/^__|_view_\d+$/g, ''), files.reduce((sum, f) => sum + size(`${f}.wasm`), 0)]);
  assert.ok(pages.length >= 15, `the manifest lists every lazy page: ${pages.length}`);
  pages.sort((a, b) => b[1] - a[1]);
  const [heaviest, extra] = pages[0];
  t.diagnostic(`main files ${base} bytes brotli; heaviest page ${heaviest} adds ${extra}: ${base + extra} in all`);
  t.diagnostic(`per page: ${pages.map(([n, b]) => `${n} ${base + b}`).join(', ')}`);
  assert.ok(pages.every(([, bytes]) => bytes > 0), 'each page has code of its own');
  t.diagnostic(`goal ${BUDGET} bytes for the heaviest page (scripts/bench compares it)`);
});
