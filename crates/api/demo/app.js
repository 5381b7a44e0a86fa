// The demo storefront: log in, buy through Stripe's hosted checkout, watch
// and cancel your payments; staff also get the operator view.

import { Api, ApiError, resolveApiBase } from "./api.js";
import { $, el, money, show, statusBadge } from "./dom.js";
import { Operator } from "./operator.js";

/** How often open payments are re-read (`GET /api/payments/{id}/status/`). */
const POLL_MS = 1500;
/** Payments that can still change without anyone acting on this page. */
const OPEN = new Set(["PENDING", "FAILED"]);

const state = {
  api: null,
  user: null,
  operator: null,
  products: [],
  payments: new Map(),
  pollTimer: null,
  /** The session Stripe just sent the customer back from, if any. */
  returnedSession: null,
};

// ---------------------------------------------------------------- messages

function showError(error) {
  const banner = $("#error");
  banner.textContent = error instanceof Error ? error.message : String(error);
  show(banner, true);
}

function clearError() {
  show($("#error"), false);
}

function showNotice(text) {
  const banner = $("#notice");
  banner.textContent = text;
  show(banner, true);
}

/** Runs an action, showing its error's `detail`; a lost session logs out. */
async function attempt(action) {
  try {
    clearError();
    return await action();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401 && state.user) {
      leave();
    }
    showError(error);
    return undefined;
  }
}

/** Stripe sends the customer back to FRONTEND_URL/checkout/{success,cancel}. */
function noticeFromCheckoutReturn() {
  const path = window.location.pathname;
  const params = new URLSearchParams(window.location.search);
  if (path.endsWith("/checkout/success")) {
    state.returnedSession = params.get("session_id");
    showNotice(
      `Stripe took your payment (session ${state.returnedSession}). ` +
        "Its status below turns COMPLETED as soon as the service hears from Stripe.",
    );
  } else if (path.endsWith("/checkout/cancel")) {
    showNotice(
      "You left Stripe's checkout page. The payment stays PENDING: pay it from the list, " +
        "cancel it, or let its session expire.",
    );
  }
}

// ---------------------------------------------------------------- session

async function enter(user) {
  state.user = user;
  $("#who").textContent = user.is_staff ? `${user.email} (staff)` : user.email;
  show($("#logout"), true);
  show($("#login"), false);
  show($("#shop"), true);
  show($("#payments"), true);
  $("#payments-title").textContent = user.is_staff ? "Payments (all customers)" : "My payments";
  show($("#operator"), user.is_staff);
  if (user.is_staff) state.operator.start();
  await Promise.all([loadProducts(), loadPayments()]);
  schedulePoll();
}

/** Back to the login form (after logout, or when the session is gone). */
function leave() {
  state.user = null;
  clearTimeout(state.pollTimer);
  state.operator.stop();
  state.payments.clear();
  $("#who").textContent = "";
  for (const id of ["#logout", "#shop", "#payments", "#operator"]) show($(id), false);
  show($("#login"), true);
}

async function onLogin(event) {
  event.preventDefault();
  const form = event.target;
  const button = form.querySelector("button");
  button.disabled = true;
  const user = await attempt(() => state.api.login(form.email.value, form.password.value));
  button.disabled = false;
  if (user) {
    form.reset();
    await enter(user);
  }
}

async function onLogout() {
  await attempt(() => state.api.logout());
  leave();
}

// ---------------------------------------------------------------- products

async function loadProducts() {
  const page = await attempt(() => state.api.products());
  if (!page) return;
  state.products = page.results;
  renderProducts();
}

function renderProducts() {
  const cards = state.products.map((product) => {
    const quantity = el("input", {
      type: "number",
      min: 1,
      max: Math.max(product.available, 1),
      value: 1,
      className: "quantity",
      ariaLabel: `Quantity of ${product.name}`,
    });
    const buy = el("button", { type: "button", className: "buy", disabled: product.available < 1 }, "Buy");
    buy.addEventListener("click", () => onBuy(product, Number(quantity.value), buy));
    return el(
      "article",
      { className: "product", dataset: { productId: product.id, name: product.name } },
      el("h3", {}, product.name),
      el("p", { className: "price" }, money(product.price, product.currency)),
      el(
        "p",
        { className: "available", dataset: { available: product.available } },
        product.available > 0 ? `${product.available} available` : "Sold out",
      ),
      el("div", { className: "buy-row" }, quantity, buy),
    );
  });
  $("#products").replaceChildren(...cards);
}

