// The demo page in a real browser (Debian's Chromium), served from a second
// origin and talking to payments-api, payments-worker and the Stripe
// emulator that scripts/browser-test started. Tests run one after another
// against one database; each uses its own product so stock counts are its own.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  CUSTOMER,
  STAFF,
  available,
  buy,
  demoUrl,
  emulatorControl,
  env,
  launch,
  logIn,
  newPage,
  paymentRow,
  screenshot,
  waitForAvailable,
  waitForStatus,
} from "./helpers.mjs";

const TIMEOUT = { timeout: 90_000 };
let browser;

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

/** Every test ends with no uncaught script error on its page. */
async function withPage(body) {
  const page = await newPage(browser);
  try {
    await body(page);
    assert.deepEqual(page.scriptErrors, [], "uncaught errors in the page");
  } finally {
    await page.context().close();
  }
}

test("a wrong password shows the API's detail, and the session cookie stays out of the page's reach", TIMEOUT, () =>
  withPage(async (page) => {
    await page.goto(demoUrl());
    await page.locator("#login-form").waitFor();
    await screenshot(page, "demo-login");

    await page.fill('input[name="email"]', CUSTOMER.email);
    await page.fill('input[name="password"]', "not-the-password");
    await page.click('#login-form button[type="submit"]');
    const error = page.locator("#error");
    await error.waitFor();
    assert.match(await error.textContent(), /password/i);

    await logIn(page, CUSTOMER);
    const cookies = await page.context().cookies(env.api);
    const session = cookies.find((c) => c.name === "sessionid");
    assert.ok(session, "login set a sessionid cookie");
    assert.equal(session.httpOnly, true);
    const script = await page.evaluate(() => document.cookie);
    assert.ok(!script.includes("sessionid"), `document.cookie shows the session: ${script}`);
    assert.ok(script.includes("csrftoken="), "the CSRF cookie is meant to be readable");
    assert.equal(await page.locator("#operator").isVisible(), false, "operator view hidden from customers");
  }),
);

test("buying then cancelling gives the stock back on the page", TIMEOUT, () =>
  withPage(async (page) => {
    await logIn(page, CUSTOMER);
    const before = await available(page, "Demo mug");

    const sessionId = await buy(page, "Demo mug", 2);
    await page.getByText("Demo mug × 2").waitFor();
    await screenshot(page, "emulator-checkout");
    await page.getByText("Back (cancel)").click();
    await page.waitForURL("**/demo/checkout/cancel");
    await waitForStatus(page, sessionId, "PENDING");
    await waitForAvailable(page, "Demo mug", before - 2);
    await screenshot(page, "demo-shop");

    await paymentRow(page, sessionId).locator("button.cancel").click();
    await waitForStatus(page, sessionId, "CANCELLED");
    await waitForAvailable(page, "Demo mug", before);
    assert.match(await page.locator("#notice").textContent(), /cancel/i);
  }),
);

test("a session that expires in the emulator shows CANCELLED without a reload", TIMEOUT, () =>
  withPage(async (page) => {
    await logIn(page, CUSTOMER);
    const before = await available(page, "Demo hoodie");
    const sessionId = await buy(page, "Demo hoodie", 1);
    await page.getByText("Back (cancel)").click();
    await waitForStatus(page, sessionId, "PENDING");
    await waitForAvailable(page, "Demo hoodie", before - 1);

    // Survives only if the document is not reloaded.
    await page.evaluate(() => {
      window.sameDocument = true;
    });
    await emulatorControl(`/sessions/${sessionId}/expire`);
    // Emulator webhook → API → queue → worker → status poll.
    await waitForStatus(page, sessionId, "CANCELLED");
    await waitForAvailable(page, "Demo hoodie", before);
    assert.equal(await page.evaluate(() => window.sameDocument), true, "the page was reloaded");
    assert.equal(await paymentRow(page, sessionId).locator("button.cancel").count(), 0);
  }),
);

test("paying with the test card returns to the success page, where the payment turns COMPLETED", TIMEOUT, () =>
  withPage(async (page) => {
    await logIn(page, CUSTOMER);
    const before = await available(page, "Demo T-shirt");
    const sessionId = await buy(page, "Demo T-shirt", 1);
    await page.getByRole("button", { name: "Pay with card 4242 4242 4242 4242" }).click();
    await page.waitForURL(
      (url) => url.pathname === "/demo/checkout/success" && url.searchParams.get("session_id") === sessionId,
    );
    assert.match(await page.locator("#notice").textContent(), new RegExp(sessionId));
    await waitForStatus(page, sessionId, "COMPLETED");
    // Sold, not given back.
    assert.equal(await available(page, "Demo T-shirt"), before - 1);
    assert.equal(await paymentRow(page, sessionId).locator("button.cancel").count(), 0);
    await screenshot(page, "demo-success");
  }),
);

