// Notes: a tiny single-page app with no build step.
// It calls the API with relative /api/... URLs: CloudFront (and `make run`)
// route /api/* to the service on the same origin, so there is no CORS.
"use strict";

const $ = (id) => document.getElementById(id);

class ApiError extends Error {
  constructor(status, code, message, requestId) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { headers: { Accept: "application/json" }, ...options });
  } catch (err) {
    throw new ApiError(0, "network_error", "The API could not be reached.");
  }
  if (response.status === 204) return null;
  const requestId = response.headers.get("X-Request-Id");
  let body = null;
  try {
    body = await response.json();
  } catch (err) {
    throw new ApiError(response.status, "not_json", `Unexpected ${response.status} response from the API.`, requestId);
  }
  if (!response.ok) {
    const e = (body && body.error) || {};
    throw new ApiError(response.status, e.code || "error", e.message || `HTTP ${response.status}`, requestId);
  }
  return body;
}

function showError(err) {
  const box = $("error");
  if (!err) {
    box.hidden = true;
    box.textContent = "";
    return;
  }
  const ref = err.requestId ? ` (request ${err.requestId})` : "";
  box.textContent = `${err.message} [${err.code}]${ref}`;
  box.hidden = false;
}

function timeEl(iso) {
  const t = document.createElement("time");
  t.dateTime = iso;
  t.textContent = new Date(iso).toLocaleString();
  return t;
}

async function loadHealth() {
  const el = $("health");
  try {
    const h = await api("/api/health-check");
    el.textContent = `API ${h.status} · version ${h.version}`;
    el.className = "health ok";
  } catch (err) {
    el.textContent = `API unavailable (${err.code})`;
    el.className = "health down";
  }
}

let nextCursor = null;

function noteItem(note) {
  const li = document.createElement("li");
  li.dataset.id = note.id;
  const link = document.createElement("a");
  link.href = `/notes/${note.id}`;
  link.dataset.link = "";
  link.textContent = note.text;
  const del = document.createElement("button");
  del.type = "button";
  del.textContent = "Delete";
  del.setAttribute("aria-label", `Delete note: ${note.text.slice(0, 40)}`);
  del.addEventListener("click", async () => {
    try {
      await api(`/api/notes/${encodeURIComponent(note.id)}`, { method: "DELETE" });
      li.remove();
      showError(null);
    } catch (err) {
      showError(err);
    }
  });
  li.append(link, timeEl(note.createdAt), del);
  return li;
}

async function loadNotes(append = false) {
  const query = new URLSearchParams({ limit: "20" });
  if (append && nextCursor) query.set("cursor", nextCursor);
  try {
    const page = await api(`/api/notes?${query}`);
    const list = $("notes");
    if (!append) list.replaceChildren();
    page.items.forEach((n) => list.append(noteItem(n)));
    nextCursor = page.nextCursor;
    $("more").hidden = !nextCursor;
    showError(null);
  } catch (err) {
    showError(err);
  }
}

async function addNote(event) {
  event.preventDefault();
  const text = $("note-text");
  try {
    const note = await api("/api/notes", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ text: text.value }),
    });
    $("notes").prepend(noteItem(note));
    text.value = "";
    showError(null);
  } catch (err) {
    showError(err);
  }
}

async function showNote(id) {
  const detail = $("note-detail");
  detail.replaceChildren();
  try {
    const note = await api(`/api/notes/${encodeURIComponent(id)}`);
    const p = document.createElement("p");
    p.textContent = note.text;
    detail.append(p, timeEl(note.createdAt));
    showError(null);
  } catch (err) {
    showError(err);
  }
}

// Client-side routing: "/" lists notes, "/notes/<id>" shows one. The server
// (CloudFront's function, or `make run`) answers both with index.html.
function route() {
  const match = location.pathname.match(/^\/notes\/([^/]+)\/?$/);
  $("list-view").hidden = Boolean(match);
  $("note-view").hidden = !match;
  if (match) showNote(decodeURIComponent(match[1]));
  else loadNotes();
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-link]");
  if (!link || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  history.pushState(null, "", link.getAttribute("href"));
  route();
});

window.addEventListener("popstate", route);
document.addEventListener("DOMContentLoaded", () => {
  $("note-form").addEventListener("submit", addNote);
  $("more").addEventListener("click", () => loadNotes(true));
  loadHealth();
  route();
});
