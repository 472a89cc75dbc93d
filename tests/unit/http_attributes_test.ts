import assert from "node:assert/strict";
import { SpanStatusCode } from "@opentelemetry/api";
import { portNumber } from "../../src/http/host.ts";
import {
  clientRequestAttributes,
  clientStatusFor,
  normalizeMethod,
  requestHeaderCaptures,
  requestUrlParts,
  responseAttributes,
  responseHeaderCaptures,
  type ServerRequestAttributeOptions,
  serverRequestAttributes,
  serverStatusFor,
  spanNameFor,
} from "../../src/http/attributes.ts";
import {
  CREDENTIAL_QUERY_PARAMS,
  DEFAULT_SENSITIVE_QUERY_PARAMS,
  redactQuery,
  redactUrl,
  sensitiveQueryParams,
} from "../../src/http/redact.ts";

const NO_EXTRA = sensitiveQueryParams([]);

function serverOptions(
  overrides: Partial<ServerRequestAttributeOptions> = {},
): ServerRequestAttributeOptions {
  return {
    trustForwardedFor: false,
    sensitiveQueryParams: NO_EXTRA,
    capturedRequestHeaders: [],
    ...overrides,
  };
}

// --- redact ---------------------------------------------------------------------------------

Deno.test("redactQuery redacts the values of every semconv default parameter", () => {
  for (const name of DEFAULT_SENSITIVE_QUERY_PARAMS) {
    assert.deepEqual(redactQuery(`a=1&${name}=secret&b=2`, NO_EXTRA), `a=1&${name}=REDACTED&b=2`);
  }
});

Deno.test("redactQuery keeps every other byte as it was", () => {
  const query = "q=a%20b+c&&flag&x=%E2%9C%93&y=&z=1=2";
  assert.deepEqual(redactQuery(query, NO_EXTRA), query);
  assert.deepEqual(
    redactQuery(`${query}&sig=abc%2Fdef`, NO_EXTRA),
    `${query}&sig=REDACTED`,
  );
});

Deno.test("redactQuery matches the semconv names case-sensitively, as semconv says", () => {
  assert.deepEqual(
    redactQuery("SIG=1&x-amz-credential=3&sig=4&X-Amz-Credential=5", NO_EXTRA),
    "SIG=1&x-amz-credential=3&sig=REDACTED&X-Amz-Credential=REDACTED",
  );
});

Deno.test("redactQuery redacts every credential name, however it is spelled", () => {
  for (const name of CREDENTIAL_QUERY_PARAMS) {
    const upper = name.toUpperCase();
    const kebab = name.replaceAll("_", "-");
    const camel = name.replace(/_(.)/g, (_, letter: string) => letter.toUpperCase());
    for (const spelling of new Set([name, upper, kebab, camel])) {
      assert.deepEqual(
        redactQuery(`a=1&${spelling}=s3cret&b=2`, NO_EXTRA),
        `a=1&${spelling}=REDACTED&b=2`,
      );
    }
  }
  const issue = "?token=a&api_key=b&password=c&access_token=d&apikey=e&page=2";
  assert.deepEqual(
    redactQuery(issue, NO_EXTRA),
    "token=REDACTED&api_key=REDACTED&password=REDACTED&access_token=REDACTED&apikey=REDACTED&page=2",
  );
  // Names that merely contain a credential word are kept: `tokenizer`, `keyword`, `monkey`.
  assert.deepEqual(
    redactQuery("tokenizer=1&keyword=2&monkey=3&code=4", NO_EXTRA),
    "tokenizer=1&keyword=2&monkey=3&code=4",
  );
});

Deno.test("redactQuery adds the configured names to the defaults", () => {
  assert.deepEqual(
    redactQuery("tenant=t&sig=s&Tenant=u", sensitiveQueryParams(["tenant"])),
    "tenant=REDACTED&sig=REDACTED&Tenant=u",
  );
  assert.deepEqual(redactQuery("tenant=t", NO_EXTRA), "tenant=t");
});

