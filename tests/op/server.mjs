// A local OpenID Provider for the auth0-web test suite.
//
// It wraps the `oidc-provider` npm package and configures it to look and
// behave like an Auth0 tenant as far as a relying party can tell:
//
//   * Auth0 endpoint paths (/authorize, /oauth/token, /userinfo,
//     /.well-known/jwks.json, /oidc/logout, /oauth/revoke, /oauth/par) and
//     Auth0's legacy logout endpoint GET /v2/logout;
//   * issuer "http://localhost:<port>/" (with the trailing slash, as Auth0);
//   * first-party applications: no consent screen, every requested scope and
//     claim is granted automatically;
//   * refresh tokens whenever `offline_access` is requested, always rotated,
//     with reuse detection;
//   * PKCE (S256) required on every authorization request;
//   * ID tokens carry the profile/email claims and any custom (namespaced)
//     claims of the user, plus `sid` and `auth_time`.
//
// Usage:  node server.mjs /path/to/config.json
//
// Config file (JSON):
//   port               int; 0 lets the OS pick a free port
//   clients            list of oidc-provider client metadata objects.  Extra
//                      (non-standard) property understood here:
//                        x_allow_any_loopback_redirect: true
//                      accepts any http://127.0.0.1|localhost|[::1]:<any port>/<any path>
//                      as redirect_uri and post_logout_redirect_uri.
//   users              list of {sub, ...claims}; standard OIDC profile/email
//                      claims are released by the `profile`/`email` scopes,
//                      every other claim (e.g. "https://example.com/roles")
//                      is always released with `openid`, like an Auth0
//                      Action's custom claims.
//   access_token_ttl   seconds, default 3600
//   id_token_ttl       seconds, default 36000 (Auth0's default)
//   refresh_token_ttl  seconds, default 2592000 (30 days)
//   resource_servers   optional list of {identifier, scopes?, access_token_ttl?}:
//                      APIs that may be requested with `resource=` or Auth0's
//                      `audience=`; their access tokens are JWTs.
//   client_auth_methods  optional list, oidc-provider's `clientAuthMethods`;
//                      default ["client_secret_basic", "client_secret_post",
//                      "none"].  Add "private_key_jwt" for clients registered
//                      with that method (and their public `jwks`).
//   par                optional {enabled?: bool (default true), required?: bool
//                      (default false)}: features.pushedAuthorizationRequests
//                      (enabled / requirePushedAuthorizationRequests).  A single
//                      client can also demand PAR with its own
//                      `require_pushed_authorization_requests: true` metadata.
//   dpop               optional {enabled?: bool (default true), require_nonce?:
//                      bool (default false)}: features.dPoP.  require_nonce
//                      gives the provider a random 32-byte `nonceSecret` and
//                      makes `requireNonce` return true, so every proof without
//                      a current server nonce is answered `use_dpop_nonce` with
//                      a `DPoP-Nonce` header.  Clients with
//                      `dpop_bound_access_tokens: true` must send proofs.
//   ciba               optional {interval?: number (default 1)}: enables
//                      features.ciba (OpenID CIBA Core 1.0, poll mode only) at
//                      POST /bc-authorize.  Off when absent.  The `login_hint`
//                      must be Auth0's iss_sub JSON ({"format":"iss_sub",
//                      "iss":<issuer>,"sub":<user's sub>}); `binding_message` is
//                      required and follows Auth0's rule (1-64 characters:
//                      letters, digits, spaces, +-_.,:#); `requested_expiry`
//                      (capped at 600 s) sets the request's lifetime; the answer
//                      carries `interval` from this setting.  Clients need
//                      `backchannel_token_delivery_mode: "poll"` and the grant
//                      type urn:openid:params:grant-type:ciba.
//   token_vault        optional {connections: {<name>: {scope?, ttl?}}}: Auth0's
//                      Token Vault exchange (federated-connection grant); users
//                      list their accounts as `connected_accounts: {<name>:
//                      {login_hint?, scope?} | [...]}` (never released as a
//                      claim).  See auth0_token_vault.mjs, which also adds the
//                      test-only GET /test/token-vault/exchanges.
//   custom_token_exchange  optional {profiles: [{subject_token_type, tokens:
//                      {<subject token>: <user sub>}}]}: Auth0's Custom Token
//                      Exchange.  See auth0_custom_token_exchange.mjs.
//   mfa                optional {required_audiences: [<api>...], token_ttl?:
//                      seconds (default 300)}: Auth0's MFA API (mfa_required on
//                      refresh-token grants for those APIs, /mfa/authenticators,
//                      /mfa/challenge, /mfa/associate, the mfa-otp/-oob/
//                      -recovery-code grants, test-only GET /test/mfa/oob).
//                      Users list their factors as `mfa: {otp_secret?,
//                      recovery_code?, phone_number?, email?}` (never released
//                      as a claim).  See auth0_mfa.mjs.
//   my_account         optional {connections: {<name>: {scopes?: [...],
//                      refresh_token_ttl?}}, ticket_ttl?: seconds (default
//                      300)}: Auth0's My Account API "Connected Accounts"
//                      (/me/v1/connected-accounts/{connect,complete,accounts}
//                      and the other provider's consent page at /connect), with
//                      `<issuer>me/` registered as a resource server.  See
//                      auth0_my_account.mjs.
//
// When the server listens it prints exactly one line "READY <port>" on
// stdout.  Everything else (errors only) goes to stderr.
//
// CIBA "authentication device" (test-only routes, only with `ciba` enabled):
//   GET  /test/ciba/requests       JSON list of the pending requests, oldest
//                                  first: {auth_req_id, sub, client_id,
//                                  binding_message, scope}
//   POST /test/ciba/approve        form field `auth_req_id` (default: the
//   POST /test/ciba/deny           latest pending request); approve grants
//                                  the requested scopes, deny answers
//                                  access_denied to the next poll.  204, or
//                                  404 when there is no such pending request.
//
// Signing-key rotation (test-only route, always on):
//   POST /test/rotate-keys         a fresh RSA key signs everything from now on and
//                                  is published first in the JWKS; the previous keys
//                                  stay published unless the form field `retire=yes`
//                                  is sent.  Answers JSON {kid, published: [kid...]}.
//
// Interactive pages (no JavaScript needed, easy to drive from a script):
//   GET  /interaction/:uid         lists the configured users, one <form> each
//   POST /interaction/:uid/login   form field `sub`; logs that user in
//   If the authorization request carries `login_hint` equal to a user's sub or
//   email, the login page is skipped and that user is logged in directly.
//
// RP-initiated logout (GET /oidc/logout) answers with a page holding one
// <form method="post"> (hidden fields `xsrf` and `logout=yes`) that submits
// itself in a browser; a script just POSTs that form.
//
// Known differences from Auth0 (oidc-provider behaviour kept as is):
//   * Listens on 127.0.0.1 but must be addressed as http://localhost:<port>:
//     URLs it generates follow the request's Host header, its cookies are
//     host-only, and only "localhost" matches the issuer.
//   * `offline_access` makes every authorization request pass through
//     /interaction/:uid once (automatic consent, see rewriteAuthorizeQuery);
//     with prompt=none, or in a pushed (PAR) request, it is dropped.
//   * client_secret_basic and client_secret_post are interchangeable for a
//     client registered with either (oidc-provider accepts both).
//   * A reused authorization code or rotated refresh token revokes the whole
//     grant (all tokens from that login).
//   * With `audience`/`resource`, the token response's `scope` lists only the
//     API's scopes.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as querystring from 'node:querystring';

