// Tools: every `POST /tool/{code}` of /openapi.json as a form built from its request schema, with
// its result shown by results.js. Nothing here names a tool: a tool the server adds tomorrow gets
// its list entry and its form from the schema alone.

import { call } from "../api.js";
import { liveCodePanel } from "../code_samples.js";
import { h, replace } from "../dom.js";
import { buildField, buildForm, readFields } from "../form_builder.js";
import { progressView } from "../progress_view.js";
import { renderResult } from "../results.js";
import { answerSchema, requestSchema, tools as listTools, unwrap } from "../schema.js";
import { beginRun, cancel, follow, newTaskId } from "../task_runner.js";

const slug = (code) => code.replace(/[^A-Za-z0-9]+/g, "-");

export function mount(container, ctx) {
  const { spec } = ctx;
  const tools = listTools(spec);
  const pages = new Map();
  let current = null;
  let pendingImage = "";

  const list = h(
    "ul",
    { class: "tool-list", id: "tool-list" },
    tools.map((tool) => h("li", {}, h("a", { href: `#/tools/${tool.code}`, dataset: { code: tool.code } }, tool.summary, h("span", { class: "code" }, tool.code)))),
  );
  const formColumn = h("div", { class: "panel" }, h("p", { class: "muted" }, "Choose a tool on the left. Each form is built from the tool's schema in /openapi.json."));
  const resultColumn = h("section", { class: "panel stack", "aria-label": "Tool result" }, h("h2", {}, "Result"));
  container.append(h("div", { class: "tool-layout" }, h("nav", { class: "panel", "aria-label": "Tools" }, h("h2", {}, "Tools"), list), formColumn, resultColumn));

  function page(tool) {
    if (pages.has(tool.code)) return pages.get(tool.code);
    const schema = requestSchema(spec, tool.path);
    const answer = answerSchema(spec, `${tool.path}/queryTask`) || answerSchema(spec, tool.path) || { properties: {} };
    const prefix = `tool-${slug(tool.code)}`;
    const code = liveCodePanel({ idPrefix: `${prefix}-code`, build: () => buildRequest(), delay: 250 });
    const refresh = code.schedule;
    const form = buildForm(spec, schema, { skip: ["businessTaskId", "callbackUrl"], idPrefix: prefix, onInput: refresh });
    const required = new Set(schema.required || []);
    const envelopeFields = ["businessTaskId", "callbackUrl"]
      .filter((name) => schema.properties[name])
      .map((name) => buildField(spec, name, schema.properties[name], { idPrefix: prefix, required: required.has(name), onInput: refresh }));
    const businessId = envelopeFields.find((field) => field.name === "businessTaskId");
    if (businessId) businessId.set(newTaskId(slug(tool.code)));
    let handle = null;
    let following = { stopped: false };

    function buildRequest() {
      const body = { ...readFields(envelopeFields), ...form.read() };
      const files = new Map();
      for (const field of form.fields.values()) {
        if (field.widget && field.widget.fileName) files.set(field.widget.value, field.widget.fileName);
      }
      return { path: tool.path, body, files, handle: { kind: "tool", toolCode: tool.code, businessTaskId: body.businessTaskId, synchronous: tool.synchronous } };
    }

    const submitButton = h("button", { type: "submit", class: "primary", id: `${prefix}-submit` }, `Run ${tool.summary}`);
    const errorLine = h("p", { class: "error", role: "alert", id: `${prefix}-error` });
    const progress = progressView({ idPrefix: prefix, onCancel: () => cancel(handle) });
    const results = h("div", { class: "results", id: `${prefix}-results`, "aria-live": "polite" });
    const describe = (name) => {
      const prop = answer.properties && answer.properties[name];
      return prop ? unwrap(spec, prop).schema.description : "";
    };
    const actions = {
      image: [
        { label: "Image to image", run: (picture) => ctx.open("generate", { image: picture.url }) },
        { label: "Use in another tool", run: (picture) => ctx.open("tools", { image: picture.url }) },
      ],
      text: [{ label: "Use as prompt", run: (text) => ctx.open("generate", { prompt: text }) }],
    };

    async function run(event) {
      event.preventDefault();
      const begun = beginRun(buildRequest, errorLine, following);
      if (!begun) return;
      const { request } = begun;
      following = begun.signal;
      const mine = following;
      submitButton.disabled = true;
      results.replaceChildren();
      progress.start();
      try {
        const data = await call(request.path, request.body);
        handle = { kind: "tool", toolCode: tool.code, businessTaskId: request.body.businessTaskId };
        // A synchronous tool (prompts/expand) answers with its outcome; the others with ids.
        const done = data && data.state ? data : await follow(handle, (answer) => progress.update(answer), mine);
        if (!done) return;
        progress.update(done);
        results.replaceChildren(renderResult(done, { describe, actions }));
      } catch (error) {
        progress.fail(error.message);
      } finally {
        submitButton.disabled = false;
        if (businessId) businessId.set(newTaskId(slug(tool.code)));
        refresh();
      }
    }

    const formElement = h(
      "form",
      { class: "stack", id: `${prefix}-form`, novalidate: true, onsubmit: run, "aria-label": `${tool.summary} settings` },
      h("h2", {}, tool.summary),
      h("p", { class: "muted" }, tool.description),
      h("p", { class: "small" }, h("code", {}, `POST /AIGCImgOpenServ/saas${tool.path}`), tool.synchronous ? " (answered at once)" : ""),
      form.element,
      envelopeFields.length ? h("details", {}, h("summary", {}, "Task id and callback"), h("div", { class: "stack" }, envelopeFields.map((f) => f.element))) : null,
      h("div", { class: "buttons" }, submitButton),
      errorLine,
      code.element,
    );
    const made = {
      tool,
      form,
      formElement,
      resultElement: h("div", { class: "stack" }, progress.element, results),
      takeImage(url) {
        const first = [...form.fields.values()].find((field) => field.kind === "image" || field.kind === "images");
        if (first) first.set(first.kind === "images" ? [url] : url);
      },
    };
    pages.set(tool.code, made);
    return made;
  }

  function select(code) {
    const tool = tools.find((t) => t.code === code);
    list.querySelectorAll("a").forEach((a) => a.setAttribute("aria-current", String(a.dataset.code === code)));
    if (!tool) {
      if (code) replace(formColumn, h("p", { class: "error" }, `This server has no tool ${code}.`));
      return;
    }
    current = page(tool);
    replace(formColumn, current.formElement);
    replace(resultColumn, h("h2", {}, "Result"), current.resultElement);
    if (pendingImage) {
      current.takeImage(pendingImage);
      pendingImage = "";
    }
  }

  return {
    show(rest) {
      select(rest || (current ? current.tool.code : ""));
    },
    receive(payload) {
      // "Use these settings again" from History: the kept request back into this tool's form.
      if (payload && payload.params && current) current.form.set(payload.params);
      if (payload && payload.image) {
        if (current) current.takeImage(payload.image);
        else pendingImage = payload.image;
      }
    },
  };
}
