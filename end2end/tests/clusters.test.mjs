// Clusters in Chromium: create one in one click and watch its progress to the end, see the nodes
// Ready, drain one, rebalance an app once it is back (the plan, then Apply: 3/3/0 → 2/2/2), remove one
// (its own operation), and delete the cluster without leftovers. Then a
// cluster on an existing host over mutual TLS: prepare the host (certificate and setup script), start
// a dockerd set up exactly as the script says, test the connection, form the cluster, delete it.
// (One file, in this order: the first journey builds the node image the host runs.)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startBerth, launchBrowser, watchedPage, hydrated, createAdmin, docker, removeBerthLeftovers, berthContainers,
  PASSWORD, jobSucceeded, refreshes, ensureTestImage,
  assertAccessible,
} from '../support.mjs';

let berth;
let browser;
const network = `berth-e2e-hosts-${process.pid}`;
const host = `${network}-h1`;
const certDir = mkdtempSync(join(tmpdir(), 'berth-host-'));
let nodeImage; // the node image Berth built in the first journey; the host runs it too

before(async () => {
  ensureTestImage();
  berth = await startBerth();
  browser = await launchBrowser();
  // A network with a subnet of our own, so the host has a known address for its certificate.
  docker('network', 'create', network);
  const subnet = docker('network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}}', network);
  docker('network', 'rm', network);
  docker('network', 'create', '--subnet', subnet, network);
});

after(async () => {
  await browser?.close();
  await berth?.stop({ keepData: true });
  try { docker('rm', '-fv', host); } catch { /* not started */ }
  try { docker('network', 'rm', network); } catch { /* gone */ }
  rmSync(certDir, { recursive: true, force: true });
  removeBerthLeftovers(berth.dataDir);
  rmSync(berth.dataDir, { recursive: true, force: true });
});

/** Waits on an operation's page until it succeeded, and follows its link back. */
async function finishJob(page) {
  await page.waitForURL(/\/jobs\/\d+$/);
  await jobSucceeded(page, 120_000);
  assert.equal(await page.getByTestId('job-percent').textContent(), '100 %');
  assert.equal(await page.locator('[data-testid=job-steps] li[data-state=done]').count(),
    await page.locator('[data-testid=job-steps] li').count(), 'every step done');
  await page.getByTestId('job-next').click();
}

