/**
 * The upstream `fetch` of the Deno entry. Deno's `fetch` (2.x) decodes a `gzip` or `br` body by
 * itself unless the request's `Accept-Encoding` is `identity`, yet keeps `Content-Encoding` and
 * `Content-Length` as the upstream sent them: passed on as is, the client gets plain bytes
 * labelled gzip. workerd re-encodes by `Content-Encoding` when it sends a response, so its entry
 * needs none of this.
 */

/** The codings Deno's fetch decodes: one coding, matched case-insensitively; lists are left. */
const DECODED_CODINGS: ReadonlySet<string> = new Set(["gzip", "br"]);

/**
 * `fetch`, with the headers of a body Deno has decoded describing the decoded body: no
 * `Content-Encoding`, no `Content-Length` and a weak `ETag` (the representation changed).
 * `Deno.serve` compresses the response again for clients that accept it.
 */
export async function fetchDecoded(
  input: RequestInfo | URL,
  init?: RequestInit,
): Promise<Response> {
  const response = await fetch(input, init);
  if (!decodedByDeno(input, init, response)) return response;
  const headers = new Headers(response.headers);
  headers.delete("content-encoding");
  headers.delete("content-length");
  const etag = headers.get("etag");
  if (etag !== null && !etag.startsWith("W/")) headers.set("etag", `W/${etag}`);
  return new Response(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers,
  });
}

function decodedByDeno(
  input: RequestInfo | URL,
  init: RequestInit | undefined,
  response: Response,
): boolean {
  if (response.body === null) return false;
  const coding = response.headers.get("content-encoding")?.trim().toLowerCase();
  if (coding === undefined || !DECODED_CODINGS.has(coding)) return false;
  // Only now the request's headers: most responses are not encoded, and copying an init's headers
  // into a Headers costs more than the rest of this check.
  const sent = init?.headers !== undefined
    ? new Headers(init.headers)
    : input instanceof Request
    ? input.headers
    : undefined;
  return sent?.get("accept-encoding")?.trim().toLowerCase() !== "identity";
}
