// Sign-in: an access key id and secret, checked against the server before anything else shows,
// with what to do when the key is wrong (401) or disabled (403).

import { h } from "../dom.js";
import * as session from "../session.js";

export function mount(container, { onSignedIn }) {
  const id = h("input", { type: "text", id: "signin-id", name: "keyId", autocomplete: "username", required: true, spellcheck: "false" });
  const secret = h("input", { type: "password", id: "signin-secret", name: "keySecret", autocomplete: "current-password", required: true });
  const message = h("p", { class: "message error", id: "signin-message", role: "alert" });
  const button = h("button", { type: "submit", class: "primary", id: "signin-submit" }, "Sign in");
  const form = h(
    "form",
    { class: "panel", id: "signin-form", "aria-labelledby": "signin-title" },
    h("h2", { id: "signin-title" }, "Sign in with an access key"),
    h(
      "p",
      { class: "muted" },
      "An operator makes keys with ",
      h("code", {}, "imgopen keys create --name NAME"),
      ". The key stays in this tab only (sessionStorage): closing the tab forgets it.",
    ),
    h("div", { class: "field" }, h("label", { for: id.id }, "Access key id"), id),
    h("div", { class: "field" }, h("label", { for: secret.id }, "Access key secret"), secret),
    h("div", { class: "buttons" }, button),
    message,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const creds = { id: id.value.trim(), secret: secret.value };
    if (!creds.id || !creds.secret) {
      message.textContent = "Enter both the access key id and its secret.";
      (creds.id ? secret : id).focus();
      return;
    }
    button.disabled = true;
    message.textContent = "";
    try {
      const result = await session.verify(creds);
      if (!result.ok) {
        message.textContent = result.message;
        message.dataset.code = result.code;
        secret.select();
        return;
      }
      session.save(creds);
      secret.value = "";
      onSignedIn(creds);
    } finally {
      button.disabled = false;
    }
  });
  const element = h("section", { class: "signin", id: "signin" }, form);
  container.append(element);
  return {
    element,
    show(text = "", code = "") {
      element.hidden = false;
      message.textContent = text;
      message.dataset.code = code;
      (id.value ? secret : id).focus();
    },
    hide() {
      element.hidden = true;
    },
  };
}
