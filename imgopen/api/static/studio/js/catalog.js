// What is installed on the server: checkpoints, LoRAs, VAEs and embeddings from the Img Open list
// endpoints, and what only the A1111 face lists (samplers, upscalers, ControlNet models). Each is
// fetched once per page and shared by every screen; refresh() after a training adds a LoRA.

import { a1111, call } from "./api.js";

const cache = new Map();
const PAGE = 1000;

async function everyRow(path) {
  const rows = [];
  for (let page = 1; page < 50; page += 1) {
    const data = await call(path, { pageSize: PAGE, pageNum: page });
    rows.push(...data.rows);
    if (rows.length >= data.total || !data.rows.length) break;
  }
  return rows;
}

function cached(name, load) {
  if (!cache.has(name)) {
    const promise = load().catch((error) => {
      cache.delete(name); // a failure is not remembered: the next screen tries again
      throw error;
    });
    cache.set(name, promise);
  }
  return cache.get(name);
}

export const checkpoints = () => cached("checkpoints", () => everyRow("/sd/v2/queryModelList"));
export const loras = () => cached("loras", () => everyRow("/sd/v2/queryLoraList"));
export const vaes = () => cached("vaes", () => everyRow("/sd/v2/queryVaeList"));
export const embeddings = () => cached("embeddings", () => everyRow("/sd/v2/queryEmbeddingList"));

// A server may run without the A1111 face (IMGOPEN_A1111_API=false): the pickers then fall back
// to a free text field, which takes any name the server knows.
const orEmpty = (promise) => promise.catch(() => null);

export const samplers = () =>
  cached("samplers", () => orEmpty(a1111("/sdapi/v1/samplers").then((rows) => rows.map((row) => row.name))));
export const upscalers = () =>
  cached("upscalers", () =>
    orEmpty(
      Promise.all([a1111("/sdapi/v1/latent-upscale-modes"), a1111("/sdapi/v1/upscalers")]).then(([latent, others]) => [
        ...latent.map((row) => row.name),
        ...others.map((row) => row.name).filter((name) => name && name !== "None"),
      ]),
    ),
  );
export const controlnetModels = () =>
  cached("controlnetModels", () => orEmpty(a1111("/controlnet/model_list").then((data) => data.model_list || [])));

export function refresh(...names) {
  for (const name of names.length ? names : [...cache.keys()]) cache.delete(name);
}