test('one-click cluster: quota, progress, nodes Ready, drain, roles, labels, rename, add, remove, delete', async () => {
  const { page, assertClean, allow } = await watchedPage(browser);
  await createAdmin(page, berth);

  // A quota of no clusters refuses a creation at once, naming the quota.
  await page.goto(`${berth.url}/settings`);
  await hydrated(page);
  await page.getByTestId('max-clusters').fill('0');
  await page.getByTestId('save-quotas').click();
  await page.getByTestId('saved').waitFor();
  await page.goto(`${berth.url}/clusters/new`);
  await hydrated(page);
  await page.getByTestId('cluster-name').fill('over-quota');
  allow(({ status, console }) => status === 409 || (console && /409/.test(console)));
  await page.getByTestId('create-cluster').click();
  await page.getByTestId('create-error').getByText(/quota of 0 clusters/).waitFor();
  allow(() => false);
  await page.goto(`${berth.url}/settings`);
  await hydrated(page);
  await page.getByTestId('max-clusters').fill('5');
  await page.getByTestId('save-quotas').click();
  await page.getByTestId('saved').waitFor();

  await page.goto(`${berth.url}/clusters`);
  await hydrated(page);
  await page.getByTestId('no-clusters').waitFor();
  await page.getByTestId('new-cluster').click();
  await page.waitForURL(/\/clusters\/new$/);
  // Every wrong field is said at once, under each field.
  await page.getByTestId('cluster-name').fill('e2e-');
  await page.getByTestId('cluster-zones').fill('east, east');
  allow(({ status, console }) => status === 422 || (console && /422/.test(console)));
  await page.getByTestId('create-cluster').click();
  await page.getByTestId('error-name').getByText(/may not end with/).waitFor();
  assert.match(await page.getByTestId('error-zones').textContent(), /listed twice/);
  allow(() => false);
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
  const clusterId = page.url().match(/\/clusters\/(\d+)$/)[1];
  const [someNode] = berthContainers(berth.dataDir);
  const installation = docker('inspect', '-f', '{{index .Config.Labels "berth.installation"}}', someNode);
  nodeImage = docker('inspect', '-f', '{{.Config.Image}}', someNode);
  await page.getByTestId('nodes-ready').getByText('3 / 3').waitFor({ timeout: 30_000 });
  await page.getByTestId('cluster-status').getByText('ready').waitFor();
  assert.equal(await page.getByTestId('zones').textContent(), 'east, west');
  for (const n of ['n1', 'n2', 'n3']) {
    assert.equal(await page.getByTestId(`node-${n}`).getAttribute('data-state'), 'ready');
  }

  // The overview lists it for the admin, above the engine.
  const clusterPage = page.url();
  await page.goto(`${berth.url}/`);
  await hydrated(page);
  await page.locator('[data-testid=overview-cluster][data-name=e2e]').getByText('3 of 3 nodes ready').waitFor();
  await page.getByTestId('containers-running').waitFor();
  await assertAccessible(page, 'the overview');
  // One content width and left edge on every page, narrow forms included.
  const edges = [];
  for (const path of ['/clusters/new', '/settings', '/history', '/users', '/templates', '/account', '/hosts/prepare']) {
    await page.goto(`${berth.url}${path}`);
    await hydrated(page);
    edges.push(await page.getByTestId('page-title').evaluate((el) => Math.round(el.getBoundingClientRect().left)));
  }
  assert.equal(new Set(edges).size, 1, `the pages' titles start at ${edges}`);
  await page.goto(`${berth.url}/clusters`);
  await hydrated(page);
  await page.getByTestId('cluster-e2e').waitFor();
  await assertAccessible(page, 'the clusters list');
  await page.goto(clusterPage);
  await hydrated(page);
  await assertAccessible(page, 'the cluster page');

  // What is being typed or confirmed outlives the page's refreshes: the Rename field (with the
  // caret in it), n2's armed removal, n1's drain confirmation (it is the only manager, so it warns)
  // and the Delete confirmation, all open across two refreshes of the page.
  await page.getByTestId('node-n2').getByRole('button', { name: 'Remove', exact: true }).click();
  await page.getByTestId('node-n1').getByRole('button', { name: 'Drain', exact: true }).click();
  const n1Confirm = page.getByTestId('node-n1').getByRole('alertdialog');
  await n1Confirm.getByTestId('drain-warning').getByText(/only manager/).waitFor();
  await page.getByTestId('delete').click();
  await page.getByTestId('delete-apps').getByText('It has no apps.').waitFor();
  await page.getByTestId('rename').click();
  await page.getByTestId('rename-input').fill('e2e-ren');
  await refreshes(page, 'get_cluster', 2);
  await refreshes(page, 'list_nodes', 1);
  assert.equal(await page.getByTestId('rename-input').inputValue(), 'e2e-ren');
  assert.ok(await page.getByTestId('rename-input').evaluate((el) => el === document.activeElement), 'the caret stays');
  assert.equal(await page.getByTestId('node-n2').getByRole('button', { name: 'Drain and remove' }).count(), 1);
  assert.equal(await n1Confirm.count(), 1, 'the drain confirmation stays');
  assert.equal(await page.getByTestId('delete-dialog').count(), 1, 'the delete confirmation stays');
  await page.getByTestId('delete-cancel').click();
  await n1Confirm.getByRole('button', { name: 'Cancel' }).click();
  await page.getByTestId('node-n2').getByRole('button', { name: 'Keep' }).click();
  await page.getByTestId('rename').click();
  assert.equal(await page.getByTestId('rename-input').count(), 0);

  // Drain n3, confirmed; its buttons keep their places, the pressed one the current availability.
  const n3 = page.getByTestId('node-n3');
  const order = async () => n3.locator('button').evaluateAll((bs) => bs.map((b) => b.textContent));
  const before = await order();
  await n3.getByRole('button', { name: 'Drain', exact: true }).click();
  assert.equal(await n3.getByTestId('drain-warning').count(), 0, 'nothing more to warn about');
  await n3.getByRole('button', { name: 'Drain n3' }).click();
  await n3.getByText('drain', { exact: true }).waitFor();
  assert.deepEqual(await order(), before, 'no button moved');
  assert.equal(await n3.getByRole('button', { name: 'Drain', exact: true }).getAttribute('aria-pressed'), 'true');
  assert.ok(await n3.getByRole('button', { name: 'Drain', exact: true }).isDisabled());

  // Promote n3 to manager and demote it again.
  await n3.getByRole('button', { name: 'Promote' }).click();
  await n3.getByRole('button', { name: 'Demote' }).waitFor({ timeout: 30_000 });
  assert.equal(await page.getByTestId('managers').textContent(), '2');
  await n3.getByRole('button', { name: 'Demote' }).click();
  await n3.getByRole('button', { name: 'Promote' }).waitFor({ timeout: 30_000 });

  // Rebalance: an app deployed while n3 is drained runs 3/3/0, and stays so once n3 is active
  // again. The plan says which tasks would move; Apply, confirmed, moves just those.
  const clusterAt = page.url();
  await page.goto(`${berth.url}/apps/new`);
  await hydrated(page);
  await page.getByTestId('app-cluster').selectOption({ label: 'e2e' });
  await page.getByTestId('app-name').fill('spread');
  await page.getByTestId('compose').fill(`services:
  web:
    image: berth-test/busybox:1
    init: true
    command: ["sleep", "100000"]
    deploy:
      replicas: 6
`);
  await page.getByTestId('check').click();
  await page.getByTestId('check-ok').waitFor();
  await page.getByTestId('deploy').click();
  await page.waitForURL(/\/apps\/\d+$/);
  await hydrated(page);
  await page.locator('[data-testid=operation][data-status=succeeded]').waitFor({ timeout: 120_000 });
  await page.goto(clusterAt);
  await hydrated(page);
  await n3.getByRole('button', { name: 'Activate', exact: true }).click();
  await n3.getByText('active', { exact: true }).waitFor();
  await page.getByTestId('rebalance-check').click();
  const planned = page.locator('[data-testid=rebalance-service][data-service=spread_web]');
  await planned.locator('[data-testid=rebalance-move]').first().waitFor();
  assert.deepEqual(await planned.getByTestId('rebalance-move').allInnerTexts(),
    ['move 1 task of spread_web from n1 to n3', 'move 1 task of spread_web from n2 to n3']);
  await page.getByTestId('rebalance-summary').getByText('2 tasks would move.').waitFor();
  const shots = process.env.BERTH_SCREENSHOTS;
  if (shots) await page.getByTestId('rebalance').screenshot({ path: `${shots}/rebalance.png` });
  await page.setViewportSize({ width: 390, height: 844 });
  if (shots) await page.getByTestId('rebalance').screenshot({ path: `${shots}/rebalance-390.png` });
  const card = await page.getByTestId('rebalance').boundingBox();
  assert.ok(card.x >= 0 && card.x + card.width <= 390, JSON.stringify(card));
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.getByTestId('rebalance-apply').click();
  await page.getByTestId('rebalance-confirm').click();
  await page.getByText('Rebalancing e2e').waitFor();
  await finishJob(page);
  await page.waitForURL(/\/clusters\/\d+$/);
  await hydrated(page);
  await page.getByTestId('rebalance-check').click();
  await page.getByTestId('rebalance-summary').getByText('Every app service is spread evenly: nothing to move.').waitFor();
  assert.match(await planned.innerText(), /n1 2 · n2 2 · n3 2/);

  // n1's page: its engine, and a zone and a label set there.
  const clusterUrl = page.url();
  await page.getByTestId('node-n1').getByRole('link', { name: 'n1' }).click();
  await page.waitForURL(/\/nodes\/\d+$/);
  await page.getByTestId('node-state').getByText('ready').waitFor();
  assert.match(await page.getByTestId('node-engine').textContent(), /\d+\.\d+/);
  await page.getByTestId('node-zone').fill('north');
  await page.getByTestId('node-labels').fill('disk=ssd');
  await page.getByTestId('save-labels').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=node-zone]')?.value === 'north'
    && document.querySelector('[data-testid=node-labels]')?.value === 'disk=ssd', null, { timeout: 15_000 });
  await page.goto(clusterUrl);
  await hydrated(page);

  // Rename the cluster: the form closes, the page and its title say the new name.
  await page.getByTestId('rename').click();
  await page.getByTestId('rename-input').fill('e2e-renamed');
  await page.getByTestId('rename-save').click();
  await page.getByTestId('page-title').getByText('e2e-renamed', { exact: true }).waitFor();
  await page.getByTestId('rename-input').waitFor({ state: 'detached' });
  assert.match(await page.title(), /^e2e-renamed · /);

  // Add a worker: its own operation, then four nodes.
  await page.getByTestId('add-count').fill('1');
  await page.getByTestId('add-nodes').click();
  await page.getByText('Adding nodes to e2e-renamed').waitFor();
  await finishJob(page);
  await page.waitForURL(/\/clusters\/\d+$/);
  await page.getByTestId('nodes-ready').getByText('4 / 4').waitFor({ timeout: 30_000 });
  assert.equal(await page.getByTestId('node-n4').getAttribute('data-state'), 'ready');

  // The nodes table: search and sort (kept in the address), and a bulk drain that says first what
  // it would do, seen against every node of the cluster.
  await page.getByTestId('list-search').fill('n4');
  await page.getByTestId('list-search-go').click();
  await page.waitForURL(/\/clusters\/\d+\?q=n4$/);
  await page.getByTestId('pager-range').getByText('1 node', { exact: true }).waitFor();
  assert.equal(await page.locator('[data-testid=nodes] tbody tr').count(), 1);
  await page.getByTestId('list-search-clear').click();
  await page.getByTestId('pager-range').getByText('4 nodes', { exact: true }).waitFor();
  await page.getByTestId('sort-name').click();
  await page.waitForURL(/\?sort=name$/);
  await page.getByTestId('sort-name').click();
  await page.waitForURL(/\?sort=name&desc=1$/);
  await page.waitForFunction(() =>
    document.querySelector('[data-testid=nodes] tbody tr')?.dataset.testid === 'node-n4');
  await page.getByTestId('select-n1').check();
  await page.getByTestId('select-n4').check();
  await page.getByTestId('drain-selected').getByText('Drain 2 nodes').click();
  const bulk = page.getByTestId('bulk-drain-confirm');
  await bulk.getByTestId('drain-warning').getByText(/n1 is the cluster's only manager/).waitFor();
  await bulk.getByRole('button', { name: 'Cancel' }).click();
  await page.getByTestId('select-n1').uncheck();
  await page.getByTestId('select-n2').check();
  await page.getByTestId('drain-selected').click();
  await bulk.getByRole('button', { name: 'Drain 2 nodes' }).click();
  await bulk.waitFor({ state: 'detached' });
  await page.getByTestId('node-n2').getByText('drain', { exact: true }).waitFor();
  await page.getByTestId('node-n4').getByText('drain', { exact: true }).waitFor();
  assert.equal(await page.getByTestId('node-n1').getByText('active', { exact: true }).count(), 1);

  // Remove n2: confirm, follow the operation, back on the cluster without it.
  const n2 = page.getByTestId('node-n2');
  await n2.getByRole('button', { name: 'Remove', exact: true }).click();
  await n2.getByRole('button', { name: 'Drain and remove' }).click();
  await page.getByText('Removing node n2').waitFor();
  await finishJob(page);
  await page.waitForURL(/\/clusters\/\d+$/);
  await page.getByTestId('nodes-ready').getByText('3 / 3').waitFor({ timeout: 30_000 });
  assert.equal(await page.getByTestId('node-n2').count(), 0);

  // Delete the cluster: nothing is left on the engine.
  await page.getByTestId('delete').click();
  await page.getByTestId('delete-confirm').click();
  await page.getByText('Deleting cluster e2e-renamed').waitFor();
  await finishJob(page);
  await page.waitForURL(/\/clusters$/);
  await page.getByTestId('no-clusters').waitFor();
  assert.deepEqual(berthContainers(berth.dataDir), [], 'no node container is left');
  assert.equal(docker('network', 'ls', '-q', '--filter', `label=berth.cluster=${clusterId}`,
    '--filter', `label=berth.installation=${installation}`), '', 'no cluster network is left');
  assertClean(assert);
});

