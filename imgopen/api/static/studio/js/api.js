// The wire: every Img Open call is a POST with a JSON body under BASE, authenticated by two
// headers, answered with {"code", "msg", "data"} (HTTP 200 even for errors: the code says).

export const BASE = "/AIGCImgOpenServ/saas";
export const KEY_ID_HEADER = "X-Request-req-accessKeyId";
export const KEY_SECRET_HEADER = "X-Request-req-accessKeySecret";

export class ApiError extends Error {
  constructor(code, msg) {
    super(`${code}: ${msg}`);
    this.code = String(code);
    this.msg = msg;
  }
}

let credentials = null;

/** The key every later call uses (set by the sign-in). */
export function setCredentials(value) {
  credentials = value;
}

export function currentCredentials() {
  return credentials;
}

export function authHeaders(creds = credentials) {
  if (!creds) return {};
  return { [KEY_ID_HEADER]: creds.id, [KEY_SECRET_HEADER]: creds.secret };
}

/** The whole envelope, whatever its code; a network failure reads as code "network". */
export async function envelope(path, body, creds = credentials) {
  let response;
  try {
    response = await fetch(BASE + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...authHeaders(creds) },
      body: JSON.stringify(body),
    });
  } catch (error) {
    return { code: "network", msg: `the server did not answer (${error.message})`, data: null };
  }
  try {
    return await response.json();
  } catch {
    return { code: String(response.status), msg: `HTTP ${response.status}: not a JSON answer`, data: null };
  }
}

/**
 * `data` of the answer, or ApiError. A 401/403 later in the session (key disabled meanwhile)
 * tells the page, which goes back to the sign-in with the server's message.
 */
export async function call(path, body) {
  const answer = await envelope(path, body);
  const code = String(answer.code);
  if (code !== "200") {
    if ((code === "401" || code === "403") && credentials && !/quota/i.test(answer.msg || "")) {
      window.dispatchEvent(new CustomEvent("studio:auth-lost", { detail: { code, msg: answer.msg } }));
    }
    throw new ApiError(code, answer.msg || "failed");
  }
  return answer.data;
}

/**
 * The Automatic1111 face (/sdapi/v1, /controlnet): plain JSON and HTTP statuses, same key
 * headers. Lists the Img Open API has no endpoint for (samplers, upscalers, ControlNet models).
 */
export async function a1111(path, { method = "GET", body } = {}) {
  const response = await fetch(path, {
    method,
    headers: { "Content-Type": "application/json", ...authHeaders() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    const detail = parsed && parsed.detail ? parsed.detail : text;
    throw new ApiError(String(response.status), typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return parsed;
}
