// The live state of one task: where it stands in the queue, a progress bar, step and ETA, the
// live preview a generation publishes while sampling, and the Cancel button.

import { h, seconds } from "./dom.js";
import { FINAL } from "./task_runner.js";

const LABELS = {
  queued: "Queued",
  running: "Running",
  success: "Done",
  failed: "Failed",
  cancelled: "Cancelled",
};

/** progressView({onCancel, idPrefix}) -> {element, start(label), update(data), finish(data), fail(message)} */
export function progressView({ onCancel, idPrefix = "task" } = {}) {
  const status = h("p", { class: "status", role: "status", "aria-live": "polite", id: `${idPrefix}-status` });
  const bar = h("progress", { max: "1", value: "0", id: `${idPrefix}-progress`, "aria-labelledby": `${idPrefix}-status` });
  const details = h("div", { class: "muted small", id: `${idPrefix}-details` });
  const preview = h("img", { class: "live-preview", alt: "Live preview of the sampling", id: `${idPrefix}-preview` });
  const cancelButton = h("button", { type: "button", class: "danger", id: `${idPrefix}-cancel`, disabled: true }, "Cancel");
  const element = h("div", { class: "progress-view", "data-state": "idle", hidden: true }, status, bar, details, preview, h("div", { class: "buttons" }, cancelButton));
  preview.hidden = true;
  let started = 0;
  let lastPreview = "";

  cancelButton.addEventListener("click", async () => {
    cancelButton.disabled = true;
    status.textContent = "Cancelling…";
    try {
      await onCancel();
    } catch (error) {
      status.textContent = `Could not cancel: ${error.message}`;
      cancelButton.disabled = false;
    }
  });

  return {
    element,
    bar,
    start(label = "Submitting…") {
      element.hidden = false;
      element.dataset.state = "submitting";
      status.textContent = label;
      bar.value = 0;
      bar.removeAttribute("value"); // indeterminate until the server says more
      details.textContent = "";
      preview.hidden = true;
      lastPreview = "";
      started = performance.now();
      cancelButton.disabled = true;
    },
    /** One query answer of any kind (sd v2, tool, training). */
    update(data) {
      element.hidden = false;
      const state = data.state || "queued";
      element.dataset.state = state;
      const live = data.temporaryImageDto || null;
      const progress = live && Number.isFinite(live.progress) ? live.progress : data.progress;
      if (state === "queued") {
        status.textContent = data.queuePosition ? `Queued: position ${data.queuePosition} (1 = next)` : LABELS.queued;
        bar.removeAttribute("value");
      } else {
        bar.value = Number.isFinite(progress) ? progress : 0;
        status.textContent =
          state === "failed"
            ? `Failed (${data.errorCode || "error"}): ${data.errorMsg || data.desc || "no message"}`
            : `${LABELS[state] || state}${state === "running" ? ` ${Math.round(bar.value * 100)}%` : ""}`;
      }
      const parts = [];
      if (live && live.totalSteps) parts.push(`step ${live.step} of ${live.totalSteps}`);
      if (data.totalSteps && data.step !== null && data.step !== undefined) parts.push(`step ${data.step} of ${data.totalSteps}`);
      if (data.epoch !== null && data.epoch !== undefined) parts.push(`epoch ${data.epoch}`);
      if (data.loss !== null && data.loss !== undefined) parts.push(`loss ${Number(data.loss).toFixed(4)}`);
      if (live && Number.isFinite(live.etaSeconds)) parts.push(`about ${seconds(live.etaSeconds)} left`);
      if (FINAL.has(state)) parts.push(`${seconds((performance.now() - started) / 1000)} in all`);
      details.textContent = parts.join(" · ");
      if (live && live.currentImageUrl && live.currentImageUrl !== lastPreview) {
        lastPreview = live.currentImageUrl;
        preview.src = live.currentImageUrl;
        preview.hidden = false;
      }
      if (FINAL.has(state)) {
        preview.hidden = true;
        cancelButton.disabled = true;
        if (state === "success") bar.value = 1;
      } else {
        cancelButton.disabled = false;
      }
    },
    fail(message) {
      element.hidden = false;
      element.dataset.state = "failed";
      status.textContent = message;
      bar.value = 0;
      cancelButton.disabled = true;
      preview.hidden = true;
    },
    hide() {
      element.hidden = true;
    },
  };
}
