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

// The API's error messages are written for people; a few codes get a sentence that says what to do.
// The code and the request id (what a bug report needs) go to the console and the banner's details.
const PLAIN = {
  network_error: "The notes service could not be reached. Check your connection and try again.",
  not_json: "The notes service gave an answer this page does not understand. Try again in a moment.",
  note_not_found: "There is no note at this address. It may have been deleted.",
  payload_too_large: "That note is too long to send.",
  datastore_unavailable: "The notes service is busy. Try again in a moment.",
  service_unavailable: "The notes service is busy. Try again in a moment.",
  rate_limited: "Too many requests in a short time. Wait a moment and try again.",
};

function plainMessage(err) {
  if (PLAIN[err.code]) return PLAIN[err.code];
  if (err.code === "validation_error") return "That note cannot be saved: it needs a visible character and no control characters.";
  return err.message || "Something went wrong. Try again in a moment.";
}

function showError(err) {
  const box = $("error");
  if (!err) {
    box.hidden = true;
    $("error-text").textContent = "";
    $("error-ref").textContent = "";
    return;
  }
  const ref = [`code ${err.code}`, err.status ? `HTTP ${err.status}` : "", err.requestId ? `request ${err.requestId}` : ""]
    .filter(Boolean).join(" · ");
  console.error(`API error: ${err.message} (${ref})`);
  $("error-text").textContent = plainMessage(err);
  $("error-ref").textContent = ref;
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
    el.textContent = "API unavailable";
    el.title = plainMessage(err);
    el.className = "health down";
  }
}

let nextCursor = null;

// Deleting cannot be undone, so the page asks first.
async function deleteNote(note) {
  const preview = note.text.length > 60 ? `${note.text.slice(0, 60)}…` : note.text;
  if (!window.confirm(`Delete this note?\n\n${preview}`)) return false;
  try {
    await api(`/api/notes/${encodeURIComponent(note.id)}`, { method: "DELETE" });
    showError(null);
    return true;
  } catch (err) {
    showError(err);
    return false;
  }
}

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
    if (await deleteNote(note)) li.remove();
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

// The API's limit (app/api/schemas.py MAX_NOTE_LENGTH; tests/browser checks they agree). Counted in
// characters (code points), as the API counts them.
const MAX_NOTE_LENGTH = 1000;
const length = (text) => [...text].length;

function updateCount() {
  const n = length($("note-text").value);
  const count = $("note-count");
  count.textContent = n > MAX_NOTE_LENGTH
    ? `${n.toLocaleString("en")} characters: a note holds at most ${MAX_NOTE_LENGTH.toLocaleString("en")}. Shorten it to add it.`
    : `${n.toLocaleString("en")} / ${MAX_NOTE_LENGTH.toLocaleString("en")} characters`;
  count.classList.toggle("over", n > MAX_NOTE_LENGTH);
}

async function addNote(event) {
  event.preventDefault();
  const text = $("note-text");
  const n = length(text.value);
  if (n > MAX_NOTE_LENGTH) {  // refused here, with the reason, rather than cut or sent to fail
    showError(new ApiError(0, "too_long",
      `This note is ${n.toLocaleString("en")} characters long; a note holds at most ${MAX_NOTE_LENGTH.toLocaleString("en")}. Shorten it and add it again.`));
    text.focus();
    return;
  }
  try {
    const note = await api("/api/notes", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ text: text.value }),
    });
    $("notes").prepend(noteItem(note));
    text.value = "";
    updateCount();
    showError(null);
  } catch (err) {
    showError(err);
  }
}

async function showNote(id) {
  const detail = $("note-detail");
  const del = $("delete-note");
  detail.replaceChildren();
  del.hidden = true;
  del.onclick = null;
  try {
    const note = await api(`/api/notes/${encodeURIComponent(id)}`);
    const p = document.createElement("p");
    p.textContent = note.text;
    detail.append(p, timeEl(note.createdAt));
    del.onclick = async () => {
      if (await deleteNote(note)) navigate("/");
    };
    del.hidden = false;
    showError(null);
  } catch (err) {
    showError(err);
  }
}

// Client-side routing: "/" lists notes, "/notes/<id>" shows one, anything else is "not found". The
// server (CloudFront's function, or `make run`) answers every path without a dot with index.html.
const VIEWS = ["list-view", "note-view", "not-found-view"];

function route() {
  const path = location.pathname;
  const match = path.match(/^\/notes\/([^/]+)\/?$/);
  const view = match ? "note-view" : (path === "/" || path === "/index.html") ? "list-view" : "not-found-view";
  VIEWS.forEach((id) => { $(id).hidden = id !== view; });
  showError(null);
  if (view === "note-view") showNote(decodeURIComponent(match[1]));
  else if (view === "list-view") loadNotes();
}

function navigate(href) {
  history.pushState(null, "", href);
  route();
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-link]");
  if (!link || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  navigate(link.getAttribute("href"));
});

window.addEventListener("popstate", route);
document.addEventListener("DOMContentLoaded", () => {
  $("note-form").addEventListener("submit", addNote);
  $("note-text").addEventListener("input", updateCount);
  updateCount();
  $("more").addEventListener("click", () => loadNotes(true));
  loadHealth();
  route();
});
