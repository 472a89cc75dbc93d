/**
 * Scrubbing of URLs before they become span attributes, per the OpenTelemetry HTTP semantic
 * conventions for `url.query` and `url.full`.
 *
 * Parameter names are matched case-sensitively, as the conventions require ("Matching of query
 * parameter keys against the sensitive list SHOULD be case-sensitive"). A name written with
 * percent-escapes (`X%2DAmz%2DSignature`) is decoded before matching, since the server reads it
 * as the decoded name.
 */

export const REDACTED = "REDACTED";

/** The query parameters whose values the conventions say to redact by default. */
export const DEFAULT_SENSITIVE_QUERY_PARAMS: readonly string[] = Object.freeze([
  "sig",
  "Signature",
  "AWSAccessKeyId",
  "X-Amz-Signature",
  "X-Amz-Credential",
  "X-Amz-Security-Token",
  "X-Goog-Signature",
]);

const DEFAULT_SENSITIVE_SET: ReadonlySet<string> = new Set(DEFAULT_SENSITIVE_QUERY_PARAMS);

// Configured lists are the same array object on every request: build each set once.
const sensitiveSets = new WeakMap<readonly string[], ReadonlySet<string>>();

function sensitiveSetFor(extraSensitive: readonly string[]): ReadonlySet<string> {
  if (extraSensitive.length === 0) return DEFAULT_SENSITIVE_SET;
  let set = sensitiveSets.get(extraSensitive);
  if (set === undefined) {
    set = new Set([...DEFAULT_SENSITIVE_QUERY_PARAMS, ...extraSensitive]);
    sensitiveSets.set(extraSensitive, set);
  }
  return set;
}

function decodedName(rawName: string): string {
  if (!rawName.includes("%")) return rawName;
  try {
    return decodeURIComponent(rawName);
  } catch {
    return rawName;
  }
}

/**
 * The `url.query` value for `search` (with or without its leading `?`): the values of the
 * default sensitive parameters and of `extraSensitive` replaced by `REDACTED`, every other byte
 * kept as it was (nothing is re-encoded). Returns "" for an empty query.
 */
export function redactQuery(search: string, extraSensitive: readonly string[]): string {
  const query = search.startsWith("?") ? search.slice(1) : search;
  if (query === "") return "";
  const sensitive = sensitiveSetFor(extraSensitive);
  const pairs = query.split("&");
  let redactedAny = false;
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i];
    const equals = pair.indexOf("=");
    if (equals === -1) continue;
    if (sensitive.has(decodedName(pair.slice(0, equals)))) {
      pairs[i] = `${pair.slice(0, equals + 1)}${REDACTED}`;
      redactedAny = true;
    }
  }
  return redactedAny ? pairs.join("&") : query;
}

/**
 * The `url.full` value for `url`: credentials replaced by `REDACTED:REDACTED` (whenever a user
 * name or a password is present: a lone user name is often a token), sensitive query values
 * redacted as in {@link redactQuery}, and the fragment dropped (fragments can carry tokens, e.g.
 * OAuth implicit-flow responses, and are never sent over HTTP).
 */
export function redactUrl(url: URL | string, extraSensitive: readonly string[]): string {
  const parsed = typeof url === "string" ? new URL(url) : url;
  // In a serialized URL, `#` and `?` appear unescaped only as the fragment and query delimiters.
  const href = parsed.username !== "" || parsed.password !== ""
    ? `${parsed.protocol}//${REDACTED}:${REDACTED}@${parsed.host}${parsed.pathname}${parsed.search}`
    : parsed.href;
  const hash = href.indexOf("#");
  const withoutFragment = hash === -1 ? href : href.slice(0, hash);
  const question = withoutFragment.indexOf("?");
  if (question === -1) return withoutFragment;
  return withoutFragment.slice(0, question + 1) +
    redactQuery(withoutFragment.slice(question + 1), extraSensitive);
}
