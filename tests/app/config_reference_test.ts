/**
 * The configuration reference cannot drift: the README's table lists every
 * variable of the zod schema with its real default and `.describe()` text,
 * and the `start` and `compile` tasks grant the same scoped permissions,
 * including env access to every variable.
 */
import assert from "node:assert/strict";
import { CONFIG_VARIABLES, configSchema, DEFAULT_WORKSPACE_ROOT } from "../../src/config.ts";
import { configSection, README, REPO_ROOT, SECTION, UNSET } from "../../tools/config_table.ts";

type Shape = typeof configSchema.shape;
const schemaOf = (name: string) => configSchema.shape[name as keyof Shape];

/** The README text between the configuration marker and the next section marker. */
async function configurationSection(): Promise<string> {
  const readme = await Deno.readTextFile(README);
  const start = readme.indexOf(SECTION);
  assert.ok(start >= 0, `README.md lacks the "${SECTION}" marker`);
  const next = readme.indexOf("<!-- section:", start + SECTION.length);
  return readme.slice(start + SECTION.length, next < 0 ? undefined : next);
}

/** The table rows as [variable, default cell, effect]. */
function tableRows(section: string): [string, string, string][] {
  return section.split("\n")
    .filter((line) => /^\|\s*`[A-Z_]+`\s*\|/.test(line))
    .map((line) => {
      const cells = line.slice(1, -1).split(/(?<!\\)\|/).map((cell) => cell.trim());
      assert.equal(cells.length, 3, `a row has three cells: ${line}`);
      return [cells[0]!.replaceAll("`", ""), cells[1]!, cells[2]!.replaceAll("\\|", "|")];
    });
}

/** What the README's default cell means as an environment value. */
function cellValue(cell: string, schemaDefault: unknown): string | undefined {
  if (cell === UNSET) return undefined;
  const text = cell.replace(/^`|`$/g, "");
  // Defaults inside the repository are shown relative to it.
  return typeof schemaDefault === "string" && schemaDefault.startsWith(REPO_ROOT + "/")
    ? `${REPO_ROOT}/${text}`
    : text;
}

Deno.test("every config variable has a description for the reference", () => {
  for (const name of CONFIG_VARIABLES) {
    assert.ok(schemaOf(name).description, `${name} needs .describe() text in src/config.ts`);
  }
});

Deno.test("README configuration table lists exactly the schema's variables, defaults and effects", async () => {
  const rows = tableRows(await configurationSection());
  const hint = "run `deno task config-table` to regenerate the README section";
  assert.deepEqual(
    rows.map(([name]) => name),
    [...CONFIG_VARIABLES],
    `names/order differ; ${hint}`,
  );
  for (const [name, cell, effect] of rows) {
    const schema = schemaOf(name);
    const expected: unknown = schema.parse(undefined);
    const documented: unknown = schema.parse(cellValue(cell, expected));
    assert.deepEqual(documented, expected, `${name}: README default ${cell} is wrong; ${hint}`);
    assert.equal(effect, schema.description, `${name}: README effect text differs; ${hint}`);
  }
});

/** Markdown without layout: table cells trimmed, paragraphs on one line. */
function normalized(markdown: string): string {
  const out: string[] = [];
  let paragraph: string[] = [];
  const flush = () => {
    if (paragraph.length > 0) out.push(paragraph.join(" "));
    paragraph = [];
  };
  for (const raw of markdown.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("|")) {
      flush();
      const cells = line.slice(1, -1).split(/(?<!\\)\|/).map((cell) => cell.trim());
      out.push(cells.every((cell) => /^:?-+:?$/.test(cell)) ? "---" : cells.join(" | "));
    } else if (line === "" || line.startsWith("#")) {
      flush();
      if (line) out.push(line);
    } else {
      paragraph.push(line);
    }
  }
  flush();
  return out.join("\n");
}

Deno.test("README configuration section is what `deno task config-table` generates", async () => {
  assert.equal(
    normalized(await configurationSection()),
    normalized(configSection()),
    "run `deno task config-table` to regenerate the README section",
  );
});

interface Tasks {
  start: string;
  compile: string;
}

const tasks: Tasks = JSON.parse(
  await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
).tasks;

