// Clusters in Chromium: create one in one click and watch its progress to the end, see the nodes
// Ready, drain one, remove one (its own operation), and delete the cluster without leftovers.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startBerth, launchBrowser, watchedPage, hydrated, createAdmin, docker, removeBerthLeftovers,
} from '../support.mjs';

let berth;
let browser;

before(async () => {
  berth = await startBerth();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await berth?.stop();
  removeBerthLeftovers();
});

/** Waits on an operation's page until it succeeded, and follows its link back. */
async function finishJob(page) {
  await page.waitForURL(/\/jobs\/\d+$/);
  await page.getByTestId('job-status').getByText('succeeded', { exact: true }).waitFor({ timeout: 120_000 });
  assert.equal(await page.getByTestId('job-percent').textContent(), '100 %');
  assert.equal(await page.locator('[data-testid=job-steps] li[data-state=done]').count(),
    await page.locator('[data-testid=job-steps] li').count(), 'every step done');
  await page.getByTestId('job-next').click();
}

test('one-click cluster: progress, nodes Ready, drain, remove, delete', async () => {
  const { page, assertClean } = await watchedPage(browser);
  await createAdmin(page, berth);

  await page.goto(`${berth.url}/clusters`);
  await hydrated(page);
  await page.getByTestId('no-clusters').waitFor();
  await page.getByTestId('new-cluster').click();
  await page.waitForURL(/\/clusters\/new$/);
  await page.getByTestId('cluster-name').fill('e2e');
  await page.getByTestId('cluster-nodes').fill('3');
  await page.getByTestId('cluster-zones').fill('east, west');
  await page.getByTestId('create-cluster').click();

  // The operation's page shows the steps and a progress bar that moves to 100 %.
  await page.waitForURL(/\/jobs\/\d+$/);
  await page.getByText('Creating cluster e2e').waitFor();
  const seen = new Set();
  const watch = setInterval(async () => {
    const v = await page.getByTestId('progress').getAttribute('aria-valuenow').catch(() => null);
    if (v !== null) seen.add(Number(v));
  }, 200);
  await finishJob(page);
  clearInterval(watch);
  assert.ok([...seen].some((v) => v > 0 && v < 100), `the bar showed progress in between: ${[...seen]}`);

  // The cluster: three nodes Ready, spread over the zones.
  await page.waitForURL(/\/clusters\/\d+$/);
  await page.getByTestId('nodes-ready').getByText('3 / 3').waitFor({ timeout: 30_000 });
  await page.getByTestId('cluster-status').getByText('ready').waitFor();
  assert.equal(await page.getByTestId('zones').textContent(), 'east, west');
  for (const n of ['n1', 'n2', 'n3']) {
    assert.equal(await page.getByTestId(`node-${n}`).getAttribute('data-state'), 'ready');
  }

  // Drain n3.
  const n3 = page.getByTestId('node-n3');
  await n3.getByRole('button', { name: 'Drain' }).click();
  await n3.getByText('drain', { exact: true }).waitFor();

  // Remove n2: confirm, follow the operation, back on the cluster without it.
  const n2 = page.getByTestId('node-n2');
  await n2.getByRole('button', { name: 'Remove' }).click();
  await n2.getByRole('button', { name: 'Drain and remove' }).click();
  await page.getByText('Removing node n2').waitFor();
  await finishJob(page);
  await page.waitForURL(/\/clusters\/\d+$/);
  await page.getByTestId('nodes-ready').getByText('2 / 2').waitFor({ timeout: 30_000 });
  assert.equal(await page.getByTestId('node-n2').count(), 0);

  // Delete the cluster: nothing is left on the engine.
  await page.getByTestId('delete').click();
  await page.getByTestId('delete-confirm').click();
  await page.getByText('Deleting cluster e2e').waitFor();
  await finishJob(page);
  await page.waitForURL(/\/clusters$/);
  await page.getByTestId('no-clusters').waitFor();
  assert.equal(docker('ps', '-aq', '--filter', 'label=berth.managed=true'), '');
  assert.equal(docker('network', 'ls', '-q', '--filter', 'label=berth.managed=true'), '');
  assertClean(assert);
});
