/**
 * The model allowlist: which aliases clients may ask for (each is passed to
 * the CLI as `--model`), and the default.
 *
 * @module
 */
import { HttpError } from "../http/http_error.ts";

/** Allowed model aliases and the default one. */
export interface ModelPolicy {
  models: readonly string[];
  defaultModel: string;
}

/**
 * The alias to run: the requested one if allowed, the default when none was named.
 *
 * @throws {HttpError} 400 `unsupported model` with the `supported` list.
 */
export function resolveModel(policy: ModelPolicy, requested: string | null | undefined): string {
  if (requested === undefined || requested === null) return policy.defaultModel;
  if (policy.models.includes(requested)) return requested;
  throw new HttpError(
    400,
    "unsupported model",
    `Model "${requested.slice(0, 100)}" is not supported; use one of: ${policy.models.join(", ")}.`,
    { fields: { supported: [...policy.models] } },
  );
}