/** The permission flags of a task command, in order. */
function permissionFlags(command: string): string[] {
  return command.split(/\s+/).filter((word) => /^(--allow-|--deny-|-A$|--no-prompt)/.test(word));
}

/** The value list of `--allow-<kind>=a,b` in a task. */
function allowed(command: string, kind: string): string[] {
  const flag = permissionFlags(command).find((word) => word.startsWith(`--allow-${kind}=`));
  assert.ok(flag, `the task scopes --allow-${kind}=…: ${command}`);
  return flag.slice(`--allow-${kind}=`.length).split(",");
}

Deno.test("`start` and `compile` grant the same scoped permissions, never -A", () => {
  assert.match(tasks.start, /^deno run /);
  assert.match(tasks.compile, /^deno compile /);
  const start = permissionFlags(tasks.start);
  assert.deepEqual(permissionFlags(tasks.compile), start);
  for (const flag of start) {
    assert.ok(!/^(-A|--allow-all)$/.test(flag), "no -A");
    assert.ok(flag.includes("="), `${flag} is scoped (has =list)`);
  }
  for (const kind of ["run", "net", "env", "read", "write"]) allowed(tasks.start, kind);
});

Deno.test("--allow-env lists every variable in configSchema", () => {
  const env = allowed(tasks.start, "env");
  const missing = CONFIG_VARIABLES.filter((name) => !env.includes(name));
  assert.deepEqual(missing, [], "add these to --allow-env in both start and compile in deno.json");
});

Deno.test("the tasks may run claude and sh (the process-group reaper), listen on the default hosts, read agents and write the workspace root", () => {
  assert.deepEqual(allowed(tasks.start, "run"), ["claude", "sh"]);
  const net = allowed(tasks.start, "net");
  for (const host of ["127.0.0.1", "0.0.0.0"]) assert.ok(net.includes(host), host);
  assert.ok(allowed(tasks.start, "read").includes("agents"));
  assert.ok(allowed(tasks.start, "write").includes(DEFAULT_WORKSPACE_ROOT));
  assert.match(tasks.compile, /--include agents /, "the agents/ directory is embedded");
  assert.match(tasks.compile, / main\.ts$/);
  assert.match(tasks.start, / main\.ts$/);
});

Deno.test("the Dockerfile runs main.ts with the start task's permissions, pinned, non-root, health-checked", async () => {
  const dockerfile = await Deno.readTextFile(new URL("../../Dockerfile", import.meta.url));
  const cmd = dockerfile.split("\n").filter((line) => line.startsWith("CMD ")).at(-1);
  assert.ok(cmd, "the Dockerfile has a CMD");
  assert.deepEqual(
    JSON.parse(cmd.slice(4)),
    ["run", ...permissionFlags(tasks.start), "main.ts"],
    "the Dockerfile CMD must carry the same flags as the start task",
  );
  assert.match(dockerfile, /^ARG DENO_VERSION=\d+\.\d+\.\d+$/m);
  assert.match(dockerfile, /^ARG CLAUDE_CODE_VERSION=\d+\.\d+\.\d+$/m);
  assert.match(dockerfile, /^FROM denoland\/deno:\$\{DENO_VERSION\}$/m);
  assert.match(dockerfile, /^USER deno$/m);
  assert.match(dockerfile, /HOST=0\.0\.0\.0/);
  assert.match(dockerfile, /^HEALTHCHECK .*\n.*\/readyz/m);
});

Deno.test("the Kubernetes manifest probes /readyz and /healthz and takes secrets from a Secret", async () => {
  const manifest = await Deno.readTextFile(
    new URL("../../deploy/kubernetes.yaml", import.meta.url),
  );
  assert.match(manifest, /readinessProbe:\s+httpGet:\s+path: \/readyz/);
  assert.match(manifest, /livenessProbe:\s+httpGet:\s+path: \/healthz/);
  assert.match(manifest, /kind: Secret[\s\S]*CLAUDE_CODE_OAUTH_TOKEN:[\s\S]*API_KEYS:/);
  assert.match(manifest, /secretRef:\s+name: claude-openai-bridge/);
  assert.match(manifest, /kind: Service/);
});
