// The approval console: the API's routes with the token kept in this tab's sessionStorage
// (no cookie, so no request can be forged from another page), text put in with textContent
// only (nothing from the server is ever parsed as HTML), and no script but this one (the
// page's Content-Security-Policy allows no other).
"use strict";

const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("nanotui-token");
let following = null; // the AbortController of the event stream followed now
let current = null; // the session shown

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

async function api(method, path, body) {
  const answer = await fetch(path, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await answer.json().catch(() => ({}));
  if (!answer.ok) {
    const error = new Error(data.error || `The service answered ${answer.status}.`);
    error.status = answer.status;
    throw error;
  }
  return data;
}

// Ids go into paths encoded: a call id is the model's to choose.
const part = (text) => encodeURIComponent(text);

function money(usd) {
  return usd === null || usd === undefined ? "unpriced" : `$${Number(usd).toFixed(4)}`;
}

async function signIn(event) {
  event.preventDefault();
  token = $("token").value.trim();
  $("token").value = "";
  try {
    await show();
    sessionStorage.setItem("nanotui-token", token);
  } catch (error) {
    token = null;
    $("sign-in-error").textContent = error.message;
  }
}

function signOut() {
  sessionStorage.removeItem("nanotui-token");
  token = null;
  current = null;
  if (following) following.abort();
  for (const id of ["events", "approvals", "spend", "team-spend"]) $(id).replaceChildren();
  $("sessions").querySelector("tbody").replaceChildren();
  $("session").hidden = true;
  $("team").hidden = true;
  $("signed-in").hidden = true;
  $("sign-in").hidden = false;
  $("sign-out").hidden = true;
  $("who").textContent = "";
}

async function show() {
  const me = await api("GET", "/v1/me");
  $("who").textContent = `${me.name}${me.admin ? " (admin)" : ""}`;
  $("sign-in").hidden = true;
  $("signed-in").hidden = false;
  $("sign-out").hidden = false;
  const spend = await api("GET", "/v1/spend");
  const limit = spend.limits.day_usd;
  $("spend").textContent = `Today: ${money(spend.today_usd)} of $${Number(limit).toFixed(2)}; this month: ${money(spend.month_usd)}.`;
  if (me.admin) await showTeam();
  await listSessions(me.admin);
}

async function showTeam() {
  const all = await api("GET", "/v1/admin/spend");
  const table = $("team-spend");
  table.replaceChildren();
  for (const row of all.users) {
    const tr = el("tr");
    tr.append(el("td", row.user), el("td", `${money(row.today_usd)} of $${Number(row.limits.day_usd).toFixed(2)} today`), el("td", `${money(row.month_usd)} this month`));
    table.append(tr);
  }
  $("team").hidden = false;
}

async function listSessions(admin) {
  const sessions = await api("GET", `/v1/sessions${admin ? "?every_user=true" : ""}`);
  const body = $("sessions").querySelector("tbody");
  body.replaceChildren();
  for (const s of sessions) {
    const tr = el("tr", undefined, "pick");
    tr.dataset.session = s.id;
    tr.append(el("td", s.id), el("td", s.user), el("td", s.project), el("td", s.state), el("td", money(s.cost_usd)));
    tr.addEventListener("click", () => open(s));
    body.append(tr);
  }
}

function open(session) {
  current = session;
  $("session").hidden = false;
  $("session-title").textContent = `Session ${session.id} (${session.project}, ${session.mode} mode)`;
  $("events").replaceChildren();
  $("approvals").replaceChildren();
  if (following) following.abort();
  following = new AbortController();
  follow(session.id, following.signal).catch(() => {});
  refreshApprovals(session.id);
}

// Server-Sent Events read with fetch, which can send the token (EventSource cannot); the
// last id seen is sent back on a reconnect, so nothing is missed or shown twice.
async function follow(id, signal) {
  let last = 0;
  while (!signal.aborted) {
    try {
      const answer = await fetch(`/v1/sessions/${part(id)}/events`, {
        headers: { Authorization: `Bearer ${token}`, "Last-Event-ID": String(last) },
        signal,
      });
      if (answer.status === 401 || answer.status === 404) {
        $("events").append(el("li", "This session cannot be followed (signed out, or gone).", "error"));
        return;
      }
      if (answer.ok) {
        const reader = answer.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer = (buffer + value).replace(/\r\n?/g, "\n");
          let cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            const event = parseEvent(buffer.slice(0, cut));
            buffer = buffer.slice(cut + 2);
            if (event.id) last = Number(event.id);
            if (event.data) shown(id, JSON.parse(event.data));
          }
        }
      }
    } catch (error) {
      if (signal.aborted) return;
    }
    await new Promise((done) => setTimeout(done, 1000)); // dropped, or the service is busy
  }
}

// One SSE block: its id, and its data lines joined (one space after the colon is dropped).
function parseEvent(block) {
  const event = { id: null, data: null };
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "id") event.id = value;
    if (field === "data") event.data = event.data === null ? value : `${event.data}\n${value}`;
  }
  return event;
}

