// Sub-accounts in Chromium: an admin makes an operator on cluster A; the operator signs in, sees only
// A, finds cluster B's address "not permitted", and acts on A once made its cluster admin; a viewer
// invited by link sees no buttons and a forged request from their browser is refused; a shared
// dashboard link works for someone without an account until it is revoked.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import {
  startBerth, launchBrowser, watchedPage, hydrated, createAdmin, removeBerthLeftovers, jobSucceeded,
  assertAccessible,
} from '../support.mjs';

let berth;
let browser;

before(async () => {
  berth = await startBerth();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await berth?.stop({ keepData: true });
  removeBerthLeftovers(berth.dataDir);
  rmSync(berth.dataDir, { recursive: true, force: true });
});

/** Creates a one-node local cluster from the console; answers its id. */
async function createCluster(page, name) {
  await page.goto(`${berth.url}/clusters/new`);
  await hydrated(page);
  await page.getByTestId('cluster-name').fill(name);
  await page.getByTestId('cluster-nodes').fill('1');
  await page.getByTestId('create-cluster').click();
  await page.waitForURL(/\/jobs\/\d+$/);
  await jobSucceeded(page, 120_000);
  await page.getByTestId('job-next').click();
  await page.waitForURL(/\/clusters\/\d+$/);
  await page.getByTestId('nodes-ready').getByText('1 / 1').waitFor({ timeout: 30_000 });
  return page.url().match(/\/clusters\/(\d+)$/)[1];
}

/** Opens a user's page from the users list. */
async function openUser(page, username) {
  const href = await page.getByTestId(`user-${username}`).getByRole('link', { name: username }).getAttribute('href');
  await page.goto(`${berth.url}${href}`);
  await hydrated(page);
}

/** Grants `role` on the cluster named `cluster` from the user's page (already open). */
async function grant(page, role, cluster) {
  await page.getByTestId('grant-role').selectOption(role);
  await page.getByTestId('grant-cluster').selectOption({ label: cluster });
  await page.getByTestId('add-grant').click();
}

async function signIn(page, username, password) {
  await page.goto(`${berth.url}/signin`);
  await hydrated(page);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForURL(`${berth.url}/`);
}

