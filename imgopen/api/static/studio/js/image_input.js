// One image field: drop a file, paste one, choose one, or type a URL. A file is sent as a data
// URI (the API takes those in every image field), so nothing is uploaded before the submit.

import { h, uid } from "./dom.js";

function readAsDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

// A value that can be shown as a thumbnail as it is (an output of this server, any http(s) URL,
// a data URI); `stored:` references of kept inputs cannot.
function showable(value) {
  return /^(https?:|data:image\/|\/)/i.test(value);
}

/**
 * imageInput({id, label, required, onChange}) -> {element, value, fileName, width, height, set(v), clear()}
 * onChange({value, width, height}) fires once the picture is known (its size read from it).
 */
export function imageInput({ id = uid("image"), label = "Image", required = false, describedBy = null, onChange = null } = {}) {
  const state = { value: "", fileName: "", width: 0, height: 0 };
  const fileInput = h("input", {
    type: "file",
    accept: "image/*",
    id: `${id}-file`,
    "aria-label": `${label}: choose a file`,
    class: "file-input",
  });
  const urlInput = h("input", {
    type: "url",
    id,
    placeholder: "https://… or paste / drop an image",
    "aria-describedby": describedBy,
    // aria-required only: a file leaves this box empty, so the form's own check decides.
    "aria-required": required ? "true" : null,
    autocomplete: "off",
  });
  const thumbSlot = h("div", { class: "thumb-empty" }, "no image");
  const meta = h("div", { class: "meta", "aria-live": "polite" });
  const clearButton = h("button", { type: "button", class: "link", onclick: () => api.clear() }, "Clear");
  const zone = h(
    "div",
    { class: "image-input", tabindex: "0", "aria-label": `${label}: drop or paste an image here`, dataset: { field: id } },
    thumbSlot,
    h("div", { class: "controls" }, urlInput, h("div", { class: "buttons" }, fileInput, clearButton), meta),
  );

  function showThumb(src) {
    const current = zone.querySelector(".thumb, .thumb-empty");
    if (!src || !showable(src)) {
      current.replaceWith(h("div", { class: "thumb-empty" }, src ? "kept input" : "no image"));
      return;
    }
    const img = h("img", { class: "thumb", alt: `${label} preview` });
    img.onload = () => {
      state.width = img.naturalWidth;
      state.height = img.naturalHeight;
      meta.textContent = `${state.fileName || "image"}: ${state.width}×${state.height}`;
      if (onChange) onChange({ value: state.value, width: state.width, height: state.height, src });
    };
    img.onerror = () => {
      meta.textContent = "This address does not load as an image in the browser (the server may still fetch it).";
    };
    img.src = src;
    current.replaceWith(img);
  }

  async function takeFile(file) {
    if (!file) return;
    if (!file.type.startsWith("image/")) {
      meta.textContent = `${file.name} is not an image.`;
      return;
    }
    state.value = await readAsDataUrl(file);
    state.fileName = file.name;
    urlInput.value = "";
    urlInput.placeholder = `${file.name} (sent as a data URI)`;
    showThumb(state.value);
  }

  fileInput.addEventListener("change", () => takeFile(fileInput.files[0]));
  urlInput.addEventListener("change", () => {
    const text = urlInput.value.trim();
    state.value = text;
    state.fileName = "";
    state.width = 0;
    state.height = 0;
    meta.textContent = "";
    showThumb(text);
    if (!text && onChange) onChange({ value: "", width: 0, height: 0 });
  });
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    const file = [...(event.dataTransfer.files || [])].find((f) => f.type.startsWith("image/"));
    if (file) takeFile(file);
    else {
      const text = event.dataTransfer.getData("text/uri-list") || event.dataTransfer.getData("text/plain");
      if (text) api.set(text.trim());
    }
  });
  // Paste works while the field (or anything in it) has the focus: a screenshot straight in.
  zone.addEventListener("paste", (event) => {
    const file = [...(event.clipboardData.files || [])].find((f) => f.type.startsWith("image/"));
    if (file) {
      event.preventDefault();
      takeFile(file);
    }
  });

  const api = {
    element: zone,
    input: urlInput,
    fileInput,
    get value() {
      return state.value;
    },
    get fileName() {
      return state.fileName;
    },
    get width() {
      return state.width;
    },
    get height() {
      return state.height;
    },
    set(value, fileName = "") {
      state.value = value || "";
      state.fileName = fileName;
      urlInput.value = value && !value.startsWith("data:") ? value : "";
      urlInput.placeholder = fileName ? `${fileName} (sent as a data URI)` : "https://… or paste / drop an image";
      meta.textContent = value && !showable(value) ? `${value} (an input the server kept)` : "";
      showThumb(state.value);
    },
    clear() {
      api.set("");
      fileInput.value = "";
      if (onChange) onChange({ value: "", width: 0, height: 0 });
    },
  };
  return api;
}
