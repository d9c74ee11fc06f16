// App triggers in Chromium: on a one-node cluster, deploy an app, create a signed redeploy trigger
// on its Triggers tab, read the secret shown once, call the trigger from the test (a Standard
// Webhooks signature computed with node's crypto), and see the call in the trigger's list and the
// redeploy in the History by the trigger's name; the snippets, rotation, revocation (confirmed
// first; the URL then answers 404), and the tab at 390 px wide. Then jobs on the same cluster: a
// cron task every 5 s, a job run by its deploy and one whose task exits 3, on the Jobs tab (the
// schedule in words, runs with their tasks' exit codes and logs, a run kept open through refreshes,
// Run now, the filter, 390 px) and in the History by `scheduler`.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { rmSync } from 'node:fs';
import {
  startBerth, launchBrowser, watchedPage, hydrated, createAdmin, removeBerthLeftovers, ensureTestImage, jobSucceeded,
  assertAccessible, refreshes, shows,
} from '../support.mjs';

let berth;
let browser;

before(async () => {
  ensureTestImage();
  berth = await startBerth();
  browser = await launchBrowser();
});

const JOBS = `services:
  report:
    image: berth-test/busybox:1
    command: ["sh", "-c", "echo report written"]
    deploy:
      mode: replicated-job
  broken:
    image: berth-test/busybox:1
    command: ["sh", "-c", "echo cannot reach the database; exit 3"]
    deploy:
      mode: replicated-job
  tick:
    image: berth-test/busybox:1
    command: ["sh", "-c", "echo tick"]
    labels:
      berth.schedule: "*/5 * * * * *"
`;

after(async () => {
  await browser?.close();
  await berth?.stop({ keepData: true });
  removeBerthLeftovers(berth.dataDir);
  rmSync(berth.dataDir, { recursive: true, force: true });
});

const APP = `services:
  web:
    image: berth-test/busybox:1
    init: true
    command: ["sleep", "100000"]
`;

