// Inputs built from JSON Schema (the request bodies of /openapi.json): the type picks the control,
// bounds become min/max and a slider, the default becomes the initial value, an enum becomes a
// select, the description becomes the help under the field. A form reads back only what differs
// from the server's defaults, so the request (and its "as code" view) stays as short as it can be.

import { h, uid } from "./dom.js";
import { imageInput } from "./image_input.js";
import { isImageSchema, unwrap } from "./schema.js";

export class FieldError extends Error {
  constructor(field, message) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

/** "outputMode" / "hr_scale" -> "Output mode" / "Hr scale": the wire name stays shown beside it. */
export function humanize(name) {
  const words = name
    .replace(/_/g, " ")
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .trim()
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function boundsText(schema, kind) {
  const parts = [];
  const low = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? `>${schema.exclusiveMinimum}` : undefined);
  const high = schema.maximum ?? (schema.exclusiveMaximum !== undefined ? `<${schema.exclusiveMaximum}` : undefined);
  if (low !== undefined && high !== undefined) parts.push(`${low} … ${high}`);
  else if (low !== undefined) parts.push(`≥ ${low}`);
  else if (high !== undefined) parts.push(`≤ ${high}`);
  if (kind === "images" || kind === "list") {
    if (schema.minItems !== undefined || schema.maxItems !== undefined) {
      parts.push(`${schema.minItems ?? 0} to ${schema.maxItems ?? "∞"} items`);
    }
  }
  if (schema.default !== undefined && schema.default !== null && schema.default !== "") {
    parts.push(`default ${typeof schema.default === "object" ? JSON.stringify(schema.default) : schema.default}`);
  }
  return parts.join(" · ");
}

function kindOf(spec, schema) {
  if (schema.enum) return "enum";
  if (schema.type === "boolean") return "boolean";
  if (schema.type === "integer" || schema.type === "number") return "number";
  if (schema.type === "string") return isImageSchema(schema) ? "image" : "string";
  if (schema.type === "array") {
    const items = unwrap(spec, schema.items || {}).schema;
    if (isImageSchema(items)) return "images";
    if (["string", "integer", "number"].includes(items.type)) return "list";
    return "json";
  }
  if (schema.type === "object" && schema.properties) return "object";
  return "json";
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * One field: {name, element, control, read(), set(value), reset(), kind, schema, required}.
 * read() is undefined when the field should stay out of the request (empty, or the default).
 * options: required, idPrefix, label, rows (textarea), onInput (any change), keepDefault (send
 * the value even when it equals the default), onImage ({value, width, height, src} of an image
 * field once its picture has loaded, or cleared).
 */
export function buildField(spec, name, rawSchema, options = {}) {
  const { required = false, idPrefix = "f", onInput = null, keepDefault = false } = options;
  const { schema, nullable } = unwrap(spec, rawSchema);
  const kind = kindOf(spec, schema);
  const id = `${idPrefix}-${name}`.replace(/[^A-Za-z0-9_-]/g, "-");
  const helpId = `${id}-help`;
  const fallback = schema.default;
  const notify = () => onInput && onInput(name);
  let control;
  let getRaw;
  let setRaw;
  const extra = {};

  if (kind === "image") {
    const onChange = (info) => {
      notify();
      if (options.onImage) options.onImage(info);
    };
    const widget = imageInput({ id, label: options.label || humanize(name), required, describedBy: helpId, onChange });
    control = widget.element;
    getRaw = () => widget.value || undefined;
    setRaw = (value) => widget.set(value || "");
    extra.widget = widget;
  } else if (kind === "images") {
    const items = unwrap(spec, schema.items || {}).schema;
    const max = schema.maxItems ?? 8;
    const list = h("div", { class: "stack" });
    const widgets = [];
    const add = (value = "") => {
      if (widgets.length >= max) return null;
      const itemLabel = `${humanize(name)} ${widgets.length + 1}`;
      const widget = imageInput({ id: `${id}-${widgets.length}`, label: itemLabel, onChange: notify });
      widget.input.setAttribute("aria-label", `${itemLabel}: image URL`); // no <label> per item
      widgets.push(widget);
      list.append(widget.element);
      if (value) widget.set(value);
      addButton.disabled = widgets.length >= max;
      return widget;
    };
    const addButton = h("button", { type: "button", onclick: () => add() }, "Add another image");
    control = h("div", { class: "stack", id, "aria-describedby": helpId }, list, addButton);
    add();
    getRaw = () => {
      const values = widgets.map((w) => w.value).filter(Boolean);
      return values.length ? values : undefined;
    };
    setRaw = (value) => {
      const values = Array.isArray(value) ? value : value ? [value] : [];
      widgets.splice(0).forEach((w) => w.element.remove());
      addButton.disabled = false;
      if (!values.length) add();
      values.forEach((v) => add(v));
    };
    extra.itemSchema = items;
  } else if (kind === "enum") {
    const select = h("select", { id, "aria-describedby": helpId });
    if (!required && (nullable || fallback === undefined)) select.append(h("option", { value: "" }, "(not set)"));
    for (const option of schema.enum) select.append(h("option", { value: String(option) }, String(option)));
    control = select;
    getRaw = () => {
      if (select.value === "") return undefined;
      return schema.enum.find((option) => String(option) === select.value);
    };
    setRaw = (value) => {
      select.value = value === undefined || value === null ? (fallback !== undefined ? String(fallback) : "") : String(value);
    };
  } else if (kind === "boolean") {
    const box = h("input", { type: "checkbox", id, "aria-describedby": helpId });
    control = box;
    getRaw = () => box.checked;
    setRaw = (value) => {
      box.checked = Boolean(value ?? fallback);
    };
  } else if (kind === "number") {
    const integer = schema.type === "integer";
    const min = schema.minimum ?? schema.exclusiveMinimum;
    const max = schema.maximum ?? schema.exclusiveMaximum;
    const input = h("input", {
      type: "number",
      id,
      "aria-describedby": helpId,
      min: min ?? null,
      max: max ?? null,
      step: integer ? "1" : "any",
      placeholder: fallback === undefined || fallback === null ? (nullable ? "(not set)" : "") : String(fallback),
      inputmode: integer ? "numeric" : "decimal",
    });
    // A slider beside the box when the range is a human one (not seeds or pixel counts in the
    // billions); both stay in step.
    const span = min !== undefined && max !== undefined ? max - min : Infinity;
    // No slider either where the default is finer than a slider step (a learning rate of 1e-4).
    const fine = typeof fallback === "number" && fallback !== 0 && Math.abs(fallback) < span / 100;
    if (span > 0 && span <= 4096 && !fine) {
      const range = h("input", {
        type: "range",
        min,
        max,
        step: integer ? (span > 200 ? 8 : 1) : span / 100,
        "aria-label": `${humanize(name)} slider`,
        tabindex: "-1",
      });
      range.addEventListener("input", () => {
        input.value = integer ? String(Math.round(range.valueAsNumber)) : String(Number(range.valueAsNumber.toFixed(4)));
        input.dispatchEvent(new Event("input", { bubbles: true }));
      });
      input.addEventListener("input", () => {
        if (input.value !== "") range.value = input.value;
      });
      control = h("div", { class: "number-pair" }, range, input);
      extra.range = range;
    } else {
      control = input;
    }
    extra.input = input;
    getRaw = () => {
      if (input.value === "") return undefined;
      const value = Number(input.value);
      if (!Number.isFinite(value)) throw new FieldError(name, "not a number");
      return value;
    };
    setRaw = (value) => {
      const shown = value === undefined || value === null ? fallback : value;
      input.value = shown === undefined || shown === null ? "" : String(shown);
      if (extra.range && input.value !== "") extra.range.value = input.value;
    };
  } else if (kind === "list") {
    const items = unwrap(spec, schema.items || {}).schema;
    const input = h("input", { type: "text", id, "aria-describedby": helpId, placeholder: "comma-separated" });
    control = input;
    getRaw = () => {
      const parts = input.value.split(",").map((part) => part.trim()).filter(Boolean);
      if (!parts.length) return undefined;
      if (items.type === "string") return parts;
      return parts.map((part) => {
        const value = Number(part);
        if (!Number.isFinite(value)) throw new FieldError(name, `${part} is not a number`);
        return value;
      });
    };
    setRaw = (value) => {
      input.value = Array.isArray(value) ? value.join(", ") : value === undefined || value === null ? "" : String(value);
    };
  } else if (kind === "object") {
    const nested = buildForm(spec, schema, { idPrefix: id, onInput });
    control = h("fieldset", { id, "aria-describedby": helpId }, h("legend", {}, humanize(name)), nested.element);
    getRaw = () => {
      const value = nested.read();
      return Object.keys(value).length ? value : undefined;
    };
    setRaw = (value) => nested.set(value || {});
  } else if (kind === "json") {
    const area = h("textarea", { id, rows: 3, "aria-describedby": helpId, class: "mono", placeholder: "JSON" });
    control = area;
    getRaw = () => {
      if (!area.value.trim()) return undefined;
      try {
        return JSON.parse(area.value);
      } catch (error) {
        throw new FieldError(name, `not JSON (${error.message})`);
      }
    };
    setRaw = (value) => {
      area.value = value === undefined || value === null || same(value, {}) ? "" : JSON.stringify(value, null, 1);
    };
  } else {
    const long = (schema.maxLength ?? 0) >= 1000 || /prompt/i.test(name);
    const examples = schema.examples || [];
    const placeholder =
      fallback !== undefined && fallback !== null && fallback !== "" ? String(fallback) : examples.length ? `e.g. ${examples[0]}` : "";
    if (long) {
      control = h("textarea", { id, rows: options.rows || 3, "aria-describedby": helpId, maxlength: schema.maxLength ?? null, placeholder });
    } else {
      control = h("input", { type: "text", id, "aria-describedby": helpId, maxlength: schema.maxLength ?? null, placeholder, autocomplete: "off" });
      if (examples.length) {
        const listId = uid("examples");
        control.setAttribute("list", listId);
        extra.datalist = h("datalist", { id: listId }, examples.map((example) => h("option", { value: String(example) })));
      }
    }
    const box = control;
    getRaw = () => (box.value === "" ? undefined : box.value);
    setRaw = (value) => {
      box.value = value === undefined || value === null ? (typeof fallback === "string" ? fallback : "") : String(value);
    };
  }

  const label = options.label || humanize(name);
  const bounds = boundsText(schema, kind);
  const labelFor = kind === "images" || kind === "object" ? null : kind === "number" ? extra.input.id : id;
  const element = h(
    "div",
    { class: `field ${kind === "boolean" ? "check" : ""} ${required ? "required" : ""}`.trim(), dataset: { field: name, kind } },
    kind === "boolean" ? control : null,
    labelFor ? h("label", { for: labelFor }, label, h("span", { class: "wire" }, name)) : h("span", { class: "label" }, h("strong", {}, label), h("span", { class: "wire" }, name)),
    kind === "boolean" ? null : control,
    extra.datalist || null,
    h("div", { class: "help", id: helpId }, schema.description || "", bounds ? h("div", { class: "bounds" }, bounds) : null),
  );
  setRaw(undefined);
  control.addEventListener("input", notify);
  control.addEventListener("change", notify);

  const field = {
    name,
    kind,
    schema,
    required,
    element,
    control,
    widget: extra.widget || null,
    read() {
      const value = getRaw();
      if (value === undefined || value === "") {
        if (required) throw new FieldError(name, "required");
        return undefined;
      }
      if (!required && !keepDefault && fallback !== undefined && same(value, fallback)) return undefined;
      return value;
    },
    /** The value as shown, default included (for forms that always send it). */
    value() {
      return getRaw();
    },
    set(value) {
      setRaw(value);
    },
    reset() {
      setRaw(undefined);
    },
    focus() {
      const target = element.querySelector("input:not([type=range]), select, textarea");
      if (target) target.focus();
    },
    invalid(flag) {
      element.querySelectorAll("input, select, textarea").forEach((el) => el.toggleAttribute("aria-invalid", flag));
    },
  };
  return field;
}

/**
 * A form of every property of `schema` (less `skip`): {element, fields, read(), set(values)}.
 * read() throws a FieldError listing every field in error (each also marked aria-invalid).
 */
export function buildForm(spec, schema, { skip = [], idPrefix = uid("form"), onInput = null, only = null } = {}) {
  const required = new Set(schema.required || []);
  const fields = new Map();
  const element = h("div", { class: "schema-form stack" });
  for (const [name, prop] of Object.entries(schema.properties || {})) {
    if (skip.includes(name) || (only && !only.includes(name))) continue;
    const field = buildField(spec, name, prop, { required: required.has(name), idPrefix, onInput });
    fields.set(name, field);
    element.append(field.element);
  }
  return {
    element,
    fields,
    read() {
      return readFields(fields.values());
    },
    set(values) {
      for (const [name, value] of Object.entries(values || {})) {
        const field = fields.get(name);
        if (field) field.set(value);
      }
    },
  };
}

/** {name: value} of fields that have something to send; a FieldError naming every bad field. */
export function readFields(fields) {
  const body = {};
  const errors = [];
  for (const field of fields) {
    try {
      const value = field.read();
      field.invalid(false);
      if (value !== undefined) body[field.name] = value;
    } catch (error) {
      if (!(error instanceof FieldError)) throw error;
      field.invalid(true);
      errors.push({ field, message: error.message });
    }
  }
  if (errors.length) {
    errors[0].field.focus();
    const failure = new FieldError(errors[0].field.name, errors.map((e) => e.message.replace(/^[^:]+: /, "")).join("; "));
    failure.message = errors.map((e) => e.message).join("; ");
    throw failure;
  }
  return body;
}
