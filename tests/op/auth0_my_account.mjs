// Auth0's My Account API, "Connected Accounts" part, for the test provider.
//
// installMyAccount(provider, options, context) adds, when `options` is set:
//
//   POST   /me/v1/connected-accounts/connect        (scope create:me:connected_accounts)
//          JSON {connection, redirect_uri, state, code_challenge?, code_challenge_method?,
//                scopes?, authorization_params?}
//          -> 201 {connect_uri, auth_session, connect_params: {ticket}, expires_in}
//   GET    /connect?ticket=...   the "other provider's" consent page: two plain <form>s
//   POST   /connect              form {ticket, decision: allow|deny} -> 303 to the
//                                registered redirect_uri with connect_code & state (or
//                                error=access_denied & state)
//   POST   /me/v1/connected-accounts/complete       (scope create:me:connected_accounts)
//          JSON {auth_session, connect_code, redirect_uri, code_verifier?}
//          -> 201 {id, connection, access_type, scopes, created_at, expires_at?}
//   GET    /me/v1/connected-accounts/accounts?connection=&from=&take=
//                                                   (scope read:me:connected_accounts)
//          -> 200 {accounts: [...], next?}   (take: 1-20, default 10; `from` = `next`)
//   DELETE /me/v1/connected-accounts/accounts/:id  (scope delete:me:connected_accounts)
//          -> 204
//
// and registers the API `<issuer>me/` as a resource server with those three scopes, so a
// login (or a refresh with `resource=<issuer>me/`) gets a JWT access token for it.
//
// Every API call must carry such a token: its RS256 signature is checked against the
// provider's published keys, and its `typ`, `iss`, `aud`, `exp` and scope. A DPoP-bound
// token (`cnf.jkt`) must come as `Authorization: DPoP` with a valid proof (signature by
// the embedded key, its thumbprint = jkt, htm, htu, iat, ath, unique jti); an unbound
// one as `Bearer`.
//
// Flows are bound to the token's user and client, to redirect_uri and to the PKCE
// challenge; the ticket and the connect_code are single use, and everything expires
// after `ticket_ttl` seconds. Errors are RFC 7807 `application/problem+json` bodies
// {type, title, detail, status, validation_errors?}.
//
// options (the server config's `my_account` key):
//   connections   {<name>: {scopes?: [...], refresh_token_ttl?: seconds}}: the
//                 connections that can be linked and the scopes each may grant (also the
//                 scopes granted when a request names none)
//   ticket_ttl    seconds, default 300

import * as crypto from 'node:crypto';
import * as querystring from 'node:querystring';

const SCOPES = {
  create: 'create:me:connected_accounts',
  read: 'read:me:connected_accounts',
  delete: 'delete:me:connected_accounts',
};
const AUTHORIZATION_PARAMS = new Set([
  'acr_values', 'audience', 'resource', 'display', 'id_token_hint', 'login_hint', 'max_age',
  'prompt', 'ui_locales',
]);
const CONNECT_KEYS = new Set([
  'connection', 'redirect_uri', 'state', 'code_challenge', 'code_challenge_method', 'scopes',
  'authorization_params',
]);
const COMPLETE_KEYS = new Set(['auth_session', 'connect_code', 'redirect_uri', 'code_verifier']);
const BODY_LIMIT = 64 * 1024;
const PROOF_MAX_AGE = 300; // seconds a DPoP proof's iat may be off

const b64url = (buffer) => Buffer.from(buffer).toString('base64url');
const random = (bytes) => crypto.randomBytes(bytes).toString('base64url');
const sha256 = (text) => crypto.createHash('sha256').update(text).digest();
const now = () => Math.floor(Date.now() / 1000);

function htmlEscape(value) {
  return String(value)
    .replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;').replaceAll("'", '&#39;');
}

function isString(value, min, max) {
  return typeof value === 'string' && value.length >= min && value.length <= max;
}

