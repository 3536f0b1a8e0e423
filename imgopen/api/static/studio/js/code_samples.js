// "Request as code": the exact request a form sends, as curl and as Python with imgopen.client,
// so an integrator copies what they just saw work. Images chosen from files become a read of that
// file (base64 in the shell, data_uri() in Python) instead of a page of base64.

import { BASE, KEY_ID_HEADER, KEY_SECRET_HEADER, currentCredentials } from "./api.js";
import { h } from "./dom.js";
import { queryPath, refBody } from "./task_runner.js";

const PLACEHOLDER = /"@@FILE(\d+)@@"/g;

/** The body with every data URI swapped for a numbered placeholder; [{name, mime}] per file. */
function extractFiles(body, files) {
  const found = [];
  const walk = (value) => {
    if (typeof value === "string" && value.startsWith("data:")) {
      const mime = (value.match(/^data:([^;,]+)/) || [])[1] || "image/png";
      let index = found.findIndex((file) => file.value === value);
      if (index < 0) {
        const extension = mime.split("/")[1] === "jpeg" ? "jpg" : mime.split("/")[1] || "png";
        found.push({ value, mime, name: files.get(value) || `image-${found.length + 1}.${extension}` });
        index = found.length - 1;
      }
      return `@@FILE${index}@@`;
    }
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    return value;
  };
  return { body: walk(body), files: found };
}

const shellQuote = (text) => `'${String(text).replace(/'/g, `'\\''`)}'`;

export function curlFor({ path, body, handle, files = new Map() }) {
  const origin = window.location.origin;
  const creds = currentCredentials();
  const extracted = extractFiles(body, files);
  // Inside the single-quoted JSON, a file becomes: close the quote, a double-quoted base64 of
  // the file, reopen the quote. The rest of the body stays byte for byte what the studio sent.
  const json = JSON.stringify(extracted.body).replace(/'/g, `'\\''`).replace(PLACEHOLDER, (_m, index) => {
    const file = extracted.files[Number(index)];
    return `"data:${file.mime};base64,'"$(base64 -w0 ${shellQuote(file.name)})"'"`;
  });
  const headers = [
    `  -H "${KEY_ID_HEADER}: $IMGOPEN_KEY_ID" \\`,
    `  -H "${KEY_SECRET_HEADER}: $IMGOPEN_KEY_SECRET" \\`,
    "  -H 'Content-Type: application/json' \\",
  ];
  const lines = [
    `export IMGOPEN_URL=${origin}`,
    `export IMGOPEN_KEY_ID=${creds ? creds.id : "<access key id>"}`,
    "export IMGOPEN_KEY_SECRET='<your secret>'",
    extracted.files.length ? `# files: ${extracted.files.map((f) => f.name).join(", ")} (on macOS: base64 -i FILE)` : null,
    `curl -s -X POST "$IMGOPEN_URL${BASE}${path}" \\`,
    ...headers,
    `  -d '${json}'`,
  ];
  if (handle) {
    lines.push(
      "",
      "# then ask until \"state\" is success, failed or cancelled (waitSeconds: the server holds the answer until then):",
      `curl -s -X POST "$IMGOPEN_URL${BASE}${queryPath(handle)}" \\`,
      ...headers,
      `  -d '${JSON.stringify(refBody(handle, 30))}'`,
    );
  }
  return lines.filter((line) => line !== null).join("\n");
}

/** A JSON value as a Python literal (True/False/None; JSON string escapes are Python's too). */
function py(value, indent = 0) {
  const pad = "    ".repeat(indent + 1);
  const end = "    ".repeat(indent);
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "string") {
    const file = value.match(/^@@FILE(\d+)@@$/);
    return file ? `@@PY${file[1]}@@` : JSON.stringify(value);
  }
  if (typeof value === "number") return String(value);
  if (Array.isArray(value)) {
    if (!value.length) return "[]";
    const inline = `[${value.map((item) => py(item, indent + 1)).join(", ")}]`;
    if (inline.length < 70) return inline;
    return `[\n${value.map((item) => pad + py(item, indent + 1)).join(",\n")},\n${end}]`;
  }
  const entries = Object.entries(value);
  if (!entries.length) return "{}";
  return `{\n${entries.map(([key, item]) => `${pad}${JSON.stringify(key)}: ${py(item, indent + 1)}`).join(",\n")},\n${end}}`;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function kwargs(fields, indent = 1) {
  const pad = "    ".repeat(indent + 1);
  return Object.entries(fields).map(([key, value]) =>
    IDENTIFIER.test(key) ? `${pad}${key}=${py(value, indent + 1)},` : `${pad}**{${JSON.stringify(key)}: ${py(value, indent + 1)}},`,
  );
}

