/**
 * End-to-end setup: the bridge in-process with the **real** Claude Code CLI
 * as `CLAUDE_BIN`, the CLI pointed at a fake Anthropic API on loopback, and
 * the official `openai` client talking to the bridge.
 *
 * The CLI is found from `CLAUDE_E2E_BIN`, else as `claude` on `PATH`, and
 * must print the pinned version ({@linkcode CLAUDE_CODE_VERSION}). When it is
 * absent, broken or another version, {@linkcode startE2E} throws a message
 * saying how to install the pinned one: these tests fail rather than skip.
 * A test that needs the CLI under another path gets an exec shim
 * ({@linkcode execShim}), never a symlink: a CLI installed as a wrapper
 * script finds its files through `$0`.
 *
 * @module
 */
import { type OpenAI, openaiClient } from "./client_libraries.ts";
import {
  type FakeAnthropic,
  type FakeResponse,
  type RecordedRequest,
  startFakeAnthropic,
} from "./fake_anthropic.ts";
import { startServer, type TestServer } from "./harness.ts";

export { contentText } from "./fake_anthropic.ts";

/** The Claude Code version these tests pin (the one `.ci/run` installs). */
export const CLAUDE_CODE_VERSION = "2.1.197";

const INSTALL_HINT =
  `install it with \`npm install -g @anthropic-ai/claude-code@${CLAUDE_CODE_VERSION}\`` +
  " or set CLAUDE_E2E_BIN to its path";

/** Finds `name` in the directories of `PATH`, or `undefined`. */
async function onPath(name: string): Promise<string | undefined> {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir === "") continue;
    const path = `${dir}/${name}`;
    const info = await Deno.stat(path).catch(() => undefined);
    if (info?.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return path;
  }
  return undefined;
}

let found: Promise<string> | undefined;

/**
 * The real CLI's path: `CLAUDE_E2E_BIN`, else `claude` on `PATH`, checked by
 * running `--version` once against the pinned {@linkcode CLAUDE_CODE_VERSION}.
 *
 * @throws {Error} saying how to install the pinned CLI when it is absent,
 *   broken, or another version.
 */
export function realClaude(): Promise<string> {
  found ??= (async () => {
    const configured = Deno.env.get("CLAUDE_E2E_BIN");
    const bin = configured || await onPath("claude");
    if (!bin) {
      throw new Error(
        `The end-to-end tests need the real Claude Code CLI, and \`claude\` is not on PATH: ${INSTALL_HINT}.`,
      );
    }
    const output = await new Deno.Command(bin, { args: ["--version"], stdin: "null" }).output()
      .catch(() => undefined);
    if (!output?.success) {
      throw new Error(
        `The Claude Code CLI at ${bin} does not run (\`${bin} --version\` failed): ${INSTALL_HINT}.`,
      );
    }
    const printed = new TextDecoder().decode(output.stdout).trim();
    if (printed.split(/\s+/)[0] !== CLAUDE_CODE_VERSION) {
      throw new Error(
        `The end-to-end tests pin Claude Code ${CLAUDE_CODE_VERSION}, but \`${bin} --version\` ` +
          `prints "${printed}": ${INSTALL_HINT}.`,
      );
    }
    return bin;
  })();
  return found;
}

/**
 * Writes an executable shell script at `path` that runs the real CLI with
 * its arguments (`exec`, so signals and the exit status are the CLI's own),
 * and returns `path`.
 */
export async function execShim(path: string): Promise<string> {
  const quoted = `'${(await realClaude()).replaceAll("'", `'\\''`)}'`;
  await Deno.writeTextFile(path, `#!/bin/sh\nexec ${quoted} "$@"\n`, { mode: 0o755 });
  await Deno.chmod(path, 0o755);
  return path;
}

/** The environment that points a CLI child at `apiUrl`, signed in with a dummy key. */
export function fakeApiEnv(apiUrl: string, home: string): Record<string, string> {
  return {
    ANTHROPIC_BASE_URL: apiUrl,
    ANTHROPIC_API_KEY: "any",
    // Empty means unset to the CLI: no host credentials may take part.
    ANTHROPIC_AUTH_TOKEN: "",
    CLAUDE_CODE_OAUTH_TOKEN: "",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    CLAUDE_CODE_MAX_RETRIES: "0",
    HOME: home,
  };
}

/** Options for {@linkcode startE2E}. */
export interface E2EOptions {
  /** Bridge environment overrides (e.g. `CLAUDE_BIN`). */
  env?: Record<string, string>;
  /** Child environment overrides, applied over {@linkcode fakeApiEnv}. */
  childEnv?: Record<string, string>;
}

/** A bridge running the real CLI against a fake API, and a client for it. */
export interface E2E extends AsyncDisposable {
  fake: FakeAnthropic;
  bridge: TestServer;
  /** An `openai` client for the bridge (no retries). */
  client: OpenAI;
  /** The fresh `HOME` the CLI runs with. */
  home: string;
  /** Sets what the fake answers from now on (the last entry repeats). */
  script(responses: FakeResponse[]): void;
  /** The `POST /v1/messages` requests the fake received. */
  posts(): RecordedRequest[];
  /** The raw body of the client's latest response, read in full. */
  lastBody(): Promise<string>;
}

/** Starts the fake API, then the bridge with the real CLI and a client. */
export async function startE2E(options: E2EOptions = {}): Promise<E2E> {
  const bin = await realClaude();
  let responses: FakeResponse[] = [];
  let base = 0;
  const fake = startFakeAnthropic((_request, index) =>
    responses[Math.min(index - base, responses.length - 1)] ?? {}
  );
  const home = await Deno.makeTempDir({ prefix: "bridge-e2e-home-" });
  const bridge = await startServer(
    { CLAUDE_BIN: bin, ...options.env },
    { ...fakeApiEnv(fake.url, home), ...options.childEnv },
  );
  let lastBody: Promise<string> = Promise.resolve("");
  const client = openaiClient(`${bridge.url}/v1`, {
    // Keeps a copy of each response body so tests can check the wire format too.
    fetch: async (input: string | URL | Request, init?: RequestInit) => {
      const response = await fetch(input, init);
      if (!response.body) return response;
      const [mine, theirs] = response.body.tee();
      lastBody = new Response(theirs).text();
      return new Response(mine, response);
    },
  });
  return {
    fake,
    bridge,
    client,
    home,
    script(next) {
      responses = next;
      base = fake.posts().length;
    },
    posts: () => fake.posts(),
    lastBody: () => lastBody,
    async [Symbol.asyncDispose]() {
      await bridge[Symbol.asyncDispose]();
      await fake.close();
      await Deno.remove(home, { recursive: true }).catch(() => {});
    },
  };
}
