// Follows a task to its end, whatever its kind: the query and cancel endpoints differ per kind
// (API.md 4 and 5), the states do not. Generations are polled often (the live preview and the
// progress change every step); tools long-poll (waitSeconds), since most end in a moment.

import { ApiError, call } from "./api.js";

export const FINAL = new Set(["success", "failed", "cancelled"]);

/** A fresh id for a submit (businessTaskId, id_task or taskId): readable and unique enough. */
export function newTaskId(prefix) {
  const random = Math.random().toString(36).slice(2, 8);
  return `${prefix}-${Date.now().toString(36)}-${random}`;
}

export function queryPath(handle) {
  if (handle.kind === "sd") return "/sd/v2/queryTaskInfo";
  if (handle.kind === "training") return "/modelTraining/queryTraining/Job";
  return `/tool/${handle.toolCode}/queryTask`;
}

export function cancelPath(handle) {
  if (handle.kind === "sd") return "/sd/v2/cancelTask";
  if (handle.kind === "training") return "/modelTraining/cancelTraining/Job";
  return `/tool/${handle.toolCode}/cancelTask`;
}

/** The body that names the task: training says taskId, everything else businessTaskId. */
export function refBody(handle, waitSeconds = 0) {
  const body = handle.kind === "training" ? { taskId: handle.businessTaskId } : { businessTaskId: handle.businessTaskId };
  if (waitSeconds) body.waitSeconds = waitSeconds;
  return body;
}

export function query(handle, waitSeconds = 0) {
  return call(queryPath(handle), refBody(handle, waitSeconds));
}

export function cancel(handle) {
  return call(cancelPath(handle), refBody(handle));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Calls onUpdate(data) with each answer until the task has ended; resolves with the last one.
 * `signal.stopped = true` stops following (the task itself goes on: cancel() stops it).
 */
export async function follow(handle, onUpdate, signal = {}) {
  let failures = 0;
  for (;;) {
    if (signal.stopped) return null;
    let data;
    try {
      // Tools: hold the query up to 2 s, it answers at once when the task ends. Generations and
      // trainings: answer at once, every 300 ms / 1 s, to show each step and the loss.
      data = await query(handle, handle.kind === "tool" ? 2 : 0);
      failures = 0;
    } catch (error) {
      if (error instanceof ApiError && error.code !== "network" && error.code !== "500") throw error;
      failures += 1;
      if (failures > 20) throw error;
      await sleep(1000);
      continue;
    }
    if (signal.stopped) return null;
    onUpdate(data);
    if (FINAL.has(data.state)) return data;
    if (handle.kind === "sd") await sleep(data.state === "running" ? 300 : 600);
    else if (handle.kind === "training") await sleep(1000);
  }
}

// The start of a run from a form: its request and a fresh follow signal (the previous run's is
// stopped, so its late updates are dropped); null when the form is incomplete, the reason then
// shown in `errorLine`.
export function beginRun(buildRequest, errorLine, previous) {
  errorLine.textContent = "";
  let request;
  try {
    request = buildRequest();
  } catch (error) {
    errorLine.textContent = error.message;
    return null;
  }
  previous.stopped = true;
  return { request, signal: { stopped: false } };
}
