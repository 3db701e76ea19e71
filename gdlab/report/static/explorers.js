// gdlab explorers: look up precomputed, measured values and draw them with plotly.
// No gradient-descent maths here: every number shown was computed by gdlab (JAX) and
// stored in data/*.js as window.GDLAB_DATA.<explorer>.
"use strict";

function decodeArray(blob) {
  // {dtype: "float16" | "float32", shape, b64} -> {values: Float64Array, shape}
  const bytes = Uint8Array.from(atob(blob.b64), (c) => c.charCodeAt(0));
  const view = new DataView(bytes.buffer);
  const n = blob.shape.reduce((a, b) => a * b, 1);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (blob.dtype === "float32") {
      values[i] = view.getFloat32(4 * i, true);
    } else {
      values[i] = half(view.getUint16(2 * i, true));
    }
  }
  return { values, shape: blob.shape };
}

function half(h) {
  // IEEE 754 binary16 -> number (a storage format, not a computation)
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * Math.pow(2, -14) * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * Math.pow(2, exp - 15) * (1 + frac / 1024);
}

function slice(arr, index) {
  // arr.values viewed with arr.shape; fix the leading indices, return the rest flat
  let offset = 0;
  let stride = arr.values.length;
  for (let k = 0; k < index.length; k++) {
    stride /= arr.shape[k];
    offset += index[k] * stride;
  }
  return Array.from(arr.values.subarray(offset, offset + stride));
}

function finiteOrNull(v) {
  return Number.isFinite(v) ? v : null;
}

function fmt(v) {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? v.toExponential(2) : v.toPrecision(3);
}

function slider(id, n, value, onInput) {
  const el = document.getElementById(id);
  el.min = 0;
  el.max = n - 1;
  el.step = 1;
  el.value = value;
  el.addEventListener("input", onInput);
  return el;
}

function select(id, options, onChange) {
  const el = document.getElementById(id);
  el.innerHTML = "";
  for (const o of options) {
    const opt = document.createElement("option");
    opt.value = o;
    opt.textContent = o;
    el.appendChild(opt);
  }
  el.addEventListener("change", onChange);
  return el;
}

const LAYOUT = { margin: { l: 60, r: 20, t: 40, b: 50 }, font: { size: 12 } };
const CONFIG = { displayModeBar: false, responsive: true };

