// The viewer's page: the recent traces (polled every second), a search box, and the waterfall of
// the trace opened. Everything shown is built with DOM calls, never parsed as HTML, since span
// names and attributes come from whoever sends spans.
import { formatDuration, paletteSlot, pathBesideName } from "./format.js";

const POLL_MS = 1000;
const SEARCH_DEBOUNCE_MS = 200;
const SERVICE_PALETTE_SIZE = 10;
const AXIS_TICKS = 5;

const state = {
  query: "",
  /** @type {string | undefined} */
  openTraceId: undefined,
  /** The span count the open trace had when drawn: a change means spans arrived. */
  openSpanCount: 0,
  /** @type {string | undefined} */
  selectedSpanId: undefined,
  lastListJson: "",
};

const $ = (id) => document.getElementById(id);

/**
 * A DOM element with attributes (`class`, `data-*`, `on*` handlers…) and children (nodes or text).
 * @param {string} tag
 * @param {Record<string, unknown>} [attributes]
 * @param {...(Node | string | null | undefined | false)} children
 */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "style") Object.assign(node.style, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child !== undefined && child !== null && child !== false) node.append(child);
  }
  return node;
}

const serviceSlot = (service) => paletteSlot(service, SERVICE_PALETTE_SIZE);
const shortId = (id) => `${id.slice(0, 8)}…`;

function clockTime(unixNano) {
  return new Date(Number(BigInt(unixNano) / 1_000_000n)).toLocaleTimeString([], {
    hour12: false,
  });
}

/** An attribute value as text: strings as they are, anything else as JSON. */
function valueText(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

async function getJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return await response.json();
}

// ---------------------------------------------------------------------------------------------
// The list of traces

async function refreshList() {
  const query = state.query;
  const params = new URLSearchParams({ q: query });
  let data;
  try {
    data = await getJson(`/api/traces?${params}`);
  } catch {
    $("status").textContent = "viewer unreachable";
    $("status").classList.add("offline");
    return;
  }
  if (query !== state.query) return; // a newer search is on its way
  $("status").classList.remove("offline");
  $("status").textContent = query
    ? `${data.matched} of ${data.stored} traces match`
    : `${data.stored} trace${data.stored === 1 ? "" : "s"} · live`;
  const json = JSON.stringify(data.traces);
  if (json !== state.lastListJson) {
    state.lastListJson = json;
    renderList(data.traces, query);
  }
  const open = data.traces.find((trace) => trace.traceId === state.openTraceId);
  if (open && open.spanCount !== state.openSpanCount) await openTrace(open.traceId);
}

function renderList(traces, query) {
  const list = $("trace-list");
  list.replaceChildren(...traces.map(traceItem));
  const empty = $("list-empty");
  empty.hidden = traces.length > 0;
  empty.textContent = query ? `No trace matches “${query}”.` : "Waiting for traces…";
}

function traceItem(trace) {
  const error = trace.errorCount > 0;
  return el(
    "li",
    {
      class: `trace-item${error ? " has-error" : ""}${
        trace.traceId === state.openTraceId ? " selected" : ""
      }`,
      "data-trace-id": trace.traceId,
      "data-error": error,
      tabindex: 0,
      onclick: () => openTrace(trace.traceId),
      onkeydown: (event) => event.key === "Enter" && openTrace(trace.traceId),
    },
    el(
      "div",
      { class: "trace-item-top" },
      el("span", { class: "trace-name", title: trace.rootName }, trace.rootName),
      pathBesideName(trace.rootName, trace.rootPath) !== "" &&
        el("span", { class: "trace-path", title: trace.rootPath }, trace.rootPath),
      error &&
        el(
          "span",
          { class: "error-mark", title: `${trace.errorCount} span(s) with status ERROR` },
          `${trace.errorCount} error${trace.errorCount === 1 ? "" : "s"}`,
        ),
      el("span", { class: "trace-duration" }, formatDuration(BigInt(trace.durationNano))),
    ),
    el(
      "div",
      { class: "trace-item-bottom" },
      el("span", { class: "services" }, ...trace.services.map(serviceChip)),
      el(
        "span",
        { class: "trace-meta" },
        `${trace.spanCount} span${trace.spanCount === 1 ? "" : "s"} · ${
          clockTime(trace.startTimeUnixNano)
        }`,
      ),
    ),
  );
}

function serviceChip(service) {
  return el("span", { class: `service-chip svc-${serviceSlot(service)}` }, service);
}

