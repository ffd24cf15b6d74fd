/**
 * The Continue CLI (`cn -p`, pinned in tests/clients/package.json) against
 * the bridge with the real Claude Code CLI behind it: the model calls cn's
 * `Read` tool, cn reads the file and sends the result back, and the answer
 * quotes the file. Offline: `--config` keeps it off the Continue hub, the
 * two switches keep telemetry and metrics off, and a preload
 * (`loopback_only.cjs`) refuses, in-process, the version check cn fetches at
 * module load with no switch to stop it.
 */
import assert from "node:assert/strict";
import {
  assertToolRoundTrip,
  clientBin,
  CLIENTS_DIR,
  clientSandbox,
  runClient,
  startToolBridge,
} from "../support/real_clients.ts";

const SECRET = "The secret word is MANGO-9031.";

Deno.test("cn -p: the model calls cn's Read tool through the bridge, cn runs it, the answer quotes the file", async () => {
  const cn = await clientBin("cn");
  await using box = await clientSandbox();
  await Deno.writeTextFile(`${box.work}/secret.txt`, `${SECRET}\n`);
  await using bridge = await startToolBridge({
    tool: "Read",
    input: { filepath: "secret.txt" },
    answer: (results) =>
      results.some((result) => result.text.includes(SECRET))
        ? `The file says: ${SECRET}`
        : "The tool result did not hold the file.",
  });
  const config = `${box.root}/config.yaml`;
  await Deno.writeTextFile(
    config,
    [
      "name: bridge",
      "version: 0.0.1",
      "schema: v1",
      "models:",
      "  - name: bridge",
      "    provider: openai",
      "    model: sonnet",
      `    apiBase: ${bridge.baseUrl}`,
      "    apiKey: test-token",
      "    roles: [chat, edit, apply]",
      "    capabilities: [tool_use]",
      "",
    ].join("\n"),
  );
  const refused = `${box.root}/refused.log`;

  const run = await runClient(cn, ["-p", "Quote secret.txt.", "--config", config], {
    cwd: box.work,
    env: {
      HOME: box.home,
      CONTINUE_GLOBAL_DIR: `${box.home}/.continue`,
      CONTINUE_CLI_ENABLE_TELEMETRY: "0",
      CONTINUE_METRICS_ENABLED: "0",
      NODE_OPTIONS: `--require ${CLIENTS_DIR}/loopback_only.cjs`,
      LOOPBACK_ONLY_LOG: refused,
    },
  });
  assertToolRoundTrip(bridge, run, {
    tool: "Read",
    result: SECRET,
    answer: `The file says: ${SECRET}`,
  });
  // The preload refused only what cn sends on its own accord, never the bridge.
  const refusals = (await Deno.readTextFile(refused).catch(() => "")).split("\n");
  assert.ok(
    refusals.every((line) => line === "" || /api\.continue\.dev/.test(line)),
    refusals.join("\n"),
  );
});