// RFC 7638 thumbprint of a public JWK.
function thumbprint(jwk) {
  const members = {
    EC: ['crv', 'kty', 'x', 'y'],
    RSA: ['e', 'kty', 'n'],
    OKP: ['crv', 'kty', 'x'],
  }[jwk.kty];
  if (!members || members.some((m) => typeof jwk[m] !== 'string')) {
    throw new Error('unsupported jwk');
  }
  const canonical = JSON.stringify(Object.fromEntries(members.map((m) => [m, jwk[m]])));
  return b64url(sha256(canonical));
}

// Split and decode a compact JWS; the signature is checked by the caller.
function decodeJws(token) {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error('not a compact JWS');
  const [header, payload] = parts.slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url')));
  if (!header || typeof header !== 'object' || !payload || typeof payload !== 'object') {
    throw new Error('not a JWS of JSON objects');
  }
  return {
    header, payload, input: Buffer.from(`${parts[0]}.${parts[1]}`), signature: Buffer.from(parts[2], 'base64url'),
  };
}

const VERIFY = {
  RS256: { hash: 'sha256' },
  PS256: { hash: 'sha256', padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
  ES256: { hash: 'sha256', dsaEncoding: 'ieee-p1363' },
  ES384: { hash: 'sha384', dsaEncoding: 'ieee-p1363' },
  EdDSA: { hash: null },
};

function verifySignature(jws, key, allowed) {
  const alg = jws.header.alg;
  if (!allowed.includes(alg) || !VERIFY[alg]) throw new Error(`alg ${alg} not allowed`);
  const { hash, ...options } = VERIFY[alg];
  if (!crypto.verify(hash, jws.input, { key, ...options }, jws.signature)) {
    throw new Error('bad signature');
  }
}

async function readBody(ctx) {
  const chunks = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += chunk.length;
    if (size > BODY_LIMIT) return { tooLarge: true };
    chunks.push(chunk);
  }
  return { text: Buffer.concat(chunks).toString('utf8') };
}