/** A Standard Webhooks call: HMAC-SHA256 over "id.timestamp.body" with the key the secret encodes. */
function signedCall(url, secret, id, body = '') {
  const ts = Math.floor(Date.now() / 1000);
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const signature = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64');
  return fetch(url, {
    method: 'POST',
    headers: { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': `v1,${signature}` },
    body,
  });
}

test('triggers: create, call from CI, see the call and the history, snippets, rotate, revoke; then jobs', async () => {
  const { page, assertClean, allow } = await watchedPage(browser);
  await createAdmin(page, berth);

  await page.goto(`${berth.url}/clusters/new`);
  await hydrated(page);
  await page.getByTestId('cluster-name').fill('triggers-e2e');
  await page.getByTestId('cluster-nodes').fill('1');
  await page.getByTestId('create-cluster').click();
  await page.waitForURL(/\/jobs\/\d+$/);
  await jobSucceeded(page);
  await page.getByTestId('job-next').click();
  await page.waitForURL(/\/clusters\/\d+$/);
  await hydrated(page);
  await page.getByTestId('deploy-here').click();
  await page.waitForURL(/\/apps\/new\?cluster=\d+$/);
  await hydrated(page);
  await page.getByTestId('app-cluster').selectOption({ label: 'triggers-e2e' });
  await page.getByTestId('app-name').fill('shop');
  await page.getByTestId('compose').fill(APP);
  await page.getByTestId('check').click();
  await page.getByTestId('check-ok').waitFor();
  await page.getByTestId('deploy').click();
  await page.waitForURL(/\/apps\/\d+$/);
  await hydrated(page);
  await page.locator('[data-testid=operation][data-status=succeeded]').waitFor({ timeout: 120_000 });

  // The Triggers tab: a bad name is flagged at its field, then a signed redeploy trigger is made.
  await page.getByTestId('tab-triggers').click();
  await page.waitForURL(/\?tab=triggers$/);
  await page.getByTestId('triggers-none').waitFor();
  allow((r) => (r.status === 422 && r.url?.endsWith('/api/create_trigger')) || /status of 422/.test(r.console ?? ''));
  await page.getByTestId('trigger-name').fill('Deploy From CI!');
  await page.getByTestId('trigger-create').click();
  await page.getByTestId('error-trigger-name').getByText(/may not contain/).waitFor();
  allow(() => false);
  await page.getByTestId('trigger-name').fill('deploy-from-ci');
  await page.getByTestId('trigger-action').selectOption('redeploy');
  await page.getByTestId('trigger-auth').selectOption('signature');
  await page.getByTestId('trigger-create').click();
  const secret = (await page.getByTestId('trigger-secret').innerText()).trim();
  assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  const row = page.locator('[data-testid=trigger-row][data-name=deploy-from-ci]');
  await row.getByTestId('trigger-last-call').getByText('never called').waitFor();
  const shownUrl = (await row.getByTestId('trigger-url').innerText()).replace(/^POST\s+/, '').trim();
  assert.match(shownUrl, new RegExp(`^${berth.url}/hooks/[0-9a-f]{40}$`));
  await assertAccessible(page, 'the triggers tab');

  // The snippets read the secret from the environment and never put it in the URL.
  await row.getByTestId('trigger-snippets-toggle').click();
  const shell = await row.getByTestId('snippet-shell').innerText();
  assert.match(shell, /webhook-signature: v1,\$SIG/);
  assert.ok(shell.includes(shownUrl) && !shell.includes(secret), shell);
  assert.match(await row.getByTestId('snippet-github').innerText(), /\$\{\{ secrets\.BERTH_TRIGGER_SECRET \}\}/);
  assert.match(await row.getByTestId('snippet-gitlab').innerText(), /apk add --no-cache curl openssl/);

  // Called from "CI": 202 with the job, quickly.
  const started = Date.now();
  const res = await signedCall(shownUrl, secret, 'msg_e2e_1');
  const took = Date.now() - started;
  assert.equal(res.status, 202, await res.clone().text());
  const { job } = await res.json();
  assert.ok(took < 1000, `${took} ms`);
  console.log(`signed redeploy from the browser journey answered 202 in ${took} ms`);
  // A replay and a bad signature have no effect.
  assert.equal((await signedCall(shownUrl, secret, 'msg_e2e_1')).status, 409);
  assert.equal((await signedCall(shownUrl, `whsec_${Buffer.alloc(32, 1).toString('base64')}`, 'msg_e2e_2')).status, 401);

  // The list shows the calls (it refreshes by itself, the snippets stay open), with the job's link.
  await row.getByTestId('trigger-last-outcome').getByText('unauthorized').waitFor({ timeout: 15_000 });
  assert.equal(await row.getByTestId('snippet-shell').count(), 1, 'a refresh keeps the snippets open');
  await row.getByTestId('trigger-calls-toggle').click();
  await row.locator('[data-testid=trigger-call][data-outcome=accepted]').waitFor();
  await row.locator('[data-testid=trigger-call][data-outcome=replayed]').waitFor();
  assert.equal(await row.locator('[data-testid=trigger-call]').count(), 3);
  assert.equal(await row.getByTestId('trigger-call-job').first().getAttribute('href'), `/jobs/${job}`);

  // At 390 px the tab fits the screen.
  const shots = process.env.BERTH_SCREENSHOTS;
  if (shots) await page.screenshot({ path: `${shots}/triggers.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  if (shots) await page.screenshot({ path: `${shots}/triggers-390.png`, fullPage: true });
  const box = await page.getByTestId('triggers').boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 390, JSON.stringify(box));
  await page.setViewportSize({ width: 1280, height: 800 });

  // The redeploy's job succeeded, and the History names the trigger.
  await page.goto(`${berth.url}/jobs/${job}`);
  await hydrated(page);
  await jobSucceeded(page);
  await page.goto(`${berth.url}/history`);
  await hydrated(page);
  const redeploy = page.locator('[data-testid=operation-row][data-action="app.redeploy"][data-outcome=success]');
  await redeploy.getByText('trigger:deploy-from-ci').waitFor();
  await redeploy.getByText('trigger', { exact: true }).waitFor();
  await page.locator('[data-testid=operation-row][data-action="trigger.create"][data-outcome=success]').waitFor();

  // Rotate: a new secret, shown once; the old one still works for now.
  await page.goBack();
  await page.goBack();
  await page.waitForURL(/\?tab=triggers$/);
  await hydrated(page);
  await row.getByTestId('trigger-rotate').click();
  await page.getByTestId('toast').getByText(/^New secret/).waitFor();
  const rotated = (await page.getByTestId('trigger-secret').innerText()).trim();
  assert.notEqual(rotated, secret);
  await row.getByText(/the old secret works until/).waitFor();

  // Revoke asks first; then the URL answers 404.
  await row.getByTestId('trigger-revoke').click();
  await page.getByTestId('trigger-revoke-confirm').click();
  await page.getByTestId('toast').getByText(/^Trigger revoked/).waitFor();
  await page.getByTestId('triggers-none').waitFor();
  assert.equal((await signedCall(shownUrl, rotated, 'msg_e2e_3')).status, 404);

  // Jobs: deployed on the same cluster.
  await page.goto(`${berth.url}/apps/new`);
  await hydrated(page);
  await page.getByTestId('app-cluster').selectOption({ label: 'triggers-e2e' });
  await page.getByTestId('app-name').fill('reports');
  await page.getByTestId('compose').fill(JOBS);
  await page.getByTestId('check').click();
  await page.getByTestId('check-ok').waitFor();
  await page.getByTestId('deploy').click();
  await page.waitForURL(/\/apps\/\d+$/);
  await hydrated(page);
  await page.locator('[data-testid=operation][data-status=succeeded]').waitFor({ timeout: 120_000 });
  await page.getByTestId('tab-jobs').click();
  await page.waitForURL(/\?tab=jobs$/);
  const tick = page.locator('[data-testid=job][data-service=tick]');
  await tick.getByTestId('job-schedule').getByText('*/5 * * * * *').waitFor();
  assert.match(await tick.getByTestId('job-next').innerText(), /^Next run \d\d:\d\d:\d\d UTC \(in \d+ (ms|s)\)$/);
  await shows(page, tick.locator('[data-testid=run][data-state=succeeded]').first(), 30_000);
  assert.match(await tick.locator('[data-testid=run][data-state=succeeded]').first().innerText(), /scheduled for \d\d:\d\d:\d\d UTC/);

  // The deploy ran both jobs; the broken one failed with its exit code, its logs kept.
  const report = page.locator('[data-testid=job][data-service=report]');
  await shows(page, report.locator('[data-testid=run][data-state=succeeded]'), 60_000);
  const broken = page.locator('[data-testid=job][data-service=broken]');
  const failed = broken.locator('[data-testid=run][data-state=failed]');
  await shows(page, failed, 60_000);
  assert.match(await failed.getByTestId('run-message').innerText(), /exit \(3\)/);
  await failed.getByTestId('run-open').click();
  const detail = page.getByTestId('run-detail');
  await detail.locator('[data-testid=run-task][data-exit="3"]').getByTestId('task-exit').getByText('exit code 3').waitFor();
  await detail.getByTestId('task-log').getByText('cannot reach the database').waitFor({ timeout: 30_000 });
  await assertAccessible(page, 'the jobs tab');
  // Two refreshes later the run is still open.
  await refreshes(page, 'get_jobs', 2);
  assert.equal(await detail.getByTestId('task-log').count(), 1, 'a refresh keeps the run open');

  // The filter shows failed runs only.
  await page.getByTestId('run-filter').selectOption('failed');
  await tick.getByText('No runs to show yet.').waitFor();
  assert.equal(await broken.locator('[data-testid=run][data-state=failed]').count(), 1);
  await page.getByTestId('run-filter').selectOption('all');

  // Run now: a second run of report, by the signed-in user.
  await report.getByTestId('run-now').click();
  await page.getByTestId('toast').getByText(/^Run started/).waitFor();
  await shows(page, report.locator('[data-testid=run][data-state=succeeded]', { hasText: 'Run now by ada' }), 60_000);

  if (shots) await page.screenshot({ path: `${shots}/jobs.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  if (shots) await page.screenshot({ path: `${shots}/jobs-390.png`, fullPage: true });
  const jobsBox = await page.getByTestId('jobs').boundingBox();
  assert.ok(jobsBox.x >= 0 && jobsBox.x + jobsBox.width <= 390, JSON.stringify(jobsBox));
  await page.setViewportSize({ width: 1280, height: 800 });

  // Scheduled runs and Run now are operations in the History.
  await page.goto(`${berth.url}/history`);
  await hydrated(page);
  const runs = page.locator('[data-testid=operation-row][data-action="app.job.run"][data-outcome=success]');
  await runs.getByText('scheduler').first().waitFor();
  await runs.getByText('reports/report').first().waitFor();
  assertClean(assert);
});
