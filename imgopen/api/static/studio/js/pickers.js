// Pickers filled from what the server has installed: a checkpoint select with its preview, VAE
// and sampler selects, LoRA cards (preview, base model, trigger words) that write
// <lora:NAME:W> into a prompt, and embedding chips. Each returns the field interface of
// form_builder.js ({name, element, read(), set(), focus(), invalid()}).

import { append, bytes, h } from "./dom.js";
import * as catalog from "./catalog.js";

/** Inserts `text` at the caret of a textarea (with a ", " where words would touch). */
export function insertAtCaret(area, text) {
  const start = area.selectionStart ?? area.value.length;
  const end = area.selectionEnd ?? area.value.length;
  const before = area.value.slice(0, start);
  const after = area.value.slice(end);
  const lead = before && !/[\s,(]$/.test(before) ? ", " : "";
  const tail = after && !/^[\s,)]/.test(after) ? ", " : "";
  area.value = before + lead + text + tail + after;
  const caret = (before + lead + text).length;
  area.setSelectionRange(caret, caret);
  area.dispatchEvent(new Event("input", { bubbles: true }));
  area.focus();
}

/** A select field over a list that arrives later; `emptyLabel` is the "server decides" choice. */
export function selectField({ name, label, help, id, emptyLabel = "(server default)", onInput = null }) {
  const select = h("select", { id, "aria-describedby": `${id}-help` }, h("option", { value: "" }, emptyLabel));
  const helpLine = h("div", { class: "help", id: `${id}-help` }, help);
  const element = h("div", { class: "field", dataset: { field: name } }, h("label", { for: id }, label, h("span", { class: "wire" }, name)), select, helpLine);
  let wanted = "";
  select.addEventListener("change", () => onInput && onInput(name));
  return {
    name,
    element,
    control: select,
    help: helpLine,
    /** [{value, label}]; the value asked for before the list came is kept if present. */
    fill(options) {
      const keep = wanted || select.value;
      select.replaceChildren(h("option", { value: "" }, emptyLabel), ...options.map((o) => h("option", { value: o.value }, o.label)));
      if (keep && options.some((o) => o.value === keep)) select.value = keep;
      else if (keep) {
        select.append(h("option", { value: keep }, `${keep} (not installed?)`));
        select.value = keep;
      }
    },
    read() {
      return select.value || undefined;
    },
    value() {
      return select.value;
    },
    set(value) {
      wanted = value || "";
      if (!value) {
        select.value = "";
        return;
      }
      if (![...select.options].some((o) => o.value === value)) select.append(h("option", { value }, value));
      select.value = value;
    },
    reset() {
      this.set("");
    },
    focus() {
      select.focus();
    },
    invalid(flag) {
      select.toggleAttribute("aria-invalid", flag);
    },
  };
}

/** The checkpoint picker with a preview card (image, base model, hash, size). */
export function checkpointPicker({ id, onInput = null, onModel = null }) {
  const field = selectField({
    name: "sd_model_checkpoint",
    label: "Model",
    id,
    help: "A checkpoint from queryModelList; empty: the server's default checkpoint.",
    onInput,
  });
  const preview = h("div", { class: "card model-preview", "aria-live": "polite" });
  field.element.append(preview);
  let rows = [];
  const show = () => {
    const row = rows.find((r) => r.sdModelCheckpoint === field.control.value);
    preview.replaceChildren();
    preview.hidden = !row;
    if (!row) {
      if (onModel) onModel(null);
      return;
    }
    append(preview, [
      row.modelImgUrl2 ? h("img", { class: "preview", src: row.modelImgUrl2, alt: `${row.sdModelName} preview` }) : null,
      h("div", { class: "kv" }, `${row.modelBaseModel}${row.modelVersion ? ` · ${row.modelVersion}` : ""}${row.shortHash ? ` · ${row.shortHash}` : ""} · ${bytes(row.sizeBytes)}`),
    ]);
    if (onModel) onModel(row);
  };
  field.control.addEventListener("change", show);
  catalog
    .checkpoints()
    .then((found) => {
      rows = found;
      field.fill(rows.map((row) => ({ value: row.sdModelCheckpoint, label: `${row.sdModelName} — ${row.modelBaseModel}` })));
      show();
    })
    .catch((error) => {
      field.help.textContent = `Could not list the models: ${error.message}`;
    });
  const set = field.set;
  field.set = (value) => {
    set.call(field, value);
    show();
  };
  field.rows = () => rows;
  return field;
}

