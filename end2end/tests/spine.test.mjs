// The spine's end-to-end journey in Chromium: create the first admin from the printed link, sign
// out and in, watch the overview show the engine and change without a reload, and the refusals:
// a wrong password, throttling, and a cross-site POST.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { startBerth, launchBrowser, watchedPage, ensureTestImage, docker, hydrated } from '../support.mjs';

const PASSWORD = 'correct horse battery staple';
let berth;
let browser;

before(async () => {
  berth = await startBerth();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await berth?.stop();
});

async function signIn(page, username, password) {
  await page.goto(`${berth.url}/signin`);
  await hydrated(page);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
}

test('first admin, sign out and in, live overview', async () => {
  assert.ok(berth.setupLink, 'berth printed a one-time setup link');
  const { page, assertClean, context } = await watchedPage(browser);

  // The link creates the first admin and signs them in.
  await page.goto(berth.setupLink);
  await hydrated(page);
  await page.fill('input[name=username]', 'ada');
  await page.fill('input[name=display_name]', 'Ada Admin');
  await page.fill('input[name=password]', PASSWORD);
  await page.fill('input[name=confirm_password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(`${berth.url}/`);
  await assert.doesNotReject(page.getByTestId('current-user').getByText('Ada Admin').waitFor());

  // The link is used up.
  const again = await context.newPage();
  await again.goto(berth.setupLink);
  await again.getByTestId('setup-done').waitFor();
  await again.close();

  // Sign out, then sign in again.
  await page.getByTestId('sign-out').click();
  await page.waitForURL(/\/signin$/);
  await page.goto(`${berth.url}/`);
  await page.waitForURL(/\/signin$/, { timeout: 5000 });
  await signIn(page, 'ada', PASSWORD);
  await page.waitForURL(`${berth.url}/`);

  // The overview shows the engine as the engine itself reports it.
  const version = docker('version', '--format', '{{.Server.Version}}');
  await page.getByTestId('engine-version').getByText(version, { exact: true }).waitFor();

  // Hydrated: the theme switch works only with the wasm loaded.
  const dark = () => page.evaluate(() => document.documentElement.classList.contains('dark'));
  const before = await dark();
  await page.getByTestId('theme-toggle').click();
  assert.equal(await dark(), !before, 'theme toggled');

  // Live: a container created behind Berth's back shows up without a reload.
  await page.evaluate(() => (window.__sameDocument = true));
  const total = Number(await page.getByTestId('containers-total').textContent());
  const image = ensureTestImage();
  const name = `berth-e2e-${process.pid}`;
  docker('create', '--name', name, image, 'true');
  try {
    await page.waitForFunction(
      (want) => Number(document.querySelector('[data-testid=containers-total]')?.textContent) >= want,
      total + 1,
      { timeout: 15_000 },
    );
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload happened');
  } finally {
    docker('rm', '-f', name);
  }

  // The first Tab reaches the skip link, which goes to the page's content.
  await page.goto(`${berth.url}/`);
  await hydrated(page);
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'skip-link');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'main');

  // At 390 px the navigation is a drawer over a backdrop; Escape or the backdrop closes it.
  await page.setViewportSize({ width: 390, height: 800 });
  const menu = page.getByTestId('menu');
  assert.equal(await menu.getAttribute('aria-expanded'), 'false');
  await menu.click();
  assert.equal(await menu.getAttribute('aria-expanded'), 'true');
  await page.getByRole('navigation', { name: 'Main' }).getByText('Clusters').waitFor();
  await page.getByTestId('menu-backdrop').waitFor();
  await page.keyboard.press('Escape');
  await page.getByTestId('menu-backdrop').waitFor({ state: 'detached' });
  await menu.click();
  await page.getByTestId('menu-backdrop').click({ position: { x: 370, y: 400 } });
  assert.equal(await menu.getAttribute('aria-expanded'), 'false');
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide <= 390, `the overview fits 390 px (it is ${wide} px wide)`);
  await page.setViewportSize({ width: 1280, height: 800 });

  await page.getByTestId('sign-out').click();
  await page.waitForURL(/\/signin$/);
  assertClean(assert);
});

test('a wrong password is refused at its field', async () => {
  const { page, allow, assertClean } = await watchedPage(browser);
  allow(({ status, url, console }) => status === 422 || (console && /422/.test(console)));
  await signIn(page, 'ada', 'not the password');
  await page.getByTestId('error-password').getByText('wrong username or password').waitFor();
  assert.match(page.url(), /\/signin$/);
  assertClean(assert);
});

test('repeated failures are throttled with Retry-After', async () => {
  const { page, allow, assertClean } = await watchedPage(browser);
  allow(({ status, console }) => status === 422 || status === 429 || (console && /42[29]/.test(console)));
  // An account nobody has: throttling must not tell real accounts from unknown ones.
  for (let i = 0; i < 5; i++) {
    await signIn(page, 'mallory', `guess ${i}`);
    await page.getByTestId('error-password').getByText('wrong username or password').waitFor();
  }
  const refused = page.waitForResponse((r) => r.url().endsWith('/api/sign_in'));
  await signIn(page, 'mallory', 'guess 6');
  const res = await refused;
  assert.equal(res.status(), 429);
  assert.ok(Number(res.headers()['retry-after']) > 0, 'Retry-After names the wait');
  await page.getByTestId('signin-error').getByText(/too many failed attempts/).waitFor();
  assertClean(assert);
});

test('a cross-site POST is refused and signs nobody in', async () => {
  // A page on another origin that posts the sign-in form to Berth.
  const target = `${berth.url}/api/sign_in`;
  const evil = createServer((_, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(`<form id=f method=post action="${target}">
      <input name=username value=ada><input name=password value="${PASSWORD}"></form>
      <script>document.getElementById('f').submit()</script>`);
  });
  await new Promise((ok) => evil.listen(0, 'localhost', ok));
  const { page, context, allow } = await watchedPage(browser);
  allow(({ status }) => status === 403);
  try {
    const response = page.waitForResponse((r) => r.url() === target);
    await page.goto(`http://localhost:${evil.address().port}/`);
    assert.equal((await response).status(), 403);
    const cookies = await context.cookies(berth.url);
    assert.equal(cookies.length, 0, 'no session cookie was set');
    await page.goto(`${berth.url}/`);
    await page.waitForURL(/\/signin$/);
  } finally {
    evil.close();
  }
});