test("a declined card leaves the payment FAILED with Stripe's reason, still cancellable", TIMEOUT, () =>
  withPage(async (page) => {
    await logIn(page, CUSTOMER);
    const before = await available(page, "Demo sticker pack");
    const sessionId = await buy(page, "Demo sticker pack", 3);
    await page.getByRole("button", { name: "Pay with declined card 4000 0000 0000 0002" }).click();
    await page.getByText("Your card was declined.").waitFor();
    await page.getByText("Back (cancel)").click();
    await waitForStatus(page, sessionId, "FAILED");
    assert.match(await paymentRow(page, sessionId).textContent(), /declined/i);

    await paymentRow(page, sessionId).locator("button.cancel").click();
    await waitForStatus(page, sessionId, "CANCELLED");
    await waitForAvailable(page, "Demo sticker pack", before);
  }),
);

test("a cancel request without the CSRF header is refused with 403", TIMEOUT, () =>
  withPage(async (page) => {
    await logIn(page, CUSTOMER);
    const answers = await page.evaluate(async (api) => {
      const csrf = document.cookie.match(/(?:^|; )csrftoken=([^;]*)/)[1];
      const productId = Number(document.querySelector(".product").dataset.productId);
      const call = async (path, headers) => {
        const response = await fetch(api + path, {
          method: "POST",
          credentials: "include",
          headers: { "Content-Type": "application/json", ...headers },
          body: path.endsWith("checkout/") ? JSON.stringify({ items: [{ product_id: productId, quantity: 1 }] }) : undefined,
        });
        return { status: response.status, body: await response.json() };
      };
      const checkout = await call("/api/payments/checkout/", { "X-CSRFToken": csrf });
      const cancel = `/api/payments/${checkout.body.payment_id}/cancel/`;
      const refused = await call(cancel, {});
      const status = await fetch(`${api}/api/payments/${checkout.body.payment_id}/status/`, {
        credentials: "include",
      }).then((r) => r.json());
      // Clean up with the header: the same call, accepted.
      const accepted = await call(cancel, { "X-CSRFToken": csrf });
      return { checkout, refused, statusAfterRefusal: status.payment_status, accepted };
    }, env.api);
    assert.equal(answers.checkout.status, 201, JSON.stringify(answers.checkout.body));
    assert.equal(answers.refused.status, 403);
    assert.match(answers.refused.body.detail, /CSRF/);
    assert.equal(answers.statusAfterRefusal, "PENDING", "a refused cancel changes nothing");
    assert.equal(answers.accepted.status, 200);
    assert.equal(answers.accepted.body.payment_status, "CANCELLED");
  }),
);

test("the page payments-api serves itself works on its own origin, within its CSP", TIMEOUT, () =>
  withPage(async (page) => {
    const violations = [];
    page.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    // No ?api=: a page on the API's origin talks to that origin.
    await page.goto(`${env.api}/demo/`);
    assert.equal(await page.locator("#api-base").textContent(), env.api);
    await page.fill('input[name="email"]', CUSTOMER.email);
    await page.fill('input[name="password"]', CUSTOMER.password);
    await page.click('#login-form button[type="submit"]');
    await page.locator(".product").first().waitFor();
    assert.ok((await page.locator(".product").count()) >= 4, "the seed's products are listed");
    assert.deepEqual(violations, []);
  }),
);

test("the page on an origin missing from ALLOWED_ORIGINS cannot use the API", TIMEOUT, () =>
  withPage(async (page) => {
    await page.goto(demoUrl(env.foreignOrigin));
    const error = page.locator("#error");
    await error.waitFor();
    assert.match(await error.textContent(), /ALLOWED_ORIGINS/);
    assert.equal(await page.locator("#shop").isVisible(), false);
  }),
);

test("an operator run of the sweep shows its task going PENDING to SUCCESS", TIMEOUT, () =>
  withPage(async (page) => {
    await logIn(page, STAFF);
    await page.locator("#operator").waitFor();
    await page.locator("#stats table.stats").waitFor();

    // With the worker paused the job cannot start, so the page must show
    // the task PENDING; once resumed it must get to SUCCESS on its own.
    process.kill(env.workerPid, "SIGSTOP");
    try {
      await page.click("#run-sweep");
      await page.locator('#task-status .status[data-status="PENDING"]').waitFor();
    } finally {
      process.kill(env.workerPid, "SIGCONT");
    }
    await page.locator('#task-status .status[data-status="SUCCESS"]').waitFor({ timeout: 30_000 });
    const history = await page.locator("#task-history").textContent();
    assert.match(history, /^PENDING( → \w+)* → SUCCESS$/);
    await page.locator("#task-result").waitFor();
    const result = JSON.parse(await page.locator("#task-result").textContent());
    assert.equal(typeof result, "object");
    assert.notEqual(await page.locator("#stats-total").textContent(), "");
    await screenshot(page, "demo-operator");
  }),
);
