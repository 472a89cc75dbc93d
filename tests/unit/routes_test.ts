import assert from "node:assert/strict";
import { EnvReader } from "../../src/config/env.ts";
import { normalizePath, parseRoutes, type RouteTable, upstreamUrl } from "../../proxy/routes.ts";
import { routeTable } from "../support/route_table.ts";
import { seededRandom } from "../support/seeded_random.ts";

/** The single error a bad configuration produces; parseRoutes must also return undefined. */
function failure(env: Record<string, string>) {
  const reader = new EnvReader(env);
  assert.equal(parseRoutes(reader), undefined);
  assert.equal(reader.errors.length, 1, `one error for ${JSON.stringify(env)}`);
  return reader.errors[0];
}

/** Where a request would go: `upstream-base|full target URL`, or undefined. */
function resolve(routes: RouteTable, host: string | undefined, path: string): string | undefined {
  const requestUrl = new URL(path, "http://proxy.test");
  const route = routes.match(host, requestUrl.pathname);
  if (!route) return undefined;
  return upstreamUrl(route, requestUrl)?.href;
}

Deno.test("TRACEGATE_UPSTREAM sends every path to one upstream under its base path", () => {
  const routes = routeTable({ TRACEGATE_UPSTREAM: "http://127.0.0.1:9000/base/" });
  assert.equal(resolve(routes, "a.test", "/"), "http://127.0.0.1:9000/base/");
  assert.equal(
    resolve(routes, undefined, "/x/y?q=1&r=2"),
    "http://127.0.0.1:9000/base/x/y?q=1&r=2",
  );
  assert.equal(routes.routes.length, 1);
});

Deno.test("TRACEGATE_ROUTES list form accepts commas and newlines", () => {
  const routes = routeTable({
    TRACEGATE_ROUTES: "/api=http://127.0.0.1:9001,\n /=http://127.0.0.1:9000 \r\n" +
      "Shop.Example.com/=https://shop.internal:8443/v2",
  });
  assert.deepEqual(
    routes.routes.map((route) => [route.host, route.prefix, route.base.href]),
    [
      [undefined, "/api", "http://127.0.0.1:9001/"],
      [undefined, "/", "http://127.0.0.1:9000/"],
      ["shop.example.com", "/", "https://shop.internal:8443/v2"],
    ],
  );
});

Deno.test("TRACEGATE_ROUTES JSON form is the same table as the list form", () => {
  const list = routeTable({ TRACEGATE_ROUTES: "/api/=http://a.test/v1, h.test/=http://b.test" });
  const json = routeTable({
    TRACEGATE_ROUTES: '{"/api/": "http://a.test/v1", "h.test/": "http://b.test"}',
  });
  const describe = (routes: RouteTable) =>
    routes.routes.map((route) => [route.host, route.prefix, route.base.href]);
  assert.deepEqual(describe(json), describe(list));
  assert.deepEqual(describe(json)[0], [undefined, "/api", "http://a.test/v1"]);
});

