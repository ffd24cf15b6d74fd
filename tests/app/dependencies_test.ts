/**
 * The server's dependencies are the server's: `deno.json` maps zod only, its
 * lock holds zod's graph only, and `main.ts` needs no other npm package.
 * The client libraries the tests drive live in the tests' own config
 * (`tests/deno.json`, `tests/deno.lock`), which pins the same zod.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../..", import.meta.url).pathname;

const readJson = async (path: string) => JSON.parse(await Deno.readTextFile(`${ROOT}/${path}`));

Deno.test("the server's import map and lock hold zod and nothing else", async () => {
  const config = await readJson("deno.json");
  assert.deepEqual(Object.keys(config.imports), ["zod"]);
  const lock = await readJson("deno.lock");
  assert.deepEqual(Object.keys(lock.specifiers ?? {}), [config.imports.zod]);
  assert.deepEqual(
    Object.keys(lock.npm ?? {}).map((id) => id.replace(/@[^@]+$/, "")),
    ["zod"],
  );
  assert.equal(lock.jsr, undefined);
  assert.equal(lock.remote, undefined);
});

Deno.test("main.ts's module graph needs no npm package but zod", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "info",
      "--json",
      "--config",
      `${ROOT}/deno.json`,
      `${ROOT}/main.ts`,
    ],
    stdin: "null",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  const info = JSON.parse(new TextDecoder().decode(output.stdout));
  assert.deepEqual(
    Object.keys(info.npmPackages).map((id) => id.replace(/@[^@]+$/, "")),
    ["zod"],
  );
  const remote = info.modules.map((module: { specifier: string }) => module.specifier)
    .filter((specifier: string) => /^(https?|jsr):/.test(specifier));
  assert.deepEqual(remote, []);
});

Deno.test("the tests' own config pins the server's zod and every client library, and the tasks use it", async () => {
  const server = await readJson("deno.json");
  const tests = await readJson("tests/deno.json");
  assert.equal(tests.imports.zod, server.imports.zod);
  for (
    const name of [
      "openai",
      "ai",
      "@ai-sdk/openai-compatible",
      "@langchain/openai",
      "@openai/agents",
    ]
  ) {
    assert.match(
      tests.imports[name] ?? "",
      /^npm:.+@\d+\.\d+\.\d+$/,
      `${name} is pinned exactly`,
    );
  }
  assert.deepEqual(tests.compilerOptions, server.compilerOptions);
  assert.deepEqual(tests.unstable, server.unstable);
  for (const task of ["test", "bench"]) {
    assert.match(
      server.tasks[task],
      /--config tests\/deno\.json/,
      `${task} runs with the tests' config`,
    );
  }
});