export function pythonFor({ path, body, handle, files = new Map() }) {
  const extracted = extractFiles(body, files);
  const fields = { ...extracted.body };
  let submit;
  let after;
  const sd = path.match(/^\/sd\/v2\/(text2image|image2image|controlnet)$/);
  const tool = path.match(/^\/tool\/(.+)$/);
  if (sd) {
    const mode = sd[1];
    const head = [`prompt=${py(fields.prompt ?? "")},`];
    delete fields.prompt;
    if (mode === "image2image") {
      head.push(`image_link=${py(fields.image_link)},`);
      delete fields.image_link;
    }
    if (mode === "controlnet") {
      head.push(`units=${py((fields.controlnet && fields.controlnet.args) || [], 1)},`);
      delete fields.controlnet;
    }
    head.push(`batch_size=${py(fields.batch_size ?? 1)},`);
    delete fields.batch_size;
    submit = [`    task = client.${mode}(`, ...head.map((line) => `        ${line}`), ...kwargs(fields), "    )"];
    after = [
      "    done = client.wait(task)  # long-polls sd/v2/queryTaskInfo until the end",
      '    for image in done["differentialImageRspList"]:',
      '        print(image["seed"], image["image_url"])',
    ];
  } else if (path === "/modelTraining/submitTraining/Job") {
    const taskId = fields.taskId;
    const urls = fields.fileUrlList || [];
    delete fields.taskId;
    delete fields.fileUrlList;
    submit = [
      "    task = client.train_lora(",
      `        ${py(taskId)},`,
      `        ${py(urls, 1)},`,
      ...kwargs(fields),
      "    )",
    ];
    after = [
      "    done = client.wait(task, timeout=24 * 3600)",
      '    print(done["state"], done["sdLoraFileSimplifyName"], done["loraUrl"])',
    ];
  } else if (tool && handle && handle.synchronous) {
    submit = [`    done = client.call(${py(path)}, ${py(fields, 1)})  # answered at once`];
    after = ["    print(done)"];
  } else if (tool) {
    const id = fields.businessTaskId;
    delete fields.businessTaskId;
    submit = [`    task = client.submit_tool(`, `        ${py(tool[1])},`, `        ${py(id)},`, ...kwargs(fields), "    )"];
    after = [
      "    done = client.wait(task)  # long-polls queryTask until the end",
      '    print(done["state"], done.get("outputImageUrl"))',
    ];
  } else {
    submit = [`    data = client.call(${py(path)}, ${py(fields, 1)})`];
    after = ["    print(data)"];
  }
  const lines = ["import os", "", "from imgopen.client import Client", ""];
  if (extracted.files.length) {
    lines.splice(0, 1, "import base64", "import os");
    lines.push(
      "",
      'def data_uri(path: str, mime: str = "image/png") -> str:',
      '    with open(path, "rb") as file:',
      '        return f"data:{mime};base64," + base64.b64encode(file.read()).decode()',
      "",
    );
  }
  lines.push(
    "",
    `with Client(os.environ.get("IMGOPEN_URL", ${py(window.location.origin)}), os.environ["IMGOPEN_KEY_ID"], os.environ["IMGOPEN_KEY_SECRET"]) as client:`,
    ...submit,
    ...after,
  );
  return lines
    .join("\n")
    .replace(/@@PY(\d+)@@/g, (_m, index) => {
      const file = extracted.files[Number(index)];
      return `data_uri(${py(file.name)}, ${py(file.mime)})`;
    })
    .replace(/\n{3,}/g, "\n\n");
}

/** The panel under a form: curl / Python tabs and a Copy button. update(request) refreshes it. */
export function codePanel({ idPrefix = "code" } = {}) {
  const pre = h("pre", { id: `${idPrefix}-text`, tabindex: "0", "aria-live": "off" });
  let current = { curl: "", python: "" };
  let tab = "curl";
  const tabs = ["curl", "python"].map((name) =>
    h(
      "button",
      {
        type: "button",
        role: "tab",
        id: `${idPrefix}-tab-${name}`,
        "aria-selected": String(name === tab),
        onclick: () => {
          tab = name;
          tabs.forEach((button) => button.setAttribute("aria-selected", String(button.id.endsWith(name))));
          pre.textContent = current[tab];
        },
      },
      name === "curl" ? "curl" : "Python (imgopen.client)",
    ),
  );
  const copy = h(
    "button",
    {
      type: "button",
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(current[tab]);
          copy.textContent = "Copied";
        } catch {
          copy.textContent = "Select the text to copy";
        }
        setTimeout(() => {
          copy.textContent = "Copy";
        }, 1500);
      },
    },
    "Copy",
  );
  const note = h("p", { class: "muted small" });
  const element = h(
    "details",
    { class: "code-panel", id: idPrefix },
    h("summary", {}, "Request as code"),
    h("div", { class: "tabs tabs-row", role: "tablist" }, tabs, copy),
    pre,
    note,
  );
  return {
    element,
    update(request) {
      if (!request) {
        current = { curl: "", python: "" };
        note.textContent = "Fill in the form to see its request.";
      } else if (request.error) {
        note.textContent = request.error;
      } else {
        current = { curl: curlFor(request), python: pythonFor(request) };
        note.textContent = "The secret is read from $IMGOPEN_KEY_SECRET: it is never shown here.";
      }
      pre.textContent = current[tab];
    },
  };
}

// A code panel that follows a form: `schedule()` after each edit rebuilds the request shown (at most
// once per `delay` ms, and only while the panel is open: a mask's data URI is costly to rebuild).
export function liveCodePanel({ idPrefix, build, delay = 300 }) {
  const code = codePanel({ idPrefix });
  let timer = null;
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (!code.element.open) return;
      try {
        code.update(build());
      } catch (error) {
        code.update({ error: `Not complete yet: ${error.message}` });
      }
    }, delay);
  }
  code.element.addEventListener("toggle", schedule);
  return { element: code.element, schedule };
}
