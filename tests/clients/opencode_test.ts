/**
 * opencode (`opencode run`, pinned in tests/clients/package.json) against the
 * bridge with the real Claude Code CLI behind it: with its tools enabled, the
 * model calls opencode's `read` tool, opencode reads the file and sends the
 * result back, and the answer quotes the file (its tool-less title request
 * runs alongside, as on every `opencode run`). Offline: the models.dev
 * catalog fetch is off, and the background `@opencode-ai/plugin` install is
 * pre-empted by a seeded config dir; the other switches keep autoupdate,
 * sharing, plugins, LSP downloads and `~/.claude` out.
 */
import {
  assertToolRoundTrip,
  clientBin,
  clientSandbox,
  runClient,
  startToolBridge,
} from "../support/real_clients.ts";

const SECRET = "The secret word is PAPAYA-4172.";

Deno.test("opencode run: the model calls opencode's read tool through the bridge, opencode runs it, the answer quotes the file", async () => {
  const opencode = await clientBin("opencode");
  await using box = await clientSandbox();
  const file = `${box.work}/secret.txt`;
  await Deno.writeTextFile(file, `${SECRET}\n`);
  await using bridge = await startToolBridge({
    tool: "read",
    // opencode's read tool asks for an absolute path.
    input: { filePath: file },
    answer: (results) =>
      results.some((result) => result.text.includes(SECRET))
        ? `The file says: ${SECRET}`
        : "The tool result did not hold the file.",
  });

  // opencode installs @opencode-ai/plugin from npm into every config dir whose
  // node_modules or lock lacks it; an empty node_modules plus this lock satisfies it.
  const configDir = `${box.home}/.config/opencode`;
  await Deno.mkdir(`${configDir}/node_modules`, { recursive: true });
  const lock = {
    lockfileVersion: 3,
    packages: { "": { dependencies: { "@opencode-ai/plugin": "*" } } },
  };
  await Deno.writeTextFile(`${configDir}/package-lock.json`, JSON.stringify(lock));
  const config = `${box.root}/opencode.json`;
  await Deno.writeTextFile(
    config,
    JSON.stringify({
      $schema: "https://opencode.ai/config.json",
      autoupdate: false,
      share: "disabled",
      provider: {
        bridge: {
          npm: "@ai-sdk/openai-compatible",
          name: "Bridge",
          options: { baseURL: bridge.baseUrl, apiKey: "test-token" },
          models: { sonnet: { name: "sonnet", tool_call: true } },
        },
      },
      model: "bridge/sonnet",
    }),
  );

  const run = await runClient(opencode, ["run", "Quote secret.txt."], {
    cwd: box.work,
    env: {
      HOME: box.home,
      OPENCODE_CONFIG: config,
      OPENCODE_DISABLE_MODELS_FETCH: "1",
      OPENCODE_DISABLE_AUTOUPDATE: "1",
      OPENCODE_DISABLE_DEFAULT_PLUGINS: "1",
      OPENCODE_DISABLE_LSP_DOWNLOAD: "1",
      OPENCODE_DISABLE_SHARE: "1",
      OPENCODE_PURE: "1",
      OPENCODE_DISABLE_CLAUDE_CODE: "1",
    },
  });
  assertToolRoundTrip(bridge, run, {
    tool: "read",
    result: SECRET,
    answer: `The file says: ${SECRET}`,
  });
});
