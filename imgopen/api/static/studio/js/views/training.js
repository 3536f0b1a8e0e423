// Training: a LoRA from images uploaded or linked here, a caption per image, the main settings
// (the rest of TrainingParams in "More settings", built from the schema), then a live view of
// epoch, step and loss with a chart, and the finished LoRA offered for text to image.

import { call } from "../api.js";
import * as catalog from "../catalog.js";
import { liveCodePanel } from "../code_samples.js";
import { h, replace } from "../dom.js";
import { buildField, buildForm, readFields } from "../form_builder.js";
import { lossChart } from "../loss_chart.js";
import { selectField } from "../pickers.js";
import { progressView } from "../progress_view.js";
import { renderResult } from "../results.js";
import { requestSchema } from "../schema.js";
import { beginRun, cancel, follow, newTaskId } from "../task_runner.js";

const PATH = "/modelTraining/submitTraining/Job";
const MAIN = ["triggerWord", "outputName", "maxEpochs", "repeats", "resolution", "batchSize", "networkDim", "networkAlpha", "learningRate", "seed"];

function readAsDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

export function mount(container, ctx) {
  const { spec } = ctx;
  const schema = requestSchema(spec, PATH);
  const P = "train";
  // The request shown as code follows the form (buildRequest is defined below; it runs later).
  const code = liveCodePanel({ idPrefix: `${P}-code`, build: () => buildRequest() });
  const refresh = code.schedule;
  const F = (name, options = {}) => buildField(spec, name, schema.properties[name], { idPrefix: P, onInput: refresh, ...options });
  const items = [];
  let handle = null;
  let following = { stopped: false };

  // --- the images and their captions ----------------------------------------------------------
  const dataset = h("div", { class: "dataset", id: `${P}-dataset`, role: "list", "aria-label": "Training images" });
  const count = h("p", { class: "muted small", "aria-live": "polite" }, "No image yet.");
  function addItem(value, name = "", caption = "") {
    const captionInput = h("input", { type: "text", value: caption, placeholder: "caption (default: the trigger word)", "aria-label": `Caption of ${name || value.slice(0, 40)}` });
    const element = h(
      "div",
      { class: "item", role: "listitem" },
      /^(https?:|data:image)/.test(value) ? h("img", { src: value, alt: name || "training image" }) : h("div", { class: "muted small" }, value),
      captionInput,
      h("button", { type: "button", class: "link", onclick: () => removeItem(item) }, "Remove"),
    );
    const item = { value, name, captionInput, element };
    captionInput.addEventListener("input", refresh);
    items.push(item);
    dataset.append(element);
    update();
  }
  function removeItem(item) {
    items.splice(items.indexOf(item), 1);
    item.element.remove();
    update();
  }
  function update() {
    count.textContent = items.length ? `${items.length} image${items.length === 1 ? "" : "s"} (1 to 500).` : "No image yet.";
    refresh();
  }
  async function addFiles(files) {
    for (const file of files) if (file.type.startsWith("image/")) addItem(await readAsDataUrl(file), file.name);
  }
  const fileInput = h("input", { type: "file", accept: "image/*", multiple: true, id: `${P}-files`, onchange: () => addFiles([...fileInput.files]) });
  const urls = h("textarea", { id: `${P}-urls`, rows: 2, placeholder: "https://… one image URL per line" });
  const drop = h(
    "div",
    { class: "image-input", tabindex: "0", "aria-label": "Drop or paste training images here" },
    h("div", { class: "thumb-empty" }, "drop images"),
    h(
      "div",
      { class: "controls" },
      h("label", { for: fileInput.id }, "Images"),
      fileInput,
      h("label", { for: urls.id }, "or image URLs"),
      urls,
      h(
        "button",
        {
          type: "button",
          onclick: () => {
            urls.value.split(/\s+/).filter(Boolean).forEach((url) => addItem(url));
            urls.value = "";
          },
        },
        "Add the URLs",
      ),
    ),
  );
  drop.addEventListener("dragover", (event) => event.preventDefault());
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    addFiles([...event.dataTransfer.files]);
  });
  drop.addEventListener("paste", (event) => addFiles([...(event.clipboardData.files || [])]));

  // --- settings -----------------------------------------------------------------------------------
  const taskId = F("taskId", { required: true, label: "Task id" });
  taskId.set(newTaskId("lora"));
  const base = selectField({ name: "pretrainedModel", label: "Base checkpoint", id: `${P}-pretrainedModel`, help: schema.properties.pretrainedModel.description || "", onInput: refresh });
  catalog.checkpoints().then((rows) => base.fill(rows.filter((row) => !/^Flux/.test(row.modelBaseModel)).map((row) => ({ value: row.sdModelCheckpoint, label: `${row.sdModelName} — ${row.modelBaseModel}` }))));
  const main = MAIN.filter((name) => schema.properties[name]).map((name) => F(name));
  const more = buildForm(spec, schema, { skip: ["taskId", "fileUrlList", "captionList", "callbackUrl", "pretrainedModel", ...MAIN], idPrefix: `${P}-more`, onInput: refresh });

  function buildRequest() {
    if (!items.length) throw new Error("fileUrlList: add at least one image");
    const body = { ...readFields([taskId]), fileUrlList: items.map((item) => item.value) };
    const captions = items.map((item) => item.captionInput.value.trim());
    const values = readFields([base, ...main]);
    if (captions.some(Boolean)) body.captionList = captions.map((caption) => caption || values.triggerWord || "");
    Object.assign(body, values, more.read());
    const files = new Map(items.filter((item) => item.name).map((item) => [item.value, item.name]));
    return { path: PATH, body, files, handle: { kind: "training", businessTaskId: body.taskId } };
  }


  // --- run and watch ------------------------------------------------------------------------------
  const submitButton = h("button", { type: "submit", class: "primary", id: `${P}-submit` }, "Start training");
  const errorLine = h("p", { class: "error", role: "alert", id: `${P}-error` });
  const progress = progressView({ idPrefix: P, onCancel: () => cancel(handle) });
  const chart = lossChart({ id: `${P}-loss` });
  const stats = h("dl", { class: "facts", id: `${P}-stats` });
  const outcome = h("div", { id: `${P}-outcome`, class: "stack" });

  function showStats(data) {
    replace(
      stats,
      ["epoch", "step", "totalSteps", "loss"].flatMap((key) => [h("dt", {}, key), h("dd", {}, data[key] === null || data[key] === undefined ? "–" : key === "loss" ? Number(data[key]).toFixed(5) : String(data[key]))]),
    );
  }

  async function start(event) {
    event.preventDefault();
    const begun = beginRun(buildRequest, errorLine, following);
    if (!begun) return;
    const { request } = begun;
    following = begun.signal;
    const mine = following;
    submitButton.disabled = true;
    chart.reset();
    replace(outcome);
    progress.start();
    try {
      await call(PATH, request.body);
      handle = { kind: "training", businessTaskId: request.body.taskId };
      const done = await follow(
        handle,
        (data) => {
          progress.update(data);
          showStats(data);
          chart.update(data);
        },
        mine,
      );
      if (!done) return;
      progress.update(done);
      showStats(done);
      chart.update(done);
      if (done.state === "success") {
        catalog.refresh("loras");
        const name = done.sdLoraFileSimplifyName;
        const trigger = request.body.triggerWord;
        replace(
          outcome,
          h("p", {}, "Your LoRA is ready: ", h("code", {}, `<lora:${name}:0.8>`)),
          h(
            "div",
            { class: "buttons" },
            h("button", { type: "button", class: "primary", id: `${P}-use`, onclick: () => ctx.open("generate", { appendPrompt: `<lora:${name}:0.8>${trigger ? `, ${trigger}` : ""}`, reloadLoras: true }) }, "Use it in text to image"),
            done.loraUrl ? h("a", { href: done.loraUrl, download: "" }, `Download ${done.loraFileName || "the LoRA"}`) : null,
          ),
          renderResult(done),
        );
      } else {
        replace(outcome, renderResult(done));
      }
    } catch (error) {
      progress.fail(error.message);
    } finally {
      submitButton.disabled = false;
      taskId.set(newTaskId("lora"));
      refresh();
    }
  }

  const form = h(
    "form",
    { class: "panel stack", id: `${P}-form`, novalidate: true, onsubmit: start, "aria-label": "Training settings" },
    h("h2", {}, "Train a LoRA"),
    drop,
    count,
    dataset,
    base.element,
    h("div", { class: "grid2" }, main.map((field) => field.element)),
    h("details", {}, h("summary", {}, "More settings"), more.element),
    h("details", {}, h("summary", {}, "Task id"), taskId.element),
    h("div", { class: "buttons" }, submitButton),
    errorLine,
    code.element,
  );
  container.append(
    h(
      "div",
      { class: "split" },
      form,
      h("section", { class: "panel stack", "aria-label": "Training progress" }, h("h2", {}, "Progress"), progress.element, stats, chart.element, outcome),
    ),
  );

  return {
    receive(payload) {
      if (!payload || !payload.params) return;
      const params = payload.params;
      items.splice(0).forEach((item) => item.element.remove());
      (params.fileUrlList || []).forEach((value, i) => {
        if (value) addItem(value, "", (params.captionList || [])[i] || "");
      });
      base.set(params.pretrainedModel || "");
      for (const field of main) if (params[field.name] !== undefined) field.set(params[field.name]);
      more.set(params);
      taskId.set(newTaskId("lora"));
      if ((params.fileUrlList || []).some((value) => !value)) {
        errorLine.textContent = "Images sent inline were not kept in the listing: add them again.";
      }
    },
  };
}
