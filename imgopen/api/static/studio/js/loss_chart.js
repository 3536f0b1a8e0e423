// The training loss as an SVG line chart: the loss of each step seen while polling (thin line)
// and the mean of each finished epoch (dashed), on the same step axis. SVG, not canvas: it
// scales with the page and its numbers stay selectable text.

const NS = "http://www.w3.org/2000/svg";
const W = 600;
const H = 200;
const PAD = { left: 44, right: 10, top: 10, bottom: 22 };

function node(tag, attrs = {}) {
  const el = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  return el;
}

export function lossChart({ id = "loss-chart" } = {}) {
  const svg = node("svg", { viewBox: `0 0 ${W} ${H}`, class: "loss-chart", id, role: "img", "aria-label": "Training loss by step" });
  let steps = [];
  let epochs = [];
  let totalSteps = 0;

  function draw() {
    svg.replaceChildren();
    const points = steps.filter((p) => Number.isFinite(p.loss));
    const epochPoints = epochs.filter((p) => Number.isFinite(p.loss));
    const all = [...points, ...epochPoints];
    svg.append(
      node("line", { class: "axis", x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom }),
      node("line", { class: "axis", x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom }),
    );
    if (!all.length) {
      const text = node("text", { x: W / 2, y: H / 2, "text-anchor": "middle" });
      text.textContent = "The loss appears here once the first steps have run.";
      svg.append(text);
      return;
    }
    const maxStep = Math.max(totalSteps, ...all.map((p) => p.step), 1);
    let low = Math.min(...all.map((p) => p.loss));
    let high = Math.max(...all.map((p) => p.loss));
    if (high - low < 1e-6) {
      low -= 0.05;
      high += 0.05;
    }
    const x = (step) => PAD.left + (step / maxStep) * (W - PAD.left - PAD.right);
    const y = (loss) => PAD.top + (1 - (loss - low) / (high - low)) * (H - PAD.top - PAD.bottom);
    const line = (list, cls) => {
      if (!list.length) return;
      const path = list.map((p) => `${x(p.step).toFixed(1)},${y(p.loss).toFixed(1)}`).join(" ");
      svg.append(node("polyline", { class: cls, points: list.length === 1 ? `${path} ${path}` : path }));
      for (const p of list.length < 40 ? list : []) svg.append(node("circle", { cx: x(p.step), cy: y(p.loss), r: 2, class: cls }));
    };
    line(points, "line");
    line(epochPoints, "epochs");
    for (const [value, anchor] of [[high, PAD.top + 8], [low, H - PAD.bottom]]) {
      const label = node("text", { x: PAD.left - 4, y: anchor, "text-anchor": "end" });
      label.textContent = value.toFixed(3);
      svg.append(label);
    }
    const axis = node("text", { x: W - PAD.right, y: H - 6, "text-anchor": "end" });
    axis.textContent = `step ${maxStep}`;
    svg.append(axis);
  }

  draw();
  return {
    element: svg,
    /** One query answer of a training: its step and loss, and the epoch means once known. */
    update(data) {
      if (data.totalSteps) totalSteps = data.totalSteps;
      if (Number.isFinite(data.step) && Number.isFinite(data.loss) && !steps.some((p) => p.step === data.step)) {
        steps.push({ step: data.step, loss: data.loss });
      }
      if (Array.isArray(data.epochLosses) && data.epochLosses.length) {
        const per = totalSteps ? totalSteps / data.epochLosses.length : 1;
        epochs = data.epochLosses.map((loss, i) => ({ step: Math.round(per * (i + 1)), loss }));
      }
      draw();
    },
    reset() {
      steps = [];
      epochs = [];
      totalSteps = 0;
      draw();
    },
  };
}
