/**
 * Scrubbing of URLs before they become span attributes, per the OpenTelemetry HTTP semantic
 * conventions for `url.query` and `url.full`.
 *
 * Three lists decide which values are redacted:
 * - the conventions' defaults ({@link DEFAULT_SENSITIVE_QUERY_PARAMS}) and the configured extra
 *   names, matched case-sensitively as the conventions require ("Matching of query parameter keys
 *   against the sensitive list SHOULD be case-sensitive");
 * - tracegate's credential names ({@link CREDENTIAL_QUERY_PARAMS}), matched loosely: APIs spell
 *   the same credential `api_key`, `api-key`, `apiKey` and `APIKEY`, so a name is compared
 *   lower-cased and without `-`, `_` and `.`. Over-redacting a harmless `token` costs a debugging
 *   hint; exporting a live one hands it to everyone who can read traces.
 *
 * A name written with percent-escapes (`X%2DAmz%2DSignature`) is decoded before matching, since
 * the server reads it as the decoded name.
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

/**
 * Query parameters that carry credentials in widely used APIs, redacted on top of the
 * conventions' list (compared folded: lower case, without `-`, `_`, `.`):
 * - bearer tokens and their OAuth 2.0 / OIDC kin (RFC 6750 `access_token`, `refresh_token`,
 *   `id_token`, `token`, `auth_token`, `session_token`, `jwt`, the JWT-bearer grant `assertion`
 *   and `client_assertion`);
 * - API keys and secrets (`api_key`, `apikey`, `key` as Google APIs take it, `secret`,
 *   `client_secret`, `api_secret`, `private_key`);
 * - passwords (`password`, `passwd`, `pwd`) and other proofs (`auth`, `authorization`,
 *   `credential(s)`, `signature`, `session`, `session_id`, a CAS `ticket`).
 * Left out on purpose, as they far more often hold nothing secret: `code` (an OAuth
 * authorization code is short-lived and single-use), `state`, `sid`, `id`. Add them with
 * `TRACEGATE_SENSITIVE_QUERY_PARAMS` where they are secrets.
 */
export const CREDENTIAL_QUERY_PARAMS: readonly string[] = Object.freeze([
  "token",
  "access_token",
  "refresh_token",
  "id_token",
  "auth_token",
  "session_token",
  "jwt",
  "assertion",
  "client_assertion",
  "api_key",
  "key",
  "secret",
  "client_secret",
  "api_secret",
  "private_key",
  "password",
  "passwd",
  "pwd",
  "auth",
  "authorization",
  "credential",
  "credentials",
  "signature",
  "session",
  "session_id",
  "ticket",
]);

/** A name as the credential list compares it: `API-Key` and `api_key` are both `apikey`. */
function folded(name: string): string {
  return name.toLowerCase().replace(/[-_.]/g, "");
}

const CREDENTIAL_SET: ReadonlySet<string> = new Set(CREDENTIAL_QUERY_PARAMS.map(folded));

/**
 * Whether a name folds to a credential, remembered: the same few query names come request after
 * request, and folding costs a lower-casing and a regex replace each. Short names only, and
 * cleared when full, so that no stream of names can grow it.
 */
const credentialVerdicts = new Map<string, boolean>();
const REMEMBERED_NAMES = 256;
const REMEMBERED_NAME_LENGTH = 64;

function isCredential(name: string): boolean {
  let verdict = credentialVerdicts.get(name);
  if (verdict !== undefined) return verdict;
  verdict = CREDENTIAL_SET.has(folded(name));
  if (name.length <= REMEMBERED_NAME_LENGTH) {
    if (credentialVerdicts.size === REMEMBERED_NAMES) credentialVerdicts.clear();
    credentialVerdicts.set(name, verdict);
  }
  return verdict;
}

function isSensitive(name: string, sensitive: ReadonlySet<string>): boolean {
  return sensitive.has(name) || isCredential(name);
}

declare const sensitiveBrand: unique symbol;
/** The conventions' names plus the configured extra ones, built once by `sensitiveQueryParams`. */
export type SensitiveQueryParams = ReadonlySet<string> & { readonly [sensitiveBrand]: true };

/** The set `redactQuery` and `redactUrl` match against: the defaults plus `extra`. */
export function sensitiveQueryParams(extra: readonly string[]): SensitiveQueryParams {
  return (extra.length === 0 ? DEFAULT_SENSITIVE_SET : new Set([
    ...DEFAULT_SENSITIVE_QUERY_PARAMS,
    ...extra,
  ])) as SensitiveQueryParams;
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
 * `sensitive` parameters and of the credential names replaced by `REDACTED`, every other byte
 * kept as it was (nothing is re-encoded). Returns "" for an empty query.
 */
export function redactQuery(search: string, sensitive: SensitiveQueryParams): string {
  const query = search.startsWith("?") ? search.slice(1) : search;
  if (query === "") return "";
  const pairs = query.split("&");
  let redactedAny = false;
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i];
    const equals = pair.indexOf("=");
    if (equals === -1) continue;
    if (isSensitive(decodedName(pair.slice(0, equals)), sensitive)) {
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
export function redactUrl(url: URL | string, sensitive: SensitiveQueryParams): string {
  const parsed = typeof url === "string" ? new URL(url) : url;
  return redactHref(
    parsed.username !== "" || parsed.password !== ""
      ? `${parsed.protocol}//${REDACTED}:${REDACTED}@${parsed.host}${parsed.pathname}${parsed.search}`
      : parsed.href,
    sensitive,
  );
}

/**
 * {@link redactUrl} for a URL the parser has already serialized (a Request's `url`) that carries
 * no user info: read from the string, without parsing it again.
 */
export function redactHref(href: string, sensitive: SensitiveQueryParams): string {
  // In a serialized URL, `#` and `?` appear unescaped only as the fragment and query delimiters.
  const hash = href.indexOf("#");
  const withoutFragment = hash === -1 ? href : href.slice(0, hash);
  const question = withoutFragment.indexOf("?");
  if (question === -1) return withoutFragment;
  return withoutFragment.slice(0, question + 1) +
    redactQuery(withoutFragment.slice(question + 1), sensitive);
}
