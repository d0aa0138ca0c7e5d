// The games panel: a card per game with its link, counters, functions,
// pending calls, failures, pause state (with controls), latency chart, and
// for lockstep games their instances, for an Agent Arena game its ticks.
"use strict";

async function refresh() {
  try {
    const stats = await api("/stats");
    if (!stats.success) throw new Error(stats.error?.message || "GET /stats failed");
    state.games = stats.result.games;
    state.arena = stats.result.arena || null;
    state.executeEnabled = Boolean(stats.result.lua?.executeEnabled);
    // Instances of a lockstep game show in its card, without details of their own.
    await Promise.all(state.games.filter((game) => !game.instance_of).map(loadDetails));
    const pending = state.games.reduce((sum, game) => sum + game.pending_calls, 0);
    document.getElementById("bridge-summary").textContent =
      `up ${duration(stats.result.uptime)} · ${state.games.length} game(s) · ${pending} pending call(s)`;
    renderGames();
    renderGameChoices();
    renderLuaConsole();
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
  // A redraw would wipe what is being typed in a card (a player to pause).
  if (container.contains(document.activeElement) && document.activeElement.matches("input")) return;
  const games = state.games.filter((game) => !game.instance_of);
  document.getElementById("games-empty").hidden = games.length > 0;
  container.replaceChildren(...games.map(renderGame));
}

function renderGame(game) {
  const details = state.details.get(game.name) || { functions: [], external: [], paused: {}, pending: [] };
  const calls = game.calls;
  const since = game.connected ? `up ${duration(game.state_seconds)}` : `for ${duration(game.state_seconds)}`;
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
      el("span", { text: `${calls.events} events` })),
    calls.failed ? el("div", { class: "failures muted", text: `failures: ${failuresByCode(calls.errors)}` }) : null,
    game.lockstep ? renderLockstep(game) : null,
    state.arena?.game === game.name ? renderArena(state.arena) : null,
    el("h4", { text: `Game functions (${details.functions.length})` }),
    el("div", { class: "chips functions" }, ...details.functions.map((name) =>
      el("span", { class: "chip", "data-function": name, title: details.described?.get(name)?.description || "use in the call console",
        text: name, onclick: () => pickFunction(game.name, name) }))),
    el("h4", { text: `Agent functions (${details.external.length})` }),
    details.external.length
      ? el("div", { class: "chips external" }, ...details.external.map((fn) =>
          el("span", { class: "chip", title: fn.description || fn.url || fn.agent || "", text: fn.name })))
      : el("div", { class: "muted", text: "none registered" }),
    el("h4", { text: `Pending calls (${game.pending_calls})` }),
    renderPending(details.pending),
    // A lockstep game has no pause controls: its step protocol carries none.
    game.lockstep ? null : el("h4", { text: "Pause" }),
    game.lockstep ? null : renderPause(game.name, details.paused),
    el("h4", { text: "Latency, last 5 minutes" }),
    renderLatency(calls.latency || []));
}

// `CODE n, CODE m`: a game's failed calls by error code, most first.
function failuresByCode(errors) {
  const entries = Object.entries(errors || {}).sort((a, b) => b[1] - a[1]);
  return entries.length ? entries.map(([code, count]) => `${code} ${count}`).join(", ") : "none";
}

// The oldest calls still waiting for the game, so a stuck one stands out.
function renderPending(calls) {
  if (!calls.length) return el("div", { class: "muted pending-calls", text: "none" });
  const shown = calls.slice(0, 5).map((call) => el("li", { "data-function": call.function, text:
    `${call.function} · waiting ${(call.age_ms / 1000).toFixed(1)} s · gives up in ${(call.deadline_ms / 1000).toFixed(0)} s` }));
  const more = calls.length > 5 ? el("li", { class: "muted", text: `and ${calls.length - 5} more` }) : null;
  return el("ul", { class: "pending-calls" }, ...shown, more);
}

// ---------- pause: the game, and single players ----------

