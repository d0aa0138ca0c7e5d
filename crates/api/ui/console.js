// The two consoles: calling a game function (`/lua/call`), its arguments
// started from the function's parameter schema; and running a Lua script
// (`/lua/execute`, shown only when the bridge allows it), with a history.
"use strict";

function renderGameChoices() {
  for (const [id, keepEmpty] of [["console-game", false], ["lua-game", false], ["filter-game", true]]) {
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

// Shows an answer in a console's result box.
function display(id, text, succeeded) {
  const result = document.getElementById(id);
  result.hidden = false;
  result.className = `result ${succeeded ? "succeeded" : "failed"}`;
  result.textContent = text;
}

// Posts `body` to a game route, timing the round trip into `rttId` and
// showing the answer in `resultId`; the button is off while it runs.
async function runInConsole(buttonId, rttId, resultId, path, body) {
  const button = document.getElementById(buttonId);
  const rtt = document.getElementById(rttId);
  button.disabled = true;
  rtt.textContent = "running…";
  const started = performance.now();
  try {
    const answer = await api(path, { method: "POST", body: JSON.stringify(body) });
    rtt.textContent = `round trip ${(performance.now() - started).toFixed(2)} ms`;
    if (answer.success) display(resultId, JSON.stringify(answer.result ?? null, null, 2), true);
    else display(resultId, `${answer.error.code}: ${answer.error.message}`, false);
  } catch (error) {
    rtt.textContent = "";
    display(resultId, `The request did not complete: ${error.message}`, false);
  } finally {
    button.disabled = false;
    refresh();
  }
}

document.getElementById("console-function").addEventListener("change", describeChosen);
document.getElementById("console-game").addEventListener("change", renderFunctionChoices);

document.getElementById("console").addEventListener("submit", async (event) => {
  event.preventDefault();
  const rtt = document.getElementById("console-rtt");
  let args;
  try {
    args = JSON.parse(document.getElementById("console-args").value || "null");
  } catch (error) {
    rtt.textContent = "";
    display("console-result", `The arguments are not JSON: ${error.message}`, false);
    return;
  }
  const game = document.getElementById("console-game").value;
  const name = document.getElementById("console-function").value.trim();
  const problem = argumentProblem(describedFunction(game, name)?.parameters, args);
  if (problem) {
    rtt.textContent = "not sent";
    display("console-result", `The arguments do not fit the function's parameters: ${problem}`, false);
    return;
  }
  const body = { function: name, timeout_ms: Number(document.getElementById("console-timeout").value) || undefined };
  if (args !== null) body.args = args;
  await runInConsole("console-run", "console-rtt", "console-result", gamePath(game, "/lua/call"), body);
});

// ---------- the Lua console ----------

// Scripts run from this browser, newest first, kept across reloads.
const LUA_HISTORY_KEY = "gamebridge-lua-history";
const LUA_HISTORY_SIZE = 20;

function luaHistory() {
  try {
    const kept = JSON.parse(localStorage.getItem(LUA_HISTORY_KEY) || "[]");
    return Array.isArray(kept) ? kept.filter((script) => typeof script === "string") : [];
  } catch {
    return [];
  }
}

function remember(script) {
  const kept = [script, ...luaHistory().filter((earlier) => earlier !== script)].slice(0, LUA_HISTORY_SIZE);
  localStorage.setItem(LUA_HISTORY_KEY, JSON.stringify(kept));
  renderLuaHistory();
}

function renderLuaHistory() {
  const list = document.getElementById("lua-history");
  const scripts = luaHistory();
  list.replaceChildren(...scripts.map((script) => el("li", { class: "chip", title: script, text: script.split("\n")[0],
    onclick: () => {
      document.getElementById("lua-script").value = script;
      document.getElementById("lua-script").focus();
    } })));
  document.getElementById("lua-history-empty").hidden = scripts.length > 0;
}

// The console is there only when the bridge runs scripts (not --no-execute).
function renderLuaConsole() {
  document.getElementById("lua").hidden = !state.executeEnabled;
  document.getElementById("lua-off").hidden = state.executeEnabled;
}

document.getElementById("lua").addEventListener("submit", async (event) => {
  event.preventDefault();
  const script = document.getElementById("lua-script").value;
  if (!script.trim()) {
    display("lua-result", "Write a script first.", false);
    return;
  }
  remember(script);
  const body = { script, timeout_ms: Number(document.getElementById("lua-timeout").value) || undefined };
  await runInConsole("lua-run", "lua-rtt", "lua-result", gamePath(document.getElementById("lua-game").value, "/lua/execute"), body);
});

// Ctrl+Enter (or ⌘+Enter) runs the script.
document.getElementById("lua-script").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    document.getElementById("lua").requestSubmit();
  }
});
