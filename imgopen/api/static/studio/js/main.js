// The studio's entry: sign-in, then one screen per hash route (#/generate, #/tools/CODE,
// #/training, #/models, #/history). Screens are mounted on first visit and kept, so a running
// generation and a half-filled form survive a look at the history.

import { setCredentials } from "./api.js";
import { h } from "./dom.js";
import { loadSpec } from "./schema.js";
import * as session from "./session.js";
import * as generate from "./views/generate.js";
import * as history from "./views/history.js";
import * as models from "./views/models.js";
import * as signin from "./views/signin.js";
import * as tools from "./views/tools.js";
import * as training from "./views/training.js";

const SCREENS = { generate, tools, training, models, history };
const TITLES = { generate: "Generate", tools: "Tools", training: "Training", models: "Models", history: "History" };

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const account = document.getElementById("account");
let spec = null;
let mounted = new Map(); // name -> {section, view}
let pending = null; // {name, payload}: what ctx.open() hands to a screen once it shows
let signIn = null;
let signedIn = false;

function parseHash() {
  const path = window.location.hash.replace(/^#\/?/, "");
  const [name, ...rest] = path.split("/");
  return { name: SCREENS[name] ? name : "generate", rest: rest.join("/") };
}

const ctx = {
  get spec() {
    return spec;
  },
  /** Goes to a screen ("generate", "tools/removeBg"...) and hands it `payload`. */
  open(target, payload) {
    const name = target.split("/")[0];
    pending = { name, payload };
    const hash = `#/${target}`;
    if (window.location.hash === hash) route();
    else window.location.hash = hash;
  },
};

function screen(name) {
  if (!mounted.has(name)) {
    const section = h("div", { class: "screen", id: `screen-${name}`, dataset: { screen: name } });
    main.append(section);
    const view = SCREENS[name].mount(section, ctx) || {};
    mounted.set(name, { section, view });
  }
  return mounted.get(name);
}

async function route() {
  if (!signedIn) return;
  const { name, rest } = parseHash();
  if (!spec) spec = await loadSpec();
  for (const [other, entry] of mounted) {
    if (other !== name && !entry.section.hidden) {
      entry.section.hidden = true;
      if (entry.view.hide) entry.view.hide();
    }
  }
  const { section, view } = screen(name);
  section.hidden = false;
  document.title = `${TITLES[name]} · imgopen studio`;
  nav.querySelectorAll("a").forEach((a) => {
    if (a.getAttribute("href") === `#/${name}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  if (view.show) view.show(rest);
  if (pending && pending.name === name) {
    const { payload } = pending;
    pending = null;
    if (view.receive) view.receive(payload);
  }
}

function enter(creds) {
  setCredentials(creds);
  signedIn = true;
  signIn.hide();
  nav.hidden = false;
  account.hidden = false;
  document.getElementById("account-id").textContent = creds.id;
  route().catch(showFatal);
}

function leave(message = "", code = "") {
  session.clear();
  setCredentials(null);
  signedIn = false;
  // Another key must not see this one's screens: they are rebuilt after the next sign-in.
  for (const entry of mounted.values()) {
    if (entry.view.hide) entry.view.hide();
    entry.section.remove();
  }
  mounted = new Map();
  nav.hidden = true;
  account.hidden = true;
  document.title = "Sign in · imgopen studio";
  signIn.show(message, code);
}

function showFatal(error) {
  main.append(h("p", { class: "error", role: "alert" }, `The studio could not start: ${error.message}`));
}

async function boot() {
  document.getElementById("boot").remove();
  signIn = signin.mount(main, { onSignedIn: enter });
  document.getElementById("sign-out").addEventListener("click", () => leave("Signed out."));
  window.addEventListener("studio:auth-lost", (event) => leave(session.explain(event.detail.code, event.detail.msg), event.detail.code));
  window.addEventListener("hashchange", () => {
    route()
      .then(() => main.focus({ preventScroll: true }))
      .catch(showFatal);
  });
  loadSpec().catch(showFatal); // early: the first screen needs it
  const saved = session.load();
  if (!saved) {
    leave();
    return;
  }
  // A key kept from earlier in this tab may have been disabled since: check it once.
  signIn.hide();
  const result = await session.verify(saved);
  if (result.ok) enter(saved);
  else leave(result.message, result.code);
}

boot().catch(showFatal);