test('roles per cluster, a viewer without buttons, a shared dashboard until revoked', async () => {
  const admin = await watchedPage(browser);
  const page = admin.page;
  await createAdmin(page, berth);
  const a = await createCluster(page, 'e2e-a');
  const b = await createCluster(page, 'e2e-b');

  // The admin creates Otto with a password and makes him an operator on A.
  await page.goto(`${berth.url}/users`);
  await hydrated(page);
  await assertAccessible(page, 'the users page');
  // The browser checks what it can before sending (the username's characters); the server says
  // every other wrong field at once.
  await page.getByTestId('new-username').fill('otto bad');
  await page.getByTestId('create-user').click();
  assert.equal(await page.getByTestId('new-username').evaluate((el) => el.validity.patternMismatch), true);
  await page.getByTestId('new-username').fill('otto');
  await page.getByTestId('new-password').fill('1qaz2wsx3edc');
  await page.getByTestId('new-confirm').fill('something else');
  admin.allow(({ status, console }) => status === 422 || (console && /422/.test(console)));
  await page.getByTestId('create-user').click();
  await page.getByTestId('error-password').getByText(/common/).waitFor();
  assert.match(await page.getByTestId('error-confirm_password').textContent(), /does not match/);
  assert.equal(await page.getByTestId('error-username').textContent(), '');
  admin.allow(() => false);
  const ottoPassword = 'otto rows across the harbour';
  await page.getByTestId('new-password').fill(ottoPassword);
  await page.getByTestId('new-confirm').fill(ottoPassword);
  await page.getByTestId('create-user').click();
  await page.getByTestId('user-created').waitFor();
  await openUser(page, 'otto');
  const ottoPage = page.url();
  await grant(page, 'operator', 'e2e-a');
  await page.getByTestId('grants').getByText('Operator on e2e-a').waitFor();

  // Otto sees A and only A; no cluster creation, no node controls for an operator.
  const otto = await watchedPage(browser);
  await signIn(otto.page, 'otto', ottoPassword);
  await otto.page.getByTestId('my-clusters').getByText('e2e-a').waitFor();
  assert.equal(await otto.page.getByTestId('overview-subtitle').textContent(), 'The clusters you have access to.');
  await otto.page.goto(`${berth.url}/clusters`);
  await hydrated(otto.page);
  await otto.page.getByText('e2e-a', { exact: true }).waitFor();
  assert.equal(await otto.page.getByText('e2e-b', { exact: true }).count(), 0, 'B is not listed');
  assert.equal(await otto.page.getByTestId('new-cluster').count(), 0);
  await otto.page.goto(`${berth.url}/clusters/${a}`);
  await hydrated(otto.page);
  await otto.page.getByTestId('nodes-ready').getByText('1 / 1').waitFor();
  assert.equal(await otto.page.getByRole('button', { name: 'Drain' }).count(), 0, 'operators do not manage nodes');

  // Cluster B's address: a clear "not permitted".
  otto.allow(({ status, console }) => status === 403 || (console && /403/.test(console)));
  await otto.page.goto(`${berth.url}/clusters/${b}`);
  await otto.page.getByTestId('cluster-error').getByText(/not permitted to see cluster/).waitFor();
  // Said once, and nothing of the cluster is offered: no deploy button, no charts, no policy.
  await hydrated(otto.page);
  assert.equal(await otto.page.getByRole('alert').count(), 1, 'one refusal');
  for (const part of ['deploy-here', 'workload-policy', 'chart-cpu', 'events']) {
    assert.equal(await otto.page.getByTestId(part).count(), 0, `no ${part}`);
  }

  // Made cluster admin of A, Otto drains its node.
  await page.goto(ottoPage);
  await hydrated(page);
  await grant(page, 'cluster_admin', 'e2e-a');
  await page.getByTestId('grants').getByText('Cluster admin on e2e-a').waitFor();
  await otto.page.goto(`${berth.url}/clusters/${a}`);
  // B's page refreshes itself; a refusal of its last refresh can still arrive now. A refusal on A
  // would stop the steps below, which wait for A's controls.
  otto.allow(({ status, url, console }) => (status === 403 && url?.endsWith('/api/get_cluster')) || (console && /403/.test(console)));
  await hydrated(otto.page);
  const n1 = otto.page.getByTestId('node-n1');
  await n1.getByRole('button', { name: 'Drain', exact: true }).click();
  await n1.getByRole('button', { name: 'Drain n1' }).click();
  await n1.getByText('drain', { exact: true }).waitFor();
  assert.equal(await otto.page.getByTestId('delete').count(), 0, 'deleting a cluster stays with admins');

  // Otto's account: this session listed, an API token for CI that sees A only, then revoked.
  await otto.page.goto(`${berth.url}/account`);
  await hydrated(otto.page);
  await otto.page.getByTestId('account-grants').getByText('Cluster admin on e2e-a').waitFor();
  assert.equal(await otto.page.locator('[data-testid=session][data-current=true]').count(), 1);
  await otto.page.getByTestId('token-name').fill('ci');
  await otto.page.getByTestId('token-role').selectOption('viewer');
  await otto.page.getByTestId('create-token').click();
  const token = await otto.page.getByTestId('new-token').textContent();
  assert.match(token, /^berth_[0-9a-f]{64}$/);
  // Its copy button puts it on the clipboard.
  await otto.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: berth.url });
  await otto.page.getByTestId('copy').click();
  await otto.page.getByTestId('copy').getByText('Copied').waitFor();
  assert.equal(await otto.page.evaluate(() => navigator.clipboard.readText()), token);
  const listed = await fetch(`${berth.url}/api/v1/clusters`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(listed.status, 200);
  assert.deepEqual((await listed.json()).map((c) => c.name), ['e2e-a']);
  await otto.page.locator('[data-testid=token-ci][data-state=active]').getByTestId('revoke-token').click();
  await otto.page.locator('[data-testid=token-ci][data-state=revoked]').waitFor();
  const revoked = await fetch(`${berth.url}/api/v1/clusters`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(revoked.status, 401);

  // Vic is invited by link and made a viewer of A.
  await page.goto(`${berth.url}/users`);
  await hydrated(page);
  await page.getByTestId('new-username').fill('vic');
  await page.getByTestId('create-user').click();
  const invite = await page.getByTestId('issued-link').textContent();
  assert.match(invite, /\/invite\?token=[0-9a-f]{64}$/);
  await openUser(page, 'vic');
  await grant(page, 'viewer', 'e2e-a');
  await page.getByTestId('grants').getByText('Viewer on e2e-a').waitFor();

  const vic = await watchedPage(browser);
  await vic.page.goto(invite);
  await hydrated(vic.page);
  await vic.page.getByTestId('invite-username').getByText('vic').waitFor();
  await vic.page.fill('input[name=password]', 'vic watches the boats come in');
  await vic.page.fill('input[name=confirm_password]', 'vic watches the boats come in');
  await vic.page.click('button[type=submit]');
  await vic.page.waitForURL(`${berth.url}/`);
  await vic.page.goto(`${berth.url}/clusters/${a}`);
  await hydrated(vic.page);
  await vic.page.getByTestId('nodes-ready').waitFor();
  for (const control of ['rename', 'delete', 'add-nodes']) {
    assert.equal(await vic.page.getByTestId(control).count(), 0, `a viewer has no ${control} button`);
  }
  assert.equal(await vic.page.getByRole('button').filter({ hasText: /Drain|Activate|Pause|Promote|Remove/ }).count(), 0);
  // A forged request from the viewer's own browser is refused by the server, and changes nothing.
  vic.allow(({ status, console }) => status === 403 || (console && /403/.test(console)));
  const forged = await vic.page.evaluate(async (id) => {
    const res = await fetch('/api/rename_cluster', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `id=${id}&name=forged`,
    });
    return { status: res.status, body: await res.json() };
  }, a);
  assert.equal(forged.status, 403);
  assert.equal(forged.body.code, 'forbidden');
  vic.allow(() => false);
  await vic.page.reload();
  await hydrated(vic.page);
  await vic.page.getByTestId('page-title').getByText('e2e-a', { exact: true }).waitFor();

  // A shared dashboard: the admin makes a link, a stranger opens it, the admin revokes it.
  await page.goto(`${berth.url}/clusters/${a}/dashboard`);
  await hydrated(page);
  await page.getByTestId('share-label').fill('wall screen');
  await page.getByTestId('create-share').click();
  const link = await page.getByTestId('share-link').textContent();
  assert.match(link, /\/share\?token=[0-9a-f]{64}$/);
  const stranger = await watchedPage(browser);
  await stranger.page.goto(link);
  await hydrated(stranger.page);
  await stranger.page.getByTestId('page-title').getByText('e2e-a').waitFor();
  await stranger.page.getByTestId('dash-ready').getByText('1 / 1').waitFor();
  assert.equal(await stranger.page.getByRole('button').count(), 0, 'a shared dashboard has no controls');
  await page.getByTestId('revoke-share').click();
  await page.locator('[data-testid=share][data-state=revoked]').waitFor();
  stranger.allow(({ status, console }) => status === 403 || (console && /403/.test(console)));
  await stranger.page.reload();
  await stranger.page.getByTestId('share-invalid').getByText(/expired or been revoked/).waitFor();

  // The admin deletes both clusters (the others' pages closed first: they would lose their access
  // with the clusters and be refused on their next refresh).
  for (const w of [otto, vic, stranger]) await w.page.close();
  for (const id of [a, b]) {
    await page.goto(`${berth.url}/clusters/${id}`);
    await hydrated(page);
    await page.getByTestId('delete').click();
    await page.getByTestId('delete-confirm').click();
    await page.waitForURL(/\/jobs\/\d+$/);
    await jobSucceeded(page, 120_000);
  }

  for (const [name, w] of Object.entries({ admin, otto, vic, stranger })) {
    try {
      w.assertClean(assert);
    } catch (e) {
      e.message = `${name}: ${e.message}`;
      throw e;
    }
  }
});