import { installCustomTokenExchange } from './auth0_custom_token_exchange.mjs';
import { installAuth0Mfa } from './auth0_mfa.mjs';
import { installMyAccount } from './auth0_my_account.mjs';
import { installTokenVault } from './auth0_token_vault.mjs';
// Rebuilds the provider's key store (for /test/rotate-keys); oidc-provider has no public API.
import initializeKeystore from 'oidc-provider/lib/helpers/initialize_keystore.js';

// ---------------------------------------------------------------------------
// Load oidc-provider.  Version 9 prints "Unsupported runtime" on Node.js 20
// (its maintainers test on 22+); it works on 20.x (>= 20.18), which is what
// our machines have, so that one start-up warning is filtered out to keep
// stderr meaningful.
// ---------------------------------------------------------------------------
const originalWarn = console.warn;
console.warn = (...args) => {
  if (typeof args[0] === 'string' && args[0].includes('Unsupported runtime')) return;
  originalWarn(...args);
};
const { default: Provider, errors } = await import('oidc-provider');
console.warn = originalWarn;

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------
const configPath = process.argv[2];
if (!configPath) {
  console.error('usage: node server.mjs /path/to/config.json');
  process.exit(2);
}
const config = JSON.parse(fs.readFileSync(configPath, 'utf8'));
const requestedPort = Number.isInteger(config.port) ? config.port : 0;
const clients = config.clients ?? [];
const users = new Map((config.users ?? []).map((user) => [String(user.sub), user]));
const accessTokenTTL = config.access_token_ttl ?? 3600;
const idTokenTTL = config.id_token_ttl ?? 36000;
const refreshTokenTTL = config.refresh_token_ttl ?? 30 * 24 * 3600;
const resourceServers = new Map(
  (config.resource_servers ?? []).map((rs) => [rs.identifier, rs]),
);
const clientAuthMethods = config.client_auth_methods
  ?? ['client_secret_basic', 'client_secret_post', 'none'];
