// The operator view (staff): start a one-off sweep of expired Checkout
// Sessions, follow its task until it is ready, and read payment_stats.

import { $, el, money, show, statusBadge } from "./dom.js";

/** How often a running task is re-read (`GET /api/payments/task_status/`). */
const TASK_POLL_MS = 1000;

export class Operator {
  /** `attempt` runs an API call and shows its error; `showNotice` informs. */
  constructor(api, { attempt, showNotice }) {
    this.api = api;
    this.attempt = attempt;
    this.showNotice = showNotice;
    this.timer = null;
    this.history = [];
    $("#run-sweep").addEventListener("click", () => this.runSweep());
    $("#refresh-stats").addEventListener("click", () => this.loadStats());
  }

  start() {
    this.loadStats();
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
  }

  async runSweep() {
    this.stop();
    const button = $("#run-sweep");
    button.disabled = true;
    const started = await this.attempt(() => this.api.checkExpiredSessions($("#dry-run").checked));
    if (!started) {
      button.disabled = false;
      return;
    }
    this.showNotice(started.message);
    this.history = [];
    $("#task-id").textContent = started.task_id;
    $("#task-status").replaceChildren();
    $("#task-history").textContent = "";
    show($("#task-result"), false);
    show($("#task"), true);
    await this.follow(started.task_id);
  }

  /** Polls the task until it is ready (SUCCESS or FAILURE). */
  async follow(taskId) {
    const task = await this.attempt(() => this.api.taskStatus(taskId));
    if (!task) {
      $("#run-sweep").disabled = false;
      return;
    }
    if (this.history.at(-1) !== task.status) this.history.push(task.status);
    $("#task-status").replaceChildren(statusBadge(task.status, task.message), " ", task.message);
    $("#task-history").textContent = this.history.join(" → ");
    if (!task.ready) {
      this.timer = setTimeout(() => this.follow(taskId), TASK_POLL_MS);
      return;
    }
    const result = $("#task-result");
    result.textContent = JSON.stringify(task.result, null, 2);
    show(result, true);
    $("#run-sweep").disabled = false;
    await this.loadStats();
  }

  async loadStats() {
    const stats = await this.attempt(() => this.api.paymentStats());
    if (stats) $("#stats").replaceChildren(...renderStats(stats));
  }
}

function renderStats(stats) {
  const rows = Object.entries(stats.by_status).map(([status, totals]) =>
    el(
      "tr",
      { dataset: { status } },
      el("td", {}, statusBadge(status, totals.display)),
      el("td", {}, totals.display),
      el("td", { className: "count" }, totals.count),
      el(
        "td",
        { className: "amount" },
        Object.entries(totals.amounts)
          .map(([currency, amount]) => money(amount, currency))
          .join(", ") || "—",
      ),
    ),
  );
  const sources = Object.entries(stats.cancellations_by_source)
    .map(([source, count]) => `${source} ${count}`)
    .join(" · ");
  return [
    el(
      "table",
      { className: "stats" },
      el("thead", {}, el("tr", {}, el("th", {}, "Status"), el("th", {}, "Label"), el("th", {}, "Count"), el("th", {}, "Amount"))),
      el("tbody", {}, ...rows),
    ),
    el(
      "p",
      {},
      "Total payments: ",
      el("strong", { id: "stats-total" }, stats.total_payments),
      " · open with an expired session (the sweep's backlog): ",
      el("strong", { id: "stats-pending-expired" }, stats.pending_expired),
    ),
    el("p", {}, "Cancellations by source: ", sources || "none"),
    el("p", { className: "muted" }, `Generated at ${new Date(stats.generated_at).toLocaleString()}`),
  ];
}
