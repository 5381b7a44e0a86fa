// The payments API as a browser frontend sees it: a base URL that may be
// another origin (CORS with credentials), the session in an HttpOnly cookie
// the page never sees, and Django's double-submit CSRF header on every
// unsafe request.

const STORAGE_KEY = "payments-demo:api-base";

/** An error answer of the API; `message` is its `detail` for the user. */
export class ApiError extends Error {
  constructor(status, body) {
    super(describe(status, body));
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }
}

function describe(status, body) {
  if (body && typeof body === "object") {
    if (typeof body.detail === "string") return body.detail;
    // Validation errors are DRF's {"field": ["message", ...]}.
    const fields = Object.entries(body).filter(([, v]) => Array.isArray(v));
    if (fields.length > 0) {
      return fields.map(([field, messages]) => `${field}: ${messages.join(" ")}`).join("; ");
    }
  }
  return `The API answered ${status}.`;
}

function normalise(raw) {
  const url = new URL(raw);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`The API address must be http(s): ${raw}`);
  }
  return (url.origin + url.pathname).replace(/\/+$/, "");
}

/**
 * Where the API is: `?api=` (kept in sessionStorage, because Stripe sends
 * the customer back to FRONTEND_URL without it), else the page's
 * `<meta name="payments-api">`, else the page's own origin.
 */
export function resolveApiBase() {
  const fromQuery = new URLSearchParams(window.location.search).get("api");
  if (fromQuery) sessionStorage.setItem(STORAGE_KEY, normalise(fromQuery));
  const stored = sessionStorage.getItem(STORAGE_KEY);
  if (stored) return stored;
  const meta = document.querySelector('meta[name="payments-api"]')?.content.trim();
  return meta ? normalise(meta) : window.location.origin;
}

/** A cookie this page can read (`sessionid` is HttpOnly, so never that one). */
export function readCookie(name) {
  for (const pair of document.cookie.split(";")) {
    const [key, ...value] = pair.trim().split("=");
    if (key === name) return decodeURIComponent(value.join("="));
  }
  return null;
}

/** A key for `Idempotency-Key` (crypto.randomUUID needs a secure context). */
export function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class Api {
  constructor(base) {
    this.base = base;
  }

  /**
   * One request. Cookies go with it (`credentials: "include"`), also to
   * another origin; unsafe methods carry `X-CSRFToken`.
   */
  async request(method, path, { body, headers = {}, csrf } = {}) {
    const init = {
      method,
      credentials: "include",
      headers: { Accept: "application/json", ...headers },
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (method !== "GET") init.headers["X-CSRFToken"] = csrf ?? (await this.csrfToken());
    let response;
    try {
      response = await fetch(this.base + path, init);
    } catch (error) {
      // A network failure and a CORS refusal look the same from here.
      throw new ApiError(0, {
        detail: `Cannot reach the API at ${this.base} (${error.message}). Is it running, and is this page's origin (${window.location.origin}) in ALLOWED_ORIGINS?`,
      });
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = { detail: `The API answered ${response.status} with a body that is not JSON.` };
      }
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  get(path) {
    return this.request("GET", path);
  }

  post(path, body, headers) {
    return this.request("POST", path, { body, headers });
  }

  /**
   * The token for `X-CSRFToken`: the `csrftoken` cookie, readable when the
   * page is on the API's host (cookies are not kept apart by port), else
   * what `GET /api/auth/csrf/` answers (it also sets the cookie).
   */
  async csrfToken() {
    return readCookie("csrftoken") ?? (await this.get("/api/auth/csrf/")).csrfToken;
  }

  async login(email, password) {
    // A fresh token first: login checks it, then rotates the cookie.
    const { csrfToken } = await this.get("/api/auth/csrf/");
    return this.request("POST", "/api/auth/login/", { body: { email, password }, csrf: csrfToken });
  }

  logout() {
    return this.post("/api/auth/logout/");
  }

  me() {
    return this.get("/api/auth/me/");
  }

  products() {
    return this.get("/api/products/?page_size=100");
  }

  payments() {
    return this.get("/api/payments/?page_size=20");
  }

  paymentStatus(id) {
    return this.get(`/api/payments/${encodeURIComponent(id)}/status/`);
  }

  checkout(items, couponCode) {
    const body = couponCode ? { items, coupon_code: couponCode } : { items };
    return this.post("/api/payments/checkout/", body, { "Idempotency-Key": newIdempotencyKey() });
  }

  cancel(id) {
    return this.post(`/api/payments/${encodeURIComponent(id)}/cancel/`);
  }

  checkExpiredSessions(dryRun) {
    return this.post("/api/payments/check_expired_sessions/", { dry_run: dryRun });
  }

  taskStatus(taskId) {
    return this.get(`/api/payments/task_status/?task_id=${encodeURIComponent(taskId)}`);
  }

  paymentStats() {
    return this.get("/api/payments/payment_stats/");
  }
}
