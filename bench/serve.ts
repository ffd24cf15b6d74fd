/**
 * The bridge as its own process for benchmarks: `main.ts`'s wiring (the
 * guarded server included) on a loopback port chosen by the OS, plus
 * `GET /bench/state` (the warm pool's status, the engine's paths taken and
 * its sessions) so a benchmark can wait for warm processes and check which
 * path served a request, without going through `/readyz`'s CLI probe.
 * Prints `{"port": N}` on stdout once listening; stops cleanly (pool and
 * sessions included) on SIGTERM. `BENCH_SERVER=plain` serves with a plain
 * `Deno.serve` instead of the guarded server (a diagnostic for the relay).
 *
 * @module
 */
import { loadAgents } from "../src/claude/agents.ts";
import { createApp } from "../src/app.ts";
import { loadConfig, readEnv } from "../src/config.ts";
import { serveGuarded } from "../src/http/guarded_server.ts";
import { Logger } from "../src/ops/log.ts";

const config = loadConfig(readEnv());
Deno.env.delete("API_KEYS");
const logger = new Logger(config.logLevel);
const app = createApp({ config, agents: await loadAgents(config.agentsDir), logger });
const handler = (request: Request): Promise<Response> => {
  if (new URL(request.url).pathname === "/bench/state") {
    return Promise.resolve(Response.json({
      pool: app.pool?.status() ?? null,
      paths: app.engine.paths,
      sessions: app.engine.status(),
    }));
  }
  return app(request);
};
const onListen = ({ port }: Deno.NetAddr) => console.log(JSON.stringify({ port }));
// `BENCH_SERVER=plain`: a plain Deno.serve, to weigh what the guarded server's relay costs.
const server = Deno.env.get("BENCH_SERVER") === "plain"
  ? Deno.serve({ hostname: "127.0.0.1", port: 0, onListen }, handler)
  : serveGuarded(
    { hostname: "127.0.0.1", port: 0, headerTimeoutMs: config.headerTimeoutMs, onListen },
    handler,
  );
Deno.addSignalListener("SIGTERM", async () => {
  await server.shutdown();
  await app[Symbol.asyncDispose]();
  Deno.exit(0);
});
