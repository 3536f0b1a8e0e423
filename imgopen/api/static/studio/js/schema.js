// The server's own OpenAPI document is the studio's source of truth for every form: field types,
// bounds, defaults, enums and descriptions come from /openapi.json, so a new tool or a new field
// shows up here with no front-end change.

import { BASE } from "./api.js";

let specPromise = null;

export function loadSpec() {
  if (!specPromise) {
    specPromise = fetch("/openapi.json").then((response) => {
      if (!response.ok) throw new Error(`/openapi.json: HTTP ${response.status}`);
      return response.json();
    });
  }
  return specPromise;
}

/** Follows a $ref (and a lone allOf wrapper, which FastAPI writes for documented refs). */
export function deref(spec, schema) {
  let current = schema || {};
  for (let guard = 0; guard < 16; guard += 1) {
    if (current.$ref) {
      const name = current.$ref.split("/").pop();
      const target = spec.components.schemas[name] || {};
      const { $ref, ...rest } = current;
      current = { ...target, ...rest };
    } else if (current.allOf && current.allOf.length === 1 && !current.properties) {
      const { allOf, ...rest } = current;
      current = { ...deref(spec, allOf[0]), ...rest };
    } else {
      return current;
    }
  }
  return current;
}

/**
 * A field's schema without its "or null": {schema, nullable}. The outer description and default
 * win over the inner ones (pydantic writes them outside the anyOf).
 */
export function unwrap(spec, schema) {
  const outer = deref(spec, schema);
  if (outer.anyOf) {
    const options = outer.anyOf.map((option) => deref(spec, option));
    const real = options.filter((option) => option.type !== "null");
    const nullable = real.length < options.length;
    if (real.length === 1) {
      const { anyOf, ...rest } = outer;
      const inner = real[0];
      return {
        schema: { ...inner, ...rest, description: rest.description || inner.description, innerDescription: inner.description },
        nullable,
      };
    }
    return { schema: { ...outer, anyOf: real }, nullable };
  }
  return { schema: outer, nullable: false };
}

const IMAGE_TEXT = /^Image:/;
// Image inputs are typed `ImageInput` server-side: a string of up to 40 MB (a data URI) whose
// description starts with "Image:". Some tools describe the field in their own words, which
// hides that description: the 40 MB bound still tells an image field from a text one.
const IMAGE_MAX_LENGTH = 40000000;

/** Whether a (unwrapped) string schema takes an image: URL, data URI or base64. */
export function isImageSchema(schema) {
  if (!schema || schema.type !== "string") return false;
  return (
    IMAGE_TEXT.test(schema.description || "") ||
    IMAGE_TEXT.test(schema.innerDescription || "") ||
    schema.maxLength === IMAGE_MAX_LENGTH
  );
}

/** The request body schema of `POST BASE + path` (resolved). */
export function requestSchema(spec, path) {
  const operation = spec.paths[BASE + path] && spec.paths[BASE + path].post;
  if (!operation || !operation.requestBody) return null;
  return deref(spec, operation.requestBody.content["application/json"].schema);
}

/** The schema of `data` in the envelope that `POST BASE + path` answers with. */
export function answerSchema(spec, path) {
  const operation = spec.paths[BASE + path] && spec.paths[BASE + path].post;
  const ok = operation && operation.responses && operation.responses["200"];
  if (!ok || !ok.content) return null;
  const envelope = deref(spec, ok.content["application/json"].schema);
  if (!envelope.properties || !envelope.properties.data) return null;
  return unwrap(spec, envelope.properties.data).schema;
}

export function operation(spec, path) {
  return (spec.paths[BASE + path] && spec.paths[BASE + path].post) || null;
}

/**
 * Every tool the server offers: {code, path, summary, description, synchronous}. A tool is a
 * `POST /tool/{code}` that has sibling queryTask and cancelTask operations.
 */
export function tools(spec) {
  const prefix = `${BASE}/tool/`;
  const found = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    if (!path.startsWith(prefix) || !item.post) continue;
    if (!spec.paths[`${path}/queryTask`] || !spec.paths[`${path}/cancelTask`]) continue;
    const code = path.slice(prefix.length);
    const answer = answerSchema(spec, `/tool/${code}`);
    found.push({
      code,
      path: `/tool/${code}`,
      summary: (item.post.summary || code).replace(/: submit.*$/, ""),
      description: item.post.description || "",
      // A synchronous tool answers the submit with its outcome (a `toolTask` field), not with ids.
      synchronous: Boolean(answer && answer.properties && answer.properties.toolTask),
    });
  }
  return found.sort((a, b) => a.summary.localeCompare(b.summary));
}
