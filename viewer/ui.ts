/**
 * The web UI's files (plain HTML, CSS and ES modules in `viewer/ui/`, no build step), read once
 * at startup and served as they are.
 */

export interface UiAsset {
  /** Where the app serves it. */
  readonly path: string;
  readonly contentType: string;
  readonly body: string;
}

const FILES: readonly { file: string; path: string; contentType: string }[] = [
  { file: "index.html", path: "/", contentType: "text/html; charset=utf-8" },
  { file: "style.css", path: "/style.css", contentType: "text/css; charset=utf-8" },
  { file: "app.js", path: "/app.js", contentType: "text/javascript; charset=utf-8" },
  { file: "format.js", path: "/format.js", contentType: "text/javascript; charset=utf-8" },
];

export function loadUi(): Promise<UiAsset[]> {
  return Promise.all(FILES.map(async ({ file, path, contentType }) => ({
    path,
    contentType,
    body: await Deno.readTextFile(new URL(`./ui/${file}`, import.meta.url)),
  })));
}