Deno.test("redactQuery decodes percent-escaped names before matching", () => {
  assert.deepEqual(
    redactQuery("X%2DAmz%2DSignature=abc", NO_EXTRA),
    "X%2DAmz%2DSignature=REDACTED",
  );
  assert.deepEqual(redactQuery("bad%E0name=1", NO_EXTRA), "bad%E0name=1");
});

Deno.test("redactQuery takes a leading '?', returns '' for an empty query, skips bare names", () => {
  assert.deepEqual(redactQuery("?sig=1", NO_EXTRA), "sig=REDACTED");
  assert.deepEqual(redactQuery("", NO_EXTRA), "");
  assert.deepEqual(redactQuery("?", NO_EXTRA), "");
  assert.deepEqual(redactQuery("sig&a=1", NO_EXTRA), "sig&a=1");
});

Deno.test("redactUrl replaces credentials, redacts the query and drops the fragment", () => {
  assert.deepEqual(
    redactUrl(new URL("https://user:pa%40ss@example.com:8443/p/a?sig=1&q=2#frag"), NO_EXTRA),
    "https://REDACTED:REDACTED@example.com:8443/p/a?sig=REDACTED&q=2",
  );
  assert.deepEqual(
    redactUrl("https://token@example.com/", NO_EXTRA),
    "https://REDACTED:REDACTED@example.com/",
  );
  assert.deepEqual(redactUrl("http://example.com/a#", NO_EXTRA), "http://example.com/a");
  assert.deepEqual(redactUrl("http://example.com/a?#x", NO_EXTRA), "http://example.com/a?");
  assert.deepEqual(
    redactUrl("http://[::1]:8080/x?k=v", sensitiveQueryParams(["k"])),
    "http://[::1]:8080/x?k=REDACTED",
  );
});

// --- methods and span names -----------------------------------------------------------------

Deno.test("normalizeMethod keeps known methods and maps others to _OTHER", () => {
  for (
    const known of [
      "GET",
      "HEAD",
      "POST",
      "PUT",
      "DELETE",
      "CONNECT",
      "OPTIONS",
      "TRACE",
      "PATCH",
      "QUERY",
    ]
  ) {
    assert.deepEqual(normalizeMethod(known), { method: known });
  }
  assert.deepEqual(normalizeMethod("get"), { method: "_OTHER", original: "get" });
  assert.deepEqual(normalizeMethod("PURGE"), { method: "_OTHER", original: "PURGE" });
});

Deno.test("spanNameFor: '{METHOD} {route}', HTTP for unknown methods, method alone without route", () => {
  assert.deepEqual(spanNameFor("GET", "/users/:id"), "GET /users/:id");
  assert.deepEqual(spanNameFor("POST"), "POST");
  assert.deepEqual(spanNameFor("POST", ""), "POST");
  assert.deepEqual(spanNameFor("_OTHER", "/x"), "HTTP /x");
  assert.deepEqual(spanNameFor("PURGE"), "HTTP");
  assert.deepEqual(spanNameFor("get", "/x"), "HTTP /x");
});

// --- server request attributes --------------------------------------------------------------

Deno.test("requestUrlParts cuts a Request's URL as the URL parser reads it", () => {
  const urls = [
    "http://127.0.0.1:8000/orders/42?lang=en&sig=secret",
    "https://example.com/",
    "https://example.com:443/a",
    "http://example.com:80/a?",
    "http://example.com:8080/a?#frag",
    "http://example.com/a#frag?not-a-query",
    "http://example.com/a?q=1#frag",
    "http://[::1]/x",
    "http://[::1]:9000/x?y=[1]",
    "http://[2001:db8::1]:8443/p%20q/%C3%A9?a=%20&b",
    "http://bücher.example/ä?ü=1",
    "http://EXAMPLE.com/../a/./b/%2e%2e/c",
    "http://example.com/a:b@c",
    "http://user:pass@example.com:81/secret?x",
    "ftp://example.com/file",
    "blob:http://example.com/0b6e",
  ];
  for (const input of urls) {
    const href = new URL(input).href;
    const url = new URL(href);
    assert.deepEqual(requestUrlParts(href), {
      scheme: url.protocol.slice(0, -1),
      hostname: url.hostname,
      port: url.port,
      pathname: url.pathname,
      search: url.search,
    }, input);
  }
});