export function installMyAccount(provider, options, { resourceServers }) {
  if (!options) return;
  const issuer = provider.issuer;
  const audience = `${issuer}me/`;
  const apiPrefix = '/me/v1/connected-accounts/';
  const connections = new Map(Object.entries(options.connections ?? {}));
  const ticketTTL = options.ticket_ttl ?? 300;

  resourceServers.set(audience, {
    identifier: audience,
    scopes: Object.values(SCOPES),
  });

  const flows = new Map(); // auth_session -> flow
  const tickets = new Map(); // ticket -> auth_session
  const codes = new Map(); // connect_code -> auth_session
  const accounts = new Map(); // id -> account (with the owner's sub)
  const proofJtis = new Map(); // jti -> expiry (DPoP replay cache)
  let sequence = 0;

  function live(authSession) {
    const flow = flows.get(authSession);
    if (!flow) return undefined;
    if (flow.expiresAt <= now()) {
      flows.delete(authSession);
      tickets.delete(flow.ticket);
      if (flow.code) codes.delete(flow.code);
      return undefined;
    }
    return flow;
  }

  // -- errors ---------------------------------------------------------------------------
  function problem(ctx, status, slug, detail, extra = {}) {
    const titles = {
      400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
      405: 'Method Not Allowed', 413: 'Payload Too Large', 415: 'Unsupported Media Type',
    };
    ctx.status = status;
    ctx.type = 'application/problem+json';
    ctx.body = JSON.stringify({
      type: `${issuer}problems/${slug}`, title: titles[status] ?? 'Error', detail, status, ...extra,
    });
  }

  function invalid(ctx, errors) {
    problem(ctx, 400, 'invalid_body', 'Invalid input based on schema.', {
      validation_errors: errors.map(([field, detail]) => ({ field, detail })),
    });
  }

  function unauthorized(ctx, scheme, error, detail) {
    ctx.set('WWW-Authenticate', `${scheme} realm="${audience}", error="${error}"`);
    problem(ctx, 401, error, detail);
  }

  // -- the caller's token -----------------------------------------------------------------
  let keys; // kid -> KeyObject, from the provider's own JWKS endpoint (fetched once)
  async function signingKey(kid) {
    if (!keys) {
      const port = new URL(issuer).port;
      const response = await fetch(`http://127.0.0.1:${port}/.well-known/jwks.json`);
      const { keys: jwks } = await response.json();
      keys = new Map(jwks.map((jwk) => [jwk.kid, crypto.createPublicKey({ key: jwk, format: 'jwk' })]));
    }
    return keys.get(kid);
  }

  function checkProof(ctx, token, jkt) {
    const proof = ctx.get('dpop');
    if (!proof || proof.includes(',')) throw new Error('exactly one DPoP proof is required');
    const jws = decodeJws(proof);
    const { header, payload } = jws;
    if (header.typ !== 'dpop+jwt' || !header.jwk || typeof header.jwk !== 'object' || 'd' in header.jwk) {
      throw new Error('proof header invalid');
    }
    verifySignature(jws, crypto.createPublicKey({ key: header.jwk, format: 'jwk' }), ['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA']);
    if (thumbprint(header.jwk) !== jkt) throw new Error('proof key is not the token key');
    const htu = `${ctx.protocol}://${ctx.host}${ctx.path}`.toLowerCase();
    if (payload.htm !== ctx.method) throw new Error('htm mismatch');
    if (typeof payload.htu !== 'string' || payload.htu.toLowerCase() !== htu) throw new Error('htu mismatch');
    if (!Number.isInteger(payload.iat) || Math.abs(payload.iat - now()) > PROOF_MAX_AGE) throw new Error('iat out of range');
    if (payload.ath !== b64url(sha256(token))) throw new Error('ath mismatch');
    if (!isString(payload.jti, 1, 256)) throw new Error('jti missing');
    for (const [jti, expiry] of proofJtis) if (expiry <= now()) proofJtis.delete(jti);
    if (proofJtis.has(payload.jti)) throw new Error('jti replayed');
    proofJtis.set(payload.jti, now() + 2 * PROOF_MAX_AGE);
  }

  // The token's claims, or undefined after answering 401/403.
  async function authenticate(ctx, ...required) {
    const match = /^(Bearer|DPoP) ([A-Za-z0-9\-._~+/]+=*)$/i.exec(ctx.get('authorization'));
    if (!match) {
      unauthorized(ctx, 'Bearer', 'invalid_request', 'An access token is required.');
      return undefined;
    }
    const scheme = match[1].toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
    const token = match[2];
    let claims;
    try {
      const jws = decodeJws(token);
      if (jws.header.typ !== 'at+jwt') throw new Error('not an access token');
      const key = await signingKey(jws.header.kid);
      if (!key) throw new Error('unknown key');
      verifySignature(jws, key, ['RS256']);
      claims = jws.payload;
      const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      if (claims.iss !== issuer) throw new Error('wrong issuer');
      if (!audiences.includes(audience)) throw new Error('wrong audience');
      if (!Number.isInteger(claims.exp) || claims.exp <= now()) throw new Error('expired');
      if (!isString(claims.sub, 1, 512) || !isString(claims.client_id, 1, 512)) throw new Error('no subject');
      const jkt = claims.cnf?.jkt;
      if (jkt !== undefined) {
        if (scheme !== 'DPoP') throw new Error('a DPoP-bound token must be sent as DPoP');
        checkProof(ctx, token, jkt);
      } else if (scheme !== 'Bearer') {
        throw new Error('the token is not DPoP-bound');
      }
    } catch (err) {
      unauthorized(ctx, scheme, 'invalid_token', `The access token is invalid (${err.message}).`);
      return undefined;
    }
    const granted = new Set(String(claims.scope ?? '').split(' '));
    const missing = required.filter((scope) => !granted.has(scope));
    if (missing.length) {
      ctx.set('WWW-Authenticate', `${scheme} realm="${audience}", error="insufficient_scope", scope="${required.join(' ')}"`);
      problem(ctx, 403, 'insufficient_scope', `Missing scope: ${missing.join(' ')}`);
      return undefined;
    }
    return claims;
  }

  async function jsonBody(ctx) {
    const type = (ctx.get('content-type') || '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/json') {
      problem(ctx, 415, 'unsupported_media_type', 'The body must be application/json.');
      return undefined;
    }
    const { text, tooLarge } = await readBody(ctx);
    if (tooLarge) {
      problem(ctx, 413, 'payload_too_large', 'The body is too large.');
      return undefined;
    }
    try {
      const body = JSON.parse(text);
      if (body && typeof body === 'object' && !Array.isArray(body)) return body;
    } catch {
      // answered below
    }
    problem(ctx, 400, 'invalid_json', 'The body must be a JSON object.');
    return undefined;
  }

  function view(account) {
    const { sub, seq, ...visible } = account;
    return visible;
  }

  // -- POST /me/v1/connected-accounts/connect ---------------------------------------------
  async function connect(ctx) {
    const claims = await authenticate(ctx, SCOPES.create);
    if (!claims) return;
    const body = await jsonBody(ctx);
    if (!body) return;
    const errors = [];
    for (const key of Object.keys(body)) if (!CONNECT_KEYS.has(key)) errors.push([key, 'Unknown property.']);
    const {
      connection, redirect_uri: redirectUri, state, code_challenge: challenge,
      code_challenge_method: method, scopes, authorization_params: params,
    } = body;
    if (!isString(connection, 1, 128)) errors.push(['connection', 'Must be a string of 1-128 characters.']);
    if (!isString(redirectUri, 1, 2048)) errors.push(['redirect_uri', 'Must be a URI of at most 2048 characters.']);
    if (!isString(state, 1, 4096)) errors.push(['state', 'Must be a string of 1-4096 characters.']);
    if (challenge !== undefined && !(isString(challenge, 43, 128) && /^[A-Za-z0-9_-]+$/.test(challenge))) {
      errors.push(['code_challenge', 'Must be 43-128 base64url characters.']);
    }
    if (challenge !== undefined && method !== 'S256') errors.push(['code_challenge_method', 'Must be S256.']);
    if (challenge === undefined && method !== undefined) errors.push(['code_challenge', 'Required with code_challenge_method.']);
    if (scopes !== undefined && !(
      Array.isArray(scopes) && scopes.length >= 1 && scopes.length <= 100
      && scopes.every((s) => isString(s, 1, 255))
    )) {
      errors.push(['scopes', 'Must be an array of 1-100 strings of 1-255 characters.']);
    }
    if (params !== undefined) {
      if (!params || typeof params !== 'object' || Array.isArray(params)) {
        errors.push(['authorization_params', 'Must be an object.']);
      } else {
        for (const [key, value] of Object.entries(params)) {
          if (!AUTHORIZATION_PARAMS.has(key)) {
            errors.push([`authorization_params.${key}`, 'Unknown property.']);
          } else if (key === 'max_age' ? !(Number.isInteger(value) && value >= 0) : typeof value !== 'string') {
            errors.push([`authorization_params.${key}`, key === 'max_age' ? 'Must be a non-negative integer.' : 'Must be a string.']);
          }
        }
      }
    }
    if (errors.length) {
      invalid(ctx, errors);
      return;
    }
    const configured = connections.get(connection);
    if (!configured) {
      problem(ctx, 400, 'invalid_connection', `The connection ${connection} cannot be connected.`);
      return;
    }
    const allowedScopes = configured.scopes ?? [];
    const unknown = (scopes ?? []).filter((s) => !allowedScopes.includes(s));
    if (unknown.length) {
      invalid(ctx, unknown.map((s) => ['scopes', `Scope ${s} is not available on ${connection}.`]));
      return;
    }
    const client = await provider.Client.find(claims.client_id);
    if (!client || !client.redirectUriAllowed(redirectUri)) {
      problem(ctx, 400, 'invalid_redirect_uri', 'The redirect_uri is not allowed for this application.');
      return;
    }
    const authSession = random(24); // 32 characters (the API allows up to 64)
    const ticket = random(32);
    flows.set(authSession, {
      sub: claims.sub,
      clientId: claims.client_id,
      redirectUri,
      state,
      challenge,
      connection,
      scopes: scopes ?? allowedScopes,
      authorizationParams: params ?? {},
      ticket,
      code: undefined,
      expiresAt: now() + ticketTTL,
    });
    tickets.set(ticket, authSession);
    ctx.status = 201;
    ctx.type = 'application/json';
    ctx.body = JSON.stringify({
      connect_uri: `${issuer}connect`,
      auth_session: authSession,
      connect_params: { ticket },
      expires_in: ticketTTL,
    });
  }

  // -- GET/POST /connect: the other provider's consent page ------------------------------
  function consentError(ctx, message) {
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Error</title></head>
<body><h1>Error</h1><p>${htmlEscape(message)}</p></body></html>\n`;
  }

  function flowForTicket(ticket) {
    const authSession = typeof ticket === 'string' ? tickets.get(ticket) : undefined;
    return authSession === undefined ? [undefined, undefined] : [authSession, live(authSession)];
  }

  async function consentPage(ctx) {
    const [, flow] = flowForTicket(ctx.query.ticket);
    if (!flow) {
      consentError(ctx, 'This connect request is unknown, used or expired.');
      return;
    }
    const ticket = htmlEscape(ctx.query.ticket);
    const form = (decision, label) => `<form method="post" action="/connect">
  <input type="hidden" name="ticket" value="${ticket}"/>
  <input type="hidden" name="decision" value="${decision}"/>
  <button type="submit">${label}</button>
</form>`;
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Connect ${htmlEscape(flow.connection)}</title></head>
<body><h1>Connect ${htmlEscape(flow.connection)}</h1>
<p>Allow access to: ${flow.scopes.map(htmlEscape).join(', ') || '(basic profile)'}</p>
${form('allow', 'Allow')}
${form('deny', 'Deny')}
</body></html>\n`;
  }

  async function consentDecision(ctx) {
    const { text, tooLarge } = await readBody(ctx);
    const form = tooLarge ? {} : querystring.parse(text);
    const [authSession, flow] = flowForTicket(form.ticket);
    if (!flow) {
      consentError(ctx, 'This connect request is unknown, used or expired.');
      return;
    }
    tickets.delete(flow.ticket); // single use
    const target = new URL(flow.redirectUri);
    if (form.decision === 'allow') {
      flow.code = random(32); // 43 characters (the API allows up to 46)
      codes.set(flow.code, authSession);
      target.searchParams.set('connect_code', flow.code);
    } else {
      flows.delete(authSession);
      target.searchParams.set('error', 'access_denied');
      target.searchParams.set('error_description', 'The user did not allow the connection.');
    }
    target.searchParams.set('state', flow.state);
    ctx.status = 303;
    ctx.redirect(target.href);
  }

  // -- POST /me/v1/connected-accounts/complete --------------------------------------------
  async function complete(ctx) {
    const claims = await authenticate(ctx, SCOPES.create);
    if (!claims) return;
    const body = await jsonBody(ctx);
    if (!body) return;
    const errors = [];
    for (const key of Object.keys(body)) if (!COMPLETE_KEYS.has(key)) errors.push([key, 'Unknown property.']);
    const {
      auth_session: authSession, connect_code: code, redirect_uri: redirectUri, code_verifier: verifier,
    } = body;
    if (!isString(authSession, 1, 64)) errors.push(['auth_session', 'Must be a string of at most 64 characters.']);
    if (!isString(code, 1, 46)) errors.push(['connect_code', 'Must be a string of 1-46 characters.']);
    if (!isString(redirectUri, 1, 2048)) errors.push(['redirect_uri', 'Must be a URI of at most 2048 characters.']);
    if (verifier !== undefined && !isString(verifier, 43, 128)) errors.push(['code_verifier', 'Must be 43-128 characters.']);
    if (errors.length) {
      invalid(ctx, errors);
      return;
    }
    const flow = live(authSession);
    const codeOwner = codes.get(code);
    codes.delete(code); // a connect_code is tried once, whatever the outcome
    const refuse = (detail) => {
      if (flow) {
        flows.delete(authSession);
        tickets.delete(flow.ticket);
      }
      problem(ctx, 400, 'invalid_request', detail);
    };
    if (!flow) return refuse('The auth_session is unknown, used or expired.');
    if (flow.sub !== claims.sub || flow.clientId !== claims.client_id) {
      return refuse('The auth_session belongs to another user or application.');
    }
    if (codeOwner !== authSession || flow.code !== code) return refuse('The connect_code is invalid.');
    if (flow.redirectUri !== redirectUri) return refuse('The redirect_uri does not match.');
    if (flow.challenge !== undefined) {
      if (typeof verifier !== 'string' || b64url(sha256(verifier)) !== flow.challenge) {
        return refuse('The code_verifier does not match the code_challenge.');
      }
    }
    flows.delete(authSession);
    const configured = connections.get(flow.connection) ?? {};
    const existing = [...accounts.values()].find(
      (a) => a.sub === claims.sub && a.connection === flow.connection,
    );
    const account = existing ?? {
      id: `cac_${random(12)}`, sub: claims.sub, connection: flow.connection, seq: (sequence += 1),
    };
    account.access_type = 'offline';
    account.scopes = [...flow.scopes];
    account.created_at = new Date().toISOString();
    if (configured.refresh_token_ttl) {
      account.expires_at = new Date(Date.now() + configured.refresh_token_ttl * 1000).toISOString();
    }
    accounts.set(account.id, account);
    ctx.status = 201;
    ctx.type = 'application/json';
    ctx.body = JSON.stringify(view(account));
  }

  // -- GET /me/v1/connected-accounts/accounts ---------------------------------------------
  async function list(ctx) {
    const claims = await authenticate(ctx, SCOPES.read);
    if (!claims) return;
    const { connection, from, take: rawTake } = ctx.query;
    const take = rawTake === undefined ? 10 : Number(rawTake);
    if (!Number.isInteger(take) || take < 1 || take > 20) {
      invalid(ctx, [['take', 'Must be an integer between 1 and 20.']]);
      return;
    }
    let start = 0;
    if (from !== undefined) {
      const decoded = typeof from === 'string' ? Number(Buffer.from(from, 'base64url').toString()) : NaN;
      if (!Number.isInteger(decoded) || decoded < 1) {
        invalid(ctx, [['from', 'Not a cursor this API issued.']]);
        return;
      }
      start = decoded;
    }
    const mine = [...accounts.values()]
      .filter((a) => a.sub === claims.sub && (connection === undefined || a.connection === connection))
      .sort((a, b) => a.seq - b.seq)
      .filter((a) => a.seq >= start);
    const page = mine.slice(0, take);
    const result = { accounts: page.map(view) };
    if (mine.length > take) result.next = b64url(String(mine[take].seq));
    ctx.type = 'application/json';
    ctx.body = JSON.stringify(result);
  }

  // -- DELETE /me/v1/connected-accounts/accounts/:id --------------------------------------
  async function remove(ctx, id) {
    const claims = await authenticate(ctx, SCOPES.delete);
    if (!claims) return;
    const account = accounts.get(id);
    if (!account || account.sub !== claims.sub) {
      problem(ctx, 404, 'not_found', 'The connected account does not exist.');
      return;
    }
    accounts.delete(id);
    ctx.status = 204;
  }

  provider.use(async (ctx, next) => {
    const { path, method } = ctx;
    if (path === '/connect') {
      if (method === 'GET') return consentPage(ctx);
      if (method === 'POST') return consentDecision(ctx);
      return problem(ctx, 405, 'method_not_allowed', 'Use GET or POST.');
    }
    if (!path.startsWith(apiPrefix)) return next();
    const rest = path.slice(apiPrefix.length);
    const routes = {
      'POST connect': connect,
      'POST complete': complete,
      'GET accounts': list,
    };
    const handler = routes[`${method} ${rest}`];
    if (handler) return handler(ctx);
    const id = /^accounts\/([^/]+)$/.exec(rest)?.[1];
    if (id !== undefined && method === 'DELETE') {
      let decoded;
      try {
        decoded = decodeURIComponent(id);
      } catch {
        return problem(ctx, 404, 'not_found', 'The connected account does not exist.');
      }
      return remove(ctx, decoded);
    }
    return problem(ctx, 404, 'not_found', 'No such endpoint.');
  });
}
