// Apps in Chromium: on a one-node cluster, paste a Compose template with an error and see it flagged
// at its line, fix it with a variable, fill the variables, deploy and watch the progress, scale,
// deploy a new version, roll back, read the versions and their changes, save a template to the
// catalog and see its variables, delete the app and the cluster.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  startBerth, launchBrowser, watchedPage, hydrated, createAdmin, removeBerthLeftovers, ensureTestImage, jobSucceeded,
  docker,
  assertAccessible,
} from '../support.mjs';

let berth;
let browser;

before(async () => {
  ensureTestImage();
  berth = await startBerth();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await berth?.stop({ keepData: true });
  removeBerthLeftovers(berth.dataDir);
  rmSync(berth.dataDir, { recursive: true, force: true });
});

const BROKEN = `services:
  web:
    image: berth-test/busybox:1
    init: true
    command: ["sh", "-c", "echo \${GREETING:-hi} && exec sleep 100000"]
    deploy:
      replicas: many
`;

/** Waits until the app page's latest operation has ended well. */
async function operationSucceeded(page, title = '', timeout = 120_000) {
  const op = page.getByTestId('operation');
  try {
    await page.locator('[data-testid=operation][data-status=succeeded]').filter({ hasText: title }).waitFor({ timeout });
  } catch (e) {
    e.message = `${e.message}\nthe app page showed:\n${(await page.locator('body').innerText()).slice(0, 2000)}`;
    throw e;
  }
  return op;
}