Deno.test("serverRequestAttributes: method, path, redacted query, scheme, server, user agent", () => {
  const request = new Request("https://example.com/search?q=1&sig=abc", {
    headers: { "user-agent": "probe/1.0" },
  });
  assert.deepEqual(serverRequestAttributes(request, serverOptions()), {
    "http.request.method": "GET",
    "url.path": "/search",
    "url.query": "q=1&sig=REDACTED",
    "url.scheme": "https",
    "server.address": "example.com",
    "server.port": 443,
    "user_agent.original": "probe/1.0",
  });
});

Deno.test("serverRequestAttributes: explicit port, IPv6 host, no query, unknown method", () => {
  const attributes = serverRequestAttributes(
    new Request("http://[::1]:3000/a", { method: "PURGE" }),
    serverOptions({ clientAddress: "::1" }),
  );
  assert.deepEqual(attributes, {
    "http.request.method": "_OTHER",
    "http.request.method_original": "PURGE",
    "url.path": "/a",
    "url.scheme": "http",
    "server.address": "::1",
    "server.port": 3000,
    "client.address": "::1",
  });
});

Deno.test("serverRequestAttributes ignores forwarding headers unless trusted", () => {
  const request = new Request("http://origin.internal:8080/", {
    headers: {
      forwarded: "for=198.51.100.7;host=public.example;proto=https",
      "x-forwarded-for": "203.0.113.9",
    },
  });
  const attributes = serverRequestAttributes(request, serverOptions({ clientAddress: "10.0.0.2" }));
  assert.deepEqual(attributes["client.address"], "10.0.0.2");
  assert.deepEqual(attributes["server.address"], "origin.internal");
  assert.deepEqual(attributes["server.port"], 8080);
  assert.deepEqual(attributes["url.scheme"], "http");
});

Deno.test("serverRequestAttributes reads the first Forwarded element when trusted", () => {
  const request = new Request("http://origin.internal:8080/", {
    headers: {
      forwarded:
        'for="[2001:db8:cafe::17]:4711";proto=HTTPS;host=shop.example:8443, for=10.0.0.1;host=x',
      "x-forwarded-for": "203.0.113.9",
    },
  });
  const attributes = serverRequestAttributes(
    request,
    serverOptions({ trustForwardedFor: true, clientAddress: "10.0.0.2" }),
  );
  assert.deepEqual(attributes["client.address"], "2001:db8:cafe::17");
  assert.deepEqual(attributes["url.scheme"], "https");
  assert.deepEqual(attributes["server.address"], "shop.example");
  assert.deepEqual(attributes["server.port"], 8443);
});

Deno.test("Forwarded parsing: names are case-insensitive, quoted values may hold ',' and ';'", () => {
  const cases: [string, string | undefined][] = [
    ["For=192.0.2.60;by=203.0.113.43", "192.0.2.60"],
    ['for="192.0.2.43:47011"', "192.0.2.43"],
    ['by="a,b;c";for=192.0.2.1', "192.0.2.1"],
    ['for="\\[::2\\]"', "::2"],
    ["for=unknown", "10.0.0.2"],
    ["for=_hidden, for=192.0.2.9", "10.0.0.2"],
    ["proto=https", "203.0.113.9"],
  ];
  for (const [forwarded, expected] of cases) {
    const request = new Request("http://origin.internal/", {
      headers: { forwarded, "x-forwarded-for": "203.0.113.9" },
    });
    const attributes = serverRequestAttributes(
      request,
      serverOptions({ trustForwardedFor: true, clientAddress: "10.0.0.2" }),
    );
    assert.deepEqual(attributes["client.address"], expected, forwarded);
  }
});