const parConfig = config.par ?? {};
const dpopConfig = config.dpop ?? {};
const cibaConfig = config.ciba ?? null;
const cibaInterval = cibaConfig?.interval ?? 1;
// Auth0's binding_message rule (the oidc-provider default is stricter: 20 chars, no spaces).
const BINDING_MESSAGE = /^[A-Za-z0-9 +\-_.,:#]{1,64}$/;
// auth_req_id -> {sub, clientId, bindingMessage, scope}, for the test-only routes.
const cibaPending = new Map();

// Claims released per scope (OpenID Connect Core 5.4).
const STANDARD_SCOPE_CLAIMS = {
  profile: [
    'name', 'family_name', 'given_name', 'middle_name', 'nickname', 'preferred_username',
    'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at',
  ],
  email: ['email', 'email_verified'],
  address: ['address'],
  phone: ['phone_number', 'phone_number_verified'],
};
const STANDARD_CLAIMS = new Set(['sub', ...Object.values(STANDARD_SCOPE_CLAIMS).flat()]);
// Any other claim found on a configured user is a "custom claim": released
// whenever `openid` is, like claims an Auth0 Action adds to every ID token.
const customClaims = [...new Set(
  [...users.values()].flatMap((user) => Object.keys(user))
    .filter((c) => !STANDARD_CLAIMS.has(c) && c !== 'connected_accounts'),
)];

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

// True for http://127.0.0.1:<port>/..., http://localhost:<port>/... and
// http://[::1]:<port>/... (no fragment, no credentials).
function isLoopbackHttpUri(value) {
  const url = URL.parse(value);
  return !!url && url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)
    && !url.username && !url.password && !url.hash && !value.includes('#');
}