Deno.test("bad route configuration names the variable and the expected form", async (t) => {
  const cases: [string, Record<string, string>, string][] = [
    ["neither variable", {}, "TRACEGATE_UPSTREAM"],
    ["blank variables", { TRACEGATE_UPSTREAM: " ", TRACEGATE_ROUTES: "" }, "TRACEGATE_UPSTREAM"],
    ["both variables", {
      TRACEGATE_UPSTREAM: "http://a.test",
      TRACEGATE_ROUTES: "/=http://b.test",
    }, "TRACEGATE_ROUTES"],
    ["non-URL upstream", { TRACEGATE_UPSTREAM: "127.0.0.1:9000" }, "TRACEGATE_UPSTREAM"],
    ["non-http upstream", { TRACEGATE_UPSTREAM: "ftp://a.test/" }, "TRACEGATE_UPSTREAM"],
    ["upstream with query", { TRACEGATE_UPSTREAM: "http://a.test/?x=1" }, "TRACEGATE_UPSTREAM"],
    ["upstream with empty query", { TRACEGATE_UPSTREAM: "http://a.test/?" }, "TRACEGATE_UPSTREAM"],
    ["upstream with fragment", { TRACEGATE_UPSTREAM: "http://a.test/#f" }, "TRACEGATE_UPSTREAM"],
    [
      "upstream with credentials",
      { TRACEGATE_UPSTREAM: "http://u:p@a.test/" },
      "TRACEGATE_UPSTREAM",
    ],
    ["entry without =", { TRACEGATE_ROUTES: "/=http://a.test, /api" }, "TRACEGATE_ROUTES"],
    ["prefix without /", { TRACEGATE_ROUTES: "api=http://a.test" }, "TRACEGATE_ROUTES"],
    ["empty key", { TRACEGATE_ROUTES: "=http://a.test" }, "TRACEGATE_ROUTES"],
    ["host with port", { TRACEGATE_ROUTES: "a.test:80/=http://a.test" }, "TRACEGATE_ROUTES"],
    ["host with junk", { TRACEGATE_ROUTES: "a_b!/=http://a.test" }, "TRACEGATE_ROUTES"],
    ["dot-segment prefix", { TRACEGATE_ROUTES: "/api/../x=http://a.test" }, "TRACEGATE_ROUTES"],
    ["encoded-dot prefix", { TRACEGATE_ROUTES: "/%2e%2e/x=http://a.test" }, "TRACEGATE_ROUTES"],
    ["prefix with space", { TRACEGATE_ROUTES: "/a b=http://a.test" }, "TRACEGATE_ROUTES"],
    ["prefix with backslash", { TRACEGATE_ROUTES: "/a\\b=http://a.test" }, "TRACEGATE_ROUTES"],
    ["prefix with //", { TRACEGATE_ROUTES: "//=http://a.test" }, "TRACEGATE_ROUTES"],
    ["base with query", { TRACEGATE_ROUTES: "/=http://a.test/?x" }, "TRACEGATE_ROUTES"],
    ["base with fragment", { TRACEGATE_ROUTES: "/=http://a.test/#x" }, "TRACEGATE_ROUTES"],
    ["base with credentials", { TRACEGATE_ROUTES: "/=http://u@a.test/" }, "TRACEGATE_ROUTES"],
    ["base not a URL", { TRACEGATE_ROUTES: "/=a.test" }, "TRACEGATE_ROUTES"],
    ["base not http", { TRACEGATE_ROUTES: "/=file:///etc" }, "TRACEGATE_ROUTES"],
    ["duplicate entry", {
      TRACEGATE_ROUTES: "/api=http://a.test, /api/=http://b.test",
    }, "TRACEGATE_ROUTES"],
    ["only separators", { TRACEGATE_ROUTES: ", ,\n" }, "TRACEGATE_ROUTES"],
    ["garbage", { TRACEGATE_ROUTES: "}{ not a table" }, "TRACEGATE_ROUTES"],
    ["broken JSON", { TRACEGATE_ROUTES: '{"/": "http://a.test"' }, "TRACEGATE_ROUTES"],
    ["JSON non-string", { TRACEGATE_ROUTES: '{"/": 9000}' }, "TRACEGATE_ROUTES"],
    ["empty JSON", { TRACEGATE_ROUTES: "{}" }, "TRACEGATE_ROUTES"],
    ["JSON bad prefix", { TRACEGATE_ROUTES: '{"api": "http://a.test"}' }, "TRACEGATE_ROUTES"],
  ];
  for (const [name, env, variable] of cases) {
    await t.step(name, () => {
      const error = failure(env);
      assert.equal(error.name, "ConfigError");
      assert.equal(error.variable, variable);
      assert.match(error.message, new RegExp(`^${variable}: expected .*http`));
    });
  }
});

Deno.test("a bad entry is quoted in the error, not the whole table", () => {
  const error = failure({ TRACEGATE_ROUTES: "/=http://a.test, /api=http://u:p@b.test" });
  assert.equal(error.received, "/api=http://u:p@b.test");
  assert.match(error.expected, /credentials/);
});

Deno.test("longest prefix wins, on segment boundaries", () => {
  const routes = routeTable({
    TRACEGATE_ROUTES:
      "/=http://root.test, /api=http://api.test, /api/v2=http://v2.test, /apix/=http://x.test",
  });
  const upstreamOf = (path: string) => routes.match(undefined, path)?.base.host;
  assert.equal(upstreamOf("/"), "root.test");
  assert.equal(upstreamOf("/api"), "api.test");
  assert.equal(upstreamOf("/api/"), "api.test");
  assert.equal(upstreamOf("/api/users"), "api.test");
  assert.equal(upstreamOf("/api/v2"), "v2.test");
  assert.equal(upstreamOf("/api/v2/x"), "v2.test");
  assert.equal(upstreamOf("/api/v20"), "api.test");
  assert.equal(upstreamOf("/apix"), "x.test");
  assert.equal(upstreamOf("/apiy"), "root.test");
  assert.equal(upstreamOf("/API"), "root.test");
});

