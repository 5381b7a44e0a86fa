// What the browser tests share: where things are (from scripts/browser-test),
// Debian's Chromium under playwright-core, and the steps a user takes.

import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { chromium } from "playwright-core";

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with scripts/browser-test`);
  return value;
}

export const env = {
  /** The API (payments-api), e.g. http://127.0.0.1:PORT */
  api: required("API_URL"),
  /** The page on its second origin (in ALLOWED_ORIGINS). */
  pageOrigin: required("PAGE_ORIGIN"),
  /** The same page on an origin that is not in ALLOWED_ORIGINS. */
  foreignOrigin: required("FOREIGN_ORIGIN"),
  emulator: required("EMULATOR_URL"),
  workerPid: Number(required("WORKER_PID")),
  chromium: process.env.CHROMIUM ?? "/usr/bin/chromium",
  /** Where to save screenshots of the main screens (docs/img), if anywhere. */
  screenshots: process.env.SCREENSHOT_DIR || null,
};

export const CUSTOMER = { email: "demo@example.com", password: "demo12345" };
export const STAFF = { email: "admin@example.com", password: "admin12345" };

/** The demo page served from `origin`, told where the API is. */
export function demoUrl(origin = env.pageOrigin) {
  return `${origin}/demo/?api=${encodeURIComponent(env.api)}`;
}

export function launch() {
  // launch() gives each run a fresh, temporary user-data-dir. The flags keep
  // Chromium off the network it would otherwise call home to (closed here).
  return chromium.launch({
    executablePath: env.chromium,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** A page in its own context (its own cookies); script errors fail the test. */
export async function newPage(browser) {
  const context = await browser.newContext({
    viewport: { width: 1100, height: 760 },
    locale: "en-US",
  });
  const page = await context.newPage();
  page.scriptErrors = [];
  page.on("pageerror", (error) => page.scriptErrors.push(error.message));
  return page;
}

export async function screenshot(page, name) {
  if (!env.screenshots) return;
  await mkdir(env.screenshots, { recursive: true });
  await page.screenshot({ path: join(env.screenshots, `${name}.png`), fullPage: true });
}

export async function logIn(page, user, origin = env.pageOrigin) {
  await page.goto(demoUrl(origin));
  await page.locator("#login-form").waitFor();
  await page.fill('input[name="email"]', user.email);
  await page.fill('input[name="password"]', user.password);
  await page.click('#login-form button[type="submit"]');
  await page.locator("#shop").waitFor();
  await page.locator(".product").first().waitFor();
}

export function product(page, name) {
  return page.locator(`.product[data-name="${name}"]`);
}

/** The stock the page shows for a product. */
export async function available(page, name) {
  return Number(await product(page, name).locator(".available").getAttribute("data-available"));
}

export async function waitForAvailable(page, name, units) {
  await product(page, name).locator(`.available[data-available="${units}"]`).waitFor({ timeout: 20_000 });
}

/** Buys on the page; answers the Checkout Session id of Stripe's page it lands on. */
export async function buy(page, name, quantity) {
  await product(page, name).locator(".quantity").fill(String(quantity));
  await product(page, name).locator("button.buy").click();
  await page.waitForURL(`${env.emulator}/pay/**`);
  return new URL(page.url()).pathname.split("/").pop();
}

export function paymentRow(page, sessionId) {
  return page.locator(`tr[data-session-id="${sessionId}"]`);
}

export async function waitForStatus(page, sessionId, status, timeout = 20_000) {
  await paymentRow(page, sessionId).locator(`.status[data-status="${status}"]`).waitFor({ timeout });
}

/** A control call to the emulator (docs/stripe-emulator.md). */
export async function emulatorControl(path, body) {
  const response = await fetch(`${env.emulator}/_emulator${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`emulator ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}