function htmlEscape(value) {
  return String(value)
    .replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;').replaceAll("'", '&#39;');
}

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>${htmlEscape(title)}</title></head>
<body>
<h1>${htmlEscape(title)}</h1>
${body}
</body>
</html>
`;
}

// Read an application/x-www-form-urlencoded request body (for our own routes;
// oidc-provider parses bodies of its own routes itself).
async function readForm(ctx) {
  const chunks = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += chunk.length;
    if (size > 64 * 1024) ctx.throw(413, 'request body too large');
    chunks.push(chunk);
  }
  return querystring.parse(Buffer.concat(chunks).toString('utf8'));
}

// Log one line to stderr.
function logError(...parts) {
  process.stderr.write(`[op] ${parts.join(' ')}\n`);
}

// ---------------------------------------------------------------------------
// Storage: a plain in-memory adapter.  oidc-provider's bundled one is an LRU
// capped at 1000 entries, which a long test session could overflow (evicting
// sessions or grants mid-test), and it prints a warning on start.
// ---------------------------------------------------------------------------
const store = new Map(); // key -> { payload, expiresAt (ms) | Infinity }
const grantIndex = new Map(); // grantId -> Set of keys
const sessionUidIndex = new Map(); // session uid -> key
const userCodeIndex = new Map(); // user code -> key

function storeGet(key) {
  const entry = store.get(key);
  if (!entry) return undefined;
  if (entry.expiresAt <= Date.now()) {
    store.delete(key);
    return undefined;
  }
  return entry.payload;
}

// Drop expired entries now and then so memory stays bounded.
setInterval(() => {
  const now = Date.now();
  for (const [key, entry] of store) if (entry.expiresAt <= now) store.delete(key);
  for (const [grantId, keys] of grantIndex) {
    for (const key of keys) if (!store.has(key)) keys.delete(key);
    if (!keys.size) grantIndex.delete(grantId);
  }
  for (const [uid, key] of sessionUidIndex) if (!store.has(key)) sessionUidIndex.delete(uid);
  for (const [code, key] of userCodeIndex) if (!store.has(key)) userCodeIndex.delete(code);
}, 60_000).unref();

class MemoryAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
    store.set(key, { payload, expiresAt });
    if (payload.grantId) {
      if (!grantIndex.has(payload.grantId)) grantIndex.set(payload.grantId, new Set());
      grantIndex.get(payload.grantId).add(key);
    }
    if (this.model === 'Session' && payload.uid) sessionUidIndex.set(payload.uid, key);
    if (payload.userCode) userCodeIndex.set(payload.userCode, key);
  }

  async find(id) {
    return storeGet(this.key(id));
  }

  async findByUid(uid) {
    const key = sessionUidIndex.get(uid);
    return key === undefined ? undefined : storeGet(key);
  }

  async findByUserCode(userCode) {
    const key = userCodeIndex.get(userCode);
    return key === undefined ? undefined : storeGet(key);
  }

  async consume(id) {
    const payload = storeGet(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const key of grantIndex.get(grantId) ?? []) store.delete(key);
    grantIndex.delete(grantId);
  }
}

// ---------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------
async function findAccount(ctx, sub) {
  const user = users.get(sub);
  if (!user) return undefined;
  return {
    accountId: sub,
    // oidc-provider filters this by the granted scopes / requested claims.
    async claims() {
      return { ...user, sub };
    },
  };
}

function userForLoginHint(hint) {
  if (!hint) return undefined;
  if (users.has(hint)) return users.get(hint);
  return [...users.values()].find((user) => user.email === hint);
}

// ---------------------------------------------------------------------------
// Keys (fresh for every start)
// ---------------------------------------------------------------------------
function signingKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    ...privateKey.export({ format: 'jwk' }),
    kid: crypto.randomBytes(12).toString('base64url'),
    alg: 'RS256',
    use: 'sig',
  };
}
// The signing keys, newest (the one that signs) first; /test/rotate-keys adds one.
let signingKeys = [signingKey()];

// ---------------------------------------------------------------------------
// Auto-consent: Auth0 first-party applications never see a consent screen.
// Used as oidc-provider's `loadExistingGrant`, which runs on every
// authorization request of a logged-in user (and when one resumes after the
// login page): every requested OIDC scope, requested claim and requested API
// scope is added to the client's grant (a new one if there is none yet or it
// belongs to another user), so the consent prompt never finds anything
// missing.
// ---------------------------------------------------------------------------
async function autoGrant(ctx, grantId) {
  const { oidc } = ctx;
  let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
  if (
    !grant
    || grant.accountId !== oidc.session.accountId
    || grant.clientId !== oidc.client.clientId
  ) {
    grant = new oidc.provider.Grant({
      accountId: oidc.session.accountId,
      clientId: oidc.client.clientId,
    });
  }
  const scopes = [...oidc.requestParamOIDCScopes];
  if (scopes.length) grant.addOIDCScope(scopes.join(' '));
  const claims = [...oidc.requestParamClaims];
  if (claims.length) grant.addOIDCClaims(claims);
  for (const [indicator, resourceServer] of Object.entries(oidc.resourceServers ?? {})) {
    const wanted = [...oidc.requestParamScopes].filter((s) => resourceServer.scopes.has(s));
    grant.addResourceScope(indicator, wanted.join(' '));
  }
  await grant.save();
  return grant;
}

// ---------------------------------------------------------------------------
// Provider configuration
// ---------------------------------------------------------------------------
function providerConfiguration() {
  return {
    adapter: MemoryAdapter,
    clients,
    findAccount,
    jwks: { keys: signingKeys },
    cookies: {
      keys: [crypto.randomBytes(32).toString('base64url')],
    },

    claims: {
      openid: ['sub', ...customClaims],
      ...STANDARD_SCOPE_CLAIMS,
      acr: null,
      auth_time: null,
      iss: null,
      sid: null,
    },
    scopes: ['openid', 'offline_access', 'profile', 'email', 'address', 'phone'],
    // Auth0 puts the profile/email claims into the ID token even when an
    // access token is issued too; the OIDC-conform behaviour would move them
    // to /userinfo only.
    conformIdTokenClaims: false,

    routes: {
      authorization: '/authorize',
      token: '/oauth/token',
      userinfo: '/userinfo',
      jwks: '/.well-known/jwks.json',
      end_session: '/oidc/logout',
      revocation: '/oauth/revoke',
      pushed_authorization_request: '/oauth/par',
      backchannel_authentication: '/bc-authorize', // Auth0's path (used only with `ciba`)
    },

    pkce: { required: () => true }, // only S256 exists in oidc-provider 9

    clientAuthMethods,
    clientDefaults: {
      // auth_time in every ID token, as Auth0 does (not only with max_age or
      // prompt=login).
      require_auth_time: true,
      grant_types: ['authorization_code', 'refresh_token'],
      id_token_signed_response_alg: 'RS256',
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
    },

    // Non-standard client metadata understood by this server (see top).
    extraClientMetadata: {
      properties: ['x_allow_any_loopback_redirect'],
      validator(ctx, key, value) {
        if (key === 'x_allow_any_loopback_redirect' && value !== undefined && typeof value !== 'boolean') {
          throw new errors.InvalidClientMetadata(`${key} must be a boolean`);
        }
      },
    },

    // Refresh tokens whenever offline_access was requested, no consent prompt.
    issueRefreshToken: async (ctx, client, code) => (
      client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access')
    ),
    rotateRefreshToken: true, // always rotate; reuse of a rotated token fails

    loadExistingGrant: async (ctx) => autoGrant(
      ctx,
      ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId),
    ),

    interactions: {
      url: async (ctx, interaction) => `/interaction/${interaction.uid}`,
    },

    ttl: {
      AccessToken: (ctx, token) => token.resourceServer?.accessTokenTTL ?? accessTokenTTL,
      AuthorizationCode: 60,
      ClientCredentials: accessTokenTTL,
      IdToken: idTokenTTL,
      RefreshToken: refreshTokenTTL,
      Interaction: 3600,
      Session: 3 * 24 * 3600,
      Grant: 30 * 24 * 3600,
      // Honour requested_expiry (oidc-provider's own default does the same).
      BackchannelAuthenticationRequest: (ctx) => {
        const requested = Number(ctx?.oidc?.params?.requested_expiry);
        return Number.isSafeInteger(requested) && requested > 0 ? Math.min(requested, 600) : 600;
      },
      DeviceCode: 600,
    },

    features: {
      devInteractions: { enabled: false },
      backchannelLogout: { enabled: true },
      revocation: {
        enabled: true,
        // A client may revoke only its own tokens.
        allowedPolicy: async (ctx, client, token) => token.clientId === client.clientId,
      },
      introspection: { enabled: false }, // Auth0 has no introspection endpoint
      // Both on by default in oidc-provider 9; see `par` and `dpop` at the top.
      pushedAuthorizationRequests: {
        enabled: parConfig.enabled ?? true,
        requirePushedAuthorizationRequests: parConfig.required ?? false,
      },
      dPoP: {
        enabled: dpopConfig.enabled ?? true,
        ...(dpopConfig.require_nonce ? {
          nonceSecret: crypto.randomBytes(32),
          requireNonce: () => true,
        } : {}),
      },
      ciba: cibaConfig ? {
        enabled: true,
        deliveryModes: ['poll'],
        // Auth0's iss_sub login hint; the account id is the user's sub.
        processLoginHint: async (ctx, loginHint) => {
          let hint;
          try {
            hint = JSON.parse(loginHint);
          } catch {
            throw new errors.InvalidRequest('login_hint must be an iss_sub JSON object');
          }
          if (
            !hint || hint.format !== 'iss_sub' || hint.iss !== ctx.oidc.provider.issuer
            || typeof hint.sub !== 'string'
          ) {
            throw new errors.InvalidRequest('login_hint must be an iss_sub JSON object');
          }
          return users.has(hint.sub) ? hint.sub : undefined;
        },
        processLoginHintToken: async () => {
          throw new errors.InvalidRequest('login_hint_token is not supported');
        },
        validateBindingMessage: async (ctx, bindingMessage) => {
          if (typeof bindingMessage !== 'string' || !BINDING_MESSAGE.test(bindingMessage)) {
            throw new errors.InvalidBindingMessage(
              'binding_message is required: 1-64 letters, digits, spaces or +-_.,:#',
            );
          }
        },
        validateRequestContext: async () => {},
        verifyUserCode: async () => {},
        // Nothing to notify: the test suite plays the device through /test/ciba/*.
        triggerAuthenticationDevice: async (ctx, request, account, client) => {
          cibaPending.set(request.jti, {
            sub: account.accountId,
            clientId: client.clientId,
            bindingMessage: request.params.binding_message,
            scope: request.scope,
          });
          ctx.body.interval = cibaInterval;
        },
      } : { enabled: false },
      resourceIndicators: {
        enabled: true,
        // Use the API that was requested at /authorize also at /oauth/token,
        // as Auth0 does with `audience`.
        useGrantedResource: async () => true,
        defaultResource: async (ctx, client, oneOf) => oneOf,
        getResourceServerInfo: async (ctx, indicator) => {
          const rs = resourceServers.get(indicator);
          if (!rs) throw new errors.InvalidTarget();
          return {
            scope: (rs.scopes ?? []).join(' '),
            audience: indicator,
            accessTokenFormat: 'jwt',
            accessTokenTTL: rs.access_token_ttl ?? accessTokenTTL,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
      rpInitiatedLogout: {
        enabled: true,
        // Logout confirmation: a form that a browser submits on load and a
        // script can POST as is (hidden fields xsrf + logout=yes).
        logoutSource: async (ctx, form) => {
          const autoForm = form.replace(
            '</form>',
            '<input type="hidden" name="logout" value="yes"/>'
              + '<noscript><button type="submit">Sign out</button></noscript></form>',
          );
          ctx.type = 'html';
          ctx.body = page('Signing out', `${autoForm}
