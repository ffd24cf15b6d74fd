/**
 * claude-openai-bridge: an OpenAI-compatible Chat Completions server over the
 * Claude Code CLI. This file only wires configuration → start-up checks →
 * app → the guarded HTTP server → signal handling.
 *
 * @module
 */
import { loadAgents } from "./src/claude/agents.ts";
import { sweepWorkspaces, Workspace } from "./src/claude/workspace.ts";
import { createApp } from "./src/app.ts";
import { loadConfig, readEnv } from "./src/config.ts";
import { serveGuarded } from "./src/http/guarded_server.ts";
import { Logger } from "./src/ops/log.ts";
import { shutdownOnSignals } from "./src/ops/shutdown.ts";
import {
  checkAgentsDir,
  checkWorkspaceRoot,
  listenError,
  StartupError,
} from "./src/ops/startup.ts";

try {
  const config = loadConfig(readEnv());
  // The CLI inherits this environment; it must not see the bridge's own keys.
  Deno.env.delete("API_KEYS");
  const logger = new Logger(config.logLevel);
  // A trial run workspace, made and removed: what every request will do there.
  await checkWorkspaceRoot(
    config.workspaceRoot,
    async (root) => await (await Workspace.create(root, { name: "startup-check" })).remove(),
  );
  // Run directories an earlier bridge left behind when it crashed (only ours, unlocked).
  const swept = await sweepWorkspaces(config.workspaceRoot);
  if (swept.length > 0) logger.info("removed workspaces left by an earlier run", { paths: swept });
  await checkAgentsDir(config.agentsDir);
  const app = createApp({ config, agents: await loadAgents(config.agentsDir), logger });
  if (config.generatedKey) {
    console.log(
      `Neither API_KEYS nor API_KEYS_FILE is set; this run accepts the bearer key ${
        config.apiKeys[0]
      }\n` + "Set API_KEYS=key1,key2 (or API_KEYS_FILE=/path/to/keys) to use fixed keys.",
    );
  }
  let server;
  try {
    server = serveGuarded({
      hostname: config.host,
      port: config.port,
      headerTimeoutMs: config.headerTimeoutMs,
      onListen: ({ hostname, port }) =>
        logger.info("listening", { url: `http://${hostname}:${port}` }),
      onWarning: (message, fields) => logger.warn(message, fields),
    }, app);
  } catch (error) {
    await app[Symbol.asyncDispose]();
    throw listenError(error, config.host, config.port);
  }
  shutdownOnSignals(server, app, {
    graceMs: config.shutdownGraceMs,
    log: (message, fields) => logger.info(message, fields),
  });
} catch (error) {
  if (error instanceof StartupError) {
    console.error(error.message);
    Deno.exit(1);
  }
  // A permission the start command did not grant (e.g. an environment variable).
  if (error instanceof Deno.errors.NotCapable) {
    console.error(
      `${error.message}.\nStart the bridge with \`deno task start\` (or the compiled binary), ` +
        "which grants what it needs; see the README's Deployment section.",
    );
    Deno.exit(1);
  }
  // Bad configuration.
  if (!(error instanceof TypeError)) throw error;
  console.error(error.message);
  Deno.exit(1);
}