// ---------------------------------------------------------------------------------------------
// One trace: header, waterfall, span details

async function openTrace(traceId) {
  let detail;
  try {
    detail = await getJson(`/api/traces/${traceId}`);
  } catch {
    return; // evicted meanwhile; the list no longer offers it
  }
  if (traceId !== state.openTraceId) state.selectedSpanId = undefined;
  state.openTraceId = traceId;
  state.openSpanCount = detail.summary.spanCount;
  if (location.hash !== `#${traceId}`) history.replaceState(null, "", `#${traceId}`);
  for (const item of document.querySelectorAll(".trace-item")) {
    item.classList.toggle("selected", item.dataset.traceId === traceId);
  }
  $("trace-empty").hidden = true;
  $("trace-view").hidden = false;
  renderTraceHeader(detail.summary);
  renderWaterfall(detail);
  const selected = detail.spans.find((span) => span.spanId === state.selectedSpanId);
  showSpan(selected, detail.summary);
}

function renderTraceHeader(summary) {
  $("trace-header").replaceChildren(
    el("h2", {}, summary.rootName),
    el(
      "div",
      { class: "trace-facts" },
      el("span", {}, "trace ", el("code", { class: "trace-id" }, summary.traceId)),
      el("span", {}, formatDuration(BigInt(summary.durationNano))),
      el("span", {}, `${summary.spanCount} spans`),
      summary.errorCount > 0 &&
        el("span", { class: "error-mark" }, `${summary.errorCount} errors`),
      summary.droppedSpanCount > 0 &&
        el("span", {}, `${summary.droppedSpanCount} spans dropped`),
      el("span", { class: "services" }, ...summary.services.map(serviceChip)),
    ),
  );
}

function renderWaterfall({ summary, spans }) {
  const start = BigInt(summary.startTimeUnixNano);
  const total = Number(BigInt(summary.durationNano)) || 1;
  const percent = (nanos) => `${(Number(nanos) / total) * 100}%`;

  const ticks = [];
  for (let i = 0; i < AXIS_TICKS; i++) {
    const at = (total * i) / (AXIS_TICKS - 1);
    ticks.push(
      el(
        "span",
        { class: "tick", style: { left: `${(i / (AXIS_TICKS - 1)) * 100}%` } },
        formatDuration(BigInt(Math.round(at))),
      ),
    );
  }
  const header = el(
    "div",
    { class: "wf-row wf-axis" },
    el("div", { class: "wf-label" }, "Span"),
    el("div", { class: "wf-timeline" }, ...ticks),
  );

  const rows = spans.map((span) => {
    const offset = BigInt(span.startTimeUnixNano) - start;
    const duration = BigInt(span.endTimeUnixNano) - BigInt(span.startTimeUnixNano);
    const status = span.status.code.toLowerCase();
    const barLeft = Number(offset) / total;
    return el(
      "div",
      {
        class: `wf-row span-row status-${status}${
          span.spanId === state.selectedSpanId ? " selected" : ""
        }`,
        role: "treeitem",
        "aria-level": span.depth + 1,
        tabindex: 0,
        "data-span-id": span.spanId,
        "data-parent-id": span.parentSpanId,
        "data-depth": span.depth,
        "data-status": status,
        "data-service": span.service,
        onclick: () => selectSpan(span, summary),
        onkeydown: (event) => event.key === "Enter" && selectSpan(span, summary),
      },
      el(
        "div",
        { class: "wf-label", style: { paddingLeft: `${0.5 + span.depth * 1.1}rem` } },
        el("span", { class: `svc-dot svc-${serviceSlot(span.service)}`, title: span.service }),
        status === "error" && el("span", { class: "error-icon", title: "status ERROR" }, "!"),
        el("span", { class: "span-name", title: span.name }, span.name),
        el("span", { class: "span-service" }, span.service),
        ...span.links.map((link) =>
          el(
            "span",
            {
              class: "link-mark",
              "data-link-trace-id": link.traceId,
              title: `linked to trace ${link.traceId}, span ${link.spanId}`,
            },
            `link → ${shortId(link.traceId)}/${link.spanId.slice(0, 6)}`,
          )
        ),
      ),
      el(
        "div",
        { class: "wf-timeline" },
        el("div", {
          class: `wf-bar ${status === "error" ? "bar-error" : `svc-${serviceSlot(span.service)}`}`,
          style: { left: percent(offset), width: percent(duration) },
        }),
        el(
          "span",
          {
            class: `wf-duration${barLeft > 0.75 ? " before" : ""}`,
            style: barLeft > 0.75
              ? { right: `${(1 - barLeft) * 100}%` }
              : { left: percent(offset + duration) },
          },
          formatDuration(duration),
        ),
      ),
    );
  });
  $("waterfall").replaceChildren(header, ...rows);
}

