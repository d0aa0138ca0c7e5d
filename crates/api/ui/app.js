// The gamebridge dashboard: plain JavaScript over the bridge's own public
// API (/stats, /games/{name}/..., /events), so what it shows is what any
// agent sees. Game-provided text is only ever set as textContent.
"use strict";

const REFRESH_MS = 2000;
const MAX_EVENTS = 500;

const state = {
  token: readToken(),
  games: [],
  details: new Map(), // game name -> {functions, external, paused}
  paused: false,
  held: [], // events that arrived while the view was paused
  shown: 0,
  stream: null,
};

// ---------- the token: from #token=..., kept for this tab only ----------

function readToken() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) {
    sessionStorage.setItem("gamebridge-token", fromHash);
    history.replaceState(null, "", location.pathname); // keep it out of the address bar
    return fromHash;
  }
  return sessionStorage.getItem("gamebridge-token");
}

function askForToken() {
  document.getElementById("token-form").hidden = false;
}

document.getElementById("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.token = document.getElementById("token-input").value.trim();
  sessionStorage.setItem("gamebridge-token", state.token);
  document.getElementById("token-form").hidden = true;
  connectEvents();
  refresh();
});

// ---------- HTTP ----------

class Unauthorized extends Error {}

async function api(path, options = {}) {
  const headers = { "Content-Type": "application/json", ...(options.headers || {}) };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) {
    askForToken();
    throw new Unauthorized("this bridge needs its token");
  }
  return response.json();
}

const gamePath = (name, path) => `/games/${encodeURIComponent(name)}${path}`;

// ---------- DOM helpers ----------

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

function duration(seconds) {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
  return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
}

function micros(value) {
  return value >= 1000 ? `${(value / 1000).toFixed(1)} ms` : `${value} µs`;
}

// ---------- games, functions, pause state, latency ----------

async function refresh() {
  try {
    const stats = await api("/stats");
    if (!stats.success) throw new Error(stats.error?.message || "GET /stats failed");
    state.games = stats.result.games;
    await Promise.all(state.games.map(loadDetails));
    const pending = state.games.reduce((sum, game) => sum + game.pending_calls, 0);
    document.getElementById("bridge-summary").textContent =
      `up ${duration(stats.result.uptime)} · ${state.games.length} game(s) · ${pending} pending call(s)`;
    renderGames();
    renderGameChoices();
  } catch (error) {
    document.getElementById("bridge-summary").textContent = `cannot reach the bridge: ${error.message}`;
  }
}

async function loadDetails(game) {
  const [functions, external, paused, pending] = await Promise.all([
    api(gamePath(game.name, "/lua/functions?detail=true")),
    api(gamePath(game.name, "/external/functions")),
    api(gamePath(game.name, "/external/paused-players")),
    api(gamePath(game.name, "/lua/pending")),
  ]);
  state.details.set(game.name, {
    functions: functions.success ? functions.result.functions : [],
    described: new Map((functions.success ? functions.result.details || [] : []).map((info) => [info.name, info])),
    external: external.success ? external.result.functions : [],
    paused: paused.success ? paused : { isGamePaused: false, pausedPlayers: [] },
    pending: pending.success ? pending.result.calls : [],
  });
}

function renderGames() {
  const container = document.getElementById("games");
  document.getElementById("games-empty").hidden = state.games.length > 0;
  container.replaceChildren(...state.games.map(renderGame));
}

