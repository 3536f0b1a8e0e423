// History: the key's tasks, newest first, from POST /tasks/list, so the gallery is the server's
// record (a reload, another browser, a program's tasks: all there). An item opens to its
// pictures, the PNG's own `parameters` text (read back by /sdapi/v1/png-info), the request as
// the server kept it, and "use these settings again".

import { a1111, call } from "../api.js";
import { h, replace, when } from "../dom.js";
import { figure, renderResult } from "../results.js";
import { cancel, FINAL, query } from "../task_runner.js";

const PAGE_SIZE = 24;
const KIND_LABEL = { sd: "Generation", tool: "Tool", training: "Training" };

export function mount(container, ctx) {
  let pageNum = 1;
  let total = 0;
  let timer = null;
  let visible = false;

  const kind = h(
    "select",
    { id: "history-kind" },
    h("option", { value: "" }, "Every kind"),
    Object.entries(KIND_LABEL).map(([value, label]) => h("option", { value }, label)),
  );
  const state = h(
    "select",
    { id: "history-state" },
    h("option", { value: "" }, "Every state"),
    ["queued", "running", "success", "failed", "cancelled"].map((value) => h("option", { value }, value)),
  );
  const grid = h("div", { class: "history-grid", id: "history-grid", "aria-live": "polite" });
  const summary = h("p", { class: "muted small", id: "history-summary" });
  const previous = h("button", { type: "button", id: "history-previous", onclick: () => go(pageNum - 1) }, "Newer");
  const next = h("button", { type: "button", id: "history-next", onclick: () => go(pageNum + 1) }, "Older");
  const dialogBody = h("div", { class: "dialog-body" });
  const dialog = h("dialog", { id: "history-dialog", "aria-label": "Task details" }, dialogBody);
  dialog.addEventListener("close", () => replace(dialogBody));
  [kind, state].forEach((select) => select.addEventListener("change", () => go(1)));

  container.append(
    h(
      "section",
      { class: "panel" },
      h("h2", {}, "History"),
      h(
        "div",
        { class: "filters" },
        h("div", { class: "field" }, h("label", { for: kind.id }, "Kind"), kind),
        h("div", { class: "field" }, h("label", { for: state.id }, "State"), state),
        h("button", { type: "button", id: "history-refresh", onclick: () => load() }, "Refresh"),
        summary,
      ),
      grid,
      h("div", { class: "buttons", style: "margin-top: 12px" }, previous, next),
    ),
    dialog,
  );

  function go(page) {
    pageNum = Math.max(1, page);
    load();
  }

  function title(row) {
    if (row.kind === "sd") return row.toolCode;
    if (row.kind === "training") return `LoRA ${row.sdLoraFileSimplifyName || row.businessTaskId}`;
    return row.toolCode;
  }

  function card(row) {
    const picture = row.imageUrls[0];
    return h(
      "button",
      {
        type: "button",
        class: "history-item card",
        dataset: { businessTaskId: row.businessTaskId, kind: row.kind, state: row.state },
        "aria-label": `${title(row)}, ${row.state}, ${when(row.createdAt)}: open`,
        onclick: () => open(row),
      },
      picture
        ? h("img", { src: picture, alt: `${title(row)} output`, loading: "lazy" })
        : h("div", { class: "noimage" }, row.kind === "training" ? "LoRA" : row.state === "success" ? "no picture" : row.state),
      h("span", { class: "title" }, title(row)),
      h("span", {}, h("span", { class: `badge ${row.state}` }, row.state), row.imageUrls.length > 1 ? ` · ${row.imageUrls.length} pictures` : ""),
      h("span", { class: "when" }, `${KIND_LABEL[row.kind] || row.kind} · ${when(row.createdAt)}`),
    );
  }

  async function load() {
    clearTimeout(timer);
    const body = { pageSize: PAGE_SIZE, pageNum };
    if (kind.value) body.kind = kind.value;
    if (state.value) body.state = state.value;
    let data;
    try {
      data = await call("/tasks/list", body);
    } catch (error) {
      summary.textContent = `Could not load the history: ${error.message}`;
      return;
    }
    total = data.total;
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    summary.textContent = total ? `${total} task${total === 1 ? "" : "s"} · page ${pageNum} of ${pages}` : "";
    previous.disabled = pageNum <= 1;
    next.disabled = pageNum >= pages;
    if (!data.rows.length) {
      replace(grid, h("p", { class: "muted" }, total ? "Nothing on this page." : "No task yet: what you generate and run appears here."));
    } else {
      replace(grid, data.rows.map(card));
    }
    // Something still queued or running: look again in a moment (only while this screen is shown).
    if (visible && data.rows.some((row) => !FINAL.has(row.state))) timer = setTimeout(load, 2000);
  }

  function paramsBlock(params) {
    const entries = Object.entries(params || {}).filter(([, value]) => value !== null && value !== "" && !(typeof value === "object" && !Array.isArray(value) && !Object.keys(value).length));
    if (!entries.length) return null;
    return h(
      "details",
      { open: true },
      h("summary", {}, "Request (as the server kept it)"),
      h(
        "dl",
        { class: "facts" },
        entries.map(([key, value]) => [h("dt", {}, key), h("dd", {}, typeof value === "object" ? h("code", {}, JSON.stringify(value)) : String(value))]),
      ),
    );
  }

  async function pngParameters(row, slot) {
    // The picture's own record of how it was made (A1111's `parameters` PNG text).
    const url = row.imageUrls[0];
    if (!url) return;
    try {
      const answer = await a1111("/sdapi/v1/png-info", { method: "POST", body: { image: url } });
      replace(slot, answer.info ? h("pre", { class: "png-parameters", id: "history-png-parameters" }, answer.info) : h("p", { class: "muted" }, "This picture carries no parameters text."));
    } catch (error) {
      replace(slot, h("p", { class: "muted" }, `Could not read the picture's parameters: ${error.message}`));
    }
  }

  async function open(row) {
    const handle = { kind: row.kind, toolCode: row.toolCode, businessTaskId: row.businessTaskId };
    const pngSlot = h("div", {}, h("p", { class: "muted" }, "Reading the picture's parameters…"));
    const full = h("div", {}, h("p", { class: "muted" }, "Loading…"));
    const useAgain = h(
      "button",
      {
        type: "button",
        class: "primary",
        id: "history-use-again",
        disabled: !row.params,
        onclick: () => {
          dialog.close();
          if (row.kind === "sd") ctx.open("generate", { params: row.params });
          else if (row.kind === "training") ctx.open("training", { params: row.params });
          else ctx.open(`tools/${row.toolCode}`, { params: row.params });
        },
      },
      "Use these settings again",
    );
    // The kept request of a random-seed generation says -1: this one pins the seed it got.
    const sameSeed =
      row.kind === "sd" && row.params && row.seeds && row.seeds.length
        ? h(
            "button",
            {
              type: "button",
              id: "history-use-seed",
              onclick: () => {
                dialog.close();
                ctx.open("generate", { params: { ...row.params, seed: row.seeds[0] } });
              },
            },
            `…with seed ${row.seeds[0]}`,
          )
        : null;
    const cancelButton = FINAL.has(row.state)
      ? null
      : h(
          "button",
          {
            type: "button",
            class: "danger",
            onclick: async () => {
              await cancel(handle);
              dialog.close();
              load();
            },
          },
          "Cancel this task",
        );
    replace(
      dialogBody,
      h(
        "div",
        { class: "dialog-head" },
        h("h2", {}, `${title(row)} `, h("span", { class: `badge ${row.state}` }, row.state)),
        h("button", { type: "button", onclick: () => dialog.close(), "aria-label": "Close" }, "Close"),
      ),
      h("p", { class: "muted small" }, `${row.businessTaskId} · ${when(row.createdAt)}${row.finishedAt ? ` → ${when(row.finishedAt)}` : ""}`),
      row.errorMsg ? h("p", { class: "error" }, row.errorMsg) : null,
      h("div", { class: "buttons" }, useAgain, sameSeed, cancelButton, row.loraUrl ? h("a", { href: row.loraUrl, download: "" }, "Download the LoRA") : null),
      row.imageUrls.length ? h("div", { class: "gallery" }, row.imageUrls.map((url, i) => figure({ url, field: "image", seed: row.seeds ? row.seeds[i] : undefined }, i))) : null,
      row.kind === "sd" && row.imageUrls.length ? h("section", {}, h("h3", {}, "Parameters in the PNG"), pngSlot) : null,
      paramsBlock(row.params),
      h("section", {}, h("h3", {}, "The task's answer"), full),
    );
    if (!dialog.open) dialog.showModal();
    if (row.kind === "sd") pngParameters(row, pngSlot);
    try {
      const data = await query(handle);
      // The pictures are shown above: the answer below is the rest of it.
      const { differentialImageRspList, outputImageUrl, outputImageUrls, ...rest } = data;
      replace(full, renderResult(rest));
    } catch (error) {
      replace(full, h("p", { class: "error" }, error.message));
    }
  }

  return {
    show() {
      visible = true;
      load();
    },
    hide() {
      visible = false;
      clearTimeout(timer);
    },
  };
}
