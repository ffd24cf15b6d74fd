/**
 * End-to-end setup: the bridge in-process with the **real** Claude Code CLI
 * as `CLAUDE_BIN`, the CLI pointed at a fake Anthropic API on loopback, and
 * the official `openai` client talking to the bridge.
 *
 * The CLI is found from `CLAUDE_E2E_BIN`, else as `claude` on `PATH`. When it
 * is absent, {@linkcode startE2E} throws a message saying how to install it:
 * these tests fail rather than skip.
 *
 * @module
 */
import { OpenAI } from "./client_libraries.ts";
import {
  type FakeAnthropic,
  type FakeResponse,
  type RecordedRequest,
  startFakeAnthropic,
} from "./fake_anthropic.ts";
import { startServer, TEST_KEY, type TestServer } from "./harness.ts";

/** The Claude Code version these tests pin (the one `.ci/run` installs). */
const CLAUDE_CODE_VERSION = "2.1.197";

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
 * running `--version` once.
 *
 * @throws {Error} saying how to install the CLI when it is absent or broken.
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
    const runs = await new Deno.Command(bin, { args: ["--version"], stdin: "null" }).output()
      .then((output) => output.success, () => false);
    if (!runs) {
      throw new Error(
        `The Claude Code CLI at ${bin} does not run (\`${bin} --version\` failed): ${INSTALL_HINT}.`,
      );
    }
    return bin;
  })();
  return found;
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
  const client = new OpenAI({
    apiKey: TEST_KEY,
    baseURL: `${bridge.url}/v1`,
    maxRetries: 0,
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
      base = fake.requests.filter(isMessagesPost).length;
    },
    posts: () => fake.requests.filter(isMessagesPost),
    lastBody: () => lastBody,
    async [Symbol.asyncDispose]() {
      await bridge[Symbol.asyncDispose]();
      await fake.close();
      await Deno.remove(home, { recursive: true }).catch(() => {});
    },
  };
}

function isMessagesPost(request: RecordedRequest): boolean {
  return request.method === "POST" && request.path.split("?")[0] === "/v1/messages";
}

/** All text in a Messages API `content` (a string or blocks). */
export function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((block) => typeof block?.text === "string" ? block.text : "").join("\n");
}
