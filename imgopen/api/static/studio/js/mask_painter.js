// Paint an inpainting mask on the picture itself: a canvas laid over the image, at the image's own
// pixel size (so the mask matches it exactly whatever the zoom), a brush, an eraser and a size.
// The strokes are kept as the canvas' alpha; the mask sent is white where painted, black elsewhere.

import { h, uid } from "./dom.js";

export function maskPainter({ idPrefix = uid("mask") } = {}) {
  const image = h("img", { alt: "The picture to inpaint", draggable: "false" });
  const canvas = h("canvas", {
    id: `${idPrefix}-canvas`,
    "aria-label": "Mask: paint with the mouse over the area to repaint",
    role: "img",
  });
  const context = canvas.getContext("2d", { willReadFrequently: true });
  let tool = "brush";
  let painting = false;
  let last = null;
  let painted = false;

  const size = h("input", { type: "range", id: `${idPrefix}-size`, min: "1", max: "256", value: "24" });
  const sizeOut = h("output", { for: size.id }, "24 px");
  const brushButton = h("button", { type: "button", "aria-pressed": "true", onclick: () => choose("brush") }, "Brush");
  const eraserButton = h("button", { type: "button", "aria-pressed": "false", onclick: () => choose("eraser") }, "Eraser");
  const clearButton = h("button", { type: "button", onclick: () => api.clear() }, "Clear mask");
  const invertButton = h("button", { type: "button", onclick: () => invert() }, "Invert");
  const stage = h("div", { class: "stage" }, image, canvas);
  const empty = h("p", { class: "muted small" }, "Choose the picture above, then paint the area to repaint.");
  const element = h(
    "div",
    { class: "mask-painter" },
    h(
      "div",
      { class: "tools", role: "toolbar", "aria-label": "Mask tools" },
      brushButton,
      eraserButton,
      h("label", { for: size.id }, "Size"),
      size,
      sizeOut,
      clearButton,
      invertButton,
    ),
    empty,
    stage,
  );
  stage.hidden = true;

  let sizeChosen = false;
  size.addEventListener("input", () => {
    sizeChosen = true;
    sizeOut.textContent = `${size.value} px`;
  });

  function choose(next) {
    tool = next;
    brushButton.setAttribute("aria-pressed", String(next === "brush"));
    eraserButton.setAttribute("aria-pressed", String(next === "eraser"));
  }

  // Brush sizes are in the image's pixels: the same stroke covers the same part of the picture
  // whatever size it is shown at.
  function point(event) {
    const rect = canvas.getBoundingClientRect();
    return {
      x: ((event.clientX - rect.left) * canvas.width) / rect.width,
      y: ((event.clientY - rect.top) * canvas.height) / rect.height,
    };
  }

  function stroke(from, to) {
    context.globalCompositeOperation = tool === "eraser" ? "destination-out" : "source-over";
    // Cyan: it stands out on skin, sky and foliage alike (only the alpha counts in the mask).
    context.strokeStyle = "rgb(0, 190, 255)";
    context.fillStyle = "rgb(0, 190, 255)";
    context.lineWidth = Number(size.value);
    context.lineCap = "round";
    context.lineJoin = "round";
    context.beginPath();
    if (from.x === to.x && from.y === to.y) {
      context.arc(to.x, to.y, Number(size.value) / 2, 0, Math.PI * 2);
      context.fill();
    } else {
      context.moveTo(from.x, from.y);
      context.lineTo(to.x, to.y);
      context.stroke();
    }
    if (tool === "brush") painted = true;
    element.dispatchEvent(new Event("input", { bubbles: true }));
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    painting = true;
    canvas.setPointerCapture(event.pointerId);
    last = point(event);
    stroke(last, last);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!painting) return;
    const next = point(event);
    stroke(last, next);
    last = next;
  });
  const stop = () => {
    painting = false;
    last = null;
  };
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);

  function invert() {
    const { width, height } = canvas;
    if (!width) return;
    const data = context.getImageData(0, 0, width, height);
    for (let i = 0; i < data.data.length; i += 4) {
      data.data[i] = 0;
      data.data[i + 1] = 190;
      data.data[i + 2] = 255;
      data.data[i + 3] = 255 - data.data[i + 3];
    }
    context.putImageData(data, 0, 0);
    painted = true;
    element.dispatchEvent(new Event("input", { bubbles: true }));
  }

  // The picture is shown as large as fits (small ones scaled up, so a 64 px image can still be
  // painted on with precision); the canvas follows its box, its pixels stay the picture's.
  const MAX_HEIGHT = 448;
  function fit() {
    if (!image.naturalWidth) return;
    const room = Math.max(160, (element.clientWidth || 448) - 4);
    const scale = Math.min(room / image.naturalWidth, MAX_HEIGHT / image.naturalHeight);
    image.style.width = `${Math.round(image.naturalWidth * scale)}px`;
    image.style.height = `${Math.round(image.naturalHeight * scale)}px`;
  }
  window.addEventListener("resize", fit);
  if (window.ResizeObserver) new ResizeObserver(fit).observe(element);

  const api = {
    element,
    canvas,
    /** Shows `src` and sizes the mask to its pixels (keeping strokes if the size is unchanged). */
    setImage(src) {
      if (!src) {
        stage.hidden = true;
        empty.hidden = false;
        return;
      }
      image.onload = () => {
        fit();
        if (canvas.width !== image.naturalWidth || canvas.height !== image.naturalHeight) {
          canvas.width = image.naturalWidth;
          canvas.height = image.naturalHeight;
          painted = false;
        }
        const longest = Math.max(canvas.width, canvas.height);
        size.max = String(Math.max(8, Math.round(longest / 2)));
        // A new picture gets a brush of about 1/12 of it, unless the size was chosen by hand.
        if (!sizeChosen) {
          size.value = String(Math.max(2, Math.round(longest / 12)));
          sizeOut.textContent = `${size.value} px`;
        }
        stage.hidden = false;
        empty.hidden = true;
      };
      image.src = src;
    },
    hasMask() {
      if (!painted || !canvas.width) return false;
      const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) return true;
      return false;
    },
    clear() {
      context.clearRect(0, 0, canvas.width, canvas.height);
      painted = false;
      element.dispatchEvent(new Event("input", { bubbles: true }));
    },
    /** The mask as a PNG data URI at the image's size: white where painted, black elsewhere. */
    toDataURL() {
      const out = document.createElement("canvas");
      out.width = canvas.width;
      out.height = canvas.height;
      const draw = out.getContext("2d");
      draw.drawImage(canvas, 0, 0);
      draw.globalCompositeOperation = "source-in"; // keep the strokes' coverage, colour them white
      draw.fillStyle = "#ffffff";
      draw.fillRect(0, 0, out.width, out.height);
      draw.globalCompositeOperation = "destination-over"; // black under everything else
      draw.fillStyle = "#000000";
      draw.fillRect(0, 0, out.width, out.height);
      return out.toDataURL("image/png");
    },
  };
  return api;
}