/** The text between `<<'MARK'` and `MARK` in the setup script. */
function heredoc(script, mark) {
  const start = script.indexOf(`<<'${mark}'\n`) + `<<'${mark}'\n`.length;
  return script.slice(start, script.indexOf(`${mark}\n`, start));
}

test('a cluster on an existing host over mutual TLS', async () => {
  const { page, assertClean } = await watchedPage(browser);
  await page.goto(`${berth.url}/signin`);
  await hydrated(page);
  await page.fill('input[name=username]', 'ada');
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(`${berth.url}/`);
  const subnet = docker('network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}}', network);
  const ip = subnet.split('/')[0].replace(/\.\d+$/, '.210');

  // Berth issues the host's certificate and the script that installs it.
  await page.goto(`${berth.url}/hosts/prepare`);
  await hydrated(page);
  await page.getByTestId('host-addresses').fill(ip);
  await page.getByTestId('prepare-host').click();
  const script = await page.getByTestId('host-script').inputValue();
  assert.match(script, /--tlsverify/);
  assert.match(await page.getByTestId('ca-fingerprint').textContent(), /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);

  // The host: a dockerd configured as the script configures one.
  writeFileSync(join(certDir, 'ca.pem'), heredoc(script, 'BERTH_CA'));
  writeFileSync(join(certDir, 'server-cert.pem'), heredoc(script, 'BERTH_CERT'));
  writeFileSync(join(certDir, 'server-key.pem'), heredoc(script, 'BERTH_KEY'));
  docker('run', '-d', '--init', '--name', host, '--hostname', 'edge-host', '--network', network, '--ip', ip,
    '--cap-add', 'ALL', '--cap-drop', 'SYS_RESOURCE', '--security-opt', 'seccomp=unconfined',
    '--security-opt', 'apparmor=unconfined', '--security-opt', 'systempaths=unconfined',
    '--device-cgroup-rule', 'a *:* rwm', '-v', '/usr:/usr:ro', '-v', '/etc/alternatives:/etc/alternatives:ro',
    '-v', `${certDir}:/etc/docker/berth:ro`, nodeImage,
    '--tlsverify', '--tlscacert=/etc/docker/berth/ca.pem', '--tlscert=/etc/docker/berth/server-cert.pem',
    '--tlskey=/etc/docker/berth/server-key.pem', '-H', 'unix:///var/run/docker.sock', '-H', 'tcp://0.0.0.0:2376',
    '--storage-driver', 'overlay2');

  // New cluster from existing hosts: the connection test passes, the cluster forms.
  await page.goto(`${berth.url}/clusters/new`);
  await hydrated(page);
  await page.getByTestId('mode-hosts').click();
  await page.getByTestId('cluster-name').fill('edge');
  await page.getByTestId('cluster-hosts').fill(`tcp://${ip}:2376`);
  const results = page.getByTestId('probe-results');
  for (let i = 0; i < 30; i++) {
    await page.getByTestId('probe-hosts').click();
    await results.waitFor();
    if ((await results.locator('li').first().getAttribute('data-ok')) === 'true') break;
    await page.waitForTimeout(500); // the host's dockerd is still starting
  }
  assert.equal(await results.locator('li').first().getAttribute('data-ok'), 'true', await results.textContent());
  await page.getByTestId('create-cluster').click();
  await page.waitForURL(/\/jobs\/\d+$/);
  await jobSucceeded(page, 90_000);
  await page.getByTestId('job-next').click();
  await page.waitForURL(/\/clusters\/\d+$/);
  await page.getByTestId('nodes-ready').getByText('1 / 1').waitFor({ timeout: 30_000 });
  assert.equal(docker('exec', host, 'docker', 'info', '--format', '{{.Swarm.LocalNodeState}}'), 'active');

  // Deleting the cluster releases the host.
  await page.getByTestId('delete').click();
  await page.getByTestId('delete-confirm').click();
  await jobSucceeded(page, 60_000);
  assert.equal(docker('exec', host, 'docker', 'info', '--format', '{{.Swarm.LocalNodeState}}'), 'inactive');
  assertClean(assert);
});
