// The latency chart of a game card: one bar per 30-second slot of the last
// 5 minutes, p99 behind p50, on a log scale with its axes labelled, and a
// red mark under slots where calls failed.
"use strict";

const SVG = "http://www.w3.org/2000/svg";

function shape(tag, attributes, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text != null) node.textContent = text;
  return node;
}

// An axis label for 10^decade µs: 10 µs, 100 µs, 1 ms … 100 ms, 1 s, 10 s.
function decadeLabel(decade) {
  const units = [["µs", 0], ["ms", 3], ["s", 6]];
  const [unit, exponent] = units.filter(([, from]) => decade >= from).pop();
  return `${10 ** (decade - exponent)} ${unit}`;
}

function renderLatency(slots) {
  const box = el("div", { class: "latency" });
  if (!slots.length) {
    box.append(el("span", { class: "muted", text: "no calls in the last 5 minutes" }));
    return box;
  }
  // Plot area inside the axes: labels on the left, times below.
  const width = 340, height = 96, left = 44, bottom = 16, plot = width - left, tall = height - bottom - 6;
  const count = 10, step = plot / count, bar = step * 0.6;
  const top = Math.max(...slots.map((slot) => slot.p99_us), 10) * 1.2;
  const decades = Math.log10(top);
  const y = (value) => height - bottom - (Math.log10(Math.max(value, 1)) / decades) * tall;
  const newest = slots[slots.length - 1].start;
  const x = (slot) => left + plot - step + (step - bar) / 2 - ((newest - slot.start) / slot.seconds) * step;
  const svg = shape("svg", { width: "100%", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": "call latency per 30 s slot, log scale" });

  // The y axis: a line and a label at each power of ten up to the top.
  svg.append(shape("line", { class: "axis", x1: left, y1: 4, x2: left, y2: height - bottom }));
  for (let decade = 1; decade <= Math.floor(decades); decade += 1) {
    const at = y(10 ** decade).toFixed(1);
    svg.append(shape("line", { class: "grid", x1: left, y1: at, x2: width, y2: at }));
    svg.append(shape("text", { class: "tick y", x: left - 4, y: at, "text-anchor": "end", "dominant-baseline": "middle" },
      decadeLabel(decade)));
  }
  // The x axis: time before now.
  svg.append(shape("line", { class: "axis", x1: left, y1: height - bottom, x2: width, y2: height - bottom }));
  for (const [minutes, anchor] of [[5, "start"], [2.5, "middle"], [0, "end"]]) {
    const at = left + plot * (1 - minutes / 5);
    svg.append(shape("text", { class: "tick x", x: at.toFixed(1), y: height - 3, "text-anchor": anchor },
      minutes ? `−${minutes} min` : "now"));
  }

  for (const slot of slots) {
    for (const [quantile, key] of [["p99", "p99_us"], ["p50", "p50_us"]]) {
      const from = y(slot[key]);
      const rect = shape("rect", { class: quantile, x: x(slot).toFixed(1), y: from.toFixed(1), width: bar.toFixed(1),
        height: Math.max(1, height - bottom - from).toFixed(1) });
      rect.append(shape("title", {},
        `${slot.calls} calls, p50 ${micros(slot.p50_us)}, p99 ${micros(slot.p99_us)}, ${slot.errors} errors`));
      svg.append(rect);
    }
    if (slot.errors > 0) {
      svg.append(shape("rect", { class: "error", x: x(slot).toFixed(1), y: height - bottom + 1, width: bar.toFixed(1), height: 3 }));
    }
  }
  const last = slots[slots.length - 1];
  const errors = slots.reduce((sum, slot) => sum + slot.errors, 0);
  box.append(svg,
    el("div", { class: "legend muted" },
      el("span", { class: "key p50", text: "p50" }), el("span", { class: "key p99", text: "p99" }),
      el("span", { class: "key error", text: "failed calls" }),
      el("span", { text: "call latency per 30 s, log scale" })),
    el("div", { class: "muted summary", text:
      `latest 30 s: ${last.calls} calls, p50 ${micros(last.p50_us)}, p99 ${micros(last.p99_us)} · ${errors} error(s) in 5 min` }));
  return box;
}