function renderGame(game) {
  const details = state.details.get(game.name) || { functions: [], external: [], paused: {}, pending: [] };
  const calls = game.calls;
  const since = game.connected ? `up ${duration(game.state_seconds)}` : `for ${duration(game.state_seconds)}`;
  const pausedPlayers = details.paused.pausedPlayers || [];
  return el("div", { class: "game", "data-game": game.name },
    el("div", { class: "game-head" },
      el("h3", { text: game.name }),
      el("span", { class: `state ${game.state}`, text: `${game.state} ${since}` }),
      game.detail ? el("span", { class: "muted", text: game.detail }) : null),
    el("div", { class: "link", text: game.link }),
    el("div", { class: "facts" },
      el("span", { text: `${calls.calls} calls` }),
      el("span", { class: "failed", title: failuresByCode(calls.errors), text: `${calls.failed} failed` }),
      el("span", { class: "pending", text: `${game.pending_calls} pending` }),
      el("span", { text: `${calls.events} events` }),
      calls.steps ? el("span", { text: `${calls.steps} steps (${calls.step_misses} missed)` }) : null),
    calls.failed ? el("div", { class: "failures muted", text: `failures: ${failuresByCode(calls.errors)}` }) : null,
    el("h4", { text: `Game functions (${details.functions.length})` }),
    el("div", { class: "chips functions" }, ...details.functions.map((name) =>
      el("span", { class: "chip", "data-function": name, title: details.described?.get(name)?.description || "use in the call console",
        text: name, onclick: () => pickFunction(game.name, name) }))),
    el("h4", { text: `Agent functions (${details.external.length})` }),
    details.external.length
      ? el("div", { class: "chips external" }, ...details.external.map((fn) =>
          el("span", { class: "chip", title: fn.description || fn.url || "", text: fn.name })))
      : el("div", { class: "muted", text: "none registered" }),
    el("h4", { text: `Pending calls (${game.pending_calls})` }),
    renderPending(details.pending),
    el("h4", { text: "Pause" }),
    el("div", { class: "pause-state" },
      el("span", { class: "paused", text: `game ${details.paused.isGamePaused ? "paused" : "running"} · paused players: ${
        pausedPlayers.length ? pausedPlayers.join(", ") : "none"}` }),
      el("button", { type: "button", class: "pause-game", text: details.paused.isGamePaused ? "Resume game" : "Pause game",
        onclick: () => setGamePaused(game.name, !details.paused.isGamePaused) })),
    el("h4", { text: "Latency, last 5 minutes" }),
    renderLatency(calls.latency || []));
}

// The oldest calls still waiting for the game, so a stuck one stands out.
// `CODE n, CODE m`: a game's failed calls by error code, most first.
function failuresByCode(errors) {
  const entries = Object.entries(errors || {}).sort((a, b) => b[1] - a[1]);
  return entries.length ? entries.map(([code, count]) => `${code} ${count}`).join(", ") : "none";
}

// Pauses or resumes the game itself (`POST /external/pause` or `/resume`).
async function setGamePaused(game, paused) {
  try {
    await api(gamePath(game, paused ? "/external/pause" : "/external/resume"), { method: "POST", body: "{}" });
  } finally {
    refresh();
  }
}

function renderPending(calls) {
  if (!calls.length) return el("div", { class: "muted pending-calls", text: "none" });
  const shown = calls.slice(0, 5).map((call) => el("li", { "data-function": call.function, text:
    `${call.function} · waiting ${(call.age_ms / 1000).toFixed(1)} s · gives up in ${(call.deadline_ms / 1000).toFixed(0)} s` }));
  const more = calls.length > 5 ? el("li", { class: "muted", text: `and ${calls.length - 5} more` }) : null;
  return el("ul", { class: "pending-calls" }, ...shown, more);
}

