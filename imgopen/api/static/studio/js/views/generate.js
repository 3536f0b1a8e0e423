// Generate: text to image, image to image and inpainting (a mask painted on the picture), with
// the model / VAE / sampler / LoRA pickers, the hires fix, ADetailer and ControlNet units. Every
// field is built from the SD request schema (bounds, defaults and help come from the server);
// this module only lays them out and decides which endpoint a request goes to.

import { call } from "../api.js";
import { liveCodePanel } from "../code_samples.js";
import { controlnetUnits } from "../controlnet_units.js";
import { h } from "../dom.js";
import { buildField, buildForm, readFields } from "../form_builder.js";
import { maskPainter } from "../mask_painter.js";
import { checkpointPicker, loraPanel, samplerPicker, vaePicker } from "../pickers.js";
import { progressView } from "../progress_view.js";
import { renderResult } from "../results.js";
import { deref, requestSchema, unwrap } from "../schema.js";
import { beginRun, cancel, follow, newTaskId } from "../task_runner.js";

const MODES = [
  { value: "txt2img", label: "Text to image" },
  { value: "img2img", label: "Image to image" },
  { value: "inpaint", label: "Inpaint" },
];

// Sizes are multiples of 8 between 64 and 2048 (the schema's bounds): an init image's size is
// rounded to that before it becomes the output size.
const snap = (value) => Math.max(64, Math.min(2048, Math.round(value / 8) * 8));

