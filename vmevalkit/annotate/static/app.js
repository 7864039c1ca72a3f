// VMEvalKit annotation page. Every piece of text from the server (prompt, rubric, note) goes into the page
// through textContent, never innerHTML: it is shown, never parsed. The server decides what comes next
// (/api/state); this script only shows it, takes the judgment and posts it.
"use strict";

const KEYS = {
  rate: "Y / N: solved?   1-5: process quality   E: note   Enter: save   Space: play/pause   R: replay   " +
    "U: change the last label",
  pairwise: "A or \u2190: left better   B or \u2192: right better   T or \u2193: tie   E: note   Enter: save   " +
    "Space: play/pause   R: replay   U: change the last label",
};
const CHOICES = [["A", "Left (A) better", "A"], ["tie", "Tie", "T"], ["B", "Right (B) better", "B"]];

const page = {
  state: null,     // the last /api/state
  judgment: {},    // rate: {success, process}; pairwise: {choice}
  revealed: false, // the first judgment was sent and the answer (if any) shown
  shownAt: 0,      // when the item appeared (performance.now())
  busy: false,
};
// The app's own latency per label, from the save key to the next item on screen (read by the browser test).
window.vmkTimings = [];

function $(id) { return document.getElementById(id); }

function element(tag, text, attributes) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  return node;
}

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const response = await fetch(path, { credentials: "same-origin", ...options });
  if (!response.ok) {
    const detail = await response.text();
    throw new Error(`${response.status}: ${detail}`);
  }
  return response.json();
}

function say(text) { $("message").textContent = text; }

function button(label, key, value, group) {
  const node = element("button", label, { type: "button", "aria-pressed": "false", "data-value": String(value) });
  node.appendChild(element("kbd", key));
  node.addEventListener("click", () => choose(group, value));
  return node;
}

function renderControls(mode) {
  const controls = $("controls");
  controls.replaceChildren();
  if (mode === "rate") {
    const success = element("div", undefined, { class: "group", id: "success" });
    success.append(element("span", "Solved?"), button("Yes", "Y", 1, "success"), button("No", "N", 0, "success"));
    const process = element("div", undefined, { class: "group", id: "process" });
    process.append(element("span", "Process"));
    for (let level = 1; level <= 5; level++) process.append(button(String(level), String(level), level, "process"));
    controls.append(success, process);
  } else {
    const choice = element("div", undefined, { class: "group", id: "choice" });
    for (const [value, label, key] of CHOICES) choice.append(button(label, key, value, "choice"));
    controls.append(choice);
  }
  const note = element("input", undefined, {
    id: "note", type: "text", maxlength: "2000", placeholder: "note (optional, E)", "aria-label": "note",
  });
  const save = element("button", "Save", { type: "button", class: "save", id: "save" });
  save.appendChild(element("kbd", "Enter"));
  save.addEventListener("click", submit);
  controls.append(note, save);
}

function renderVideos(item, mode) {
  const box = $("videos");
  box.replaceChildren();
  item.videos.forEach((url, index) => {
    const figure = element("figure");
    if (mode === "pairwise") figure.append(element("figcaption", index === 0 ? "A (left)" : "B (right)"));
    const video = element("video", undefined, {
      src: url, controls: "", autoplay: "", muted: "", loop: "", playsinline: "", preload: "auto",
    });
    video.muted = true; // the attribute alone does not mute a video created by script
    figure.append(video);
    box.append(figure);
  });
}

function renderLast(last, mode) {
  if (!last) { $("last").textContent = ""; return; }
  const what = mode === "rate"
    ? `solved ${last.success ? "yes" : "no"}, process ${last.process}`
    : `choice ${last.choice}`;
  $("last").textContent = `Saved item ${last.position}: ${what}${last.note ? `, note: ${last.note}` : ""}`;
}

function showAnswer(url, item) {
  const image = $("answer");
  if (url) {
    image.src = url;
    image.hidden = false;
    $("answer-note").textContent = "";
  } else if (!item.has_answer) {
    $("answer-note").textContent = "No answer frame for this task.";
  }
}