// A small SVG per game: one bar per 30-second slot, p99 behind p50, on a
// log scale, and a red mark under slots where calls failed.
function renderLatency(slots) {
  const box = el("div", { class: "latency" });
  if (!slots.length) {
    box.append(el("span", { class: "muted", text: "no calls in the last 5 minutes" }));
    return box;
  }
  const width = 300, height = 60, count = 10, step = width / count, bar = step * 0.6;
  const top = Math.max(...slots.map((slot) => slot.p99_us), 10) * 1.2;
  const barHeight = (value) => Math.max(1, (Math.log10(Math.max(value, 1)) / Math.log10(top)) * (height - 10));
  const newest = slots[slots.length - 1].start;
  const left = (slot) => width - step + (step - bar) / 2 - ((newest - slot.start) / slot.seconds) * step;
  const ns = "http://www.w3.org/2000/svg";
  const shape = (tag, attributes) => {
    const node = document.createElementNS(ns, tag);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    return node;
  };
  const svg = shape("svg", { width: "100%", height, viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none" });
  for (const slot of slots) {
    for (const [quantile, key] of [["p99", "p99_us"], ["p50", "p50_us"]]) {
      const tall = barHeight(slot[key]);
      const rect = shape("rect", { class: quantile, x: left(slot).toFixed(1), y: (height - 8 - tall).toFixed(1), width: bar.toFixed(1), height: tall.toFixed(1) });
      rect.append(shape("title", {}));
      rect.firstChild.textContent = `${slot.calls} calls, p50 ${micros(slot.p50_us)}, p99 ${micros(slot.p99_us)}, ${slot.errors} errors`;
      svg.append(rect);
    }
    if (slot.errors > 0) {
      svg.append(shape("rect", { class: "error", x: left(slot).toFixed(1), y: height - 5, width: bar.toFixed(1), height: 4 }));
    }
  }
  const last = slots[slots.length - 1];
  const errors = slots.reduce((sum, slot) => sum + slot.errors, 0);
  box.append(svg, el("div", { class: "muted", text:
    `latest 30 s: ${last.calls} calls, p50 ${micros(last.p50_us)}, p99 ${micros(last.p99_us)} · ${errors} error(s) in 5 min` }));
  return box;
}

// ---------- the call console ----------

function renderGameChoices() {
  for (const [id, keepEmpty] of [["console-game", false], ["filter-game", true]]) {
    const select = document.getElementById(id);
    const chosen = select.value;
    const options = state.games.map((game) => el("option", { value: game.name, text: game.name }));
    if (keepEmpty) options.unshift(el("option", { value: "", text: "all games" }));
    select.replaceChildren(...options);
    if ([...select.options].some((option) => option.value === chosen)) select.value = chosen;
  }
  renderFunctionChoices();
}

function renderFunctionChoices() {
  const details = state.details.get(document.getElementById("console-game").value);
  const names = details ? details.functions : [];
  document.getElementById("console-functions").replaceChildren(...names.map((name) => el("option", { value: name })));
}

// A function's description and parameter schema, as its game gave them.
function describedFunction(game, name) {
  return state.details.get(game)?.described?.get(name);
}

// Arguments to start from, after a parameter schema: each property with a
// value of its type (required ones first), or [] without a schema.
function argumentTemplate(schema) {
  if (!schema || schema.type !== "object" || !schema.properties) return [];
  const example = (property) => ({ string: "", integer: 0, number: 0, boolean: false, array: [], object: {} })[property.type] ?? null;
  const required = schema.required || [];
  const names = [...required, ...Object.keys(schema.properties).filter((name) => !required.includes(name))];
  return Object.fromEntries(names.map((name) => [name, example(schema.properties[name] || {})]));
}

// Why `args` do not fit `schema`, or null: the required properties only.
function argumentProblem(schema, args) {
  if (!schema || schema.type !== "object" || !Array.isArray(schema.required)) return null;
  if (args === null || typeof args !== "object" || Array.isArray(args)) return "the arguments must be a JSON object";
  const missing = schema.required.filter((name) => !(name in args));
  return missing.length ? `missing required argument(s): ${missing.join(", ")}` : null;
}

function describeChosen() {
  const info = describedFunction(document.getElementById("console-game").value,
    document.getElementById("console-function").value.trim());
  const about = document.getElementById("console-about");
  about.textContent = info ? [info.description, info.parameters && `parameters: ${JSON.stringify(info.parameters)}`]
    .filter(Boolean).join(" · ") : "";
  about.hidden = !about.textContent;
}

function pickFunction(game, name) {
  document.getElementById("console-game").value = game;
  document.getElementById("console-function").value = name;
  renderFunctionChoices();
  const info = describedFunction(game, name);
  document.getElementById("console-args").value = JSON.stringify(argumentTemplate(info?.parameters), null, 1);
  describeChosen();
  document.getElementById("console-args").focus();
}

document.getElementById("console-function").addEventListener("change", describeChosen);

document.getElementById("console-game").addEventListener("change", renderFunctionChoices);

document.getElementById("console").addEventListener("submit", async (event) => {
  event.preventDefault();
  const result = document.getElementById("console-result");
  const rtt = document.getElementById("console-rtt");
  const display = (text, succeeded) => {
    result.hidden = false;
    result.className = `result ${succeeded ? "succeeded" : "failed"}`;
    result.textContent = text;
  };
  let args;
  try {
    args = JSON.parse(document.getElementById("console-args").value || "null");
  } catch (error) {
    rtt.textContent = "";
    display(`The arguments are not JSON: ${error.message}`, false);
    return;
  }
  const game = document.getElementById("console-game").value;
  const problem = argumentProblem(describedFunction(game, document.getElementById("console-function").value.trim())?.parameters, args);
  if (problem) {
    rtt.textContent = "not sent";
    display(`The arguments do not fit the function's parameters: ${problem}`, false);
    return;
  }
  const body = {
    function: document.getElementById("console-function").value.trim(),
    timeout_ms: Number(document.getElementById("console-timeout").value) || undefined,
  };
  if (args !== null) body.args = args;
  const button = document.getElementById("console-run");
  button.disabled = true;
  rtt.textContent = "running…";
  const started = performance.now();
  try {
    const answer = await api(gamePath(game, "/lua/call"), { method: "POST", body: JSON.stringify(body) });
    rtt.textContent = `round trip ${(performance.now() - started).toFixed(2)} ms`;
    if (answer.success) display(JSON.stringify(answer.result, null, 2), true);
    else display(`${answer.error.code}: ${answer.error.message}`, false);
  } catch (error) {
    rtt.textContent = "";
    display(`The call did not complete: ${error.message}`, false);
  } finally {
    button.disabled = false;
    refresh();
  }
});

// ---------- the live event stream ----------

// Events shown when the page opens: the last HISTORY the bridge keeps.
const HISTORY = 100;

// The recent past first (`/events/history`), then the live stream from
// right after it, so nothing falls between the two; a reconnecting
// EventSource resumes by itself with Last-Event-ID.
async function connectEvents() {
  if (state.stream) state.stream.close();
  let since = null;
  try {
    const latest = await api("/events/history?limit=1");
    if (latest.success) {
      since = latest.result.latest;
      const from = Math.max(0, since - HISTORY);
      const past = await api(`/events/history?since=${from}&limit=${HISTORY}`);
      for (const event of past.success ? past.result.events : []) {
        const data = event.data || {};
        show({ seq: String(event.seq), game: event.game, type: event.type, payload: data.payload ?? data,
          time: new Date(event.time) });
      }
      updateCount();
    }
  } catch (error) {
    if (error instanceof Unauthorized) return;
  }
  const params = new URLSearchParams();
  if (state.token) params.set("token", state.token);
  if (since !== null) params.set("since", since);
  const query = params.toString() ? `?${params}` : "";
  const stream = new EventSource(`/events${query}`);
  const live = document.getElementById("live");
  stream.addEventListener("open", () => setLive(live));
  stream.addEventListener("error", () => {
    live.className = "badge off";
    live.textContent = "reconnecting";
  });
  stream.addEventListener("message", (message) => {
    const data = JSON.parse(message.data);
    receive({ seq: message.lastEventId, game: data.game || onlyGame(), type: data.type || "message", payload: data.payload ?? data });
    if (data.type === "dll_status") refresh();
  });
  stream.addEventListener("lagged", (message) => {
    receive({ seq: message.lastEventId, game: "", type: "lagged", payload: JSON.parse(message.data) });
  });
  state.stream = stream;
}

// The game of an event whose data names none: the bridge's only game.
function onlyGame() {
  return state.games && state.games.length === 1 ? state.games[0].name : "";
}

function setLive(live) {
  live.className = state.paused ? "badge paused" : "badge";
  live.textContent = state.paused ? "view paused" : "live";
  live.title = state.paused
    ? "this page holds new events back; the game and the bridge go on"
    : "the live event stream";
}

function receive(event) {
  if (state.paused) {
    state.held.push(event);
    if (state.held.length > MAX_EVENTS) state.held.shift();
  } else {
    show(event);
  }
  updateCount();
}

function matches(event) {
  const type = document.getElementById("filter-type").value.trim().toLowerCase();
  const game = document.getElementById("filter-game").value;
  return (!type || event.type.toLowerCase().includes(type)) && (!game || event.game === game || !event.game);
}

function show(event) {
  const rows = document.getElementById("events");
  const row = el("tr", { class: "event", "data-type": event.type },
    el("td", { text: event.seq }),
    el("td", { text: (event.time || new Date()).toLocaleTimeString() }),
    el("td", { text: event.game }),
    el("td", { text: event.type }),
    el("td", { title: JSON.stringify(event.payload), text: JSON.stringify(event.payload) }));
  row.hidden = !matches({ type: event.type, game: event.game });
  row.dataset.game = event.game;
  rows.prepend(row);
  while (rows.children.length > MAX_EVENTS) rows.lastChild.remove();
  state.shown += 1;
}

function updateCount() {
  const held = state.held.length ? ` · ${state.held.length} held while paused` : "";
  document.getElementById("events-count").textContent = `${state.shown} received${held}`;
}

function applyFilters() {
  for (const row of document.getElementById("events").children) {
    row.hidden = !matches({ type: row.dataset.type, game: row.dataset.game });
  }
}

document.getElementById("filter-type").addEventListener("input", applyFilters);
document.getElementById("filter-game").addEventListener("change", applyFilters);

document.getElementById("events-pause").addEventListener("click", (event) => {
  state.paused = !state.paused;
  event.target.textContent = state.paused ? "Resume" : "Pause";
  if (!state.paused) {
    state.held.splice(0).forEach(show);
  }
  setLive(document.getElementById("live"));
  updateCount();
});

document.getElementById("events-clear").addEventListener("click", () => {
  document.getElementById("events").replaceChildren();
  state.shown = 0;
  updateCount();
});

connectEvents();
refresh();
setInterval(refresh, REFRESH_MS);