// ------------------------------------------------------------------ 1. paths on 2-D problems
function explorePaths() {
  const D = window.GDLAB_DATA.paths;
  const decoded = {};
  const problem = select("problem", Object.keys(D.problems), draw);
  const optimizer = select("optimizer", Object.keys(D.optimizers), () => { setBetas(); draw(); });
  const rate = slider("rate", D.rates.length, Math.floor(D.rates.length / 2), draw);
  const beta = slider("beta", 1, 0, draw);

  function setBetas() {
    const o = D.optimizers[optimizer.value];
    beta.max = o.betas.length - 1;
    beta.value = Math.min(Number(beta.value), o.betas.length - 1);
    document.getElementById("beta-row").style.display = o.beta ? "contents" : "none";
    document.getElementById("beta-name").textContent = o.beta || "";
  }

  function run() {
    const key = problem.value + "/" + optimizer.value;
    const r = D.problems[problem.value].runs[optimizer.value];
    if (!decoded[key]) decoded[key] = { path: decodeArray(r.path), gap: decodeArray(r.log10_gap) };
    const i = Number(rate.value);
    const j = Number(beta.value);
    const path = slice(decoded[key].path, [i, j]);
    return {
      x: path.filter((_, k) => k % 2 === 0),
      y: path.filter((_, k) => k % 2 === 1),
      gap: slice(decoded[key].gap, [i, j]),
      divergedAt: r.diverged_at[i][j],
    };
  }

  function draw() {
    const P = D.problems[problem.value];
    const o = D.optimizers[optimizer.value];
    const r = run();
    const lr = D.rates[Number(rate.value)];
    const b = o.betas[Number(beta.value)];
    document.getElementById("rate-value").textContent = fmt(lr);
    document.getElementById("beta-value").textContent = o.beta ? fmt(b) : "";
    const [[x0, x1], [y0, y1]] = [[P.contour.x[0], P.contour.x.at(-1)], [P.contour.y[0], P.contour.y.at(-1)]];
    const status = r.divergedAt >= 0 ? `diverged at step ${r.divergedAt}` :
      `f − f* after ${D.num_steps} steps: ${fmt(Math.pow(10, r.gap.at(-1)))}`;
    document.getElementById("status").textContent = status;
    Plotly.react("path-plot", [
      { type: "contour", x: P.contour.x, y: P.contour.y, z: P.contour.log10_gap,
        colorscale: "Viridis", ncontours: 25, showscale: true,
        colorbar: { title: { text: "log10 (f − f*)" } }, hoverinfo: "skip" },
      { type: "scatter", mode: "lines+markers", x: r.x.map(finiteOrNull), y: r.y.map(finiteOrNull),
        name: "path", line: { color: "#e8112d", width: 2 }, marker: { size: 4, color: "#e8112d" } },
      { type: "scatter", mode: "markers", x: [P.x0[0]], y: [P.x0[1]], name: "start",
        marker: { size: 11, color: "black", symbol: "circle" } },
      { type: "scatter", mode: "markers", x: P.minima.map((m) => m[0]), y: P.minima.map((m) => m[1]),
        name: "minima", marker: { size: 13, color: "white", symbol: "star",
          line: { color: "black", width: 1 } } },
    ], { ...LAYOUT, title: { text: `${problem.value}: ${optimizer.value}, η = ${fmt(lr)}` +
      (o.beta ? `, ${o.beta} = ${fmt(b)}` : "") },
    xaxis: { range: [x0, x1], title: { text: "x₁" } }, yaxis: { range: [y0, y1], title: { text: "x₂" } },
    legend: { orientation: "h", y: -0.18 } }, CONFIG);
    Plotly.react("loss-plot", [
      { type: "scatter", mode: "lines", x: r.gap.map((_, k) => k), y: r.gap.map(finiteOrNull),
        name: "log10 (f − f*)" },
    ], { ...LAYOUT, title: { text: "Does the loss go down? " + status },
      xaxis: { title: { text: "step" } }, yaxis: { title: { text: "log10 (f(x_k) − f*)" } } }, CONFIG);
    window.gdlabExplorer.state = { problem: problem.value, optimizer: optimizer.value,
      rate: Number(rate.value), beta: Number(beta.value) };
  }
  setBetas();
  draw();
}

// ------------------------------------------------------------------ 2. seed 000's neuron
function exploreNeuron() {
  const D = window.GDLAB_DATA.neuron;
  const error = decodeArray(D.log10_error);
  const input = slider("input", D.inputs.length, D.inputs.indexOf(0.5), draw);
  const goal = slider("goal", D.goals.length, D.goals.indexOf(0.8), draw);
  const alpha = slider("alpha", D.alphas.length, D.alphas.findIndex((a) => Math.abs(a - 1) < 1e-9), draw);

  function draw() {
    const i = Number(input.value), g = Number(goal.value), a = Number(alpha.value);
    const x = D.inputs[i], y = D.goals[g], lr = D.alphas[a];
    document.getElementById("input-value").textContent = fmt(x);
    document.getElementById("goal-value").textContent = fmt(y);
    document.getElementById("alpha-value").textContent = fmt(lr);
    const e = slice(error, [i, g, a]);
    const factor = lr * x * x;
    document.getElementById("status").textContent =
      `α·input² = ${fmt(factor)}: ` + (x === 0 ? "input 0 never moves the weight" :
        factor < 2 ? "< 2, the error shrinks" : factor === 2 ? "= 2, it oscillates forever" :
          "> 2, the error grows");
    Plotly.react("error-plot", [
      { type: "scatter", mode: "lines+markers", x: e.map((_, k) => k), y: e.map(finiteOrNull),
        name: "measured" },
    ], { ...LAYOUT, title: { text: "The squared error per iteration (measured)" },
      xaxis: { title: { text: "iteration" }, dtick: 2 }, yaxis: { title: { text: "log10 (pred − goal)²" } } }, CONFIG);
    const boundary = D.inputs.filter((v) => v !== 0);
    Plotly.react("map-plot", [
      { type: "scatter", mode: "lines", x: boundary, y: boundary.map((v) => 2 / (v * v)),
        name: "α = 2/input² (theory)", line: { dash: "dash", color: "black" } },
      { type: "scatter", mode: "markers", x: [x], y: [lr], name: "this setting",
        marker: { size: 13, color: factor < 2 ? "green" : "red" } },
    ], { ...LAYOUT, title: { text: "Where does it converge? Below the curve" },
      xaxis: { title: { text: "input" } },
      yaxis: { title: { text: "α (log)" }, type: "log", range: [-2, 1] } }, CONFIG);
    window.gdlabExplorer.state = { input: i, goal: g, alpha: a };
  }
  draw();
}

