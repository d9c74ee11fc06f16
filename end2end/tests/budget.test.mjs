// What a browser downloads (PERFORMANCE.md P4): wasm + js + css as served with brotli, from the release
// build's precompressed files. Reported here; the goal (350 KB) is compared in `scripts/bench`, not
// asserted (goals live in benchmarks). Skipped on a dev build, which has no precompressed files.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const pkg = join(process.env.BERTH_SITE_ROOT ?? join(root, 'target/site'), 'pkg');

test('the release build ships precompressed wasm, js and css', (t) => {
  const files = ['berth.wasm', 'berth.js', 'berth.css'];
  if (!files.every((f) => existsSync(join(pkg, `${f}.br`)))) {
    t.skip('no precompressed release build in target/site');
    return;
  }
  const sizes = Object.fromEntries(files.map((f) => [f, statSync(join(pkg, `${f}.br`)).size]));
  for (const f of files) {
    assert.ok(sizes[f] > 0 && sizes[f] < statSync(join(pkg, f)).size, `${f}.br is smaller than ${f}`);
  }
  const total = Object.values(sizes).reduce((a, b) => a + b, 0);
  t.diagnostic(`brotli sizes: ${JSON.stringify(sizes)}, total ${total} bytes (goal 350000, see scripts/bench)`);
});
