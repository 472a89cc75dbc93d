/**
 * Formatting shared by the terminal rendering (imported by viewer/terminal.ts) and the web UI
 * (served as an ES module), so both show the same numbers and pick colours the same way.
 */

/**
 * A duration for people: µs under a millisecond, ms under a second, else seconds.
 * @param {bigint} nanos
 * @returns {string}
 */
export function formatDuration(nanos) {
  const ms = Number(nanos) / 1e6;
  if (ms === 0) return "0 ms";
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(1)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/**
 * The same slot of a palette of `size` colours for the same service name, every time.
 * @param {string} service
 * @param {number} size
 * @returns {number}
 */
export function paletteSlot(service, size) {
  let hash = 0x811c9dc5; // FNV-1a, 32-bit
  for (let i = 0; i < service.length; i++) {
    hash ^= service.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % size;
}

/**
 * The root's path, shown beside the trace's name when the name does not already end with it
 * (`GET /` for `/orders/42` does not; `GET /checkout` for `/checkout` does).
 * @param {string} name
 * @param {string} path
 * @returns {string} the path, or "" when it would repeat the name
 */
export function pathBesideName(name, path) {
  return path === "" || name.endsWith(` ${path}`) ? "" : path;
}
