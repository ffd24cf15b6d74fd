/**
 * The OpenAI-style client libraries the tests drive, pinned here rather than
 * in deno.json's import map, so that running the server never downloads them.
 *
 * @module
 */
export { APIError, default as OpenAI } from "npm:openai@7.57.0";
export { generateText, streamText } from "npm:ai@7.0.173";
export { createOpenAICompatible } from "npm:@ai-sdk/openai-compatible@3.0.92";
export { ChatOpenAI } from "npm:@langchain/openai@1.6.0";