function render(state, started) {
  page.state = state;
  page.judgment = {};
  page.revealed = false;
  $("who").textContent = `${state.annotator} \u00b7 ${state.mode}`;
  $("progress-text").textContent = state.editing
    ? `changing item ${state.item.position} (${state.done} of ${state.total} done)`
    : `${Math.min(state.done + 1, state.total)} of ${state.total}`;
  $("progress").max = Math.max(state.total, 1);
  $("progress").value = state.done;
  $("keys").textContent = KEYS[state.mode];
  renderLast(state.last, state.mode);
  const item = state.item;
  if (!item) {
    $("task").hidden = true;
    $("finished").hidden = false;
    $("progress-text").textContent = `${state.done} of ${state.total}`;
    $("finished-text").textContent =
      `${state.done} of ${state.total} labelled. Your labels are in annotations/${state.labels_file}.`;
    document.body.dataset.item = "done";
    if (started !== undefined) window.vmkTimings.push(performance.now() - started);
    return;
  }
  $("finished").hidden = true;
  $("task").hidden = false;
  $("first").src = item.first;
  $("prompt").textContent = item.prompt;
  $("rubric").textContent = item.rubric;
  $("answer").hidden = true;
  $("answer").removeAttribute("src");
  $("answer-note").textContent = item.has_answer
    ? (state.reveal === "after" ? "Shown after your first judgment." : "")
    : "No answer frame for this task.";
  if (item.answer) showAnswer(item.answer, item);
  renderVideos(item, state.mode);
  renderControls(state.mode);
  say("");
  page.shownAt = performance.now();
  document.body.dataset.item = item.id;
  document.body.dataset.position = String(item.position);
  if (started !== undefined) window.vmkTimings.push(performance.now() - started);
}

async function reveal(first) {
  const state = page.state;
  page.revealed = true;
  if (state.reveal !== "after" || !state.item.has_answer) return;
  try {
    const reply = await api("/api/reveal", { item: state.item.id, first });
    showAnswer(reply.answer, state.item);
  } catch (error) {
    say(`Could not show the answer: ${error.message}`);
  }
}

function choose(group, value) {
  if (!page.state || !page.state.item) return;
  page.judgment[group] = value;
  for (const node of document.querySelectorAll(`#${group} button`)) {
    node.setAttribute("aria-pressed", String(node.dataset.value === String(value)));
  }
  const first = page.state.mode === "rate" ? group === "success" : group === "choice";
  if (first && !page.revealed) reveal(value);
}

async function submit() {
  const state = page.state;
  if (!state || !state.item || page.busy) return;
  const started = performance.now();
  const note = $("note").value;
  let body;
  if (state.mode === "rate") {
    const { success, process } = page.judgment;
    if (success === undefined || process === undefined) {
      say("Choose solved (Y or N) and a process quality (1-5) first.");
      return;
    }
    body = { item: state.item.id, success, process, note };
  } else {
    if (page.judgment.choice === undefined) {
      say("Choose A, B or tie first.");
      return;
    }
    body = { item: state.item.id, choice: page.judgment.choice, note };
  }
  if (state.editing) body.replace = true;
  body.elapsed_ms = Math.round(performance.now() - page.shownAt);
  page.busy = true;
  try {
    render(await api("/api/label", body), started);
  } catch (error) {
    say(`Not saved: ${error.message}`);
    if (error.message.startsWith("409")) render(await api("/api/state"));
  } finally {
    page.busy = false;
  }
}

async function back() {
  const last = page.state && page.state.last;
  if (!last || page.busy) return;
  try {
    render(await api(`/api/state?item=${encodeURIComponent(last.item)}`));
  } catch (error) {
    say(`Cannot go back: ${error.message}`);
  }
}

function videos() { return Array.from(document.querySelectorAll("#videos video")); }

const RATE_KEYS = { y: ["success", 1], n: ["success", 0] };
const PAIR_KEYS = {
  a: "A", arrowleft: "A", b: "B", arrowright: "B", t: "tie", arrowdown: "tie",
};

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key.toLowerCase();
  const inNote = document.activeElement && document.activeElement.id === "note";
  if (inNote) {
    if (key === "enter") { event.preventDefault(); submit(); }
    if (key === "escape") document.activeElement.blur();
    return;
  }
  if (key === "u") { // also from the "all labelled" screen
    event.preventDefault();
    back();
    return;
  }
  if (!page.state || !page.state.item) return;
  const mode = page.state.mode;
  let handled = true;
  if (key === "enter") submit();
  else if (key === "e") $("note").focus();
  else if (key === " ") videos().forEach((v) => (v.paused ? v.play() : v.pause()));
  else if (key === "r") videos().forEach((v) => { v.currentTime = 0; v.play(); });
  else if (mode === "rate" && key in RATE_KEYS) choose(...RATE_KEYS[key]);
  else if (mode === "rate" && /^[1-5]$/.test(key)) choose("process", Number(key));
  else if (mode === "pairwise" && key in PAIR_KEYS) choose("choice", PAIR_KEYS[key]);
  else handled = false;
  if (handled) event.preventDefault();
});

window.addEventListener("DOMContentLoaded", async () => {
  try {
    render(await api("/api/state"));
  } catch (error) {
    say(`Cannot reach the annotation server: ${error.message}`);
  }
});