Deno.test("serverRequestAttributes falls back to X-Forwarded-* when trusted", () => {
  const request = new Request("http://origin.internal:8080/", {
    headers: {
      "x-forwarded-for": " 203.0.113.195, 70.41.3.18, 150.172.238.178",
      "x-forwarded-host": "api.example.com",
      "x-forwarded-proto": "https",
    },
  });
  const attributes = serverRequestAttributes(request, serverOptions({ trustForwardedFor: true }));
  assert.deepEqual(attributes["client.address"], "203.0.113.195");
  assert.deepEqual(attributes["server.address"], "api.example.com");
  assert.deepEqual(attributes["server.port"], 443);
  assert.deepEqual(attributes["url.scheme"], "https");

  const bare = serverRequestAttributes(
    new Request("http://origin.internal/"),
    serverOptions({ trustForwardedFor: true, clientAddress: "10.0.0.2" }),
  );
  assert.deepEqual(bare["client.address"], "10.0.0.2");
  assert.deepEqual(bare["server.address"], "origin.internal");
  assert.deepEqual(bare["server.port"], 80);
});

Deno.test("captured request headers are string[]; credentials headers are never recorded", () => {
  const headers = new Headers({
    "content-type": "application/json",
    authorization: "Bearer secret",
    "proxy-authorization": "Basic secret",
    cookie: "session=secret",
  });
  headers.append("x-custom", "a");
  headers.append("x-custom", "b");
  const captured = [
    "Content-Type",
    " X-Custom ",
    "Authorization",
    "COOKIE",
    "proxy-authorization",
    "set-cookie",
    "x-missing",
  ];
  const attributes = serverRequestAttributes(
    new Request("http://example.com/", { headers }),
    serverOptions({ capturedRequestHeaders: requestHeaderCaptures(captured) }),
  );
  const headerAttributes = Object.fromEntries(
    Object.entries(attributes).filter(([name]) => name.startsWith("http.request.header.")),
  );
  assert.deepEqual(headerAttributes, {
    "http.request.header.content-type": ["application/json"],
    "http.request.header.x-custom": ["a, b"],
  });
});

Deno.test("serverRequestAttributes on a real request to Deno.serve", async () => {
  let seen: ReturnType<typeof serverRequestAttributes> | undefined;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request, info) => {
      seen = serverRequestAttributes(
        request,
        serverOptions({
          clientAddress: info.remoteAddr.hostname,
          capturedRequestHeaders: requestHeaderCaptures(["x-probe"]),
          sensitiveQueryParams: sensitiveQueryParams(["api_key"]),
        }),
      );
      return new Response("ok");
    },
  );
  try {
    const port = server.addr.port;
    const response = await fetch(
      `http://127.0.0.1:${port}/items/7?api_key=k&X-Goog-Signature=g&page=2`,
      { headers: { "user-agent": "attributes-test/1", "x-probe": "yes" } },
    );
    await response.text();
    assert.deepEqual(seen, {
      "http.request.method": "GET",
      "url.path": "/items/7",
      "url.query": "api_key=REDACTED&X-Goog-Signature=REDACTED&page=2",
      "url.scheme": "http",
      "server.address": "127.0.0.1",
      "server.port": port,
      "client.address": "127.0.0.1",
      "user_agent.original": "attributes-test/1",
      "http.request.header.x-probe": ["yes"],
    });
  } finally {
    await server.shutdown();
  }
});

// --- client request, response, status -------------------------------------------------------

Deno.test("clientRequestAttributes: method, redacted url.full, server address and port", () => {
  assert.deepEqual(
    clientRequestAttributes(
      new Request("https://api.example.com/v1?X-Amz-Signature=s&X-Amz-Credential=c&keep=1#frag"),
      NO_EXTRA,
    ),
    {
      "http.request.method": "GET",
      "url.full":
        "https://api.example.com/v1?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&keep=1",
      "server.address": "api.example.com",
      "server.port": 443,
    },
  );
  assert.deepEqual(
    clientRequestAttributes(new Request("http://localhost:8080/", { method: "POST" }), NO_EXTRA),
    {
      "http.request.method": "POST",
      "url.full": "http://localhost:8080/",
      "server.address": "localhost",
      "server.port": 8080,
    },
  );
});