export function mount(container, ctx) {
  const { spec } = ctx;
  const full = requestSchema(spec, "/sd/v2/controlnet");
  const t2i = requestSchema(spec, "/sd/v2/text2image");
  const props = full.properties;
  const P = "gen";
  let pendingId = newTaskId("gen");
  let handle = null;
  let following = { stopped: false };
  let lastSeeds = [];

  // The request shown as code follows the form (buildRequest is defined below; it runs later).
  const code = liveCodePanel({ idPrefix: `${P}-code`, build: () => buildRequest() });
  const refresh = code.schedule;
  const F = (name, options = {}) => buildField(spec, name, props[name], { idPrefix: P, onInput: refresh, ...options });

  // --- fields ---------------------------------------------------------------------------------
  const prompt = F("prompt", { required: true, rows: 4, label: "Prompt" });
  const negative = F("negative_prompt", { rows: 2, label: "Negative prompt" });
  const model = checkpointPicker({ id: `${P}-sd_model_checkpoint`, onInput: refresh, onModel: (row) => loras.setBaseModel(row ? row.modelBaseModel : null) });
  const vae = vaePicker({ id: `${P}-sd_vae`, onInput: refresh });
  const sampler = samplerPicker({ id: `${P}-sampler_name`, onInput: refresh });
  const width = F("width");
  const height = F("height");
  const steps = F("steps");
  const cfg = F("cfg_scale", { label: "CFG scale" });
  const batch = F("batch_size", { required: true });
  batch.set(1);
  const iterations = F("n_iter", { label: "Batch count" });
  const seed = F("seed");
  const clipSkip = F("clip_skip", { label: "Clip skip" });
  const format = F("output_image_format", { label: "Output format" });
  const initImage = F("image_link", { label: "Init image", onImage: (info) => onInitImage(info) });
  const denoise = F("denoising_strength", { keepDefault: true, label: "Denoising strength" });
  const resizeMode = F("resize_mode");
  const painter = maskPainter({ idPrefix: `${P}-mask` });
  const inpaintFields = ["mask_blur", "inpainting_fill", "inpaint_full_res", "inpaint_full_res_padding", "inpainting_mask_invert"]
    .filter((name) => props[name])
    .map((name) => F(name));
  const hires = ["enable_hr", "hr_scale", "hr_upscaler", "hr_second_pass_steps", "hr_resize_x", "hr_resize_y"].map((name) => F(name, { label: name === "enable_hr" ? "Hires fix" : undefined }));
  // The hires pass has its own strength default (Text2ImageParams says 0.7): a second field
  // over the same wire name, read only in text-to-image mode.
  const hiresDenoise = buildField(spec, "denoising_strength", t2i.properties.denoising_strength, { idPrefix: `${P}-hr`, onInput: refresh, label: "Hires denoising strength" });
  const adSchema = deref(spec, unwrap(spec, props.ADetailer).schema);
  const adArgs = deref(spec, deref(spec, adSchema.properties.args).items);
  const adEnable = h("input", { type: "checkbox", id: `${P}-ad-enable` });
  const adForm = buildForm(spec, adArgs, { idPrefix: `${P}-ad`, onInput: refresh });
  const cn = controlnetUnits(spec, { idPrefix: P, onInput: refresh, initImage: () => (mode() === "txt2img" ? "" : initImage.widget.value) });
  const loras = loraPanel({ prompt: prompt.control, idPrefix: P });

  // --- seed: random / reuse -------------------------------------------------------------------
  const reuseButton = h("button", { type: "button", id: `${P}-seed-reuse`, disabled: true, onclick: () => seed.set(lastSeeds[0]) }, "Reuse last seed");
  const randomButton = h("button", { type: "button", id: `${P}-seed-random`, onclick: () => seed.set(-1) }, "Random");
  seed.element.append(h("div", { class: "buttons" }, randomButton, reuseButton));
  [randomButton, reuseButton].forEach((b) => b.addEventListener("click", refresh));

  // --- mode -----------------------------------------------------------------------------------
  const modeGroup = h(
    "div",
    { class: "segmented", role: "radiogroup", "aria-label": "Mode" },
    MODES.map((m, i) =>
      h("label", {}, h("input", { type: "radio", name: `${P}-mode`, value: m.value, checked: i === 0, onchange: () => applyMode() }), m.label),
    ),
  );
  const mode = () => container.querySelector(`input[name="${P}-mode"]:checked`).value;
  const initSection = h(
    "fieldset",
    { class: "stack", id: `${P}-init` },
    h("legend", {}, "Init image"),
    initImage.element,
    h("div", { class: "grid2" }, denoise.element, resizeMode.element),
  );
  const maskSection = h(
    "fieldset",
    { class: "stack", id: `${P}-inpaint` },
    h("legend", {}, "Mask: paint what to repaint"),
    painter.element,
    h("div", { class: "grid2" }, inpaintFields.map((f) => f.element)),
  );
  function applyMode() {
    const current = mode();
    initSection.hidden = current === "txt2img";
    maskSection.hidden = current !== "inpaint";
    hiresDenoise.element.hidden = current !== "txt2img";
    refresh();
  }

  // An init image sets the output size (as A1111 does) and becomes the inpainting canvas.
  function onInitImage(info) {
    if (info.width && info.height) {
      width.set(snap(info.width));
      height.set(snap(info.height));
    }
    painter.setImage(info.src || "");
    refresh();
  }

  // --- the request ------------------------------------------------------------------------------
  function buildRequest() {
    const current = mode();
    const units = cn.read();
    const body = readFields([prompt, negative, model, vae, sampler, width, height, steps, cfg, batch, iterations, seed, format]);
    const skip = clipSkip.read();
    if (skip !== undefined) body.override_settings = { CLIP_stop_at_last_layers: skip };
    const enableHr = hires[0].value();
    if (enableHr) Object.assign(body, readFields(hires));
    if (current === "txt2img" && enableHr) {
      const strength = hiresDenoise.read();
      if (strength !== undefined) body.denoising_strength = strength;
    }
    const files = new Map();
    if (current !== "txt2img") {
      if (!initImage.widget.value) {
        initImage.invalid(true);
        throw new Error("image_link: choose the init image (a file, a paste or a URL)");
      }
      Object.assign(body, readFields([initImage, denoise, resizeMode]));
      if (initImage.widget.fileName) files.set(initImage.widget.value, initImage.widget.fileName);
    }
    if (current === "inpaint") {
      if (!painter.hasMask()) throw new Error("mask_link: paint the area to repaint on the picture (Brush)");
      body.mask_link = painter.toDataURL();
      files.set(body.mask_link, "mask.png");
      Object.assign(body, readFields(inpaintFields));
    }
    if (adEnable.checked) body.ADetailer = { args: [adForm.read()] };
    if (units.length) {
      body.controlnet = { args: units };
      units.forEach((unit, i) => {
        if (unit.input_image && unit.input_image.startsWith("data:")) files.set(unit.input_image, `control-${i + 1}.png`);
      });
    }
    body.id_task = pendingId;
    const path = units.length ? "/sd/v2/controlnet" : current === "txt2img" ? "/sd/v2/text2image" : "/sd/v2/image2image";
    return { path, body, files, handle: { kind: "sd", businessTaskId: pendingId } };
  }

  // --- code panel (debounced: the mask's data URI is rebuilt at most every 300 ms) ------------

  // --- run --------------------------------------------------------------------------------------
  const submitButton = h("button", { type: "submit", class: "primary", id: `${P}-submit` }, "Generate");
  const errorLine = h("p", { class: "error", id: `${P}-error`, role: "alert" });
  const progress = progressView({ idPrefix: P, onCancel: () => cancel(handle) });
  const results = h("div", { id: `${P}-results`, class: "results", "aria-live": "polite" });

  const imageActions = [
    { label: "Image to image", run: (picture) => useAsInit(picture.url, "img2img") },
    { label: "Inpaint", run: (picture) => useAsInit(picture.url, "inpaint") },
    { label: "Send to a tool", run: (picture) => ctx.open("tools", { image: picture.url }) },
  ];

  function useAsInit(url, next) {
    container.querySelector(`input[name="${P}-mode"][value="${next}"]`).checked = true;
    applyMode();
    initImage.set(url);
    initImage.control.scrollIntoView({ block: "center" });
  }

  async function generate(event) {
    event.preventDefault();
    const begun = beginRun(buildRequest, errorLine, following);
    if (!begun) return;
    const { request } = begun;
    following = begun.signal;
    const mine = following;
    submitButton.disabled = true;
    results.replaceChildren();
    progress.start();
    pendingId = newTaskId("gen");
    try {
      const data = await call(request.path, request.body);
      handle = { kind: "sd", businessTaskId: data.task_id };
      const done = await follow(handle, (answer) => progress.update(answer), mine);
      if (!done) return;
      progress.update(done);
      lastSeeds = (done.differentialImageRspList || []).map((image) => image.seed);
      reuseButton.disabled = !lastSeeds.length;
      reuseButton.textContent = lastSeeds.length ? `Reuse seed ${lastSeeds[0]}` : "Reuse last seed";
      results.replaceChildren(renderResult(done, { describe: (name) => (props[name] || {}).description, actions: { image: imageActions } }));
    } catch (error) {
      progress.fail(error.message);
    } finally {
      submitButton.disabled = false;
      refresh();
    }
  }

  const form = h(
    "form",
    { id: `${P}-form`, class: "panel stack", novalidate: true, onsubmit: generate, "aria-label": "Generation settings" },
    h("div", { class: "buttons" }, modeGroup),
    prompt.element,
    negative.element,
    loras.element,
    h("div", { class: "grid2" }, model.element, h("div", { class: "stack" }, vae.element, sampler.element)),
    initSection,
    maskSection,
    h("div", { class: "grid2" }, width.element, height.element, steps.element, cfg.element, batch.element, iterations.element),
    seed.element,
    h(
      "details",
      { id: `${P}-hires` },
      h("summary", {}, "Hires fix"),
      h("div", { class: "stack" }, hires[0].element, h("div", { class: "grid2" }, hires.slice(1).map((f) => f.element), hiresDenoise.element)),
    ),
    h(
      "details",
      { id: `${P}-adetailer` },
      h("summary", {}, "ADetailer (faces)"),
      h("div", { class: "field check" }, adEnable, h("label", { for: adEnable.id }, "Re-draw each detected face", h("span", { class: "wire" }, "ADetailer.args[0]"))),
      adForm.element,
    ),
    cn.element,
    h("details", {}, h("summary", {}, "More"), h("div", { class: "grid2" }, clipSkip.element, format.element)),
    h("div", { class: "buttons" }, submitButton, h("span", { class: "muted small" }, "Enter in any field generates; Ctrl+Enter in the prompt too.")),
    errorLine,
    code.element,
  );
  adEnable.addEventListener("change", refresh);
  prompt.control.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });

  container.append(
    h(
      "div",
      { class: "split" },
      form,
      h("section", { class: "panel stack", "aria-label": "Result" }, h("h2", {}, "Result"), progress.element, results, h("p", { class: "muted small", id: `${P}-hint` }, "Pictures appear here; the History screen keeps every one.")),
    ),
  );
  applyMode();

  return {
    /** Settings from elsewhere (History's "use again", a trained LoRA, a model card). */
    receive(payload) {
      if (!payload) return;
      if (payload.params) {
        const params = payload.params;
        const next = params.mask_link ? "inpaint" : params.image_link ? "img2img" : "txt2img";
        container.querySelector(`input[name="${P}-mode"][value="${next}"]`).checked = true;
        applyMode();
        for (const field of [prompt, negative, width, height, steps, cfg, batch, iterations, seed, format, initImage, denoise, resizeMode, ...inpaintFields, ...hires]) {
          if (params[field.name] !== undefined) field.set(params[field.name]);
        }
        if (next === "txt2img" && params.denoising_strength !== undefined) hiresDenoise.set(params.denoising_strength);
        model.set(params.sd_model_checkpoint || "");
        vae.set(params.sd_vae || "");
        sampler.set(params.sampler_name || params.sampler_index || "");
        const skip = params.override_settings && params.override_settings.CLIP_stop_at_last_layers;
        clipSkip.set(skip ?? params.clip_skip);
        const ad = params.ADetailer && params.ADetailer.args && params.ADetailer.args[0];
        adEnable.checked = Boolean(ad);
        if (ad) adForm.set(ad);
        cn.set((params.controlnet && params.controlnet.args) || []);
      }
      if (payload.model) model.set(payload.model);
      if (payload.vae) vae.set(payload.vae);
      if (payload.prompt) prompt.set(payload.prompt);
      if (payload.appendPrompt) {
        const text = prompt.control.value.trim();
        prompt.set(text ? `${text}, ${payload.appendPrompt}` : payload.appendPrompt);
      }
      if (payload.image) useAsInit(payload.image, "img2img");
      if (payload.reloadLoras) loras.reload();
      refresh();
      prompt.control.focus();
    },
  };
}