function shown(sessionId, event) {
  if (!current || current.id !== sessionId) return;
  if (event.type === "text_delta") return; // the assistant_message holds the whole reply
  const item = el("li", `${event.type}${event.text ? ": " + event.text : ""}${event.summary ? ": " + event.summary : ""}`);
  $("events").append(item);
  if (event.type === "approval_requested" || event.type === "approval_resolved") {
    refreshApprovals(sessionId);
  }
}

let refreshes = 0;

// Cards are kept while their request waits (what the user ticked or typed stays), added for
// new requests and removed once answered; a reply about another session, or older than the
// last one asked for, is dropped.
async function refreshApprovals(sessionId) {
  const asked = ++refreshes;
  let pending;
  try {
    pending = await api("GET", `/v1/sessions/${part(sessionId)}/approvals`);
  } catch (error) {
    if (current && current.id === sessionId) $("approvals").prepend(el("p", error.message, "error"));
    return;
  }
  if (asked !== refreshes || !current || current.id !== sessionId) return;
  const box = $("approvals");
  const keep = new Set(pending.map((r) => `${r.call_id} ${r.shown_sha256}`));
  for (const card of [...box.querySelectorAll(".approval")]) {
    if (!keep.has(card.dataset.key)) card.remove();
  }
  for (const request of pending) {
    const key = `${request.call_id} ${request.shown_sha256}`;
    if (![...box.querySelectorAll(".approval")].some((c) => c.dataset.key === key)) {
      box.append(approvalCard(sessionId, request));
    }
  }
}

function approvalCard(sessionId, request) {
  const card = el("div", undefined, "approval");
  card.dataset.call = request.call_id;
  card.dataset.key = `${request.call_id} ${request.shown_sha256}`;
  card.append(el("h3", request.summary));
  const boxes = [];
  if (request.diff) {
    hunksOf(request.diff).forEach((hunk, index) => {
      const row = el("div", undefined, "hunk");
      const box = el("input");
      box.type = "checkbox";
      box.checked = true;
      box.value = String(index);
      box.setAttribute("aria-label", `hunk ${index + 1}`);
      boxes.push(box);
      row.append(box, diffBlock(hunk));
      card.append(row);
    });
  } else if (request.command) {
    card.append(el("pre", request.command, "diff"));
  }
  const reason = el("input");
  reason.placeholder = "reason (for a rejection)";
  const approve = el("button", "Approve");
  const reject = el("button", "Reject");
  const send = async (body) => {
    approve.disabled = reject.disabled = true;
    // The hash of what this card shows: the service refuses the answer if it changed.
    const sent = { ...body, shown_sha256: request.shown_sha256 };
    try {
      await api("POST", `/v1/sessions/${part(sessionId)}/approvals/${part(request.call_id)}`, sent);
      card.remove();
    } catch (error) {
      approve.disabled = reject.disabled = false;
      card.prepend(el("p", error.message, "error"));
    }
  };
  approve.addEventListener("click", () => {
    const hunks = boxes.length ? boxes.filter((b) => b.checked).map((b) => Number(b.value)) : null;
    send({ decision: "approve", hunks });
  });
  reject.addEventListener("click", () => send({ decision: "reject", reason: reason.value }));
  card.append(approve, reason, reject);
  return card;
}

// A unified diff's hunks (each from its @@ line to the next), numbered as the API counts them.
function hunksOf(diff) {
  const hunks = [];
  for (const line of diff.split("\n")) {
    // Lines before the first @@ are the file headers; after it, every line is the hunk's,
    // one that starts with "+++ " or "--- " included.
    if (line.startsWith("@@")) hunks.push([line]);
    else if (hunks.length && line !== "") hunks[hunks.length - 1].push(line);
  }
  return hunks;
}

// A hunk's lines, a removed line next to its added one marked where they differ.
function diffBlock(lines) {
  const pre = el("pre", undefined, "diff");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const next = lines[i + 1] || "";
    if (line.startsWith("-") && next.startsWith("+")) {
      const [a, b] = intraline(line.slice(1), next.slice(1));
      pre.append(marked("del", "-", a), marked("add", "+", b));
      i++;
    } else {
      const cls = line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : undefined;
      pre.append(el("span", line + "\n", cls));
    }
  }
  return pre;
}

function intraline(old, now) {
  let start = 0;
  while (start < old.length && start < now.length && old[start] === now[start]) start++;
  let end = 0;
  while (end < old.length - start && end < now.length - start && old[old.length - 1 - end] === now[now.length - 1 - end]) end++;
  const split = (text) => [text.slice(0, start), text.slice(start, text.length - end), text.slice(text.length - end)];
  return [split(old), split(now)];
}

function marked(cls, sign, [before, changed, after]) {
  const span = el("span", sign + before, cls);
  span.append(el("mark", changed), document.createTextNode(after + "\n"));
  return span;
}

$("sign-in").addEventListener("submit", signIn);
$("sign-out").addEventListener("click", signOut);
$("interrupt").addEventListener("click", () => {
  if (current) api("POST", `/v1/sessions/${part(current.id)}/interrupt`).catch(() => {});
});
if (token) {
  show().catch((error) => {
    if (error.status === 401) signOut();
    else $("sign-in-error").textContent = error.message;
  });
}
