/**
 * `GET /v1/models` and `GET /v1/models/{id}`: the model allowlist in
 * OpenAI's list shape.
 *
 * @module
 */
import type { ModelPolicy } from "../engine/model_policy.ts";
import { HttpError } from "../http/http_error.ts";

/** One entry of OpenAI's model list. */
export interface ModelObject {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
}

/**
 * Makes the handlers of `GET /v1/models` (OpenAI's list shape, the allowed
 * aliases, in `MODELS` order) and `GET /v1/models/:id` (one model, or 404;
 * the id is the request path's last segment).
 * `created` is when the server started, in whole seconds.
 */
export function modelHandlers(policy: ModelPolicy): {
  list: () => Promise<Response>;
  get: (request: Request) => Promise<Response>;
} {
  const created = Math.floor(Date.now() / 1000);
  const objects: ModelObject[] = policy.models.map((id) => ({
    id,
    object: "model",
    created,
    owned_by: "anthropic",
  }));
  return {
    list: () => Promise.resolve(Response.json({ object: "list", data: objects })),
    get: (request) => {
      const id = decodeURIComponent(new URL(request.url).pathname.split("/").pop() ?? "");
      const found = objects.find((model) => model.id === id);
      if (found) return Promise.resolve(Response.json(found));
      return Promise.reject(
        new HttpError(
          404,
          "model not found",
          `Model "${id.slice(0, 100)}" is not served here; use one of: ${
            policy.models.join(", ")
          }.`,
          { fields: { supported: [...policy.models] } },
        ),
      );
    },
  };
}
