/**
 * The CLI's own floor: the real Claude Code CLI driven straight from the
 * benchmark with the bridge's own argv ({@linkcode buildArgs}) and stdin
 * protocol (`src/claude/control.ts`), no bridge in between — what the bridge
 * adds is measured against this.
 *
 * A {@linkcode FloorCli} is started, probed with `get_binary_version` (as
 * the warm pool does), then fed turn after turn: the first turn's
 * `initialize` with the system prompt, each turn's settings and user line —
 * the bytes the bridge writes. {@linkcode FloorCli.turn} times the first
 * text delta from the write.
 *
 * @module
 */
import type { Agent } from "../src/claude/agents.ts";
import { buildArgs, processEnv, type ProcessSpec } from "../src/claude/args.ts";
import {
  DEFAULT_TURN_SETTINGS,
  initializeRequest,
  settingsRequests,
  type TurnSettings,
  userMessage,
  versionRequest,
} from "../src/claude/control.ts";
import { ToolNames } from "../src/claude/tool_names.ts";
import { DirectCli } from "./direct_cli.ts";

/** True for a stdout line carrying a text delta. */
export const isTextDelta = (line: string): boolean => line.includes('"text_delta"');
/** True for a turn's `result` line. */
export const isResult = (line: string): boolean => line.startsWith('{"type":"result"');

/** What one turn gave: time to first text delta and the whole text. */
export interface FloorTurn {
  /** Milliseconds from the write to the first text delta read. */
  ttftMs: number;
  /** The turn's answer (the `result` line's `result`). */
  text: string;
}

/** A real CLI fed directly with the bridge's protocol; see the module documentation. */
export class FloorCli implements AsyncDisposable {
  readonly cli: DirectCli;
  readonly cwd: string;
  #ids = 0;
  #initialized = false;
  #settings = DEFAULT_TURN_SETTINGS;
  #names = new ToolNames([]);

  private constructor(cli: DirectCli, cwd: string) {
    this.cli = cli;
    this.cwd = cwd;
  }

  /** Starts the CLI for `agent`/`model` in a fresh directory, with `env` (the fake API's) added. */
  static start(bin: string, agent: Agent, model: string, env: Record<string, string>): FloorCli {
    const spec: ProcessSpec = { agent, model, clientTools: false };
    const cwd = Deno.makeTempDirSync({ prefix: "bridge-bench-floor-" });
    const cli = new DirectCli(bin, buildArgs(spec), cwd, { ...processEnv(spec), ...env });
    return new FloorCli(cli, cwd);
  }

  #id(): string {
    return `floor-${++this.#ids}`;
  }

  /** Resolves once the CLI answered the warm pool's probe (it is up and reading stdin). */
  async probe(): Promise<void> {
    await this.cli.write(versionRequest(this.#id()));
    await this.cli.next((line) => line.includes('"control_response"'));
  }

  /**
   * Writes one turn — on the first, `initialize` with `systemPrompt` — with
   * its settings (`null`: none written, as a diagnostic) and user line, and
   * reads it to its `result` line.
   */
  async turn(
    text: string,
    options: { systemPrompt?: string; settings?: TurnSettings | null } = {},
  ): Promise<FloorTurn> {
    let input = "";
    if (!this.#initialized) {
      this.#initialized = true;
      input += initializeRequest(this.#id(), {
        systemPrompt: options.systemPrompt,
        clientTools: false,
        guard: false,
      });
    }
    if (options.settings !== null) {
      // As the bridge's session does: only settings that differ from the process's current ones.
      const settings = options.settings ?? DEFAULT_TURN_SETTINGS;
      input += settingsRequests([this.#id(), this.#id()], settings, this.#settings);
      this.#settings = settings;
    }
    input += userMessage([{ type: "text", text }], this.#names);
    const sent = await this.cli.write(input);
    const first = await this.cli.next(isTextDelta);
    const result = JSON.parse((await this.cli.next(isResult)).line);
    if (result.is_error) throw new Error(`the CLI's turn failed: ${JSON.stringify(result)}`);
    return { ttftMs: first.receivedAt - sent, text: String(result.result ?? "") };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.cli[Symbol.asyncDispose]();
    await Deno.remove(this.cwd, { recursive: true }).catch(() => {});
  }
}
