// Shared helpers for the end-to-end tests: start a real `berth` on a fresh data directory, launch
// Debian's Chromium through playwright-core, and watch every page for console errors and failed
// responses.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, symlinkSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Starts `berth` with a fresh data directory; resolves once it listens. */
export async function startBerth(env = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-e2e-'));
  const bin = resolve(root, process.env.BERTH_BIN ?? 'target/debug/berth');
  const child = spawn(bin, [], {
    cwd: dataDir,
    env: {
      ...process.env,
      BERTH_DATA_DIR: dataDir,
      BERTH_LISTEN: '127.0.0.1:0',
      BERTH_SITE_ROOT: resolve(root, process.env.BERTH_SITE_ROOT ?? 'target/site'),
      BERTH_LOG: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  let setupLink = null;
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('berth did not start within 20 s')), 20_000);
    child.on('error', (err) => fail(new Error(`cannot start ${bin}: ${err.message}`)));
    child.on('exit', (code) => fail(new Error(`berth exited with ${code}`)));
    lines.on('line', (line) => {
      const link = line.match(/(http:\/\/\S+\/setup\?token=[0-9a-f]+)/);
      if (link) setupLink = link[1];
      const listening = line.match(/Berth is listening on (http:\/\/\S+)/);
      if (listening) {
        clearTimeout(timer);
        ok(listening[1]);
      }
    });
  });
  return {
    url,
    setupLink,
    dataDir,
    /** Stops Berth; its data directory goes unless `keepData` (to find leftovers by it first). */
    async stop({ keepData = false } = {}) {
      child.kill('SIGTERM');
      await new Promise((ok) => (child.exitCode !== null ? ok() : child.on('exit', ok)));
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Debian's Chromium, headless, with the flags this machine's closed network needs. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A new page that records console errors and HTTP responses >= 400. `allowed(response)` marks
 * failures a test provokes on purpose; everything else fails the test in `assertClean`.
 */
export async function watchedPage(browser) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  let allowed = () => false;
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !allowed({ console: msg.text() })) problems.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('response', (res) => {
    if (res.status() >= 400 && !allowed({ status: res.status(), url: res.url() })) {
      problems.push(`HTTP ${res.status()} ${res.request().method()} ${res.url()}`);
    }
  });
  return {
    page,
    context,
    allow(fn) {
      allowed = fn;
    },
    assertClean(assert) {
      assert.deepEqual(problems, [], 'no console errors and no unexpected failed responses');
    },
  };
}

