/**
 * Codex CLI (`codex exec`, pinned in tests/clients/package.json) against the
 * bridge's Responses API with the real Claude Code CLI behind it, in the
 * read-only sandbox: a plain prompt, and one real `exec_command` round trip
 * (the model asks Codex to `cat` a file, Codex runs it and sends the output
 * back, the answer quotes the file). Offline: analytics (OTel metrics to
 * ab.chatgpt.com) and the curated-plugin sync (github.com, chatgpt.com) are
 * off in `config.toml`, with the update check, feedback, apps and remote
 * models off as well. Retries are off so a bridge error shows at once.
 */
import assert from "node:assert/strict";
import {
  assertToolRoundTrip,
  clientBin,
  type ClientRun,
  type ClientSandbox,
  clientSandbox,
  runClient,
  startToolBridge,
  type ToolBridge,
} from "../support/real_clients.ts";

const SECRET = "The secret word is KIWI-5550.";

/** Writes Codex's config.toml for `bridge` under the sandbox's CODEX_HOME and runs `codex exec`. */
async function codexExec(
  box: ClientSandbox,
  bridge: ToolBridge,
  prompt: string,
): Promise<ClientRun> {
  const codex = await clientBin("codex");
  const codexHome = `${box.home}/.codex`;
  await Deno.mkdir(codexHome, { recursive: true });
  await Deno.writeTextFile(
    `${codexHome}/config.toml`,
    [
      'model = "sonnet"',
      'model_provider = "bridge"',
      'approval_policy = "never"',
      'sandbox_mode = "read-only"',
      "check_for_update_on_startup = false",
      "[analytics]",
      "enabled = false",
      "[feedback]",
      "enabled = false",
      "[features]",
      "plugins = false",
      "apps = false",
      "remote_models = false",
      "[model_providers.bridge]",
      'name = "Bridge"',
      `base_url = "${bridge.baseUrl}"`,
      'env_key = "BRIDGE_API_KEY"',
      'wire_api = "responses"',
      "request_max_retries = 0",
      "stream_max_retries = 0",
      "",
    ].join("\n"),
  );
  const args = ["exec", "--skip-git-repo-check", "--sandbox", "read-only", "--color", "never"];
  return await runClient(codex, [...args, prompt], {
    cwd: box.work,
    env: { HOME: box.home, CODEX_HOME: codexHome, BRIDGE_API_KEY: "test-token" },
  });
}

Deno.test("codex exec: a plain prompt is answered through /v1/responses", async () => {
  await using box = await clientSandbox();
  await using bridge = await startToolBridge({
    tool: "exec_command",
    input: { cmd: "true" },
    trigger: /TOOLTEST/,
    plain: "pong from the bridge",
    answer: () => "unexpected",
  });
  const run = await codexExec(box, bridge, "Say ok.");
  const context = `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;
  assert.equal(run.code, 0, context);
  assert.equal(run.stdout.trim().split("\n").at(-1), "pong from the bridge", context);
  assert.equal(bridge.results().length, 0);
});

Deno.test("codex exec: the model calls Codex's exec_command through the bridge, Codex runs it read-only, the answer quotes the file", async () => {
  await using box = await clientSandbox();
  await Deno.writeTextFile(`${box.work}/secret.txt`, `${SECRET}\n`);
  await using bridge = await startToolBridge({
    tool: "exec_command",
    input: { cmd: "cat secret.txt" },
    answer: (results) =>
      results.some((result) => result.text.includes(SECRET))
        ? `The file says: ${SECRET}`
        : "The tool result did not hold the file.",
  });
  const run = await codexExec(box, bridge, "Quote secret.txt.");
  assertToolRoundTrip(bridge, run, {
    tool: "exec_command",
    result: SECRET,
    answer: `The file says: ${SECRET}`,
  });
});
