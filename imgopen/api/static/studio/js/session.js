// The access key of this browser tab. sessionStorage, not localStorage: the secret lives as long
// as the tab (a reload keeps it, closing the tab forgets it) and is never shared with other tabs.

import { envelope } from "./api.js";

const STORE_KEY = "imgopen.studio.key";

export function load() {
  try {
    const value = JSON.parse(sessionStorage.getItem(STORE_KEY) || "null");
    return value && value.id && value.secret ? value : null;
  } catch {
    return null;
  }
}

export function save(creds) {
  sessionStorage.setItem(STORE_KEY, JSON.stringify({ id: creds.id, secret: creds.secret }));
}

export function clear() {
  sessionStorage.removeItem(STORE_KEY);
}

/** What a person should read for a refused key: what happened, and what to do about it. */
export function explain(code, msg) {
  if (code === "401") {
    return (
      "Wrong key (401): no access key on this server matches this id and secret. " +
      "Copy both from the output of `imgopen keys create` (the secret is shown only once)."
    );
  }
  if (code === "403") {
    return (
      `Key disabled (403): ${msg || "this key is disabled"}. ` +
      "An operator can enable it again with `imgopen keys enable <id>`."
    );
  }
  if (code === "network") return `The server did not answer: ${msg}`;
  return `${code}: ${msg}`;
}

/**
 * Tries the key with the cheapest call that needs one (a one-row page of its own tasks):
 * {ok: true} or {ok: false, code, message}.
 */
export async function verify(creds) {
  const answer = await envelope("/tasks/list", { pageSize: 1, pageNum: 1 }, creds);
  const code = String(answer.code);
  if (code === "200") return { ok: true, total: answer.data ? answer.data.total : 0 };
  return { ok: false, code, message: explain(code, answer.msg) };
}
