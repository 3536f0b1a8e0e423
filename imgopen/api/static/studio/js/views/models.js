// Models: what is installed, as cards (checkpoints, LoRAs, VAEs, embeddings) from the four list
// endpoints, with the values to send (sd_model_checkpoint, <lora:NAME:W>, sd_vae, the embedding
// token) and a button that takes each into the Generate screen.

import * as catalog from "../catalog.js";
import { bytes, h, replace } from "../dom.js";

const KINDS = [
  {
    key: "checkpoints",
    label: "Checkpoints",
    load: catalog.checkpoints,
    name: (row) => row.sdModelName,
    image: (row) => row.modelImgUrl2,
    facts: (row) => [
      ["sd_model_checkpoint", row.sdModelCheckpoint],
      ["base", row.modelBaseModel],
      ["variant", row.modelVersion],
      ["hash", row.shortHash],
      ["size", bytes(row.sizeBytes)],
    ],
    action: { label: "Generate with it", payload: (row) => ({ model: row.sdModelCheckpoint }) },
  },
  {
    key: "loras",
    label: "LoRAs",
    load: catalog.loras,
    name: (row) => row.loraName || row.sdLoraFileSimplifyName,
    image: (row) => row.loraImgUrl,
    facts: (row) => [
      ["prompt", `<lora:${row.sdLoraFileSimplifyName}:0.8>`],
      ["base", row.modelBaseModel],
      ["file", row.sdLoraFileName],
      ["trigger words", (row.triggerWords || []).join(", ")],
    ],
    action: {
      label: "Add to the prompt",
      payload: (row) => ({ appendPrompt: [`<lora:${row.sdLoraFileSimplifyName}:0.8>`, ...(row.triggerWords || []).slice(0, 1)].join(", ") }),
    },
  },
  {
    key: "vaes",
    label: "VAEs",
    load: catalog.vaes,
    name: (row) => row.vaeName,
    image: () => null,
    facts: (row) => [
      ["sd_vae", row.sdVae],
      ["base", row.modelBaseModel],
    ],
    action: { label: "Use this VAE", payload: (row) => ({ vae: row.sdVae }) },
  },
  {
    key: "embeddings",
    label: "Embeddings",
    load: catalog.embeddings,
    name: (row) => row.embeddingName,
    image: () => null,
    facts: (row) => [
      ["token", row.embeddingName],
      ["base", row.modelBaseModel],
      ["vectors", row.vectors],
      ["file", row.fileName],
    ],
    action: { label: "Add to the prompt", payload: (row) => ({ appendPrompt: row.embeddingName }) },
  },
];

export function mount(container, ctx) {
  let kind = KINDS[0];
  let rows = [];
  const filter = h("input", { type: "search", id: "models-filter", placeholder: "name, base model…", "aria-label": "Filter the models" });
  const cards = h("div", { class: "cards", id: "models-cards", "aria-live": "polite" });
  const tabs = KINDS.map((k) =>
    h("button", { type: "button", role: "tab", id: `models-tab-${k.key}`, "aria-selected": String(k === kind), onclick: () => choose(k) }, k.label),
  );
  const refresh = h(
    "button",
    {
      type: "button",
      onclick: () => {
        catalog.refresh();
        choose(kind);
      },
    },
    "Refresh",
  );
  container.append(
    h(
      "section",
      { class: "panel stack" },
      h("h2", {}, "Models"),
      h("div", { class: "filters" }, h("div", { class: "tabs-row", role: "tablist", "aria-label": "Kinds of model" }, tabs), h("div", { class: "field" }, filter), refresh),
      cards,
    ),
  );
  filter.addEventListener("input", render);

  function render() {
    const wanted = filter.value.trim().toLowerCase();
    const shown = rows.filter((row) => !wanted || JSON.stringify(row).toLowerCase().includes(wanted));
    if (!shown.length) {
      replace(cards, h("p", { class: "muted" }, rows.length ? "Nothing matches." : `No ${kind.label.toLowerCase()} installed.`));
      return;
    }
    replace(
      cards,
      shown.map((row) => {
        const image = kind.image(row);
        return h(
          "article",
          { class: "card", dataset: { kind: kind.key, name: kind.name(row) } },
          image ? h("img", { class: "preview", src: image, alt: `${kind.name(row)} preview`, loading: "lazy" }) : h("div", { class: "preview" }, "no preview"),
          h("h3", {}, kind.name(row)),
          h(
            "dl",
            { class: "facts small" },
            kind
              .facts(row)
              .filter(([, value]) => value !== null && value !== undefined && value !== "")
              .map(([key, value]) => [h("dt", {}, key), h("dd", {}, String(value))]),
          ),
          h("button", { type: "button", onclick: () => ctx.open("generate", kind.action.payload(row)) }, kind.action.label),
        );
      }),
    );
  }

  async function choose(next) {
    kind = next;
    tabs.forEach((tab) => tab.setAttribute("aria-selected", String(tab.id === `models-tab-${kind.key}`)));
    replace(cards, h("p", { class: "muted" }, "Loading…"));
    try {
      rows = await kind.load();
      render();
    } catch (error) {
      replace(cards, h("p", { class: "error" }, error.message));
    }
  }

  return {
    show() {
      choose(kind);
    },
  };
}
