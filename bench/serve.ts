/**
 * The bridge as its own process for benchmarks: `main.ts`'s wiring on a
 * loopback port chosen by the OS, plus `GET /bench/pool` (the warm pool's
 * status) so a benchmark can wait for warm processes without going through
 * `/readyz`'s CLI probe. Prints `{"port": N}` on stdout once listening; stops
 * cleanly (pool included) on SIGTERM.
 *
 * @module
 */
import { loadAgents } from "../src/claude/agents.ts";
import { createApp } from "../src/app.ts";
import { loadConfig, readEnv } from "../src/config.ts";
import { Logger } from "../src/ops/log.ts";

const config = loadConfig(readEnv());
Deno.env.delete("API_KEYS");
const logger = new Logger(config.logLevel);
const app = createApp({ config, agents: await loadAgents(config.agentsDir), logger });
const server = Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(JSON.stringify({ port })),
}, (request) => {
  if (new URL(request.url).pathname === "/bench/pool") {
    return Response.json(app.pool?.status() ?? null);
  }
  return app(request);
});
Deno.addSignalListener("SIGTERM", async () => {
  await server.shutdown();
  await app[Symbol.asyncDispose]();
  Deno.exit(0);
});
