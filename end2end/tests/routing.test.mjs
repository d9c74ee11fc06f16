// Routing in Chromium: on a one-node cluster, set a root domain on the Routing page (a bad one is
// refused at its field), deploy an app with a routing label, see its URL on the app page and its
// route with a healthy backend and a router serving the current table on the Routing page, then
// open the URL in a browser that resolves the domain to the edge node; then release a renamed
// version blue-green from the Edit form: both sides on the app page, the weight typed (kept across
// refreshes) and set to 50 % (both versions answer), confirmed (only the new one answers, the old
// service is gone).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import {
  startBerth, launchBrowser, watchedPage, hydrated, createAdmin, removeBerthLeftovers, ensureTestImage, jobSucceeded,
  assertAccessible, shows, clickAnswered,
} from '../support.mjs';
import { chromium } from 'playwright-core';

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

const SHOP_V2 = `services:
  web-v2:
    image: berth-test/busybox:1
    init: true
    command: ["sh", "-c", "busybox mkdir -p /www && echo v2 > /www/index.html && exec busybox httpd -f -p 8080 -h /www"]
    labels:
      berth.routing.port_8080: shop
`;

const SHOP = `services:
  web:
    image: berth-test/busybox:1
    init: true
    hostname: "{{.Service.Name}}-{{.Task.Slot}}"
    command: ["sh", "-c", "busybox mkdir -p /www && busybox hostname > /www/index.html && exec busybox httpd -f -p 8080 -h /www"]
    labels:
      berth.routing.port_8080: shop
`;