// ------------------------------------------------------------------ 3. depth and init
function exploreDepth() {
  const D = window.GDLAB_DATA.depth;
  const activation = select("activation", D.activations, draw);
  const init = select("init", D.inits, draw);
  const depth = slider("depth", D.depths.length, D.depths.indexOf(10), draw);

  function draw() {
    const d = D.depths[Number(depth.value)];
    document.getElementById("depth-value").textContent = d;
    const norms = D.norms[`${activation.value}/${init.value}/${d}`];
    const ratio = norms[0] / norms.at(-1);
    document.getElementById("status").textContent =
      `first / last layer gradient norm: ${fmt(ratio)}`;
    Plotly.react("depth-plot", [
      { type: "bar", x: norms.map((_, k) => k + 1), y: norms, name: "‖∂loss/∂W_l‖" },
    ], { ...LAYOUT, title: { text: `Do gradients reach the first layer? ${activation.value}, ${init.value}, depth ${d}` },
      xaxis: { title: { text: "layer l (1 = first, last = output)" } },
      yaxis: { title: { text: "gradient norm (log)" }, type: "log" } }, CONFIG);
    window.gdlabExplorer.state = { activation: activation.value, init: init.value, depth: d };
  }
  draw();
}

// ------------------------------------------------------------------ 4. Taylor along a step
function exploreTaylor() {
  const D = window.GDLAB_DATA.taylor;
  const eps = slider("eps", D.epsilon.length, Math.floor(D.epsilon.length / 2), draw);

  function draw() {
    const k = Number(eps.value);
    const e = D.epsilon[k];
    document.getElementById("eps-value").textContent = `${fmt(e)} (= ${fmt(e / D.epsilon_star)} ε*)`;
    document.getElementById("status").textContent =
      `actual ${fmt(D.actual[k])}, first order ${fmt(D.first_order[k])}, second order ${fmt(D.second_order[k])}`;
    const curves = [["actual f(x − εg) − f(x)", D.actual, "black"],
      ["first order −ε gᵀg", D.first_order, "#1f77b4"],
      ["second order −ε gᵀg + ½ε² gᵀHg", D.second_order, "#d62728"]];
    const traces = curves.map(([name, y, color]) => ({ type: "scatter", mode: "lines", x: D.epsilon, y,
      name, line: { color } }));
    traces.push(...curves.map(([name, y, color]) => ({ type: "scatter", mode: "markers", x: [e], y: [y[k]],
      showlegend: false, marker: { size: 10, color } })));
    const lo = Math.min(...D.actual, ...D.first_order.slice(0, k + 1)), hi = Math.max(...D.actual.slice(0, k + 1), 0);
    traces.push({ type: "scatter", mode: "lines", x: [D.epsilon_star, D.epsilon_star],
      y: [Math.min(...D.actual), Math.max(...D.second_order.filter((v) => v < 10 * Math.abs(lo)))],
      name: "ε* = gᵀg / gᵀHg", line: { dash: "dot", color: "gray" } });
    Plotly.react("taylor-plot", traces, { ...LAYOUT,
      title: { text: "How well do the Taylor models predict a gradient step?" },
      xaxis: { title: { text: "step size ε (log)" }, type: "log" },
      yaxis: { title: { text: "change of the loss" }, range: [1.3 * Math.min(lo, -1e-12), Math.max(hi, 0.5 * Math.abs(lo))] },
      legend: { orientation: "h", y: -0.2 } }, CONFIG);
    window.gdlabExplorer.state = { eps: k };
  }
  draw();
}

window.gdlabExplorer = { state: null };
window.addEventListener("DOMContentLoaded", () => {
  const which = document.body.dataset.explorer;
  ({ paths: explorePaths, neuron: exploreNeuron, depth: exploreDepth, taylor: exploreTaylor })[which]();
});
