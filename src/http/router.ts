/**
 * A small URLPattern router: routes are matched by path, then by method, so an
 * unknown path answers 404 and a known path with the wrong method 405, both as
 * JSON errors. A path with malformed percent-encoding is a 400.
 *
 * The pattern a request's path matched (e.g. `/v1/models/:id`) is kept for
 * {@linkcode routeOf}: metrics label requests by pattern, never by raw path,
 * so that any number of distinct paths makes a bounded number of series.
 *
 * @module
 */
import { HttpError } from "./http_error.ts";

/** A request handler with the route's matched path parameters. */
export type Handler = (
  request: Request,
  params: Record<string, string | undefined>,
) => Response | Promise<Response>;

/** One route: a method, a URLPattern pathname and its handler. */
export interface Route {
  method: string;
  pattern: URLPattern;
  handler: Handler;
}

/** Builds a {@linkcode Route} from a method and a pathname pattern such as `/v1/models/:id`. */
export function route(method: string, pathname: string, handler: Handler): Route {
  return { method: method.toUpperCase(), pattern: new URLPattern({ pathname }), handler };
}

const matched = new WeakMap<Request, string>();

/**
 * The pathname pattern of the route whose path `request` matched (also when
 * its method did not), or `undefined` when no route's path matched.
 */
export function routeOf(request: Request): string | undefined {
  return matched.get(request);
}

/** The request's path, refused with 400 if its percent-encoding is malformed. */
function checkedPath(request: Request): string {
  const path = new URL(request.url).pathname;
  try {
    decodeURIComponent(path);
  } catch {
    throw new HttpError(
      400,
      "invalid path",
      "The request path has malformed percent-encoding (a % not followed by two hex digits, or bytes that are not UTF-8); encode a literal % as %25.",
    );
  }
  return path;
}

/**
 * Returns a fetch handler that dispatches to the first route whose pattern and
 * method match. `HEAD` is served by a matching `GET` route.
 */
export function router(routes: readonly Route[]): (request: Request) => Promise<Response> {
  return async (request) => {
    const path = checkedPath(request);
    const allowed = new Set<string>();
    for (const { method, pattern, handler } of routes) {
      const match = pattern.exec(request.url);
      if (!match) continue;
      matched.set(request, pattern.pathname);
      if (method === request.method || (method === "GET" && request.method === "HEAD")) {
        return await handler(request, match.pathname.groups);
      }
      allowed.add(method);
    }
    if (allowed.size === 0) {
      throw new HttpError(
        404,
        "not found",
        `No route for ${path}; see the README for the endpoints.`,
      );
    }
    const methods = [...allowed].join(", ");
    throw new HttpError(
      405,
      "method not allowed",
      `${request.method} is not allowed here; use ${methods}.`,
      { headers: { allow: methods } },
    );
  };
}
