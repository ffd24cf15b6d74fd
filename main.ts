/**
 * claude-openai-bridge: an OpenAI-compatible Chat Completions server over the
 * Claude Code CLI. This file only wires configuration → app → `Deno.serve`.
 *
 * @module
 */
import { loadAgents } from "./src/agents.ts";
import { createApp } from "./src/app.ts";
import { loadConfig, readEnv } from "./src/config.ts";

try {
  const config = loadConfig(readEnv());
  // The CLI inherits this environment; it must not see the bridge's own keys.
  Deno.env.delete("API_KEYS");
  const app = createApp({ config, agents: await loadAgents(config.agentsDir) });
  if (config.generatedKey) {
    console.log(
      `API_KEYS is not set; this run accepts the bearer key ${config.apiKeys[0]}\n` +
        "Set API_KEYS=key1,key2 to use fixed keys.",
    );
  }
  Deno.serve({ hostname: config.host, port: config.port }, app);
} catch (error) {
  if (!(error instanceof TypeError)) throw error;
  console.error(error.message);
  Deno.exit(1);
}