function renderPause(game, paused) {
  const players = paused.pausedPlayers || [];
  const playerField = el("input", { class: "player-id", type: "number", min: "0", placeholder: "player id",
    "aria-label": "player id to pause" });
  return el("div", { class: "pause-state" },
    el("div", {},
      el("span", { class: "paused", text: `game ${paused.isGamePaused ? "paused" : "running"}` }),
      el("button", { type: "button", class: "pause-game", text: paused.isGamePaused ? "Resume game" : "Pause game",
        onclick: () => control(gamePath(game, paused.isGamePaused ? "/external/resume" : "/external/pause"), "POST") })),
    el("div", { class: "players" },
      el("span", { text: "paused players: " }),
      players.length
        ? el("span", { class: "chips" }, ...players.map((player) => el("span", { class: "chip player", "data-player": player,
            title: "resume this player", text: `${player} ×`,
            onclick: () => control(gamePath(game, `/external/pause-player/${encodeURIComponent(player)}`), "DELETE") })))
        : el("span", { class: "muted", text: "none" }),
      el("form", { class: "pause-player", onsubmit: (event) => {
        event.preventDefault();
        const player = playerField.value.trim();
        if (player) control(gamePath(game, `/external/pause-player/${encodeURIComponent(player)}`), "POST");
      } }, playerField, el("button", { type: "submit", text: "Pause player" }))));
}

// Sends a pause control, then shows the state the bridge reports.
async function control(path, method) {
  try {
    await api(path, { method, body: method === "POST" ? "{}" : undefined });
  } finally {
    refresh();
  }
}

// ---------- lockstep games: steps/s, misses, the agent of each instance ----------

function renderLockstep(game) {
  const instances = state.games.filter((other) => other.instance_of === game.name);
  const calls = game.calls;
  const missed = calls.steps ? ((100 * calls.step_misses) / calls.steps).toFixed(1) : "0.0";
  const rows = instances.map((instance) => el("tr", { class: "instance", "data-instance": instance.name },
    el("td", { text: instance.name }),
    el("td", { class: `state ${instance.state}`, text: instance.state }),
    el("td", { class: "rate", text: perSecond(rateOf(`steps:${instance.name}`, instance.calls.steps), "steps") }),
    el("td", { text: `${instance.calls.steps}` }),
    el("td", { class: "misses", text: `${instance.calls.step_misses}` }),
    el("td", { class: "agent", text: instance.step_agent || "no agent: default replies" })));
  return el("div", { class: "lockstep" },
    el("h4", { text: `Lockstep (${instances.length} instance(s))` }),
    el("div", { class: "facts" },
      el("span", { class: "rate", text: perSecond(rateOf(`steps:${game.name}`, calls.steps), "steps") }),
      el("span", { text: `${calls.steps} steps` }),
      el("span", { class: "misses", text: `${calls.step_misses} missed (${missed} %)` }),
      el("span", { text: `deadline ${game.lockstep.deadline_ms} ms` }),
      el("span", { class: "agent", text: `agent: ${game.step_agent || "none"}` })),
    // A listening game's instances; a game stepping on its own link has none.
    instances.length
      ? el("div", { class: "instances-box" }, el("table", { class: "instances" },
          el("thead", {}, el("tr", {}, ...["instance", "state", "rate", "steps", "missed", "agent"].map((name) => el("th", { text: name })))),
          el("tbody", {}, ...rows)))
      : null);
}

// ---------- an Agent Arena game: ticks/s, agents, fallbacks ----------

function renderArena(arena) {
  const metrics = arena.metrics;
  const perTick = metrics.total_ticks ? (metrics.total_agents_processed / metrics.total_ticks).toFixed(1) : "0";
  return el("div", { class: "arena" },
    el("h4", { text: "Agent Arena" }),
    el("div", { class: "facts" },
      el("span", { class: "rate", text: perSecond(rateOf(`ticks:${arena.game}`, metrics.total_ticks), "ticks") }),
      el("span", { class: "ticks", text: `${metrics.total_ticks} ticks` }),
      el("span", { class: "agents", text: `${perTick} agents per tick · ${arena.agents} registered` }),
      el("span", { class: "fallbacks", text: `${metrics.total_fallbacks} fallbacks` }),
      el("span", { text: `${metrics.total_invalid_agents} invalid` }),
      el("span", { text: `tick ${metrics.avg_tick_time_ms.toFixed(2)} ms (moving average)` })));
}
