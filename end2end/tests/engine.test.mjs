// The overview when the Docker engine goes away and comes back: Berth says so clearly, keeps
// trying, and shows the engine again without a reload.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBerth, launchBrowser, watchedPage, hydrated } from '../support.mjs';

const PASSWORD = 'correct horse battery staple';

/** A unix socket at `path` that forwards to the real engine, standing in for an engine that is up. */
function engineAt(path) {
  const server = createServer((client) => {
    const docker = connect('/var/run/docker.sock');
    client.pipe(docker).pipe(client);
    client.on('error', () => docker.destroy());
    docker.on('error', () => client.destroy());
  });
  return new Promise((ok) => server.listen(path, () => ok(server)));
}

test('an unreachable engine is reported, and the page recovers when it returns', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-engine-'));
  const sock = join(dir, 'docker.sock');
  const berth = await startBerth({ BERTH_DOCKER_HOST: `unix://${sock}`, BERTH_ENGINE_TIMEOUT_SECS: '2' });
  const browser = await launchBrowser();
  let engine;
  try {
    const { page, allow, assertClean } = await watchedPage(browser);
    allow(({ status, console }) => status === 503 || (console && /503/.test(console)));
    await page.goto(berth.setupLink);
    await hydrated(page);
    await page.fill('input[name=username]', 'ada');
    await page.fill('input[name=password]', PASSWORD);
    await page.fill('input[name=confirm_password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(`${berth.url}/`);

    const outage = page.getByTestId('engine-unreachable');
    await outage.waitFor();
    assert.match(await outage.textContent(), new RegExp(`${sock.replaceAll('/', '\\/')}.*unreachable`));
    await page.evaluate(() => (window.__sameDocument = true));

    engine = await engineAt(sock);
    await page.getByTestId('engine-version').waitFor({ timeout: 15_000 });
    assert.equal(await outage.count(), 0, 'the outage notice is gone');
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'recovered without a reload');
    assertClean(assert);
  } finally {
    engine?.close();
    await browser.close();
    await berth.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
