// The byte budget of what a browser downloads (PERFORMANCE.md P4): wasm + js + css as served with
// brotli. Checked on the release build with precompressed files (`cargo leptos build --release
// --precompress`, as scripts/test builds it); skipped on a dev build, which has none.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const BUDGET = 350_000;
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const pkg = join(process.env.BERTH_SITE_ROOT ?? join(root, 'target/site'), 'pkg');

test('wasm + js + css stay within 350 KB brotli', (t) => {
  const files = ['berth.wasm', 'berth.js', 'berth.css'].map((f) => join(pkg, `${f}.br`));
  if (!files.every(existsSync)) {
    t.skip('no precompressed release build in target/site');
    return;
  }
  const sizes = Object.fromEntries(files.map((f) => [f.split('/').pop(), statSync(f).size]));
  const total = Object.values(sizes).reduce((a, b) => a + b, 0);
  t.diagnostic(`brotli sizes: ${JSON.stringify(sizes)}, total ${total} bytes`);
  assert.ok(total <= BUDGET, `shipped ${total} bytes brotli, budget ${BUDGET}`);
});
