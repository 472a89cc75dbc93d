/** Request ids: accept a well-formed incoming one, otherwise make a new one. */

/** Hono's `requestId` middleware default `limitLength`. */
export const MAX_REQUEST_ID_LENGTH = 255;

/** Any character outside `[A-Za-z0-9_=-]`: the class Hono rejects (`/[^\w\-=]/`). */
const FORBIDDEN_REQUEST_ID_CHARACTER = /[^\w\-=]/;

/**
 * The rule of `hono/request-id` (hono 4.13, `src/middleware/request-id/request-id.ts`): a
 * non-empty id of at most 255 characters from `[A-Za-z0-9_=-]` is kept; anything else is replaced.
 */
export function isValidRequestId(value: string): boolean {
  return value.length > 0 && value.length <= MAX_REQUEST_ID_LENGTH &&
    !FORBIDDEN_REQUEST_ID_CHARACTER.test(value);
}

/** A random UUID (v4), Hono's default generator. */
export function generateRequestId(): string {
  return crypto.randomUUID();
}

export interface RequestIdPolicy {
  readonly validate: (value: string) => boolean;
  readonly generate: () => string;
}

export const DEFAULT_REQUEST_ID_POLICY: RequestIdPolicy = {
  validate: isValidRequestId,
  generate: generateRequestId,
};

/** `incoming` (the request header's value) when it passes `validate`, else a `generate`d id. */
export function resolveRequestId(
  incoming: string | null,
  policy: RequestIdPolicy = DEFAULT_REQUEST_ID_POLICY,
): string {
  return incoming !== null && policy.validate(incoming) ? incoming : policy.generate();
}
