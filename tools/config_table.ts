/**
 * Generates the README's configuration table from the zod schema
 * ({@linkcode configSchema}): one row per variable with its default and its
 * `.describe()` text. `deno task config-table` rewrites the README section
 * between `<!-- section: configuration -->` and the next section marker (and
 * `deno fmt` then aligns it);
 * `tests/config_reference_test.ts` fails when the two drift apart.
 *
 * @module
 */
import { CONFIG_VARIABLES, configSchema } from "../src/config.ts";

/** The repository root (defaults inside it are shown relative to it). */
export const REPO_ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
/** The README this tool maintains. */
export const README = `${REPO_ROOT}/README.md`;
/** Marker opening the configuration section. */
export const SECTION = "<!-- section: configuration -->";
/** Shown for a variable without a default. */
export const UNSET = "_(unset)_";

type Shape = typeof configSchema.shape;

/** A variable's default as the table shows it (the value a user would type). */
export function displayDefault(name: string): string {
  const value: unknown = configSchema.shape[name as keyof Shape].parse(undefined);
  const text = value === undefined ? "" : Array.isArray(value) ? value.join(",") : String(value);
  if (text === "") return UNSET;
  const shown = text.startsWith(REPO_ROOT + "/") ? text.slice(REPO_ROOT.length + 1) : text;
  return "`" + shown + "`";
}

/** A variable's `.describe()` text. */
export function description(name: string): string {
  return configSchema.shape[name as keyof Shape].description ?? "";
}

/** The Markdown table of every variable. */
export function configTable(): string {
  const rows = CONFIG_VARIABLES.map((name) =>
    `| \`${name}\` | ${displayDefault(name)} | ${description(name).replaceAll("|", "\\|")} |`
  );
  return ["| Variable | Default | Effect |", "| --- | --- | --- |", ...rows].join("\n");
}

/** The whole configuration section body (what goes between the markers). */
export function configSection(): string {
  return [
    "## Configuration",
    "",
    "Everything is set through environment variables, read once at start and validated; a bad " +
    "value stops the start with a message naming the variable. Empty values count as unset. " +
    "This table is generated from the schema in `src/config.ts` (`deno task config-table`), " +
    "and a test fails if they differ.",
    "",
    configTable(),
    "",
    "The CLI child inherits the bridge's environment except `API_KEYS`, so " +
    "`CLAUDE_CODE_OAUTH_TOKEN`, `ANTHROPIC_BASE_URL`, `HTTPS_PROXY` and the like reach it.",
  ].join("\n");
}

/** `readme` with its configuration section replaced by {@linkcode configSection}. */
export function withSection(readme: string): string {
  const start = readme.indexOf(SECTION);
  if (start < 0) {
    throw new Error(`README.md has no "${SECTION}" marker; add it where the table goes.`);
  }
  const bodyStart = start + SECTION.length;
  const next = readme.indexOf("<!-- section:", bodyStart);
  const end = next < 0 ? readme.length : next;
  return readme.slice(0, bodyStart) + "\n\n" + configSection() + "\n\n" + readme.slice(end);
}

if (import.meta.main) {
  await Deno.writeTextFile(README, withSection(await Deno.readTextFile(README)));
  console.log("README.md configuration section regenerated.");
}