export function vaePicker({ id, onInput = null }) {
  const field = selectField({ name: "sd_vae", label: "VAE", id, emptyLabel: "Automatic", help: "queryVaeList; Automatic: the checkpoint's own.", onInput });
  catalog
    .vaes()
    .then((rows) => field.fill(rows.map((row) => ({ value: row.sdVae, label: `${row.vaeName} — ${row.modelBaseModel}` }))))
    .catch(() => {});
  return field;
}

export function samplerPicker({ id, onInput = null }) {
  const field = selectField({ name: "sampler_name", label: "Sampler", id, help: "A1111 sampler names (GET /sdapi/v1/samplers).", onInput });
  catalog.samplers().then((names) => {
    if (names) field.fill(names.map((name) => ({ value: name, label: name })));
  });
  return field;
}

/**
 * LoRA cards that insert <lora:NAME:W> (W from the weight box) and their trigger words into the
 * prompt; cards of another base model than the chosen checkpoint's are dimmed, not hidden.
 */
export function loraPanel({ prompt, idPrefix }) {
  const weight = h("input", { type: "number", id: `${idPrefix}-lora-weight`, min: "-2", max: "2", step: "0.05", value: "0.8" });
  const list = h("div", { class: "lora-list", id: `${idPrefix}-loras`, role: "list" }, h("p", { class: "muted small" }, "Loading the LoRAs…"));
  const embeddingChips = h("div", { class: "chips", id: `${idPrefix}-embeddings` });
  let base = null;
  let rows = [];

  const render = () => {
    list.replaceChildren();
    if (!rows.length) list.append(h("p", { class: "muted small" }, "No LoRA installed (models/loras)."));
    for (const row of rows) {
      const name = row.sdLoraFileSimplifyName;
      const tag = () => `<lora:${name}:${Number(weight.value || 1)}>`;
      list.append(
        h(
          "div",
          { class: `card ${base && row.modelBaseModel !== base ? "dim" : ""}`, role: "listitem", dataset: { lora: name } },
          row.loraImgUrl ? h("img", { class: "preview", src: row.loraImgUrl, alt: `${name} preview` }) : h("div", { class: "preview" }, "no preview"),
          h("h3", {}, row.loraName || name),
          h("div", { class: "kv" }, row.modelBaseModel),
          h("button", { type: "button", onclick: () => insertAtCaret(prompt, tag()), "aria-label": `Add LoRA ${name} to the prompt` }, "Add to prompt"),
          row.triggerWords && row.triggerWords.length
            ? h(
                "div",
                { class: "chips", "aria-label": "Trigger words" },
                row.triggerWords.slice(0, 8).map((word) => h("button", { type: "button", class: "chip", title: "Insert this trigger word", onclick: () => insertAtCaret(prompt, word) }, word)),
              )
            : null,
        ),
      );
    }
  };

  catalog
    .loras()
    .then((found) => {
      rows = found;
      render();
    })
    .catch((error) => list.replaceChildren(h("p", { class: "error" }, `Could not list the LoRAs: ${error.message}`)));
  catalog
    .embeddings()
    .then((found) => {
      if (!found.length) embeddingChips.append(h("span", { class: "muted small" }, "No embedding installed."));
      for (const row of found) {
        embeddingChips.append(
          h("button", { type: "button", class: "chip", title: `${row.modelBaseModel}, ${row.vectors ?? "?"} vectors: write it in the prompt`, onclick: () => insertAtCaret(prompt, row.embeddingName) }, row.embeddingName),
        );
      }
    })
    .catch(() => {});

  const element = h(
    "details",
    { class: "loras", id: `${idPrefix}-lora-panel` },
    h("summary", {}, "LoRAs and embeddings"),
    h("div", { class: "field" }, h("label", { for: weight.id }, "LoRA weight"), weight, h("div", { class: "help" }, "W in <lora:NAME:W>: how strongly the LoRA applies (0.8 is a common start).")),
    list,
    h("h4", {}, "Embeddings"),
    h("p", { class: "muted small" }, "Click to write one in the prompt (negative embeddings go in the negative prompt: move it there)."),
    embeddingChips,
  );
  return {
    element,
    setBaseModel(value) {
      base = value;
      render();
    },
    reload() {
      catalog.refresh("loras");
      catalog.loras().then((found) => {
        rows = found;
        render();
      });
    },
  };
}