<script>document.forms[0].submit()</script>`);
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.type = 'html';
          ctx.body = page('Signed out', '<p>You have been signed out.</p>');
        },
      },
    },

    // Loopback back-channel logout URIs must be reachable: oidc-provider's
    // fetch refuses special-use (incl. loopback) addresses by default.
    fetch: (url, { dispatcher, ...options }) => globalThis.fetch(url, options),

    clientBasedCORS: () => false,

    renderError: async (ctx, out) => {
      ctx.type = 'html';
      const rows = Object.entries(out)
        .map(([k, v]) => `<p><strong>${htmlEscape(k)}</strong>: <span id="${htmlEscape(k)}">${htmlEscape(v)}</span></p>`)
        .join('\n');
      ctx.body = page('Error', rows);
    },
  };
}

// ---------------------------------------------------------------------------
// Our own routes: the login interaction and Auth0's /v2/logout
// ---------------------------------------------------------------------------
function installRoutes(provider) {
  const interactionPath = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/;

  async function finish(ctx, result) {
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
      mergeWithLastSubmission: true,
    });
    ctx.status = 303;
    ctx.redirect(returnTo);
  }

  // Resolve the pending interaction; null (and an error page) if it is gone.
  async function interactionFor(ctx, uid) {
    try {
      const details = await provider.interactionDetails(ctx.req, ctx.res);
      if (details.uid === uid) return details;
    } catch (err) {
      if (!(err instanceof errors.SessionNotFound)) throw err;
    }
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = page('Error', '<p>This login request has expired or is unknown; start again.</p>');
    return null;
  }

  // Log `sub` in.  `consent: {}` resolves a requested consent prompt; the
  // grant itself is made by loadExistingGrant (autoGrant) when the
  // authorization request resumes.
  async function login(ctx, sub) {
    await finish(ctx, { login: { accountId: sub }, consent: {} });
  }

  async function cibaDevice(ctx) {
    if (ctx.path === '/test/ciba/requests' && ctx.method === 'GET') {
      ctx.type = 'json';
      ctx.body = [...cibaPending].map(([id, r]) => ({
        auth_req_id: id,
        sub: r.sub,
        client_id: r.clientId,
        binding_message: r.bindingMessage,
        scope: r.scope,
      }));
      return;
    }
    const action = /^\/test\/ciba\/(approve|deny)$/.exec(ctx.path)?.[1];
    if (!action || ctx.method !== 'POST') {
      ctx.status = 404;
      return;
    }
    const form = await readForm(ctx);
    const id = typeof form.auth_req_id === 'string' && form.auth_req_id
      ? form.auth_req_id
      : [...cibaPending.keys()].at(-1);
    const pending = id === undefined ? undefined : cibaPending.get(id);
    const request = pending && await provider.BackchannelAuthenticationRequest.find(id);
    if (!request) {
      ctx.status = 404;
      return;
    }
    cibaPending.delete(id);
    if (action === 'deny') {
      await provider.backchannelResult(request, new errors.AccessDenied('the end-user denied the request'));
    } else {
      const grant = new provider.Grant({ accountId: request.accountId, clientId: request.clientId });
      grant.addOIDCScope(request.scope);
      await grant.save();
      await provider.backchannelResult(request, grant, { authTime: Math.floor(Date.now() / 1000) });
    }
    ctx.status = 204;
  }

  provider.use(async (ctx, next) => {
    const match = interactionPath.exec(ctx.path);

    // GET /interaction/:uid -> the login page (or automatic consent)
    if (match && !match[2] && ctx.method === 'GET') {
      const details = await interactionFor(ctx, match[1]);
      if (!details) return;
      const { prompt, params } = details;

      if (prompt.name === 'consent') {
        // First-party application: consent is implied (see autoGrant).
        await finish(ctx, { consent: {} });
        return;
      }

      const hinted = userForLoginHint(params.login_hint);
      if (hinted) {
        await login(ctx, hinted.sub);
        return;
      }

      const forms = [...users.values()].map((user) => {
        const label = [user.name, user.email].filter(Boolean).join(' - ') || user.sub;
        return `<form method="post" action="/interaction/${htmlEscape(details.uid)}/login">
  <input type="hidden" name="sub" value="${htmlEscape(user.sub)}"/>
  <button type="submit">${htmlEscape(label)}</button>
