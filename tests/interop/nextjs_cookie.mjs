#!/usr/bin/env node
// Reads and writes session cookies with the real @auth0/nextjs-auth0 code, for auth0-web's
// interoperability tests (tests/interop/test_nextjs_interop.py).
//
// Protocol: one JSON request on stdin, one JSON response on stdout, exit status 0. Anything
// that goes wrong is reported on stderr with exit status 1.
//
//   {"op": "encrypt", "secret": S, "session": {...}}
//       StatelessSessionStore.set() writing into a ResponseCookies jar (the package picks the
//       expiry and does the chunking) ->
//       {"cookies": {name: value}, "deleted": [name, ...], "setCookie": [header, ...],
//        "maxAge": n, "warnings": [...]}
//   {"op": "encrypt", "via": "testing", "secret": S, "session": {...}}
//       the public `generateSessionCookie` from "@auth0/nextjs-auth0/testing" (never chunks)
//       -> {"cookies": {"__session": value}}
//   {"op": "encrypt", "via": "encrypt", "secret": S, "session": {...}, "exp": n}
//       the package's cookies.encrypt() with an explicit expiry (used for expired cookies)
//       -> {"cookies": {"__session": value}}
//   {"op": "decrypt", "secret": S, "cookies": {name: value}}
//       StatelessSessionStore.get() on a RequestCookies jar built from a Cookie header
//       -> {"session": {...} | null, "warnings": [...]}
//   {"op": "decrypt", "via": "decrypt", "secret": S, "value": jwe}
//       the package's cookies.decrypt() -> {"payload": {...} | null, "protectedHeader": {...}}
//   {"op": "derive_key", "secret": S}
//       @panva/hkdf, resolved from the package's own directory, called with the parameters
//       cookies.js uses -> {"key": hex}
//
// The package's "exports" map publishes only ".", "./client", "./server", "./errors",
// "./types" and "./testing"; "./server" pulls in `next`, which is not installed here. The
// cookie and stateless-store modules import nothing from `next`, so they are loaded by file
// URL, located relative to the resolved "./testing" entry point.

import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const testingUrl = import.meta.resolve("@auth0/nextjs-auth0/testing");
const distUrl = new URL("../", testingUrl); // .../@auth0/nextjs-auth0/dist/
const cookiesUrl = new URL("server/cookies.js", distUrl);
const storeUrl = new URL("server/session/stateless-session-store.js", distUrl);

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

function captureWarnings() {
  const warnings = [];
  console.warn = (...args) => warnings.push(args.map(String).join(" "));
  return warnings;
}

function storeOptions(request) {
  // Package defaults unless the request overrides them (rolling, 3-day absolute and 1-day
  // inactivity durations, cookie name "__session").
  const options = { secret: request.secret };
  for (const key of ["rolling", "absoluteDuration", "inactivityDuration", "cookieOptions"]) {
    if (request[key] !== undefined) options[key] = request[key];
  }
  return options;
}

function cookieHeader(cookieMap) {
  return Object.entries(cookieMap)
    .map(([name, value]) => `${name}=${value}`)
    .join("; ");
}

async function encrypt(request) {
  const via = request.via ?? "store";
  if (via === "testing") {
    const { generateSessionCookie } = await import("@auth0/nextjs-auth0/testing");
    const value = await generateSessionCookie(request.session, { secret: request.secret });
    return { cookies: { __session: value } };
  }
  const cookies = await import(cookiesUrl);
  if (via === "encrypt") {
    if (typeof request.exp !== "number") throw new Error('"exp" is required with via=encrypt');
    const value = await cookies.encrypt(request.session, request.secret, request.exp);
    return { cookies: { __session: value } };
  }
  if (via !== "store") throw new Error(`unknown via: ${via}`);

  const { StatelessSessionStore } = await import(storeUrl);
  const warnings = captureWarnings();
  const store = new StatelessSessionStore(storeOptions(request));
  const reqCookies = new cookies.RequestCookies(new Headers());
  const resHeaders = new Headers();
  const resCookies = new cookies.ResponseCookies(resHeaders);
  await store.set(reqCookies, resCookies, request.session);

  const written = {};
  const deleted = [];
  let maxAge;
  for (const cookie of resCookies.getAll()) {
    if (cookie.value === "" && cookie.maxAge === 0) {
      deleted.push(cookie.name);
    } else {
      written[cookie.name] = cookie.value;
      maxAge = cookie.maxAge;
    }
  }
  return {
    cookies: written,
    deleted,
    setCookie: resHeaders.getSetCookie(),
    maxAge,
    warnings
  };
}

async function decrypt(request) {
  const via = request.via ?? "store";
  const cookies = await import(cookiesUrl);
  if (via === "decrypt") {
    const result = await cookies.decrypt(request.value, request.secret);
    return result
      ? { payload: result.payload, protectedHeader: result.protectedHeader }
      : { payload: null };
  }
  if (via !== "store") throw new Error(`unknown via: ${via}`);

  const { StatelessSessionStore } = await import(storeUrl);
  const warnings = captureWarnings();
  const store = new StatelessSessionStore(storeOptions(request));
  const headers = new Headers();
  const header = cookieHeader(request.cookies ?? {});
  if (header) headers.set("cookie", header);
  const session = await store.get(new cookies.RequestCookies(headers));
  return { session: session ?? null, warnings };
}

async function deriveKey(request) {
  // cookies.js keeps its key derivation private: hkdf("sha256", secret, "", "JWE CEK", 32)
  // from @panva/hkdf. Resolve that dependency from the package's own file so this is the
  // copy the package itself loads.
  const require = createRequire(fileURLToPath(cookiesUrl));
  const { hkdf } = require("@panva/hkdf");
  const key = await hkdf("sha256", request.secret, "", "JWE CEK", 32);
  return { key: Buffer.from(key).toString("hex") };
}

const OPS = { encrypt, decrypt, derive_key: deriveKey };

try {
  const request = JSON.parse(await readStdin());
  const op = OPS[request.op];
  if (!op) throw new Error(`unknown op: ${request.op}`);
  process.stdout.write(JSON.stringify(await op(request)));
} catch (error) {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exitCode = 1;
}