function selectSpan(span, summary) {
  state.selectedSpanId = span.spanId;
  for (const row of document.querySelectorAll(".span-row")) {
    row.classList.toggle("selected", row.dataset.spanId === span.spanId);
  }
  showSpan(span, summary);
}

function showSpan(span, summary) {
  const panel = $("span-detail");
  panel.hidden = !span;
  if (!span) return;
  const start = BigInt(summary.startTimeUnixNano);
  const offset = (unixNano) => formatDuration(BigInt(unixNano) - start);
  const duration = BigInt(span.endTimeUnixNano) - BigInt(span.startTimeUnixNano);
  const status = span.status.code + (span.status.message ? `: ${span.status.message}` : "");
  // The sections a span lacks are `false`: left out, not shown as the text "false".
  panel.replaceChildren(...[
    el(
      "h3",
      {},
      el("span", { class: `svc-dot svc-${serviceSlot(span.service)}` }),
      span.name,
    ),
    factTable([
      ["service", span.service],
      ["kind", span.kind],
      ["status", status, span.status.code === "ERROR" ? "error-text" : undefined],
      ["start", `+${offset(span.startTimeUnixNano)}`],
      ["duration", formatDuration(duration)],
      ["span id", span.spanId],
      ["parent id", span.parentSpanId || "(root)"],
      ["scope", [span.scope.name, span.scope.version].filter(Boolean).join(" ")],
    ]),
    section("Attributes", attributeTable(span.attributes, "span-attributes")),
    span.events.length > 0 &&
    section(
      "Events",
      el(
        "ul",
        { class: "events" },
        ...span.events.map((event) =>
          el(
            "li",
            {},
            // Relative to the span: where in its life the event happened.
            el("span", {
              class: "event-time",
              title: `+${offset(event.timeUnixNano)} in the trace`,
            }, `+${formatDuration(BigInt(event.timeUnixNano) - BigInt(span.startTimeUnixNano))}`),
            el("strong", {}, event.name),
            attributeTable(event.attributes),
          )
        ),
      ),
    ),
    span.links.length > 0 &&
    section(
      "Links",
      el(
        "ul",
        { class: "links" },
        ...span.links.map((link) =>
          el(
            "li",
            {},
            el(
              "a",
              {
                href: `#${link.traceId}`,
                onclick: (event) => {
                  event.preventDefault();
                  openTrace(link.traceId);
                },
              },
              `trace ${link.traceId} · span ${link.spanId}`,
            ),
            attributeTable(link.attributes),
          )
        ),
      ),
    ),
    section("Resource", attributeTable(span.resourceAttributes)),
  ].filter((child) => child !== false));
}

function section(title, ...content) {
  return el("section", { class: "detail-section" }, el("h4", {}, title), ...content);
}

function factTable(rows) {
  return el(
    "dl",
    { class: "facts" },
    ...rows.flatMap(([name, value, className]) => [
      el("dt", {}, name),
      el("dd", { class: className }, value),
    ]),
  );
}

/** Stack traces and other multi-line values keep their lines. */
function multiline(value) {
  return typeof value === "string" && value.includes("\n") ? "multiline" : undefined;
}

function attributeTable(attributes, className) {
  const entries = Object.entries(attributes).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return el("p", { class: "none" }, "none");
  return el(
    "table",
    { class: `attributes ${className ?? ""}` },
    ...entries.map(([key, value]) =>
      el("tr", {}, el("th", {}, key), el("td", { class: multiline(value) }, valueText(value)))
    ),
  );
}

// ---------------------------------------------------------------------------------------------

function start() {
  $("endpoint").textContent = `${location.origin}/v1/traces`;
  let debounce;
  $("search").addEventListener("input", (event) => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      state.query = event.target.value.trim();
      refreshList();
    }, SEARCH_DEBOUNCE_MS);
  });
  const hashTrace = location.hash.slice(1);
  if (/^[0-9a-f]{32}$/.test(hashTrace)) openTrace(hashTrace);
  poll();
}

async function poll() {
  await refreshList();
  setTimeout(poll, POLL_MS);
}

start();
