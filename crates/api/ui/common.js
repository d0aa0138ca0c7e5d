// The gamebridge dashboard: plain JavaScript over the bridge's own public
// API (/stats, /games/{name}/..., /events), so what it shows is what any
// agent sees. Game-provided text is only ever set as textContent.
//
// Classic scripts sharing one scope, loaded in order: common.js (state,
// token, HTTP, DOM helpers), chart.js, games.js, console.js, events.js,
// and app.js, which starts it all.
"use strict";

const REFRESH_MS = 2000;
const MAX_EVENTS = 500;

const state = {
  token: readToken(),
  games: [],
  arena: null, // /stats' Agent Arena game and its metrics, when one is served
  executeEnabled: false,
  details: new Map(), // game name -> {functions, described, external, paused, pending}
  rates: new Map(), // counter key -> {value, at, rate}
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

// ---------- rates of counters, between refreshes ----------

// The per-second rate of a counter (`key`) over the time since it was last
// sampled at least a second ago; null until there are two samples. A
// counter that went down (the bridge restarted) starts again.
function rateOf(key, value) {
  const now = performance.now();
  const last = state.rates.get(key);
  if (!last || value < last.value) {
    state.rates.set(key, { value, at: now, rate: null });
    return null;
  }
  const seconds = (now - last.at) / 1000;
  if (seconds < 1) return last.rate;
  const rate = (value - last.value) / seconds;
  state.rates.set(key, { value, at: now, rate });
  return rate;
}

function perSecond(rate, unit) {
  if (rate === null) return `— ${unit}/s`;
  return `${rate >= 100 ? Math.round(rate) : rate.toFixed(1)} ${unit}/s`;
}