Deno.test("no route without a catch-all when nothing matches", () => {
  const routes = routeTable({ TRACEGATE_ROUTES: "/api=http://api.test" });
  assert.equal(routes.match(undefined, "/other"), undefined);
  assert.equal(routes.match(undefined, "/ap"), undefined);
});

Deno.test("the request's host entries are tried first, host-less ones only as fallback", () => {
  const routes = routeTable({
    TRACEGATE_ROUTES: "/=http://root.test, /api/long=http://long.test, " +
      "shop.example.com/=http://shop.test, shop.example.com/cart=http://cart.test, " +
      "[::1]/=http://v6.test",
  });
  const upstreamOf = (host: string | undefined, path: string) =>
    routes.match(host, path)?.base.host;
  assert.equal(upstreamOf("shop.example.com", "/api/long/x"), "shop.test");
  assert.equal(upstreamOf("SHOP.Example.COM:8080", "/cart/1"), "cart.test");
  assert.equal(upstreamOf("shop.example.com", "/carts"), "shop.test");
  assert.equal(upstreamOf("other.example.com", "/cart"), "root.test");
  assert.equal(upstreamOf("other.example.com", "/api/long"), "long.test");
  assert.equal(upstreamOf(undefined, "/cart"), "root.test");
  assert.equal(upstreamOf("[::1]:8080", "/x"), "v6.test");
  assert.equal(upstreamOf("shop.example.com.evil.test", "/"), "root.test");
});

Deno.test("host-less entries serve a configured host whose own entries do not match", () => {
  const routes = routeTable({
    TRACEGATE_ROUTES: "/=http://root.test, a.test/admin=http://admin.test",
  });
  assert.equal(routes.match("a.test", "/admin/x")?.base.host, "admin.test");
  assert.equal(routes.match("a.test", "/public")?.base.host, "root.test");
});

Deno.test("matching uses the path as the URL parser normalises it", () => {
  const routes = routeTable({ TRACEGATE_ROUTES: "/=http://root.test, /api=http://api.test" });
  assert.equal(routes.match(undefined, "/api/../admin")?.base.host, "root.test");
  assert.equal(routes.match(undefined, "/api/%2e%2E/admin")?.base.host, "root.test");
  assert.equal(routes.match(undefined, "/x/../api/y")?.base.host, "api.test");
  assert.equal(routes.match(undefined, "/x\\..\\api")?.base.host, "api.test");
});

/** The URL parser's normal form of a path: what normalizePath's shortcut must agree with. */
function parserNormalForm(path: string): string {
  const url = new URL("http://route.invalid/");
  url.pathname = path;
  return url.pathname;
}

Deno.test("normalizePath agrees with the URL parser on every path", async (t) => {
  await t.step("paths that look normal but are not", () => {
    for (
      const path of [
        "/a/./b",
        "/a/../b",
        "/a/%2e/b",
        "/a/%2E%2e",
        "/a/.%2e/",
        "/..",
        "/a b",
        "/a\\b",
        "/é",
        "/a?b",
        "/a#b",
        "/a|b",
        "/a^b",
        "/{x}",
        "/`",
        "/a\tb",
        "a",
        "",
      ]
    ) {
      assert.equal(normalizePath(path), parserNormalForm(path), JSON.stringify(path));
    }
  });
  await t.step("random paths", () => {
    const pieces = [
      "/",
      "/",
      "/",
      ".",
      "..",
      "%2e",
      "%2E",
      "%2f",
      "%5C",
      "%",
      "%zz",
      "%41",
      "\\",
      "a",
      "Z9",
      "-_~",
      "!$&'()*+,;=",
      ":@",
      " ",
      "?",
      "#",
      "é",
      "\t",
      "|^",
      "[]",
      "{}",
      "`",
      '"<>',
      "\u0000",
    ];
    const random = seededRandom(8);
    for (let i = 0; i < 20_000; i++) {
      let path = random() < 0.9 ? "/" : "";
      const length = Math.floor(random() * 12);
      for (let j = 0; j < length; j++) path += pieces[Math.floor(random() * pieces.length)];
      assert.equal(normalizePath(path), parserNormalForm(path), JSON.stringify(path));
    }
  });
});

