// A task's answer, shown for people: the pictures first (any field ending in Url / Urls that
// points at an image, and a generation's images with their seeds), then every other result field
// in a readable form (faces and boxes as a table, scored labels as bars, prompts as a list), and
// the raw JSON last, for whoever wants the exact shape.

import { h } from "./dom.js";

// Fields every task answer has (API.md 2): shown by the progress view, not repeated here.
const TASK_FIELDS = new Set([
  "state", "progress", "queuePosition", "errorMsg", "errorCode", "attempts", "createdAt", "startedAt",
  "finishedAt", "filesExpired", "status", "businessTaskId", "taskId", "task_id", "id_task", "toolCode",
  "toolTask", "desc", "temporaryImageDto", "differentialImageRspList", "outputImageUrls", "warnings",
]);

const IMAGE_PATH = /\.(png|jpe?g|webp|gif|bmp)$/i;

/** Whether a string is the URL of an image (an output of this server, or any image address). */
export function isImageUrl(value) {
  if (typeof value !== "string" || !value) return false;
  if (value.startsWith("data:image/")) return true;
  try {
    const url = new URL(value, window.location.href);
    return /^https?:$/.test(url.protocol) && (IMAGE_PATH.test(url.pathname) || url.pathname.startsWith("/models/preview/"));
  } catch {
    return false;
  }
}

/** [{url, field, seed?}] of every picture in an answer, each URL once. */
export function picturesOf(data) {
  const seen = new Set();
  const out = [];
  const add = (url, field, extra = {}) => {
    if (!isImageUrl(url) || seen.has(url)) return;
    seen.add(url);
    out.push({ url, field, ...extra });
  };
  for (const image of data.differentialImageRspList || []) add(image.image_url, "image_url", { seed: image.seed });
  if (data.outputImageUrl) add(data.outputImageUrl, "outputImageUrl");
  for (const url of data.outputImageUrls || []) add(url, "outputImageUrls");
  for (const [key, value] of Object.entries(data)) {
    if (/Urls?$/.test(key) && key !== "outputImageUrl") {
      for (const url of Array.isArray(value) ? value : [value]) add(url, key);
    }
  }
  return out;
}

function fileName(url, field, index) {
  try {
    const path = new URL(url, window.location.href).pathname;
    const last = path.split("/").filter(Boolean).slice(-2).join("-");
    return last || `${field}-${index + 1}.png`;
  } catch {
    return `${field}-${index + 1}.png`;
  }
}

/** One picture with its size (read once loaded), a Download link and the caller's actions. */
export function figure(picture, index, actions = []) {
  const img = h("img", {
    class: "result-image",
    src: picture.url,
    alt: `${picture.field} ${index + 1}`,
    dataset: { field: picture.field, seed: picture.seed ?? "" },
    loading: "lazy",
  });
  const size = h("span", { class: "size" });
  img.addEventListener("load", () => {
    size.textContent = `${img.naturalWidth}×${img.naturalHeight}`;
    // Small pictures (crops, tiny test models) are shown enlarged, pixels kept sharp; the
    // caption keeps the real size.
    const longest = Math.max(img.naturalWidth, img.naturalHeight);
    if (longest < 160) {
      const zoom = Math.ceil(160 / longest);
      img.style.width = `${img.naturalWidth * zoom}px`;
      img.classList.add("zoomed");
      size.textContent += ` (shown ×${zoom})`;
    }
  });
  return h(
    "figure",
    {},
    h("a", { href: picture.url, target: "_blank", rel: "noopener", title: "Open full size" }, img),
    h(
      "figcaption",
      {},
      h("code", {}, picture.field),
      size,
      picture.seed !== undefined ? h("span", {}, `seed ${picture.seed}`) : null,
      h("a", { href: picture.url, download: fileName(picture.url, picture.field, index), class: "download" }, "Download"),
      actions.map((action) => h("button", { type: "button", class: "link", onclick: () => action.run(picture) }, action.label)),
    ),
  );
}

function box(value) {
  return `x ${Math.round(value.x)}, y ${Math.round(value.y)}, ${Math.round(value.width)}×${Math.round(value.height)}`;
}

function cell(value) {
  if (value === null || value === undefined) return "";
  if (isImageUrl(value)) return h("a", { href: value, target: "_blank", rel: "noopener" }, h("img", { src: value, alt: "crop" }));
  if (typeof value === "number") {
    if (Number.isInteger(value)) return String(value);
    return Math.abs(value) < 0.001 ? value.toExponential(2) : String(Number(value.toPrecision(4)));
  }
  if (typeof value === "object" && !Array.isArray(value) && ["x", "y", "width", "height"].every((k) => k in value)) return box(value);
  if (typeof value === "object") {
    const text = JSON.stringify(value);
    return h("code", { title: text }, text.length > 60 ? `${text.slice(0, 57)}…` : text);
  }
  return String(value);
}

// A list of {label, score}: the label is its one string field.
function scoredLabels(items) {
  if (!items.length || !items.every((item) => item && typeof item === "object" && typeof item.score === "number")) return null;
  // Only small {label, score} pairs (styles, tags): richer rows (faces) read better as a table.
  if (items.some((item) => Object.keys(item).length > 3)) return null;
  const labelKey = Object.keys(items[0]).find((key) => typeof items[0][key] === "string" && !isImageUrl(items[0][key]));
  if (!labelKey) return null;
  const max = Math.max(1e-9, ...items.map((item) => item.score));
  return h(
    "div",
    { class: "bars" },
    items.map((item) => [
      h("span", {}, item[labelKey]),
      h("meter", { min: "0", max: String(max > 1 ? max : 1), value: String(item.score), "aria-label": `${item[labelKey]} score` }),
      h("span", { class: "mono" }, item.score.toFixed(3)),
    ]),
  );
}