async function onBuy(product, quantity, button) {
  button.disabled = true;
  const coupon = $("#coupon").value.trim();
  const checkout = await attempt(() =>
    state.api.checkout([{ product_id: product.id, quantity }], coupon || undefined),
  );
  if (checkout?.checkout_url) {
    showNotice(`Order placed: ${money(checkout.amount, checkout.currency)}. Taking you to Stripe's checkout…`);
    window.location.assign(checkout.checkout_url);
    return;
  }
  if (checkout) showError("The checkout has no Stripe page to go to.");
  button.disabled = false;
  await loadProducts();
}

// ---------------------------------------------------------------- payments

async function loadPayments() {
  const page = await attempt(() => state.api.payments());
  if (!page) return;
  state.payments = new Map(page.results.map((p) => [p.payment_id, p]));
  renderPayments();
}

function renderPayments() {
  const payments = [...state.payments.values()].sort((a, b) => b.created_at.localeCompare(a.created_at));
  $("#payment-rows").replaceChildren(...payments.map(paymentRow));
  show($("#no-payments"), payments.length === 0);
}

function paymentRow(payment) {
  const stripe = payment.stripe;
  const open = OPEN.has(payment.payment_status);
  const actions = el("td", { className: "row-actions" });
  if (open && stripe?.session_status === "open" && stripe.checkout_url) {
    actions.append(el("a", { href: stripe.checkout_url, className: "button secondary" }, "Pay"));
  }
  if (open) {
    const cancel = el("button", { type: "button", className: "cancel danger" }, "Cancel");
    cancel.addEventListener("click", () => onCancel(payment.payment_id, cancel));
    actions.append(cancel);
  }
  const current = stripe && stripe.session_id === state.returnedSession;
  return el(
    "tr",
    {
      className: current ? "current" : "",
      dataset: { paymentId: payment.payment_id, sessionId: stripe?.session_id ?? "" },
    },
    el("td", {}, new Date(payment.created_at).toLocaleString()),
    el("td", { className: "amount" }, money(payment.amount, payment.currency)),
    el(
      "td",
      {},
      statusBadge(payment.payment_status, payment.payment_status_display),
      payment.error_message ? el("div", { className: "error-text" }, payment.error_message) : null,
    ),
    el(
      "td",
      { className: "session" },
      stripe ? `${stripe.session_status ?? "?"} · ${stripe.payment_status ?? "?"}` : "—",
    ),
    actions,
  );
}

async function onCancel(id, button) {
  button.disabled = true;
  const answer = await attempt(() => state.api.cancel(id));
  if (answer) {
    showNotice(answer.warning ? `${answer.message}. ${answer.warning}` : answer.message);
  }
  // Also after a refusal (e.g. 409, paid meanwhile): show what it is now.
  await refreshPayment(id);
  renderPayments();
  await loadProducts();
}

async function refreshPayment(id) {
  const fresh = await attempt(() => state.api.paymentStatus(id));
  if (!fresh) return false;
  const before = state.payments.get(id)?.payment_status;
  state.payments.set(id, fresh);
  return before !== fresh.payment_status;
}

/** Re-reads open payments; a change may have given stock back. */
async function pollOpenPayments() {
  const open = [...state.payments.values()].filter((p) => OPEN.has(p.payment_status));
  let changed = false;
  for (const payment of open) {
    if (!state.user) return;
    changed = (await refreshPayment(payment.payment_id)) || changed;
  }
  if (changed) {
    renderPayments();
    await loadProducts();
  }
}

function schedulePoll() {
  clearTimeout(state.pollTimer);
  state.pollTimer = setTimeout(async () => {
    await pollOpenPayments();
    if (state.user) schedulePoll();
  }, POLL_MS);
}

// ---------------------------------------------------------------- start

async function main() {
  try {
    state.api = new Api(resolveApiBase());
  } catch (error) {
    showError(error);
    return;
  }
  $("#api-base").textContent = state.api.base;
  state.operator = new Operator(state.api, { attempt, showNotice });
  $("#login-form").addEventListener("submit", onLogin);
  $("#logout").addEventListener("click", onLogout);
  noticeFromCheckoutReturn();
  try {
    await enter(await state.api.me());
  } catch (error) {
    leave();
    // Not logged in is the normal start; anything else is worth saying.
    if (!(error instanceof ApiError && error.status === 401)) showError(error);
  }
}

main();
