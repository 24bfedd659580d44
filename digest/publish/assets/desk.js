// The page of digest preview --serve. Remembers the chosen view and width across reloads,
// keeps the scroll position, and reloads when /version changes (a stopped server just leaves
// the last page up). The desk's controls send their action with the session's token; after
// each, the page reloads with the focus back on the control that acted, for the keyboard.
const KEY = "digest-preview", SCROLL = KEY + "-scroll", FOCUS = KEY + "-focus";
const TOKEN = document.querySelector('meta[name="desk-token"]').content;
const state = JSON.parse(sessionStorage.getItem(KEY) || '{"view":"html","width":"640"}');
const frame = document.querySelector("iframe");
const notice = document.querySelector(".desk .status");

function fit() {
  const email = frame && frame.contentDocument && frame.contentDocument.documentElement;
  if (!email || state.view !== "html") return;  // not loaded yet: its onload fits it
  const y = scrollY;
  frame.style.height = "0";
  frame.style.height = email.scrollHeight + "px";
  scrollTo(0, y);
}
function apply() {
  if (!frame) return;
  document.getElementById("html-view").hidden = state.view !== "html";
  document.getElementById("text-view").hidden = state.view !== "text";
  frame.style.width = state.width + "px";
  for (const b of document.querySelectorAll("nav button")) {
    const on = b.dataset.view === state.view || b.dataset.width === state.width;
    b.setAttribute("aria-pressed", on);
  }
  sessionStorage.setItem(KEY, JSON.stringify(state));
  fit();
}
for (const b of document.querySelectorAll("nav button")) {
  b.onclick = () => { Object.assign(state, b.dataset); apply(); };
}
if (frame) frame.onload = () => {
  fit();
  const y = sessionStorage.getItem(SCROLL);
  if (y !== null) { scrollTo(0, Number(y)); sessionStorage.removeItem(SCROLL); }
};
apply();

function reload() {
  sessionStorage.setItem(SCROLL, scrollY);
  location.reload();
}

// Where a control is, so that the same one has the focus after the reload.
function place(control) {
  const item = control.closest("[data-url]");
  const name = control.dataset.action || control.name || control.type;
  return JSON.stringify({url: item ? item.dataset.url : null, name: name});
}
function refocus() {
  const saved = sessionStorage.getItem(FOCUS);
  if (saved === null) return;
  sessionStorage.removeItem(FOCUS);
  const {url, name} = JSON.parse(saved);
  const scope = url === null ? document.querySelector(".desk")
    : [...document.querySelectorAll(".desk [data-url]")].find(e => e.dataset.url === url);
  if (!scope) return;
  const control = [...scope.querySelectorAll("button, input, textarea, select")].find(
    c => (c.dataset.action || c.name || c.type) === name);
  if (control) control.focus();
}
refocus();

let busy = false;
async function act(action, control) {
  if (busy) return;
  busy = true;
  notice.textContent = "Saving…";
  try {
    const reply = await fetch("/action", {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-Digest-Token": TOKEN},
      body: JSON.stringify(action),
    });
    const answer = await reply.json();
    if (!answer.ok) {
      notice.textContent = answer.error + (answer.hint ? " (" + answer.hint + ")" : "");
      return;
    }
    sessionStorage.setItem(FOCUS, place(control));
    reload();
  } catch (error) {
    notice.textContent = "The preview server did not answer: is digest preview --serve running?";
  } finally {
    busy = false;
  }
}

const desk = document.querySelector(".desk");
if (desk) {
  desk.addEventListener("click", event => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const item = button.closest("[data-url]");
    const action = {action: button.dataset.action};
    if (item) action.url = item.dataset.url;
    if (action.action === "move") action.theme = item.querySelector("select").value;
    act(action, button);
  });
  desk.addEventListener("submit", event => {
    event.preventDefault();
    const form = event.target;
    const item = form.closest("[data-url]");
    const action = Object.fromEntries(new FormData(form));
    action.action = form.dataset.action;
    if (item) action.url = item.dataset.url;
    act(action, event.submitter || form.querySelector("button"));
  });
}

document.body.dataset.ready = "";  // the controls act from here on
const version = document.body.dataset.version;
setInterval(async () => {
  if (busy) return;
  try {
    const reply = await fetch("/version", {cache: "no-store"});
    if (String((await reply.json()).version) !== version) reload();
  } catch (_) {}
}, 500);
