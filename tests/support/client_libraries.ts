/**
 * The OpenAI-style client libraries the tests drive. Their versions are pinned
 * in the tests' own import map (`tests/deno.json`, locked in `tests/deno.lock`),
 * never in the server's `deno.json`, so that running the server never
 * downloads them.
 *
 * @module
 */
export { APIError, default as OpenAI } from "openai";
export { generateText, stepCountIs, streamText, tool } from "ai";
export { createOpenAICompatible } from "@ai-sdk/openai-compatible";
export { ChatOpenAI } from "@langchain/openai";
export * as agents from "@openai/agents";
