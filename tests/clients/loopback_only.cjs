/**
 * A Node preload (`NODE_OPTIONS="--require …/loopback_only.cjs"`) for clients
 * that phone home with no switch to stop it (the Continue CLI fetches
 * `https://api.continue.dev/cn/info` at module load): inside the process it
 * refuses every `fetch` and TCP connect whose host is not loopback, before
 * any DNS lookup, and appends one line per refusal to `$LOOPBACK_ONLY_LOG`
 * (when set).
 *
 * @module
 */
"use strict";
const fs = require("node:fs");
const net = require("node:net");

/** True for loopback hosts, and for no host at all (a Unix socket or the default). */
function isLoopback(host) {
  if (host === undefined || host === null || host === "") return true;
  const name = String(host).replace(/^\[|\]$/g, "").toLowerCase();
  return name === "localhost" || name === "::1" || /^127\./.test(name) ||
    /^::ffff:127\./.test(name);
}

function note(what) {
  const log = process.env.LOOPBACK_ONLY_LOG;
  if (!log) return;
  try {
    fs.appendFileSync(log, `refused ${what}\n`);
  } catch {
    // The log is best effort.
  }
}

const originalFetch = globalThis.fetch;
if (typeof originalFetch === "function") {
  globalThis.fetch = function fetch(input, init) {
    let url;
    try {
      url = new URL(
        typeof input === "string" || input instanceof URL ? String(input) : input.url,
      );
    } catch {
      url = undefined;
    }
    if (
      url && /^(https?|wss?):$/.test(url.protocol) && !isLoopback(url.hostname)
    ) {
      note(`fetch ${url.origin}${url.pathname}`);
      return Promise.reject(
        new TypeError(`fetch ${url.origin} refused: loopback only`),
      );
    }
    return originalFetch.call(this, input, init);
  };
}

const originalConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function connect(...args) {
  let options = args[0];
  if (Array.isArray(options)) options = options[0]; // Node's internal normalized form
  let host;
  let path;
  if (options && typeof options === "object") {
    host = options.host;
    path = options.path;
  } else if (typeof options === "number") {
    host = typeof args[1] === "string" ? args[1] : undefined;
  } else if (typeof options === "string") {
    path = options;
  }
  if (!path && !isLoopback(host)) {
    note(`connect ${host}`);
    const error = new Error(`connect to ${host} refused: loopback only`);
    error.code = "ECONNREFUSED";
    process.nextTick(() => this.destroy(error));
    return this;
  }
  return originalConnect.apply(this, args);
};