Deno.test("clientRequestAttributes reads a Request's URL as the URL parser does", () => {
  const urls = [
    "http://127.0.0.1:8000/orders/42?lang=en&sig=secret&api_key=k",
    "https://example.com/",
    "https://example.com:443/a",
    "http://example.com:80/a?",
    "http://example.com:8080/a?#frag",
    "http://example.com/a#frag?not-a-query&sig=1",
    "http://example.com/a?X-Amz-Signature=s#frag",
    "http://[::1]/x",
    "http://[::1]:9000/x?y=[1]&token=t",
    "http://[2001:db8::1]:8443/p%20q/%C3%A9?a=%20&b",
    "http://bücher.example/ä?ü=1",
    "http://EXAMPLE.com/../a/./b/%2e%2e/c",
    "http://example.com/a:b@c?sig=1",
    "http://user:pass@example.com:81/secret?x&sig=2",
    "https://token@example.com/",
    "ftp://example.com/file",
  ];
  for (const input of urls) {
    const url = new URL(input);
    const port = portNumber(url.port) ??
      ({ "http:": 80, "https:": 443 } as Record<string, number>)[url.protocol];
    assert.deepEqual(clientRequestAttributes({ method: "GET", url: url.href }, NO_EXTRA), {
      "http.request.method": "GET",
      "url.full": redactUrl(url, NO_EXTRA),
      "server.address": url.hostname.replace(/^\[(.*)\]$/, "$1"),
      ...(port === undefined ? {} : { "server.port": port }),
    }, input);
  }
});

Deno.test("clientRequestAttributes: Fetch keeps 'patch' lower-case, so it is _OTHER", () => {
  const attributes = clientRequestAttributes(
    new Request("http://example.com/", { method: "patch" }),
    NO_EXTRA,
  );
  assert.deepEqual(attributes["http.request.method"], "_OTHER");
  assert.deepEqual(attributes["http.request.method_original"], "patch");
  assert.deepEqual(attributes["server.port"], 80);
});

Deno.test("responseAttributes: status code and captured headers, set-cookie never", () => {
  const response = new Response(null, {
    status: 404,
    headers: { "content-type": "text/plain", "set-cookie": "a=b", "x-cache": "MISS" },
  });
  assert.deepEqual(
    responseAttributes(
      response,
      responseHeaderCaptures(["Content-Type", "Set-Cookie", "X-Cache"]),
    ),
    {
      "http.response.status_code": 404,
      "http.response.header.content-type": ["text/plain"],
      "http.response.header.x-cache": ["MISS"],
    },
  );
  assert.deepEqual(responseAttributes(response, []), { "http.response.status_code": 404 });
});

Deno.test("server status: ERROR only on 5xx; client status: ERROR on 4xx and 5xx", () => {
  for (const code of [100, 200, 204, 302, 399]) {
    assert.deepEqual(serverStatusFor(code), { code: SpanStatusCode.UNSET }, `server ${code}`);
    assert.deepEqual(clientStatusFor(code), { code: SpanStatusCode.UNSET }, `client ${code}`);
  }
  for (const code of [400, 404, 499]) {
    assert.deepEqual(serverStatusFor(code), { code: SpanStatusCode.UNSET }, `server ${code}`);
    assert.deepEqual(
      clientStatusFor(code),
      { code: SpanStatusCode.ERROR, errorType: String(code) },
      `client ${code}`,
    );
  }
  for (const code of [500, 503, 599, 0, 600]) {
    const error = { code: SpanStatusCode.ERROR, errorType: String(code) };
    assert.deepEqual(serverStatusFor(code), error, `server ${code}`);
    assert.deepEqual(clientStatusFor(code), error, `client ${code}`);
  }
});

Deno.test("portNumber reads what the decimal-port grammar allows, 0 to 65535", () => {
  const grammar = (text: string) =>
    /^\d{1,5}$/.test(text) && Number(text) <= 65535 ? Number(text) : undefined;
  const texts = ["", "0", "80", "00080", "000080", "65535", "65536", "99999", "8a", "a8", " 80"];
  texts.push("80 ", "+80", "-1", "1e3", "8.0", "0x50", "\u0663", "\uff18\uff10", "/", ":");
  for (let port = 0; port < 70_000; port += 7) texts.push(String(port));
  for (const text of texts) assert.equal(portNumber(text), grammar(text), JSON.stringify(text));
});
