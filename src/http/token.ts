/** RFC 9110 `token` (section 5.6.2): field names, Connection options, baggage keys. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function isToken(value: string): boolean {
  return TOKEN.test(value);
}
