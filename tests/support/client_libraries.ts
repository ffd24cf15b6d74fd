/**
 * The OpenAI-style client libraries the tests drive. Their versions are pinned
 * in the tests' own import map (`tests/deno.json`, locked in `tests/deno.lock`),
 * never in the server's `deno.json`, so that running the server never
 * downloads them.
 *
 * @module
 */
import OpenAIClient from "openai";
import { TEST_KEY } from "./harness.ts";

export { APIError, default as OpenAI } from "openai";
export { generateText, stepCountIs, streamText, tool } from "ai";
export { createOpenAICompatible } from "@ai-sdk/openai-compatible";
export { ChatOpenAI } from "@langchain/openai";
export * as agents from "@openai/agents";

/** The `openai` SDK pointed at a test bridge's `/v1` (`baseURL`), with the test key and no retries. */
export function openaiClient(
  baseURL: string,
  options: { fetch?: typeof fetch } = {},
): OpenAIClient {
  return new OpenAIClient({ apiKey: TEST_KEY, baseURL, maxRetries: 0, ...options });
}
