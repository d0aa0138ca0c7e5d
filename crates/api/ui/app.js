// Starts the dashboard: the token form, the event stream, and the games'
// refresh every REFRESH_MS.
"use strict";

document.getElementById("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.token = document.getElementById("token-input").value.trim();
  sessionStorage.setItem("gamebridge-token", state.token);
  document.getElementById("token-form").hidden = true;
  connectEvents();
  refresh();
});

renderLuaHistory();
connectEvents();
refresh();
setInterval(refresh, REFRESH_MS);