/** A tiny image for containers the tests create, imported from busybox-static (no registry). */
export function ensureTestImage(name = 'berth-test/busybox:1') {
  try {
    execFileSync('docker', ['image', 'inspect', name], { stdio: 'ignore' });
    return name;
  } catch {
    /* build it below */
  }
  const dir = mkdtempSync(join(tmpdir(), 'berth-img-'));
  mkdirSync(join(dir, 'bin'));
  execFileSync('cp', ['/bin/busybox', join(dir, 'bin/busybox')]);
  for (const applet of ['sh', 'sleep', 'true', 'echo', 'cat', 'nc']) {
    if (!existsSync(join(dir, 'bin', applet))) symlinkSync('busybox', join(dir, 'bin', applet));
  }
  execFileSync('sh', ['-c', `tar -C ${dir} -c . | docker import - ${name}`], { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
  return name;
}

export function docker(...args) {
  return execFileSync('docker', args, { encoding: 'utf8' }).trim();
}

/** Resolves once the page's wasm has hydrated it (the app marks <html data-hydrated>). */
export async function hydrated(page) {
  await page.waitForSelector('html[data-hydrated]', { state: 'attached', timeout: 15_000 });
}

export const PASSWORD = 'correct horse battery staple';

/** Creates the first admin through the printed setup link; leaves the page on the overview. */
export async function createAdmin(page, berth, username = 'ada') {
  await page.goto(berth.setupLink);
  await hydrated(page);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', PASSWORD);
  await page.fill('input[name=confirm_password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(`${berth.url}/`);
}

/** Containers a Berth with this data directory made (its node containers bind sockets from it). */
export function berthContainers(dataDir) {
  const ids = docker('ps', '-aq', '--filter', 'label=berth.managed=true').split('\n').filter(Boolean);
  return ids.filter((id) => docker('inspect', '-f', '{{range .Mounts}}{{.Source}} {{end}}', id).includes(dataDir));
}

/** Networks of the given containers' clusters, by their ownership labels. */
function berthNetworks(installations) {
  return [...installations].flatMap((i) =>
    docker('network', 'ls', '-q', '--filter', `label=berth.installation=${i}`).split('\n').filter(Boolean));
}

/** Removes what a test's Berth left on the engine (after a failed test), and nothing of anyone else. */
export function removeBerthLeftovers(dataDir) {
  const containers = berthContainers(dataDir);
  const installations = new Set(containers.map((id) =>
    docker('inspect', '-f', '{{index .Config.Labels "berth.installation"}}', id)));
  for (const id of containers) docker('rm', '-fv', id);
  for (const id of berthNetworks(installations)) docker('network', 'rm', id);
}

/** Waits on an operation's page until it succeeded; on failure or timeout, says what the page showed. */
export async function jobSucceeded(page, timeout = 120_000) {
  try {
    await page.getByTestId('job-status').getByText('succeeded', { exact: true }).waitFor({ timeout });
  } catch (e) {
    const shown = await page.locator('body').innerText().catch(() => '(no page)');
    e.message = `${e.message}\nthe operation page at ${page.url()} showed:\n${shown.slice(0, 2000)}`;
    throw e;
  }
}

/**
 * Waits for `locator` to show; on timeout the error says what the page showed instead (a
 * release that failed, an operation's error), so a CI log tells why.
 */
export async function shows(page, locator, timeout = 120_000) {
  try {
    await locator.waitFor({ timeout });
  } catch (e) {
    const shown = await page.locator('main').innerText().catch(() => '(no page)');
    e.message = `${e.message}\nthe page at ${page.url()} showed:\n${shown.slice(0, 3000)}`;
    throw e;
  }
}

/**
 * Clicks `testid` and waits for the server function `endpoint` it calls to answer 200; fails
 * naming the status and body otherwise, or that no answer came (a request the browser dropped).
 */
export async function clickAnswered(page, testid, endpoint, timeout = 30_000) {
  const answer = page
    .waitForResponse((r) => r.url().endsWith(`/api/${endpoint}`), { timeout })
    .catch((e) => {
      e.message = `clicking ${testid}: no answer from /api/${endpoint}: ${e.message}`;
      throw e;
    });
  await page.getByTestId(testid).click();
  const res = await answer;
  if (res.status() !== 200) {
    throw new Error(`clicking ${testid}: /api/${endpoint} answered ${res.status()}: ${(await res.text()).slice(0, 1000)}`);
  }
}

/** Waits until the page has fetched `/api/<endpoint>` `n` more times (a page refreshing itself). */
export async function refreshes(page, endpoint, n = 1) {
  for (let i = 0; i < n; i++) {
    await page.waitForResponse((r) => r.url().endsWith(`/api/${endpoint}`), { timeout: 15_000 });
  }
}

let axeSource;

/**
 * Runs axe-core (WCAG 2.1 A and AA rules) on the page as it is and fails with every serious or
 * critical violation, named with the elements it found. Evaluated through the DevTools protocol, so
 * the page's CSP does not stand in the way and the page itself loads nothing more.
 */
export async function assertAccessible(page, what) {
  axeSource ??= readFileSync(join(root, 'node_modules/axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, {
      resultTypes: ['violations'],
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.slice(0, 4).map((n) => n.target.join(' ')).join(' | ')}`);
  });
  if (violations.length) throw new Error(`${what}: accessibility violations:\n${violations.join('\n')}`);
}