test('routing: root domain, a routed app reached at its domain, routers and routes on the Routing page', async () => {
  const { page, assertClean, allow } = await watchedPage(browser);
  await createAdmin(page, berth);

  await page.goto(`${berth.url}/clusters/new`);
  await hydrated(page);
  await page.getByTestId('cluster-name').fill('routing-e2e');
  await page.getByTestId('cluster-nodes').fill('1');
  await page.getByTestId('create-cluster').click();
  await page.waitForURL(/\/jobs\/\d+$/);
  await jobSucceeded(page);
  await page.getByTestId('job-next').click();
  await page.waitForURL(/\/clusters\/\d+$/);
  const clusterUrl = page.url();

  // The Routing page before anything is routed: no routers, no routes.
  await hydrated(page);
  await page.getByTestId('open-routing').click();
  await page.waitForURL(/\/clusters\/\d+\/routing$/);
  await hydrated(page);
  await page.getByTestId('routers-none').waitFor();
  await page.getByTestId('routes-none').waitFor();

  // A bad root domain is refused at its field; a good one is saved.
  allow(({ status, console }) => status === 422 || /status of 422/.test(console ?? ''));
  await page.getByTestId('root-domain').fill('not a domain');
  await page.getByTestId('routing-save').click();
  await page.getByTestId('error-root_domain').getByText(/is not a domain/).waitFor();
  await page.getByTestId('root-domain').fill('routing-e2e.test');
  await page.getByTestId('routing-save').click();
  await page.getByTestId('toast').getByText('Routing saved').waitFor();
  // A load balancer: a bad name is refused at its field, a good one is listed with no port bound.
  await page.getByTestId('balancer-name').fill('Front_1');
  await page.getByTestId('balancer-create').click();
  await page.getByTestId('error-balancer-name').getByText(/is not a load balancer name/).waitFor();
  await page.getByTestId('balancer-name').fill('front');
  await page.getByTestId('balancer-create').click();
  await page.getByTestId('toast').getByText('Load balancer created').waitFor();
  allow(() => false);
  await page.locator('[data-testid=balancer-row][data-name=front]').getByText('No front port bound.').waitFor();
  assert.equal(await page.getByTestId('root-domain').inputValue(), 'routing-e2e.test');

  // Deploy the routed app.
  await page.goto(`${clusterUrl.replace(/\/clusters\/(\d+)$/, '/apps/new?cluster=$1')}`);
  await hydrated(page);
  await page.getByTestId('app-cluster').selectOption({ label: 'routing-e2e' });
  await page.getByTestId('app-name').fill('shop');
  await page.getByTestId('compose').fill(SHOP);
  await page.getByTestId('check').click();
  await page.getByTestId('check-ok').waitFor();
  await page.getByTestId('deploy').click();
  await page.waitForURL(/\/apps\/\d+$/);
  await hydrated(page);
  await page.locator('[data-testid=operation][data-status=succeeded]').waitFor({ timeout: 120_000 });
  const appUrl = page.url();

  // The app page says where the service is served.
  const link = page.locator('[data-testid=service][data-name=web] [data-testid=route-links] a');
  await link.getByText('http://shop.routing-e2e.test/').waitFor();

  // The Routing page: the route with its backend up, the edge node's router on the current table.
  await page.goto(`${clusterUrl}/routing`);
  await hydrated(page);
  const route = page.locator('[data-testid=route-row]').filter({ hasText: 'http://shop.routing-e2e.test' });
  await route.getByTestId('route-backends').getByText('1 of 1 up').waitFor({ timeout: 60_000 });
  assert.match(await route.innerText(), /shop\/web:8080/);
  const router = page.getByTestId('router-row').first();
  await router.getByText('current').waitFor({ timeout: 30_000 });
  const address = (await router.locator('td').nth(1).innerText()).trim();
  assert.match(address, /^\d+\.\d+\.\d+\.\d+$/);
  // Wait longer than a refresh: the settings form keeps what is typed.
  await page.getByTestId('root-domain').fill('typing.example');
  await page.waitForResponse((r) => r.url().endsWith('/api/get_routing'), { timeout: 15_000 });
  await page.waitForResponse((r) => r.url().endsWith('/api/get_routing'), { timeout: 15_000 });
  assert.equal(await page.getByTestId('root-domain').inputValue(), 'typing.example');
  await assertAccessible(page, 'the routing page');
  const shots = process.env.BERTH_SCREENSHOTS;
  if (shots) await page.screenshot({ path: `${shots}/routing.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  if (shots) await page.screenshot({ path: `${shots}/routing-390.png`, fullPage: true });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `the routing page fits 390 px (scroll width ${width})`);

  // A browser that resolves the domain to the edge node opens the app through the router.
  const visitor = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', `--host-resolver-rules=MAP shop.routing-e2e.test ${address}`],
  });
  try {
    const p = await visitor.newPage();
    const res = await p.goto('http://shop.routing-e2e.test/');
    assert.equal(res.status(), 200);
    assert.equal((await p.locator('body').innerText()).trim(), 'shop_web-1');
    assert.equal(res.headers()['x-berth-router'], undefined, 'the answer is the app\'s, not the router\'s');

    // Blue-green from the Edit form: the renamed service starts beside the old one at weight 0.
    const answers = async (n) => p.evaluate(async (n) => {
      const seen = {};
      for (let i = 0; i < n; i++) {
        const body = (await (await fetch('/', { cache: 'no-store' })).text()).trim();
        seen[body] = (seen[body] ?? 0) + 1;
      }
      return seen;
    }, n);
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(appUrl);
    await hydrated(page);
    await page.getByTestId('edit').click();
    await page.getByTestId('compose').fill(SHOP_V2);
    await page.getByTestId('update-method').selectOption('blue-green');
    await clickAnswered(page, 'update', 'update_app');
    const release = page.getByTestId('release');
    await shows(page, page.locator('[data-testid=release][data-state=awaiting]'));
    assert.match(await release.getByTestId('release-pair').innerText(), /web \(old side\).*web-v2 \(new side\)/s);
    await page.locator('[data-testid=service][data-name=web] [data-testid=release-side]').getByText('old side').waitFor();
    await page.locator('[data-testid=service][data-name=web-v2] [data-testid=release-side]').getByText('new side').waitFor();
    await release.getByTestId('release-served').getByText('Every router serves the new side at 0 %.').waitFor({ timeout: 30_000 });
    assert.deepEqual(await answers(10), { 'shop_web-1': 10 }, 'weight 0: every request on the old side');

    // A weight typed survives the page's refreshes; set, it splits the requests.
    await release.getByTestId('release-weight').fill('50');
    await page.waitForResponse((r) => r.url().includes('/api/get_app'), { timeout: 15_000 });
    await page.waitForResponse((r) => r.url().includes('/api/get_app'), { timeout: 15_000 });
    assert.equal(await release.getByTestId('release-weight').inputValue(), '50');
    await release.getByTestId('release-set-weight').click();
    await page.locator('[data-testid=release][data-weight="50"]').waitFor();
    await release.getByTestId('release-served').getByText('Every router serves the new side at 50 %.').waitFor({ timeout: 30_000 });
    const split = await answers(20);
    assert.ok(split['v2'] >= 6 && split['shop_web-1'] >= 6, `50 %: both versions answer ${JSON.stringify(split)}`);
    if (shots) await page.screenshot({ path: `${shots}/release.png`, fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    if (shots) await page.screenshot({ path: `${shots}/release-390.png`, fullPage: true });
    const releaseWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(releaseWidth <= 390, `the app page with a release fits 390 px (scroll width ${releaseWidth})`);
    await page.setViewportSize({ width: 1280, height: 900 });
    await assertAccessible(page, 'the app page during a release');

    // Confirm, asked first: only the new version answers and the old service is gone.
    await release.getByTestId('release-confirm').click();
    await release.getByTestId('release-sure').click();
    await page.getByTestId('release').waitFor({ state: 'detached', timeout: 120_000 });
    await page.locator('[data-testid=operation][data-status=succeeded]').waitFor({ timeout: 120_000 });
    await page.locator('[data-testid=service][data-name=web]').waitFor({ state: 'detached', timeout: 30_000 });
    assert.deepEqual(await answers(10), { v2: 10 }, 'confirmed: every request on the new side');

    // Progressive from the Edit form: Berth steps 50 → 100 % two seconds apart and confirms.
    await page.getByTestId('edit').click();
    await page.getByTestId('compose').fill(SHOP_V2.replaceAll('web-v2', 'web-v3').replace('echo v2', 'echo v3'));
    await page.getByTestId('update-method').selectOption('progressive');
    await page.getByTestId('progressive-steps').fill('50');
    await page.getByTestId('progressive-interval').fill('2');
    await clickAnswered(page, 'update', 'release_progressive');
    await shows(page, page.getByTestId('progressive-steps-view').getByText('100 %'));
    assert.match(await page.getByTestId('progressive-steps-view').innerText(), /50 %.*100 %.*2 s each/s);
    await page.getByTestId('release').waitFor({ state: 'detached', timeout: 120_000 });
    await page.locator('[data-testid=service][data-name=web-v2]').waitFor({ state: 'detached', timeout: 60_000 });
    assert.deepEqual(await answers(10), { v3: 10 }, 'the progressive release confirmed itself');
    await page.getByTestId('tab-versions').click();
    await page.locator('[data-testid=version][data-version="3"]').getByText(/progressive release from version 2/).waitFor();
  } finally {
    await visitor.close();
  }
  assertClean(assert);
});
