/**
 * Drives the real Claude Code CLI directly (no bridge) for contract tests:
 * one process in stream-json mode against a fake Anthropic API, read through
 * the bridge's own {@linkcode ClaudeProcess} (so its event parsing is under
 * test too), with helpers to write lines and wait for events.
 *
 * @module
 */
import { buildArgs, processEnv, type ProcessSpec } from "../../src/claude/args.ts";
import type { Agent } from "../../src/claude/agents.ts";
import type { CliEvent } from "../../src/claude/events.ts";
import { ClaudeProcess } from "../../src/claude/process.ts";
import { controlSuccess } from "../../src/claude/control.ts";
import { type FakeAnthropic, type FakeScript, startFakeAnthropic } from "./fake_anthropic.ts";
import { fakeApiEnv, realClaude } from "./real_cli.ts";

/** An agent for contract tests. */
export function testAgent(settings: Partial<Agent["settings"]> = {}): Agent {
  return {
    name: "contract",
    settings: {
      description: "",
      tools: [],
      allowedTools: [],
      permissionMode: "default",
      ...settings,
    },
  };
}

/** A real CLI process, the fake API it talks to, and what it printed so far. */
export class CliDriver implements AsyncDisposable {
  readonly process: ClaudeProcess;
  readonly api: FakeAnthropic;
  readonly cwd: string;
  readonly home: string;
  /** Every event so far, in order. */
  readonly events: CliEvent[] = [];
  #waiters: { match: (event: CliEvent) => boolean; resolve: (event: CliEvent) => void }[] = [];
  #seen = new Set<CliEvent>();
  #reading: Promise<void>;

  private constructor(process: ClaudeProcess, api: FakeAnthropic, cwd: string, home: string) {
    this.process = process;
    this.api = api;
    this.cwd = cwd;
    this.home = home;
    this.#reading = (async () => {
      for await (const batch of process.events) {
        for (const event of batch) {
          this.events.push(event);
          for (const waiter of [...this.#waiters]) {
            if (waiter.match(event)) {
              this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
              this.#seen.add(event);
              waiter.resolve(event);
            }
          }
        }
      }
    })();
  }

  /**
   * Starts the CLI for `spec` (argv and environment as the bridge builds
   * them) against a fresh fake API answering with `script`.
   */
  static async start(
    spec: Partial<ProcessSpec> & { agent?: Agent },
    script: FakeScript = [],
    options: { cwd?: string; env?: Record<string, string> } = {},
  ): Promise<CliDriver> {
    const bin = await realClaude();
    const api = startFakeAnthropic(script, { cache: { minTokens: 0 } });
    const home = await Deno.makeTempDir({ prefix: "cli-contract-home-" });
    const cwd = options.cwd ?? await Deno.makeTempDir({ prefix: "cli-contract-cwd-" });
    const full: ProcessSpec = { agent: testAgent(), model: "sonnet", clientTools: false, ...spec };
    const process = ClaudeProcess.spawn({
      bin,
      args: buildArgs(full),
      cwd,
      env: { ...processEnv(full), ...fakeApiEnv(api.url, home), ...options.env },
    });
    return new CliDriver(process, api, cwd, home);
  }

  /** Writes raw stdin text. */
  write(text: string): Promise<void> {
    return this.process.write(text);
  }

  /**
   * The first event matching `match` that no earlier `next` returned,
   * waiting for it (failing after `ms`).
   */
  next<T extends CliEvent>(match: (event: CliEvent) => event is T, ms?: number): Promise<T>;
  next(match: (event: CliEvent) => boolean, ms?: number): Promise<CliEvent>;
  next(match: (event: CliEvent) => boolean, ms = 20_000): Promise<CliEvent> {
    const found = this.events.find((event) => !this.#seen.has(event) && match(event));
    if (found) {
      this.#seen.add(found);
      return Promise.resolve(found);
    }
    return new Promise((resolve, reject) => {
      const fail = (why: string) => {
        const at = this.#waiters.indexOf(waiter);
        if (at < 0) return;
        this.#waiters.splice(at, 1);
        clearTimeout(timer);
        reject(new Error(`${why}; saw: ${JSON.stringify(this.events).slice(-2000)}`));
      };
      const waiter = {
        match,
        resolve: (event: CliEvent) => {
          clearTimeout(timer);
          resolve(event);
        },
      };
      const timer = setTimeout(() => fail(`no matching CLI event within ${ms} ms`), ms);
      this.#waiters.push(waiter);
      // Once stdout has ended, no event will come.
      void this.#reading.then(() => fail("the CLI's output ended before a matching event"));
    });
  }

  /** The turn's `result` line. */
  async result() {
    const event = await this.next((event) => event.type === "result");
    return event.type === "result" ? event.result : undefined!;
  }

  /** Answers every `mcp_message` of the in-process server `bridge` with `answer` (until the process ends). */
  serveMcp(
    answer: (message: Record<string, unknown>) => Record<string, unknown> | undefined,
  ): void {
    void (async () => {
      for (;;) {
        const event = await this.next(
          (event) => event.type === "control_request" && event.request.subtype === "mcp_message",
          600_000,
        ).catch(() => undefined);
        if (!event || event.type !== "control_request") return;
        const message = event.request.message as Record<string, unknown>;
        const reply = answer(message);
        if (reply) {
          await this.write(
            controlSuccess(event.requestId, {
              mcp_response: { jsonrpc: "2.0", id: message.id, ...reply },
            }),
          );
        }
      }
    })();
  }

  /** The `POST /v1/messages` requests the fake API received. */
  posts() {
    return this.api.requests.filter((request) =>
      request.path.startsWith("/v1/messages") && request.method === "POST" &&
      !request.path.includes("count_tokens")
    );
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.process.stop(new DOMException("test over", "AbortError"));
    await this.#reading.catch(() => {});
    await this.api.close();
    await Deno.remove(this.home, { recursive: true }).catch(() => {});
    await Deno.remove(this.cwd, { recursive: true }).catch(() => {});
  }
}