test('apps: flagged template, variables, deploy with progress, scale, new version, rollback, history, catalog', async () => {
  const { page, assertClean, allow } = await watchedPage(browser);
  await createAdmin(page, berth);

  // A one-node cluster to deploy to.
  await page.goto(`${berth.url}/clusters/new`);
  await hydrated(page);
  await page.getByTestId('cluster-name').fill('apps-e2e');
  await page.getByTestId('cluster-nodes').fill('1');
  await page.getByTestId('create-cluster').click();
  await page.waitForURL(/\/jobs\/\d+$/);
  await jobSucceeded(page);
  await page.getByTestId('job-next').click();
  await page.waitForURL(/\/clusters\/\d+$/);
  const clusterUrl = page.url();

  // From the cluster page to the deploy form.
  await hydrated(page);
  await page.getByTestId('deploy-here').click();
  await page.waitForURL(/\/apps\/new\?cluster=\d+$/);
  await hydrated(page);
  await page.getByTestId('app-cluster').selectOption({ label: 'apps-e2e' });
  await page.getByTestId('app-name').fill('hello');
  await assertAccessible(page, 'the deploy form');

  // The error is flagged at its line, in the list and in the gutter.
  await page.getByTestId('compose').fill(BROKEN);
  await page.getByTestId('check').click();
  const problem = page.locator('[data-testid=diagnostic][data-severity=error]');
  await problem.first().waitFor();
  assert.equal(await problem.first().getAttribute('data-line'), '7');
  assert.match(await problem.first().innerText(), /Line 7 · services\.web\.deploy\.replicas/);
  await page.locator('[data-testid=gutter] [data-line="7"][data-marked=true]').waitFor();
  // The count says what the list holds; clicking the problem selects its line in the editor.
  const listed = await page.locator('[data-testid=diagnostic]').count();
  const counted = await page.getByTestId('problem-count').textContent();
  const total = [...counted.matchAll(/(\d+) (error|warning)/g)].reduce((n, m) => n + Number(m[1]), 0);
  assert.equal(total, listed, `${counted} for ${listed} listed`);
  await problem.first().getByRole('button', { name: 'Line 7' }).click();
  const selected = await page.getByTestId('compose').evaluate((el) => el.value.slice(el.selectionStart, el.selectionEnd));
  assert.equal(selected, BROKEN.split('\n')[6]);
  // A YAML syntax error reads as a sentence at its line, with no empty field between dots.
  await page.getByTestId('compose').fill('services:\n  web:\n    image: [unclosed\n');
  await page.getByTestId('check').click();
  await page.locator('[data-testid=diagnostic][data-severity=error]').first().waitFor();
  assert.doesNotMatch(await page.locator('[data-testid=diagnostic]').first().innerText(), /· *·/);

  // Fixed with a required variable: the form asks for both variables.
  await page.getByTestId('compose').fill(BROKEN.replace('replicas: many', 'replicas: ${REPLICAS:?how many copies}'));
  await page.getByTestId('check').click();
  await page.getByTestId('var-REPLICAS').waitFor();
  await page.getByTestId('var-GREETING').waitFor();
  await page.getByTestId('var-REPLICAS').fill('1');
  await page.getByTestId('var-GREETING').fill('hello');
  await page.getByTestId('check').click();
  await page.getByTestId('check-ok').waitFor();

  // Deploy: the app page shows the operation's progress, then the running service.
  await page.getByTestId('deploy').click();
  await page.waitForURL(/\/apps\/\d+$/);
  const appUrl = page.url();
  await hydrated(page);
  await page.getByTestId('operation').waitFor();
  await operationSucceeded(page);
  assert.ok(await page.locator('[data-testid=op-step]').count() >= 5, 'the steps are listed');
  await page.getByTestId('app-status').getByText('running').waitFor();
  const web = page.locator('[data-testid=service][data-name=web]');
  await web.getByTestId('replicas').getByText('1 of 1 running').waitFor({ timeout: 60_000 });
  await assertAccessible(page, 'the app page');

  // Scale to 2.
  await web.getByTestId('scale-input').fill('2');
  await web.getByTestId('scale').click();
  await page.getByTestId('toast').getByText(/^Scaling/).waitFor();
  await web.getByTestId('replicas').getByText('2 of 2 running').waitFor({ timeout: 60_000 });
  assert.equal(await web.locator('[data-testid=task][data-state=running]').count(), 2);
  // A healthy task's message ("started") is not an error: it is not red.
  const message = web.locator('[data-testid=task][data-state=running] [data-testid=task-message]').first();
  assert.equal(await message.getAttribute('data-error'), 'false');
  assert.doesNotMatch(await message.getAttribute('class'), /red/);

  // A new version: another greeting. Edit says the new version undoes the scale made by hand.
  await page.getByTestId('edit').click();
  await page.getByTestId('undone').getByText('web scaled to 2 (the template says 1)').waitFor();
  await page.getByTestId('var-GREETING').waitFor();
  // Before anything is deployed, the preview says what the version does to each service: the same
  // template only undoes the scale (in place); a new greeting (in the command) replaces the tasks.
  const webPreview = page.locator('[data-testid=preview-service][data-name=web]');
  await webPreview.and(page.locator('[data-change=in_place]')).getByText('replicas: 2 → 1').waitFor();
  await page.getByTestId('var-GREETING').fill('goodbye');
  await page.getByRole('button', { name: 'Check', exact: true }).click();
  await webPreview.and(page.locator('[data-change=replaced]')).getByText(/command: .*hello.* → .*goodbye/).waitFor();
  await page.getByTestId('update').click();
  // While the update runs the page never shows JSON as drift nor "3/2 running".
  assert.doesNotMatch(await page.getByTestId('services').innerText(), /[{}"]|\d\/\d running/);
  // The page is in tabs; a tab is a link that can be shared.
  await page.getByTestId('tab-versions').click();
  await page.waitForURL(/\?tab=versions$/);
  assert.equal(await page.getByTestId('tab-versions').getAttribute('aria-selected'), 'true');
  assert.equal(await page.getByTestId('services').count(), 0, 'the services are on the overview tab');
  await page.locator('[data-testid=version][data-version="2"]').waitFor({ timeout: 30_000 });
  await operationSucceeded(page);

  // Roll back to version 1, confirmed first: version 3 says so, and its changes (under its own
  // row) show the greeting going back.
  const v1 = page.locator('[data-testid=version][data-version="1"]');
  await v1.getByTestId('rollback').click();
  await v1.getByTestId('rollback-confirm').waitFor();
  await page.waitForResponse((r) => r.url().endsWith('/api/get_app'), { timeout: 10_000 });
  assert.equal(await page.locator('[data-testid=version]').count(), 2, 'nothing rolls back before it is confirmed');
  await v1.getByTestId('rollback-yes').click();
  const v3 = page.locator('[data-testid=version][data-version="3"]');
  await v3.waitFor({ timeout: 30_000 });
  await v3.getByText('rollback to version 1').waitFor();
  await operationSucceeded(page);
  await v3.getByTestId('show-diff').click();
  const diff = v3.getByTestId('diff');
  await assertAccessible(page, 'the versions tab');
  await diff.getByText('- #   GREETING = goodbye').waitFor();
  await diff.getByText('+ #   GREETING = hello').waitFor();
  assert.equal(await page.locator('[data-testid=version]').count(), 3);

  // Live resources: a memory limit, kept when the form is opened again.
  await page.getByTestId('tab-overview').click();
  await web.getByTestId('resources').click();
  await web.locator('input[name=limit_memory]').fill('64M');
  await web.getByRole('button', { name: 'Apply' }).click();
  await web.getByTestId('resources-form').waitFor({ state: 'detached' });
  await web.getByTestId('resources').click();
  await web.getByTestId('resources-form').waitFor();
  assert.equal(await web.locator('input[name=limit_memory]').inputValue(), '64M');
  await web.getByTestId('resources').click();

  // Redeploy replaces the task; stop runs nothing; start brings it back.
  await page.getByTestId('redeploy').click();
  await operationSucceeded(page, 'Redeploying');
  await page.getByTestId('stop').click();
  await page.getByTestId('app-status').getByText('stopped').waitFor();
  await web.getByTestId('replicas').getByText('0 of 0 running').waitFor({ timeout: 60_000 });
  await page.getByTestId('start').click();
  await operationSucceeded(page, 'Starting');
  await web.getByTestId('replicas').getByText('1 of 1 running').waitFor({ timeout: 60_000 });
  // The scale, the versions, the redeploy and the stop each stopped containers as asked: the
  // timeline says so without an error, and the running task counts no restart.
  await page.getByTestId('tab-events').click();
  const events = page.getByTestId('events');
  await events.getByText(/stopped on n1 as asked/).first().waitFor({ timeout: 30_000 });
  assert.equal(await events.locator('[data-testid=event][data-severity=error]').count(), 0,
    await events.innerText());
  await page.getByTestId('tab-overview').click();
  const restarts = await web.locator('[data-testid=task][data-state=running] [data-testid=task-restarts]').textContent();
  if (restarts !== '0') {
    // Swarm's own account of the slot's tasks, to tell a planned stop counted wrongly from a real failure.
    const manager = `unix://${join(berth.dataDir, 'clusters', clusterUrl.split('/').pop(), 'n1', 'docker.sock')}`;
    const ids = docker('-H', manager, 'service', 'ps', '-q', '--no-trunc', 'hello_web').split(/\s+/);
    assert.fail(`${restarts} restarts:\n${docker('-H', manager, 'inspect', '--format',
      '{{.Slot}} {{.DesiredState}} {{.Status.State}} {{.Status.Err}} · {{.Status.Message}} · {{.UpdatedAt}}', ...ids)}`);
  }

  // A stack made with the Docker CLI on the cluster's manager is listed there and adopted.
  const clusterId = clusterUrl.split('/').pop();
  const manager = `unix://${join(berth.dataDir, 'clusters', clusterId, 'n1', 'docker.sock')}`;
  const file = join(berth.dataDir, 'ext.yml');
  writeFileSync(file, `version: '3.8'
services:
  probe:
    image: berth-test/busybox:1
    init: true
    command: [sleep, '100000']
    deploy:
      endpoint_mode: dnsrr
`);
  docker('-H', manager, 'stack', 'deploy', '--resolve-image', 'never', '-c', file, 'ext');
  await page.goto(clusterUrl);
  await hydrated(page);

  // The cluster's workload policy: nothing allowed at first; a bad entry is refused at its line and
  // what was typed stays; a good one is saved and listed. The card keeps an edit across refreshes.
  const policy = page.getByTestId('workload-policy');
  await policy.getByTestId('policy-paths-none').waitFor();
  await policy.getByTestId('policy-edit').click();
  await policy.getByTestId('policy-paths-input').fill('/srv/data rw\n/proc');
  // The page refreshes its cluster part every 3 s: the form must survive the next refresh.
  await page.waitForResponse((r) => r.url().endsWith('/api/get_cluster'), { timeout: 10_000 });
  allow(({ status, console }) => status === 422 || (console && /422/.test(console)));
  await policy.getByTestId('policy-save').click();
  await policy.getByTestId('error-paths').getByText(/line 2/).waitFor();
  assert.equal(await policy.getByTestId('policy-paths-input').inputValue(), '/srv/data rw\n/proc', 'nothing typed is lost');
  await policy.getByTestId('policy-paths-input').fill('/srv/data/ rw\n/usr/share');
  await policy.getByTestId('policy-networks-input').fill('shared-net');
  await policy.getByTestId('policy-save').click();
  await policy.getByTestId('policy-paths').getByText('/srv/data').waitFor();
  assert.match(await policy.getByTestId('policy-paths').innerText(), /\/srv\/data\s+read-write[\s\S]*\/usr\/share\s+read-only/);
  await policy.getByTestId('policy-networks').getByText('shared-net').waitFor();
  allow(() => false);
  const stack = page.locator('[data-testid=stack][data-name=ext]');
  await stack.waitFor();
  await stack.getByTestId('adopt').click();
  await page.waitForURL(/\/apps\/\d+$/);
  await hydrated(page);
  await page.getByTestId('tab-versions').click();
  await page.locator('[data-testid=version][data-version="1"]').getByText('adopt').waitFor();
  await page.getByTestId('tab-overview').click();
  const probe = page.locator('[data-testid=service][data-name=probe]');
  await probe.getByTestId('replicas').getByText('1 of 1 running').waitFor({ timeout: 60_000 });
  assert.equal(await probe.getByTestId('drift').count(), 0, 'an adopted stack does not drift');
  // A service that runs 1 of 2 because its second task cannot be placed (at most one per node, and
  // one node) makes the app degraded, never a green "running".
  docker('-H', manager, 'service', 'update', '--detach=false', '--no-resolve-image', '--replicas-max-per-node', '1', 'ext_probe');
  docker('-H', manager, 'service', 'scale', '--detach', 'ext_probe=2');
  await page.getByTestId('app-status').getByText('degraded').waitFor({ timeout: 30_000 });
  // The change behind Berth's back reads as fields, never JSON.
  await probe.getByTestId('drift-field').getByText('replicas: 1 desired, 2 live').waitFor();
  await page.getByTestId('app-message').getByText(/probe runs 1 of 2/).waitFor();
  await page.goto(appUrl);
  await hydrated(page);

  // The apps list has it.
  await page.goto(`${berth.url}/apps`);
  await hydrated(page);
  await page.locator('[data-testid=app-row][data-name=hello]').waitFor();
  await assertAccessible(page, 'the apps list');
  // The table sorts by a column (the second click reverses), and the sort is in the address.
  await page.getByTestId('sort-name').click();
  await page.waitForURL(/\/apps\?sort=name$/);
  const names = async () => page.locator('[data-testid=app-row]').evaluateAll((rows) => rows.map((r) => r.dataset.name));
  await page.waitForFunction(() => document.querySelector('[data-testid=app-row]')?.dataset.name === 'ext');
  assert.deepEqual(await names(), ['ext', 'hello']);
  await page.getByTestId('sort-name').click();
  await page.waitForURL(/\/apps\?sort=name&desc=1$/);
  await page.waitForFunction(() => document.querySelector('[data-testid=app-row]')?.dataset.name === 'hello');
  assert.equal(await page.locator('th[aria-sort=descending]').count(), 1);
  assert.equal(await page.getByTestId('pager-range').textContent(), '2 apps');
  await page.reload();
  await hydrated(page);
  assert.deepEqual(await names(), ['hello', 'ext'], 'a reload shows the same view');

  // A catalog template: its variables are read from the text; deploying from it fills the form.
  // Its check counts its one service; a bad name is said under the name field.
  await page.goto(`${berth.url}/templates/new`);
  await hydrated(page);
  await page.getByTestId('template-name').fill('sleeper!');
  await page.getByTestId('template-description').fill('Sleeps, politely');
  await page.getByTestId('compose').fill(BROKEN.replace('replicas: many', 'replicas: ${REPLICAS:-1}'));
  await page.getByRole('button', { name: 'Check', exact: true }).click();
  await page.getByTestId('check-ok').getByText('No problems: 1 service — web').waitFor();
  allow(({ url, console }) => url?.endsWith('/api/save_template') || (console && /422/.test(console)));
  await page.getByTestId('save-template').click();
  await page.getByTestId('error-name').getByText(/./).waitFor();
  assert.equal(await page.getByTestId('save-error').count(), 0, 'no banner for a field');
  allow(() => false);
  await page.getByTestId('template-name').fill('sleeper');
  await page.getByTestId('save-template').click();
  await page.waitForURL(/\/templates\/\d+$/);
  await hydrated(page);
  await page.getByTestId('template-version').first().waitFor();
  await page.goto(`${berth.url}/templates`);
  await hydrated(page);
  const card = page.locator('[data-testid=template][data-name=sleeper]');
  await card.getByText('GREETING, REPLICAS').waitFor();
  // The catalog's table: the search goes into the address, so the view can be shared.
  await page.getByTestId('list-search').fill('politely');
  await page.getByTestId('list-search-go').click();
  await page.waitForURL(/\/templates\?q=politely$/);
  await card.waitFor();
  await page.getByTestId('list-search').fill('nothing like it');
  await page.getByTestId('list-search-go').click();
  await page.getByTestId('no-match').waitFor();
  await page.getByTestId('list-search-clear').click();
  await page.waitForURL(/\/templates$/);
  await assertAccessible(page, 'the templates table');
  await card.getByTestId('deploy-template').click();
  await page.waitForURL(/\/apps\/new\?template=\d+$/);
  await hydrated(page);
  await page.getByTestId('var-REPLICAS').waitFor();
  assert.match(await page.getByTestId('compose').inputValue(), /REPLICAS:-1/);
  assert.equal(await page.getByTestId('app-name').inputValue(), 'sleeper');
  // The form's template picker shows where the text came from; a Compose file from disk replaces
  // the text, and one too big is refused under the field.
  assert.equal(await page.getByTestId('template-picker').locator('option:checked').textContent(), 'sleeper');
  const upload = join(berth.dataDir, 'upload.yml');
  writeFileSync(upload, 'services:\n  uploaded:\n    image: berth-test/busybox:1\n');
  await page.getByTestId('upload').setInputFiles(upload);
  await page.waitForFunction(() => document.querySelector('[data-testid=compose]').value.includes('  uploaded:'));
  const big = join(berth.dataDir, 'big.yml');
  writeFileSync(big, `# ${'x'.repeat(300 * 1024)}\n`);
  await page.getByTestId('upload').setInputFiles(big);
  await page.getByTestId('error-upload').getByText(/at most 256 KB/).waitFor();
  assert.match(await page.getByTestId('compose').inputValue(), /uploaded:/, 'the text is kept');

  // Templates are deleted in bulk from the table, after a confirmation; a toast says it is done.
  await page.goto(`${berth.url}/templates`);
  await hydrated(page);
  await card.getByTestId('select').check();
  await page.getByTestId('delete-selected').getByText('Delete 1 template').click();
  await page.getByTestId('bulk-confirm').waitFor();
  await page.getByTestId('bulk-yes').click();
  await page.getByTestId('toast').getByText('Deleted 1 template').waitFor();
  await page.getByTestId('no-templates').waitFor();

  // Delete the app (its operation page follows), then the cluster.
  await page.goto(appUrl);
  await hydrated(page);
  await page.getByTestId('delete').click();
  await page.getByTestId('remove-volumes').check();
  await page.getByTestId('delete-confirm').click();
  await page.waitForURL(/\/jobs\/\d+$/);
  await jobSucceeded(page);
  await page.goto(clusterUrl);
  await hydrated(page);
  await page.getByTestId('delete').click();
  await page.getByTestId('delete-confirm').click();
  await page.waitForURL(/\/jobs\/\d+$/);
  await jobSucceeded(page);
  assertClean(assert);
});
