// ControlNet units (up to the schema's maxItems): each an image, a preprocessor and a model, with
// the unit's settings from the ControlNetUnit schema. "Preview" runs the cnt/preview tool with
// the same preprocessor and settings, so the control map is seen before anything is generated.

import { call } from "./api.js";
import * as catalog from "./catalog.js";
import { h } from "./dom.js";
import { buildField, readFields } from "./form_builder.js";
import { deref, requestSchema, unwrap } from "./schema.js";
import { follow, newTaskId } from "./task_runner.js";

const CONTROL_MODES = ["0: balanced", "1: my prompt is more important", "2: ControlNet is more important"];

export function controlnetUnits(spec, { idPrefix, onInput = null, initImage = () => "" }) {
  const params = requestSchema(spec, "/sd/v2/controlnet");
  const args = deref(spec, deref(spec, params.properties.controlnet).properties.args);
  const unitSchema = deref(spec, args.items);
  const maxUnits = args.maxItems ?? 4;
  const preview = requestSchema(spec, "/tool/cnt/preview");
  const preprocessors = ["none", ...((preview && unwrap(spec, preview.properties.preprocessor).schema.examples) || [])];
  const units = [];
  const list = h("div", { class: "stack" });
  const addButton = h("button", { type: "button", id: `${idPrefix}-cn-add`, onclick: () => addUnit() }, "Add a ControlNet unit");

  function addUnit(values = {}) {
    if (units.length >= maxUnits) return;
    const n = units.length + 1;
    const prefix = `${idPrefix}-cn${n}`;
    const field = (name, options = {}) => buildField(spec, name, unitSchema.properties[name], { idPrefix: prefix, onInput, ...options });
    const image = field("input_image", { label: "Control image" });
    const module = field("module", { label: "Preprocessor" });
    // The preprocessor names come from the cnt/preview schema: the same names work in both.
    const moduleSelect = h("select", { id: `${prefix}-module` }, preprocessors.map((name) => h("option", { value: name }, name)));
    module.control.replaceWith(moduleSelect);
    module.control = moduleSelect;
    module.read = () => (moduleSelect.value === "none" ? undefined : moduleSelect.value);
    module.set = (value) => {
      moduleSelect.value = value || "none";
    };
    moduleSelect.addEventListener("change", () => onInput && onInput("module"));
    const model = field("model", { label: "ControlNet model", keepDefault: true });
    const modelSelect = h("select", { id: `${prefix}-model` });
    catalog.controlnetModels().then((names) => {
      if (names && names.length) {
        modelSelect.replaceChildren(...names.map((name) => h("option", { value: name }, name)));
        model.control.replaceWith(modelSelect);
        model.control = modelSelect;
        model.read = () => modelSelect.value;
        model.set = (value) => {
          if (value) modelSelect.value = value;
        };
        if (values.model) modelSelect.value = values.model;
      }
    });
    const controlMode = field("control_mode");
    const modeSelect = h("select", { id: `${prefix}-control_mode` }, CONTROL_MODES.map((label, i) => h("option", { value: String(i) }, label)));
    controlMode.control.replaceWith(modeSelect);
    controlMode.read = () => (modeSelect.value === "0" ? undefined : Number(modeSelect.value));
    controlMode.set = (value) => {
      modeSelect.value = String(value ?? 0);
    };
    const others = ["weight", "guidance_start", "guidance_end", "resize_mode", "processor_res", "threshold_a", "threshold_b", "pixel_perfect"]
      .filter((name) => unitSchema.properties[name])
      .map((name) => field(name));
    const mask = unitSchema.properties.mask ? field("mask", { label: "Unit mask" }) : null;
    const fields = [image, module, model, controlMode, ...others, ...(mask ? [mask] : [])];

    const previewSlot = h("div", { class: "gallery", "aria-live": "polite" });
    const previewStatus = h("span", { class: "muted small" });
    const previewButton = h("button", { type: "button", onclick: () => runPreview() }, "Preview the preprocessor");
    async function runPreview() {
      const source = image.widget.value || initImage();
      if (!source) {
        previewStatus.textContent = "Choose a control image first.";
        return;
      }
      const chosen = moduleSelect.value;
      if (chosen === "none") {
        previewSlot.replaceChildren(h("img", { class: "result-image", src: source, alt: "The control image as it is (no preprocessor)" }));
        return;
      }
      const body = { businessTaskId: newTaskId("cnt-preview"), sourceImage: source, preprocessor: chosen };
      const byName = Object.fromEntries(others.map((f) => [f.name, f]));
      const res = byName.processor_res && byName.processor_res.value();
      if (res) body.processorRes = res;
      if (byName.threshold_a && byName.threshold_a.value() !== undefined) body.thresholdA = byName.threshold_a.value();
      if (byName.threshold_b && byName.threshold_b.value() !== undefined) body.thresholdB = byName.threshold_b.value();
      previewButton.disabled = true;
      previewStatus.textContent = `Running ${chosen}…`;
      try {
        await call("/tool/cnt/preview", body);
        const done = await follow({ kind: "tool", toolCode: "cnt/preview", businessTaskId: body.businessTaskId }, () => {});
        if (done.state !== "success") throw new Error(done.errorMsg || done.state);
        previewSlot.replaceChildren(h("img", { class: "result-image", src: done.outputImageUrl, alt: `${chosen} control map` }));
        previewStatus.textContent = `${chosen} (${done.method || "preview"})`;
      } catch (error) {
        previewStatus.textContent = `Preview failed: ${error.message}`;
      } finally {
        previewButton.disabled = false;
      }
    }

    const element = h(
      "fieldset",
      { class: "cn-unit stack", dataset: { unit: String(n) } },
      h("legend", {}, `ControlNet unit ${n}`),
      image.element,
      h("div", { class: "grid2" }, module.element, model.element),
      h("div", { class: "buttons" }, previewButton, previewStatus),
      previewSlot,
      h("div", { class: "grid2" }, controlMode.element, ...others.map((f) => f.element)),
      mask ? h("details", {}, h("summary", {}, "Unit mask"), mask.element) : null,
      h("button", { type: "button", class: "danger", onclick: () => removeUnit(unit) }, `Remove unit ${n}`),
    );
    const unit = { element, fields, set: (v) => fields.forEach((f) => f.set(v[f.name])) };
    unit.set(values);
    units.push(unit);
    list.append(element);
    addButton.disabled = units.length >= maxUnits;
    if (onInput) onInput("controlnet");
  }

  function removeUnit(unit) {
    units.splice(units.indexOf(unit), 1);
    unit.element.remove();
    addButton.disabled = false;
    if (onInput) onInput("controlnet");
  }

  const element = h(
    "details",
    { id: `${idPrefix}-controlnet` },
    h("summary", {}, "ControlNet"),
    h("p", { class: "muted small" }, `Up to ${maxUnits} units; with any unit the request goes to sd/v2/controlnet. A unit without its own image uses the init image.`),
    list,
    addButton,
  );
  return {
    element,
    count: () => units.length,
    read() {
      return units.map((unit) => {
        const values = readFields(unit.fields);
        if (!values.input_image && !initImage()) throw new Error("ControlNet: a unit needs a control image (or an init image)");
        return values;
      });
    },
    set(list_) {
      units.splice(0).forEach((unit) => unit.element.remove());
      (list_ || []).forEach((values) => addUnit(values));
      addButton.disabled = units.length >= maxUnits;
    },
  };
}
