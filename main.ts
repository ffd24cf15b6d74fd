/**
 * claude-openai-bridge: an OpenAI-compatible Chat Completions server over the
 * Claude Code CLI. This file only wires configuration → app → `Deno.serve`.
 *
 * @module
 */
import { loadAgents } from "./src/claude/agents.ts";
import { createApp } from "./src/app.ts";
import { loadConfig, readEnv } from "./src/config.ts";
import { Logger } from "./src/ops/log.ts";
import { shutdownOnSignals } from "./src/ops/shutdown.ts";

try {
  const config = loadConfig(readEnv());
  // The CLI inherits this environment; it must not see the bridge's own keys.
  Deno.env.delete("API_KEYS");
  const logger = new Logger(config.logLevel);
  const app = createApp({ config, agents: await loadAgents(config.agentsDir), logger });
  if (config.generatedKey) {
    console.log(
      `API_KEYS is not set; this run accepts the bearer key ${config.apiKeys[0]}\n` +
        "Set API_KEYS=key1,key2 to use fixed keys.",
    );
  }
  const server = Deno.serve({
    hostname: config.host,
    port: config.port,
    onListen: ({ hostname, port }) =>
      logger.info("listening", { url: `http://${hostname}:${port}` }),
  }, app);
  shutdownOnSignals(server, app, {
    graceMs: config.shutdownGraceMs,
    log: (message, fields) => logger.info(message, fields),
  });
} catch (error) {
  // A permission the start command did not grant, or bad configuration.
  if (error instanceof Deno.errors.NotCapable) {
    console.error(
      `${error.message}.\nStart the bridge with \`deno task start\` (or the compiled binary), ` +
        "which grants what it needs; see the README's Deployment section.",
    );
    Deno.exit(1);
  }
  if (!(error instanceof TypeError)) throw error;
  console.error(error.message);
  Deno.exit(1);
}