function table(items) {
  const columns = [...new Set(items.flatMap((item) => Object.keys(item)))];
  return h(
    "table",
    { class: "rows" },
    h("thead", {}, h("tr", {}, columns.map((column) => h("th", {}, column)))),
    h("tbody", {}, items.map((item) => h("tr", {}, columns.map((column) => h("td", {}, cell(item[column])))))),
  );
}

function listValue(key, value, actions) {
  if (!value.length) return h("span", { class: "muted" }, "none");
  if (value.every((item) => typeof item === "string")) {
    if (value.some((item) => item.length > 40)) {
      return h(
        "ol",
        {},
        value.map((item) =>
          h(
            "li",
            {},
            h("span", {}, item),
            " ",
            (actions.text || []).map((action) => h("button", { type: "button", class: "link", onclick: () => action.run(item) }, action.label)),
            " ",
            h("button", { type: "button", class: "link", onclick: () => navigator.clipboard && navigator.clipboard.writeText(item) }, "Copy"),
          ),
        ),
      );
    }
    return h("div", { class: "chips" }, value.map((item) => h("span", { class: "chip" }, item)));
  }
  if (value.every((item) => typeof item === "number")) return value.map((n) => cell(n)).join(", ");
  if (value.every((item) => item && typeof item === "object" && !Array.isArray(item))) {
    return scoredLabels(value) || table(value);
  }
  return h("code", {}, JSON.stringify(value));
}

/**
 * renderResult(data, {describe, actions}) -> element.
 * describe(field) -> the schema's description (shown as a tooltip); actions.image: [{label,
 * run(picture)}] under each picture; actions.text: [{label, run(text)}] beside long texts.
 */
export function renderResult(data, { describe = () => "", actions = {} } = {}) {
  const root = h("div", { class: "results" });
  const pictures = picturesOf(data);
  if (pictures.length) {
    root.append(h("div", { class: "gallery" }, pictures.map((picture, index) => figure(picture, index, actions.image || []))));
  }
  const facts = h("dl", { class: "facts" });
  const blocks = [];
  for (const [key, value] of Object.entries(data)) {
    if (TASK_FIELDS.has(key) || value === null || value === undefined || value === "") continue;
    if (/Urls?$/.test(key) && pictures.some((picture) => picture.field === key)) continue;
    const label = h("dt", { title: describe(key) || "" }, key);
    if (Array.isArray(value)) {
      blocks.push(h("section", {}, h("h4", { title: describe(key) || "" }, h("code", {}, key), ` (${value.length})`), listValue(key, value, actions)));
    } else if (typeof value === "object") {
      if (key === "info") {
        // A generation's record: the A1111 infotext (what the PNG carries), then the rest.
        const { infotext, infotexts, ...rest } = value;
        const text = infotext || (infotexts && infotexts[0]);
        const plain = Object.entries(rest).filter(
          ([, v]) => v !== null && v !== "" && (typeof v !== "object" || (Array.isArray(v) && v.length && v.every((x) => typeof x !== "object"))),
        );
        blocks.push(
          h(
            "section",
            {},
            h("h4", {}, h("code", {}, "info"), " (parameters used)"),
            text ? h("pre", { class: "infotext" }, text) : null,
            plain.length ? h("dl", { class: "facts" }, plain.map(([k, v]) => [h("dt", {}, k), h("dd", {}, Array.isArray(v) ? v.join(", ") : String(v))])) : null,
            h("details", {}, h("summary", {}, "All of info"), h("pre", {}, JSON.stringify(value, null, 2))),
          ),
        );
      } else if (["x", "y", "width", "height"].every((k) => k in value)) {
        facts.append(label, h("dd", {}, box(value)));
      } else {
        facts.append(label, h("dd", {}, h("pre", {}, JSON.stringify(value, null, 2))));
      }
    } else if (typeof value === "string" && value.length > 60) {
      facts.append(
        label,
        h(
          "dd",
          {},
          value,
          " ",
          (actions.text || []).map((action) => h("button", { type: "button", class: "link", onclick: () => action.run(value) }, action.label)),
        ),
      );
    } else if (isImageUrl(value)) {
      continue;
    } else if (typeof value === "string" && /^https?:/.test(value)) {
      facts.append(label, h("dd", {}, h("a", { href: value, download: "" }, value.split("?")[0].split("/").pop())));
    } else {
      facts.append(label, h("dd", {}, cell(value)));
    }
  }
  if (facts.childElementCount) root.append(facts);
  root.append(...blocks);
  if (data.warnings && data.warnings.length) {
    root.append(h("div", { class: "warnings", role: "note" }, h("strong", {}, "Warnings"), h("ul", {}, data.warnings.map((w) => h("li", {}, w)))));
  }
  root.append(h("details", {}, h("summary", {}, "Raw answer (JSON)"), h("pre", { class: "raw" }, JSON.stringify(data, null, 2))));
  return root;
}