</form>`;
      }).join('\n');
      ctx.type = 'html';
      ctx.body = page('Log in', `<p>Client: ${htmlEscape(params.client_id)}</p>\n${forms}`);
      return;
    }

    // POST /interaction/:uid/login  (sub=<user's sub>)
    if (match && match[2] && ctx.method === 'POST') {
      const form = await readForm(ctx);
      const details = await interactionFor(ctx, match[1]);
      if (!details) return;
      const sub = typeof form.sub === 'string' ? form.sub : '';
      if (!users.has(sub)) {
        ctx.status = 400;
        ctx.type = 'html';
        ctx.body = page('Error', `<p>Unknown user ${htmlEscape(sub)}</p>`);
        return;
      }
      await login(ctx, sub);
      return;
    }

    // Signing-key rotation (test-only; see the top of this file).
    if (ctx.path === '/test/rotate-keys' && ctx.method === 'POST') {
      const form = await readForm(ctx);
      signingKeys = [signingKey(), ...(form.retire === 'yes' ? [] : signingKeys)];
      initializeKeystore.call(provider, { keys: signingKeys });
      ctx.type = 'json';
      ctx.body = { kid: signingKeys[0].kid, published: signingKeys.map((key) => key.kid) };
      return;
    }

    // CIBA authentication device (test-only; see the top of this file).
    if (cibaConfig && ctx.path.startsWith('/test/ciba/')) {
      await cibaDevice(ctx);
      return;
    }

    // GET /v2/logout?client_id=...&returnTo=...  (Auth0's legacy logout)
    if (ctx.path === '/v2/logout' && ctx.method === 'GET') {
      const { client_id: clientId, returnTo } = ctx.query;
      let client;
      if (typeof clientId === 'string' && clientId) {
        client = await provider.Client.find(clientId);
      }
      if (returnTo !== undefined) {
        if (typeof returnTo !== 'string' || !client || !client.postLogoutRedirectUriAllowed(returnTo)) {
          ctx.status = 400;
          ctx.type = 'html';
          ctx.body = page('Error', '<p>invalid_request: returnTo is not an allowed logout URL for this client_id</p>');
          return;
        }
      }

      // End the provider session (if any), notifying back-channel logout
      // receivers like Auth0 does, and drop the session cookie.
      const session = await provider.Session.get(ctx);
      if (session.accountId) {
        const { accountId } = session;
        await Promise.all(Object.keys(session.authorizations ?? {}).map(async (cid) => {
          const rp = await provider.Client.find(cid).catch(() => undefined);
          if (!rp?.backchannelLogoutUri) return;
          try {
            await rp.backchannelLogout(accountId, session.sidFor(cid));
          } catch (err) {
            logError('backchannel logout to', rp.backchannelLogoutUri, 'failed:', err.message);
          }
        }));
      }
      if (!session.new) await session.destroy();
      ctx.cookies.set(provider.cookieName('session'), null, { httpOnly: true, sameSite: 'lax' });

      if (returnTo !== undefined) {
        ctx.status = 302;
        ctx.redirect(returnTo);
      } else {
        ctx.type = 'html';
        ctx.body = page('Signed out', '<p>You have been signed out.</p>');
      }
      return;
    }

    // Auth0's `audience` parameter is a resource indicator.
    if (ctx.path === '/authorize' && ctx.method === 'GET') {
      rewriteAuthorizeQuery(ctx);
    }

    await next();
  });
}

// Adjust a GET /authorize query so oidc-provider treats it like Auth0 would:
//  * `audience=<api>` becomes `resource=<api>` (unless resource is given);
//  * oidc-provider drops `offline_access` from the scope unless the request
//    also has prompt=consent (OIDC Core 11).  Auth0 does not require that, so
//    `consent` is added to `prompt` whenever `offline_access` is requested.
//    The consent step is automatic (see /interaction), so all this costs is
//    one more redirect through /interaction/:uid when a provider session
//    already exists.  prompt=none cannot be combined with consent and is
//    left alone: no refresh token in that case.
function rewriteAuthorizeQuery(ctx) {
  const query = new URLSearchParams(ctx.querystring);
  let changed = false;
  if (query.has('audience') && !query.has('resource')) {
    query.set('resource', query.get('audience'));
    query.delete('audience');
    changed = true;
  }
  const scopes = (query.get('scope') ?? '').split(' ');
  const prompts = (query.get('prompt') ?? '').split(' ').filter(Boolean);
  if (
    scopes.includes('offline_access')
    && !prompts.includes('consent') && !prompts.includes('none')
  ) {
    query.set('prompt', [...prompts, 'consent'].join(' '));
    changed = true;
  }
  if (changed) ctx.querystring = query.toString();
}

// Accept any loopback http redirect/post-logout URI for clients that opt in
// with `x_allow_any_loopback_redirect: true` (test apps listen on random
// ports).  oidc-provider only does port-agnostic loopback matching for
// `native` clients.
function patchLoopbackRedirects(provider) {
  const proto = provider.Client.prototype;
  for (const method of ['redirectUriAllowed', 'postLogoutRedirectUriAllowed']) {
    const original = proto[method];
    proto[method] = function allowed(value) {
      if (original.call(this, value)) return true;
      return this.x_allow_any_loopback_redirect === true
        && typeof value === 'string' && isLoopbackHttpUri(value);
    };
  }
}

// Auth0 puts `sid` in every ID token; oidc-provider only does so for clients
// registered for back-channel logout with backchannel_logout_session_required
// (or when `sid` is requested with the claims parameter).
function patchAlwaysIncludeSid(provider) {
  provider.Client.prototype.includeSid = () => true;
}

// Errors are logged to stderr, one line each (server errors with a stack).
function installLogging(provider) {
  const clientErrorEvents = [
    'authorization.error', 'backchannel.error', 'discovery.error', 'end_session.error',
    'end_session_confirm.error', 'end_session_success.error', 'grant.error',
    'introspection.error', 'jwks.error', 'pushed_authorization_request.error',
    'resume.error', 'revocation.error', 'userinfo.error',
  ];
  for (const name of clientErrorEvents) {
    provider.on(name, (ctx, err) => {
      const error = err ?? ctx;
      logError(name, error?.error ?? error?.name ?? '', '-', error?.error_description ?? error?.message ?? '',
        error?.error_detail ? `(${error.error_detail})` : '');
    });
  }
  provider.on('server_error', (ctx, err) => {
    logError('server_error', ctx?.method ?? '', ctx?.path ?? '', '-', err?.stack ?? String(err));
  });
  // Koa's own error event (errors thrown by our routes).
  provider.silent = true;
  provider.on('error', (err, ctx) => {
    if (err?.expose) return;
    logError('error', ctx?.method ?? '', ctx?.path ?? '', '-', err?.stack ?? String(err));
  });
}

// ---------------------------------------------------------------------------
// Start: listen first (port 0 picks a free port), then build the provider
// whose issuer needs the actual port.
// ---------------------------------------------------------------------------
const server = http.createServer();
server.on('error', (err) => {
  logError('listen failed:', err.message);
  process.exit(1);
});
server.listen(requestedPort, '127.0.0.1', async () => {
  const { port } = server.address();
  let provider;
  try {
    provider = new Provider(`http://localhost:${port}/`, providerConfiguration());
    // Extra grants first: client metadata naming them is validated just below.
    installTokenVault(provider, config.token_vault, { users, errors });
    installCustomTokenExchange(provider, config.custom_token_exchange, {
      users, resourceServers, errors,
    });
    installAuth0Mfa(provider, config.mfa, { users, resourceServers, accessTokenTTL });
    installMyAccount(provider, config.my_account, { resourceServers });
    // Static clients are only validated when first used; fail now instead.
    for (const { client_id: clientId } of clients) {
      await provider.Client.find(clientId);
    }
  } catch (err) {
    logError('invalid configuration:', err.error_description ?? err.message);
    process.exit(1);
  }
  patchLoopbackRedirects(provider);
  patchAlwaysIncludeSid(provider);
  installLogging(provider);
  installRoutes(provider);
  server.on('request', provider.callback());
  process.stdout.write(`READY ${port}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections?.();
    process.exit(0);
  });
}
