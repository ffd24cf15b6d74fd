/**
 * Names of the client's tools on the Claude side.
 *
 * Client tools reach the model through the bridge's in-process MCP server
 * `bridge`, so the model sees `mcp__bridge__<alias>`. Claude accepts tool
 * names of at most 64 characters from `[A-Za-z0-9_-]`, and the CLI rewrites
 * any other character to `_`; so each client name gets an alias made of the
 * allowed characters, short enough with the prefix, and unique: the name
 * itself when it already fits, otherwise the name with other characters
 * replaced, cut to length and suffixed with a hash of the original when it
 * had to be cut or would collide. {@linkcode ToolNames} maps both ways
 * exactly, so a client always gets back the name it sent.
 *
 * @module
 */

/** The MCP server name the client's tools are served under. */
export const MCP_SERVER = "bridge";
/** What the model sees before an alias. */
export const MCP_PREFIX = `mcp__${MCP_SERVER}__`;
/** Longest tool name Claude accepts. */
const MAX_API_NAME = 64;
/** Longest alias, leaving room for the prefix. */
export const MAX_ALIAS = MAX_API_NAME - MCP_PREFIX.length;

const SAFE = /^[A-Za-z0-9_-]+$/;

/** A short, stable hash of `text` (FNV-1a, 32 bits, base 36). */
function shortHash(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(36);
}

/** Two-way map between the client's tool names and their aliases on the Claude side. */
export class ToolNames {
  #byName = new Map<string, string>();
  #byAlias = new Map<string, string>();

  /** Builds aliases for `names` (each must be non-empty and unique). */
  constructor(names: Iterable<string>) {
    const wanted = [...names];
    // Names that fit as they are keep them, so a cut name never takes a real one's place.
    for (const name of wanted) {
      if (SAFE.test(name) && name.length <= MAX_ALIAS) this.#add(name, name);
    }
    for (const name of wanted) {
      if (this.#byName.has(name)) continue;
      const safe = name.replace(/[^A-Za-z0-9_-]/g, "_");
      let alias = safe.length <= MAX_ALIAS && !this.#byAlias.has(safe) ? safe : "";
      for (let salt = 0; alias === ""; salt++) {
        const suffix = `_${shortHash(`${salt}:${name}`)}`;
        const candidate = safe.slice(0, MAX_ALIAS - suffix.length) + suffix;
        if (!this.#byAlias.has(candidate)) alias = candidate;
      }
      this.#add(name, alias);
    }
  }

  #add(name: string, alias: string): void {
    this.#byName.set(name, alias);
    this.#byAlias.set(alias, name);
  }

  /** The alias of a client name (the name itself for unknown names that are safe). */
  alias(name: string): string {
    return this.#byName.get(name) ?? name.replace(/[^A-Za-z0-9_-]/g, "_");
  }

  /** The name the model sees for a client tool: `mcp__bridge__<alias>`. */
  apiName(name: string): string {
    return MCP_PREFIX + this.alias(name);
  }

  /**
   * The client name for an alias (as in MCP `tools/call`) or a full API name
   * (`mcp__bridge__…`, as in the model's tool_use blocks); `undefined` when it
   * names none of the client's tools.
   */
  clientName(aliasOrApiName: string): string | undefined {
    const alias = aliasOrApiName.startsWith(MCP_PREFIX)
      ? aliasOrApiName.slice(MCP_PREFIX.length)
      : aliasOrApiName;
    return this.#byAlias.get(alias);
  }

  /** True for a full API name of one of the client's tools. */
  isClientTool(apiName: string): boolean {
    return apiName.startsWith(MCP_PREFIX) && this.#byAlias.has(apiName.slice(MCP_PREFIX.length));
  }
}
