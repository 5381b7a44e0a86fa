// Small DOM helpers. Everything the API returns goes in as text nodes,
// never as HTML, so no answer can inject markup.

export const $ = (selector) => document.querySelector(selector);

/** `el("td", { className: "x", dataset: { id } }, "text", childNode)` */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  const { dataset, ...rest } = props;
  Object.assign(node, rest);
  if (dataset) Object.assign(node.dataset, dataset);
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** A status name as a coloured badge; `data-status` is what tests read. */
export function statusBadge(status, label) {
  return el(
    "span",
    { className: `status status-${status.toLowerCase()}`, title: label ?? "", dataset: { status } },
    status,
  );
}

export const money = (amount, currency) => `${amount} ${currency}`;

export function show(node, visible) {
  node.hidden = !visible;
}