Deno.test("the full path is forwarded under the base path, with the query", () => {
  const routes = routeTable({
    TRACEGATE_ROUTES: "/api=http://api.test:8080/v1/, /=https://root.test",
  });
  assert.equal(resolve(routes, undefined, "/api"), "http://api.test:8080/v1/api");
  assert.equal(
    resolve(routes, undefined, "/api/u?id=1#frag"),
    "http://api.test:8080/v1/api/u?id=1",
  );
  assert.equal(resolve(routes, undefined, "/a%20b?x=%2F"), "https://root.test/a%20b?x=%2F");
});

Deno.test("nothing in the request reaches the upstream authority", async (t) => {
  const steering = [
    "//evil.test/x",
    "///evil.test/x",
    "/\\evil.test/x",
    "/http://evil.test/x",
    "/@evil.test",
    "/%2F%2Fevil.test/x",
    "/%5Cevil.test",
  ];
  for (const basePath of ["", "/base"]) {
    await t.step(`base path "${basePath}"`, () => {
      const routes = routeTable({ TRACEGATE_UPSTREAM: `http://root.test${basePath}` });
      for (const path of steering) {
        const route = routes.match("evil.test", path);
        assert.ok(route, path);
        const requestUrl = new URL("http://evil.test");
        requestUrl.pathname = path;
        const target = upstreamUrl(route, requestUrl);
        assert.ok(target, path);
        // Re-parsing the serialised URL is what fetch does with it.
        assert.equal(new URL(target.href).origin, "http://root.test", path);
        const { pathname } = new URL(target.href);
        assert.ok(pathname.startsWith(`${basePath}/`), `${path} -> ${pathname}`);
      }
    });
  }
});

Deno.test("a path that escapes its prefix or base path once decoded is refused", () => {
  const routes = routeTable({ TRACEGATE_ROUTES: "/=http://root.test/base, /api=http://api.test" });
  assert.equal(resolve(routes, undefined, "/api/..%2Fadmin"), undefined);
  assert.equal(resolve(routes, undefined, "/api/..%2fadmin"), undefined);
  assert.equal(resolve(routes, undefined, "/api/..%5Cadmin"), undefined);
  assert.equal(resolve(routes, undefined, "/api/x/..%2F..%2Fadmin"), undefined);
  assert.equal(resolve(routes, undefined, "/..%2Fetc"), undefined);
  // Encoded slashes that stay inside are forwarded untouched.
  assert.equal(resolve(routes, undefined, "/api/a%2Fb"), "http://api.test/api/a%2Fb");
  assert.equal(resolve(routes, undefined, "/api/x/..%2Fy"), "http://api.test/api/x/..%2Fy");
  assert.equal(resolve(routes, undefined, "/api%2F..%2Fx"), "http://root.test/base/api%2F..%2Fx");
});

Deno.test("upstreamUrl refuses a route the normalised path does not belong to", () => {
  const routes = routeTable({ TRACEGATE_ROUTES: "/=http://root.test, /api=http://api.test" });
  const api = routes.match(undefined, "/api");
  assert.ok(api);
  // A caller that matched on the raw path `/api/../admin` must not reach api.test with /admin.
  assert.equal(upstreamUrl(api, new URL("http://proxy.test/api/../admin")), undefined);
  assert.equal(upstreamUrl(api, new URL("http://proxy.test/apix")), undefined);
});

Deno.test("an entry ending in /* declares its route template; others declare none", () => {
  const routes = routeTable({
    TRACEGATE_ROUTES: "/api/orders/*=http://a.test, /static=http://b.test, h.test/*=http://c.test",
  });
  assert.deepEqual(
    routes.routes.map((route) => [route.host, route.prefix, route.template]),
    [
      [undefined, "/api/orders", "/api/orders/*"],
      [undefined, "/static", undefined],
      ["h.test", "/", "/*"],
    ],
  );
  // The template's prefix matches as any prefix does.
  assert.equal(routes.match(undefined, "/api/orders")?.template, "/api/orders/*");
  assert.equal(routes.match(undefined, "/api/orders/42")?.template, "/api/orders/*");
  assert.equal(routes.match(undefined, "/api/ordersx"), undefined);
  assert.equal(routeTable({ TRACEGATE_UPSTREAM: "http://a.test" }).routes[0].template, undefined);
  // The same prefix with and without a template is the same entry twice.
  assert.match(
    failure({ TRACEGATE_ROUTES: "/api=http://a.test, /api/*=http://b.test" }).message,
    /each \[host\]\/prefix only once/,
  );
});
