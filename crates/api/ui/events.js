// The event table: the recent past, then the live stream (SSE), filtered
// by type and game, with the view paused and resumed.
"use strict";

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
