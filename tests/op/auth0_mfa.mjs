// Auth0's multi-factor authentication API for the test provider (server.mjs).
//
// What an Auth0 tenant does when an application asks for an API that needs a
// second factor, following Auth0's public Authentication API documentation
// ("Multi-factor authentication"):
//
//   * A refresh-token grant for a protected audience (Auth0's `audience`, or
//     `resource`, or the refresh token's own single API) is answered
//       403 {"error":"mfa_required",
//            "error_description":"Multifactor authentication required",
//            "mfa_token":"...", "mfa_requirements":{"challenge":[{"type":"otp"},...]}}
//     (`{"enroll":[...]}` instead when the user has no factor yet).  The refresh
//     token is checked first (client, expiry, reuse) and is NOT rotated.  The
//     mfa_token is opaque, bound to the client, the user, the audience and the
//     requested scope, expires after `token_ttl` seconds and is single use: it
//     dies with the first successful MFA grant.
//   * GET  /mfa/authenticators   Authorization: Bearer <mfa_token>
//       -> 200 [{id, authenticator_type, type, active, oob_channel?, name?,
//                created_at, last_authenticated_at?}]
//   * POST /mfa/challenge        JSON (or form) {client_id, client_secret,
//       mfa_token, challenge_type: "otp"|"oob", authenticator_id?}
//       -> 200 {"challenge_type":"otp"} or
//              {"challenge_type":"oob","oob_code":...,"binding_method":"prompt"}
//   * POST /mfa/associate        Authorization: Bearer <mfa_token>, JSON
//       {authenticator_types:["otp"]} or {authenticator_types:["oob"],
//       oob_channels:["sms"|"voice"|"email"], phone_number?, email?}
//       -> 200 {authenticator_type:"otp", secret, barcode_uri, recovery_codes?}
//          or  {authenticator_type:"oob", oob_channel, binding_method:"prompt",
//               oob_code, recovery_codes?}
//       A user who already has a factor gets 403 access_denied ("User is
//       already enrolled."); the new factor becomes active with the first
//       successful MFA grant that uses it.
//   * POST /oauth/token with the grants
//       http://auth0.com/oauth/grant-type/mfa-otp            (mfa_token, otp)
//       http://auth0.com/oauth/grant-type/mfa-oob            (mfa_token, oob_code, binding_code)
//       http://auth0.com/oauth/grant-type/mfa-recovery-code  (mfa_token, recovery_code)
//     Clients must list them in `grant_types` (Auth0: the "MFA" grant type).
//     Errors: invalid_grant ("Invalid otp_code.", "Invalid binding_code.",
//     "Malformed mfa_token", ...) and expired_token ("mfa_token is expired"),
//     status 400.  Success issues real tokens: a JWT access token for the
//     mfa_token's audience (a configured resource server), an ID token when
//     `openid` was granted, a new refresh token when `offline_access` was, and
//     for recovery codes a new `recovery_code` (the old one stops working).
//     DPoP proofs are honoured as on any other grant.
//
// OTP is RFC 6238 TOTP (HMAC-SHA1, 6 digits, 30-second steps, one step of
// clock drift accepted either way).  OOB challenges "send" a six-digit binding
// code; the test-only route
//   GET /test/mfa/oob[?oob_code=...]   -> {oob_code, binding_code, channel, to, sub}
// reveals the latest one (or the named one), as the user's phone would.
//
// Errors of /mfa/* : 401 {"error":"invalid_token"} for a missing, unknown,
// used or other client's mfa_token, 401 {"error":"expired_token"} for an
// expired one, 400 invalid_request / unsupported_challenge_type for bad input,
// 401 invalid_client for failed client authentication (client_secret only).
//
// Factors come from the configured users: `mfa: {otp_secret: <base32>,
// recovery_code: "...", phone_number: "+1...", email: "..."}` (every key
// optional).  The `mfa` member is removed from the user object here, so it is
// never released as a claim.
//
// The refresh-token grant is wrapped, not replaced: anything that is not for a
// protected audience runs oidc-provider's own handler (imported from the
// package, bound to the provider exactly as the provider binds its built-in
// grants).

import * as crypto from 'node:crypto';
import * as querystring from 'node:querystring';

import * as refreshTokenGrant from 'oidc-provider/lib/actions/grants/refresh_token.js';
import * as errors from 'oidc-provider/lib/helpers/errors.js';
import * as grantHelpers from 'oidc-provider/lib/helpers/grants.js';

export const MFA_OTP = 'http://auth0.com/oauth/grant-type/mfa-otp';
export const MFA_OOB = 'http://auth0.com/oauth/grant-type/mfa-oob';
export const MFA_RECOVERY_CODE = 'http://auth0.com/oauth/grant-type/mfa-recovery-code';

const TOTP_STEP = 30;
const TOTP_DIGITS = 6;
const E164 = /^\+[1-9][0-9]{6,14}$/;
const EMAIL = /^[^@\s]{1,64}@[^@\s]{1,255}$/;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------
function randomId(prefix) {
  return `${prefix}|dev_${crypto.randomBytes(12).toString('base64url')}`;
}

function base32Encode(bytes) {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

function base32Decode(text) {
  const clean = String(text).toUpperCase().replace(/=+$/, '');
  let bits = 0;
  let value = 0;
  const out = [];
  for (const char of clean) {
    const index = BASE32.indexOf(char);
    if (index < 0) throw new Error('invalid base32 secret');
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

// RFC 6238 / RFC 4226 with HMAC-SHA1.
function totp(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = crypto.createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** TOTP_DIGITS).padStart(TOTP_DIGITS, '0');
}

function totpMatches(secret, code) {
  if (typeof code !== 'string' || !/^[0-9]{6}$/.test(code)) return false;
  const step = Math.floor(Date.now() / 1000 / TOTP_STEP);
  return [step - 1, step, step + 1].some((s) => crypto.timingSafeEqual(
    Buffer.from(totp(secret, s)),
    Buffer.from(code),
  ));
}

function equalStrings(a, b) {
  if (typeof a !== 'string' || typeof b !== 'string') return false;
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && crypto.timingSafeEqual(left, right);
}

function recoveryCode() {
  // Auth0's recovery codes: 24 upper-case letters and digits.
  return base32Encode(crypto.randomBytes(15)).slice(0, 24);
}

function scopeList(value) {
  return typeof value === 'string' ? value.split(' ').filter(Boolean) : [];
}

function maskPhone(phone) {
  return `XXXXXXXX${phone.slice(-4)}`;
}

async function readBody(ctx) {
  const chunks = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += chunk.length;
    if (size > 64 * 1024) ctx.throw(413, 'request body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (ctx.is('application/json')) {
    try {
      const parsed = JSON.parse(text);
      return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : null;
    } catch {
      return null;
    }
  }
  if (ctx.is('application/x-www-form-urlencoded')) return querystring.parse(text);
  return null;
}

function answer(ctx, status, body, headers = {}) {
  ctx.status = status;
  ctx.type = 'json';
  ctx.set('Cache-Control', 'no-store');
  for (const [name, value] of Object.entries(headers)) ctx.set(name, value);
  ctx.body = body;
}

function oauthError(ctx, status, error, description) {
  const headers = status === 401 && (error === 'invalid_token' || error === 'expired_token')
    ? { 'WWW-Authenticate': `Bearer error="${error}"` }
    : {};
  answer(ctx, status, { error, error_description: description }, headers);
}

// ---------------------------------------------------------------------------
// Installation
// ---------------------------------------------------------------------------

// `mfa`: the server config's {required_audiences: [...], token_ttl?: seconds
// (default 300)}, or undefined (then nothing is installed); `users`: the
// server's Map sub -> user; `resourceServers`: Map identifier -> {identifier,
// scopes?, access_token_ttl?}; `accessTokenTTL`: the server's default.
export function installAuth0Mfa(provider, mfa, { users, resourceServers, accessTokenTTL }) {
  if (!mfa) return;
  const required = new Set(mfa.required_audiences ?? []);
  const tokenTTL = Number.isInteger(mfa.token_ttl) && mfa.token_ttl > 0 ? mfa.token_ttl : 300;
  const helpers = Object.fromEntries(
    Object.entries(grantHelpers).map(([name, helper]) => [name, helper.bind(undefined, provider)]),
  );

  // sub -> {authenticators: [...], recoveryCode, pendingRecoveryCode}
  const factors = new Map();
  for (const [sub, user] of users) {
    const config = user.mfa ?? {};
    delete user.mfa;
    const now = new Date().toISOString();
    const record = { authenticators: [], recoveryCode: undefined };
    if (config.otp_secret) {
      base32Decode(config.otp_secret); // fail at start-up, not at the first OTP
      record.authenticators.push({
        id: randomId('totp'), authenticator_type: 'otp', type: 'otp', active: true,
        secret: config.otp_secret, created_at: now,
      });
    }
    if (config.phone_number) {
      record.authenticators.push({
        id: randomId('sms'), authenticator_type: 'oob', oob_channel: 'sms', type: 'phone',
        name: maskPhone(config.phone_number), to: config.phone_number, active: true,
        created_at: now,
      });
    }
    if (config.email) {
      record.authenticators.push({
        id: randomId('email'), authenticator_type: 'oob', oob_channel: 'email', type: 'email',
        name: config.email, to: config.email, active: true, created_at: now,
      });
    }
    if (config.recovery_code) {
      record.recoveryCode = String(config.recovery_code);
      record.authenticators.push({
        id: randomId('recovery-code'), authenticator_type: 'recovery-code',
        type: 'recovery-code', active: true, created_at: now,
      });
    }
    factors.set(sub, record);
  }

  const mfaTokens = new Map(); // token -> context (see issueMfaToken)
  const oobCodes = new Map(); // oob_code -> {mfaToken, bindingCode, channel, to, sub, enrollment?}

  setInterval(() => {
    const now = Date.now();
    for (const [token, entry] of mfaTokens) if (entry.expiresAt + 60_000 <= now) mfaTokens.delete(token);
    for (const [code, entry] of oobCodes) if (!mfaTokens.has(entry.mfaToken)) oobCodes.delete(code);
  }, 60_000).unref();

  function factorsOf(sub) {
    if (!factors.has(sub)) factors.set(sub, { authenticators: [], recoveryCode: undefined });
    return factors.get(sub);
  }

  function requirementsOf(sub) {
    const active = factorsOf(sub).authenticators.filter((a) => a.active);
    if (!active.length) {
      return { enroll: [{ type: 'otp' }, { type: 'phone' }, { type: 'email' }] };
    }
    return { challenge: [...new Set(active.map((a) => a.type))].map((type) => ({ type })) };
  }

  function resourceServerInfo(audience) {
    const rs = resourceServers.get(audience);
    if (!rs) throw new errors.InvalidTarget();
    return {
      scope: (rs.scopes ?? []).join(' '),
      audience,
      accessTokenFormat: 'jwt',
      accessTokenTTL: rs.access_token_ttl ?? accessTokenTTL,
      jwt: { sign: { alg: 'RS256' } },
    };
  }

  // The mfa_token for a refresh token that asked for a protected audience.
  function issueMfaToken(client, refreshToken, audience, requestedScope) {
    const rsScopes = new Set(resourceServerInfo(audience).scope.split(' ').filter(Boolean));
    const refreshScopes = refreshToken.scopes;
    let oidcScopes;
    let apiScopes;
    if (requestedScope.length) {
      const unknown = requestedScope.filter((s) => !refreshScopes.has(s) && !rsScopes.has(s));
      if (unknown.length) {
        throw new errors.InvalidScope('refresh token missing requested scope', unknown.join(' '));
      }
      oidcScopes = requestedScope.filter((s) => refreshScopes.has(s) && !rsScopes.has(s));
      apiScopes = requestedScope.filter((s) => rsScopes.has(s));
    } else {
      oidcScopes = [...refreshScopes];
      apiScopes = [...rsScopes];
    }
    const token = crypto.randomBytes(32).toString('base64url');
    mfaTokens.set(token, {
      token,
      clientId: client.clientId,
      sub: refreshToken.accountId,
      audience,
      oidcScopes,
      apiScopes,
      source: {
        accountId: refreshToken.accountId,
        acr: refreshToken.acr,
        amr: refreshToken.amr,
        authTime: refreshToken.authTime,
        claims: refreshToken.claims,
        expiresWithSession: refreshToken.expiresWithSession,
        grantId: refreshToken.grantId,
        resource: refreshToken.resource,
        sessionUid: refreshToken.sessionUid,
        sid: refreshToken.sid,
      },
      expiresAt: Date.now() + tokenTTL * 1000,
      used: false,
    });
    return token;
  }

  // The live entry for an mfa_token presented to /mfa/* (or an error answer).
  function bearerEntry(ctx, token, clientId) {
    const entry = typeof token === 'string' ? mfaTokens.get(token) : undefined;
    if (!entry || entry.used || (clientId !== undefined && entry.clientId !== clientId)) {
      oauthError(ctx, 401, 'invalid_token', 'Invalid mfa_token');
      return null;
    }
    if (entry.expiresAt <= Date.now()) {
      oauthError(ctx, 401, 'expired_token', 'mfa_token is expired');
      return null;
    }
    return entry;
  }

  function bearerToken(ctx) {
    const header = ctx.get('authorization');
    const match = /^Bearer ([A-Za-z0-9_-]+)$/.exec(header);
    return match ? match[1] : undefined;
  }

  // client_secret_post / client_secret_basic only (what /mfa/challenge accepts here).
  async function authenticateClient(ctx, body) {
    let clientId = body.client_id;
    let secret = body.client_secret;
    const basic = /^Basic (.+)$/.exec(ctx.get('authorization'));
    if (basic) {
      const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      clientId = decodeURIComponent(decoded.slice(0, colon));
      secret = decodeURIComponent(decoded.slice(colon + 1));
    }
    const client = typeof clientId === 'string' && clientId
      ? await provider.Client.find(clientId).catch(() => undefined)
      : undefined;
    if (!client || !client.clientSecret || !equalStrings(secret, client.clientSecret)) {
      oauthError(ctx, 401, 'invalid_client', 'Client authentication failed');
      return null;
    }
    return client;
  }

  // -------------------------------------------------------------------------
  // The refresh-token grant, with the mfa_required answer in front of it
  // -------------------------------------------------------------------------
  const refreshHandler = refreshTokenGrant.handler.bind(undefined, provider, helpers);

  async function refreshWithMfa(ctx) {
    const { params } = ctx.oidc;
    if (typeof params.audience === 'string' && params.audience && !params.resource) {
      params.resource = params.audience; // Auth0's `audience` is a resource indicator
    }
    delete params.audience;
    const requested = typeof params.resource === 'string' ? params.resource : undefined;
    if (Array.isArray(params.resource) || (requested !== undefined && !required.has(requested))) {
      await refreshHandler(ctx);
      return;
    }
    if (typeof params.refresh_token !== 'string' || !params.refresh_token) {
      await refreshHandler(ctx); // its own "missing parameter" error
      return;
    }
    const refreshToken = await provider.RefreshToken.find(
      params.refresh_token,
      { ignoreExpiration: true },
    );
    const audience = requested
      ?? (typeof refreshToken?.resource === 'string' ? refreshToken.resource : undefined);
    if (!refreshToken || audience === undefined || !required.has(audience)) {
      await refreshHandler(ctx);
      return;
    }
    const { client } = ctx.oidc;
    if (refreshToken.clientId !== client.clientId) throw new errors.InvalidGrant('client mismatch');
    if (refreshToken.isExpired) throw new errors.InvalidGrant('refresh token is expired');
    if (refreshToken.consumed) {
      // Reuse of a rotated refresh token: the same answer oidc-provider gives.
      await refreshHandler(ctx);
      return;
    }
    const grant = await provider.Grant.find(refreshToken.grantId);
    if (!grant || grant.clientId !== client.clientId) throw new errors.InvalidGrant('grant not found');
    const token = issueMfaToken(client, refreshToken, audience, scopeList(params.scope));
    answer(ctx, 403, {
      error: 'mfa_required',
      error_description: 'Multifactor authentication required',
      mfa_token: token,
      mfa_requirements: requirementsOf(refreshToken.accountId),
    });
  }

  provider.registerGrantType(
    'refresh_token',
    refreshWithMfa,
    ['refresh_token', 'scope', 'resource', 'audience'],
    ['resource'],
  );

  // -------------------------------------------------------------------------
  // The three MFA grants
  // -------------------------------------------------------------------------
  function tokenEntry(ctx) {
    const { params, client } = ctx.oidc;
    const token = params.mfa_token;
    if (typeof token !== 'string' || !token) throw new errors.InvalidRequest("missing required parameter 'mfa_token'");
    const entry = mfaTokens.get(token);
    if (!entry || entry.clientId !== client.clientId) {
      throw new errors.CustomOIDCProviderError('invalid_grant', 'Malformed mfa_token');
    }
    if (entry.used) throw new errors.CustomOIDCProviderError('invalid_grant', 'mfa_token was already used');
    if (entry.expiresAt <= Date.now()) throw new errors.ExpiredToken('mfa_token is expired');
    return [token, entry];
  }

  function activate(sub, enrollment) {
    if (!enrollment) return;
    const record = factorsOf(sub);
    enrollment.authenticator.active = true;
    if (enrollment.recoveryCode && !record.recoveryCode) {
      record.recoveryCode = enrollment.recoveryCode;
      record.authenticators.push({
        id: randomId('recovery-code'), authenticator_type: 'recovery-code',
        type: 'recovery-code', active: true, created_at: new Date().toISOString(),
      });
    }
  }

  function touch(authenticator) {
    authenticator.last_authenticated_at = new Date().toISOString();
  }

  async function issueTokens(ctx, entry, extra) {
    const { client } = ctx.oidc;
    const dPoP = await helpers.validateDpop(ctx);
    helpers.checkDpopRequired(ctx, dPoP);
    await helpers.checkDpopReplay(ctx, dPoP, client.clientId);

    const { source } = entry;
    const grant = await provider.Grant.find(source.grantId);
    if (!grant || grant.accountId !== source.accountId) {
      throw new errors.InvalidGrant('grant has been revoked');
    }
    const user = users.get(source.accountId);
    if (!user) throw new errors.InvalidGrant('user not found');

    const at = new provider.AccessToken({
      accountId: source.accountId,
      client,
      expiresWithSession: source.expiresWithSession,
      grantId: source.grantId,
      gty: 'mfa',
      sessionUid: source.sessionUid,
      sid: source.sid,
    });
    if (dPoP) at.setThumbprint('jkt', dPoP.thumbprint);
    at.resourceServer = new provider.ResourceServer(entry.audience, resourceServerInfo(entry.audience));
    at.scope = entry.apiScopes.join(' ');
    const accessToken = await at.save();

    const body = {
      access_token: accessToken,
      token_type: at.tokenType,
      expires_in: at.expiration,
      scope: at.scope,
    };
    if (entry.oidcScopes.includes('openid')) {
      const idToken = new provider.IdToken({ ...user, sub: source.accountId }, { ctx });
      idToken.scope = entry.oidcScopes.join(' ');
      idToken.set('sid', source.sid);
      idToken.set('auth_time', source.authTime);
      idToken.set('amr', ['mfa']);
      body.id_token = await idToken.issue({ use: 'idtoken' });
    }
    if (entry.oidcScopes.includes('offline_access')) {
      const rt = new provider.RefreshToken({
        accountId: source.accountId,
        acr: source.acr,
        amr: source.amr,
        authTime: source.authTime,
        claims: source.claims,
        client,
        expiresWithSession: source.expiresWithSession,
        grantId: source.grantId,
        gty: 'mfa',
        resource: source.resource,
        rotations: 0,
        scope: entry.oidcScopes.join(' '),
        sessionUid: source.sessionUid,
        sid: source.sid,
      });
      if (dPoP && client.clientAuthMethod === 'none') rt.setThumbprint('jkt', dPoP.thumbprint);
      body.refresh_token = await rt.save();
    }
    entry.used = true; // single use: the first success ends the mfa_token
    ctx.body = { ...body, ...extra };
  }

  async function otpGrant(ctx) {
    const [, entry] = tokenEntry(ctx);
    const { otp } = ctx.oidc.params;
    if (typeof otp !== 'string' || !otp) throw new errors.InvalidRequest("missing required parameter 'otp'");
    const record = factorsOf(entry.sub);
    const candidates = record.authenticators.filter((a) => a.authenticator_type === 'otp');
    const matched = candidates.find((a) => totpMatches(a.secret, otp));
    if (!matched) throw new errors.CustomOIDCProviderError('invalid_grant', 'Invalid otp_code.');
    if (!matched.active) activate(entry.sub, matched.enrollment);
    delete matched.enrollment;
    touch(matched);
    await issueTokens(ctx, entry, {});
  }

  async function oobGrant(ctx) {
    const [token, entry] = tokenEntry(ctx);
    const { oob_code: oobCode, binding_code: bindingCode } = ctx.oidc.params;
    if (typeof oobCode !== 'string' || !oobCode) throw new errors.InvalidRequest("missing required parameter 'oob_code'");
    const pending = oobCodes.get(oobCode);
    if (!pending || pending.mfaToken !== token) {
      throw new errors.CustomOIDCProviderError('invalid_grant', 'Invalid oob_code.');
    }
    if (!equalStrings(bindingCode, pending.bindingCode)) {
      throw new errors.CustomOIDCProviderError('invalid_grant', 'Invalid binding_code.');
    }
    oobCodes.delete(oobCode);
    if (!pending.authenticator.active) activate(entry.sub, pending.enrollment);
    touch(pending.authenticator);
    await issueTokens(ctx, entry, {});
  }

  async function recoveryCodeGrant(ctx) {
    const [, entry] = tokenEntry(ctx);
    const { recovery_code: code } = ctx.oidc.params;
    if (typeof code !== 'string' || !code) throw new errors.InvalidRequest("missing required parameter 'recovery_code'");
    const record = factorsOf(entry.sub);
    if (!record.recoveryCode || !equalStrings(code, record.recoveryCode)) {
      throw new errors.CustomOIDCProviderError('invalid_grant', 'Invalid recovery_code.');
    }
    record.recoveryCode = recoveryCode(); // rotated: the used one is gone
    const authenticator = record.authenticators.find((a) => a.authenticator_type === 'recovery-code');
    if (authenticator) touch(authenticator);
    await issueTokens(ctx, entry, { recovery_code: record.recoveryCode });
  }

  provider.registerGrantType(MFA_OTP, otpGrant, ['mfa_token', 'otp', 'audience', 'scope']);
  provider.registerGrantType(MFA_OOB, oobGrant, ['mfa_token', 'oob_code', 'binding_code', 'audience', 'scope']);
  provider.registerGrantType(MFA_RECOVERY_CODE, recoveryCodeGrant, ['mfa_token', 'recovery_code', 'audience', 'scope']);

  // -------------------------------------------------------------------------
  // /mfa/authenticators, /mfa/challenge, /mfa/associate, /test/mfa/oob
  // -------------------------------------------------------------------------
  function sendOob(entry, authenticator, enrollment) {
    const code = crypto.randomBytes(24).toString('base64url');
    oobCodes.set(code, {
      mfaToken: entry.token,
      bindingCode: String(crypto.randomInt(0, 1_000_000)).padStart(6, '0'),
      channel: authenticator.oob_channel,
      to: authenticator.to,
      sub: entry.sub,
      authenticator,
      enrollment,
      createdAt: Date.now(),
    });
    return code;
  }

  function publicAuthenticator(a) {
    const out = {
      id: a.id, authenticator_type: a.authenticator_type, type: a.type, active: a.active,
      created_at: a.created_at,
    };
    if (a.oob_channel) out.oob_channel = a.oob_channel;
    if (a.name) out.name = a.name;
    if (a.last_authenticated_at) out.last_authenticated_at = a.last_authenticated_at;
    return out;
  }

  async function listAuthenticators(ctx) {
    const entry = bearerEntry(ctx, bearerToken(ctx));
    if (!entry) return;
    answer(ctx, 200, factorsOf(entry.sub).authenticators.map(publicAuthenticator));
  }

  async function challenge(ctx) {
    const body = await readBody(ctx);
    if (!body) {
      oauthError(ctx, 400, 'invalid_request', 'The request body must be JSON or form-encoded');
      return;
    }
    const client = await authenticateClient(ctx, body);
    if (!client) return;
    const entry = bearerEntry(ctx, body.mfa_token, client.clientId);
    if (!entry) return;
    const type = body.challenge_type;
    if (type !== 'otp' && type !== 'oob') {
      oauthError(ctx, 400, 'invalid_request', 'challenge_type must be otp or oob');
      return;
    }
    const wanted = body.authenticator_id;
    if (wanted !== undefined && typeof wanted !== 'string') {
      oauthError(ctx, 400, 'invalid_request', 'authenticator_id must be a string');
      return;
    }
    const active = factorsOf(entry.sub).authenticators.filter((a) => a.active);
    const candidates = active.filter((a) => a.authenticator_type === type
      && (wanted === undefined || a.id === wanted));
    if (!candidates.length) {
      oauthError(ctx, 400, 'unsupported_challenge_type', 'User is not enrolled with an authenticator of this type');
      return;
    }
    if (type === 'otp') {
      answer(ctx, 200, { challenge_type: 'otp' });
      return;
    }
    const code = sendOob(entry, candidates[0]);
    answer(ctx, 200, { challenge_type: 'oob', oob_code: code, binding_method: 'prompt' });
  }

  async function associate(ctx) {
    const entry = bearerEntry(ctx, bearerToken(ctx));
    if (!entry) return;
    const body = await readBody(ctx);
    if (!body) {
      oauthError(ctx, 400, 'invalid_request', 'The request body must be JSON');
      return;
    }
    const record = factorsOf(entry.sub);
    if (record.authenticators.some((a) => a.active && a.authenticator_type !== 'recovery-code')) {
      oauthError(ctx, 403, 'access_denied', 'User is already enrolled.');
      return;
    }
    const types = body.authenticator_types;
    if (!Array.isArray(types) || types.length !== 1 || !['otp', 'oob'].includes(types[0])) {
      oauthError(ctx, 400, 'invalid_request', 'authenticator_types must be ["otp"] or ["oob"]');
      return;
    }
    const now = new Date().toISOString();
    const pendingRecovery = record.recoveryCode ? undefined : recoveryCode();
    const withCodes = (out) => (pendingRecovery ? { ...out, recovery_codes: [pendingRecovery] } : out);
    // A new enrollment replaces an unconfirmed one of the same kind.
    record.authenticators = record.authenticators.filter((a) => a.active);
    if (types[0] === 'otp') {
      const secret = base32Encode(crypto.randomBytes(20));
      const authenticator = {
        id: randomId('totp'), authenticator_type: 'otp', type: 'otp', active: false, secret, created_at: now,
      };
      authenticator.enrollment = { authenticator, recoveryCode: pendingRecovery };
      record.authenticators.push(authenticator);
      const label = encodeURIComponent(`${provider.issuer}:${entry.sub}`);
      const issuer = encodeURIComponent(provider.issuer);
      answer(ctx, 200, withCodes({
        authenticator_type: 'otp',
        secret,
        barcode_uri: `otpauth://totp/${label}?secret=${secret}&issuer=${issuer}&algorithm=SHA1&digits=6&period=30`,
      }));
      return;
    }
    const channels = body.oob_channels;
    if (!Array.isArray(channels) || channels.length !== 1 || !['sms', 'voice', 'email'].includes(channels[0])) {
      oauthError(ctx, 400, 'invalid_request', 'oob_channels must be ["sms"], ["voice"] or ["email"]');
      return;
    }
    const channel = channels[0];
    let to;
    if (channel === 'email') {
      if (typeof body.email !== 'string' || !EMAIL.test(body.email)) {
        oauthError(ctx, 400, 'invalid_request', 'email is required for the email channel');
        return;
      }
      to = body.email;
    } else {
      if (typeof body.phone_number !== 'string' || !E164.test(body.phone_number)) {
        oauthError(ctx, 400, 'invalid_request', 'phone_number (E.164) is required for sms and voice');
        return;
      }
      to = body.phone_number;
    }
    const authenticator = {
      id: randomId(channel),
      authenticator_type: 'oob',
      oob_channel: channel,
      type: channel === 'email' ? 'email' : 'phone',
      name: channel === 'email' ? to : maskPhone(to),
      to,
      active: false,
      created_at: now,
    };
    record.authenticators.push(authenticator);
    const enrollment = { authenticator, recoveryCode: pendingRecovery };
    const code = sendOob(entry, authenticator, enrollment);
    answer(ctx, 200, withCodes({
      authenticator_type: 'oob', oob_channel: channel, binding_method: 'prompt', oob_code: code,
    }));
  }

  function revealOob(ctx) {
    const wanted = ctx.query.oob_code;
    const found = typeof wanted === 'string'
      ? oobCodes.get(wanted) && [wanted, oobCodes.get(wanted)]
      : [...oobCodes].at(-1);
    if (!found) {
      ctx.status = 404;
      return;
    }
    const [code, pending] = found;
    answer(ctx, 200, {
      oob_code: code, binding_code: pending.bindingCode, channel: pending.channel, to: pending.to, sub: pending.sub,
    });
  }

  provider.use(async (ctx, next) => {
    if (ctx.path === '/mfa/authenticators' && ctx.method === 'GET') {
      await listAuthenticators(ctx);
    } else if (ctx.path === '/mfa/challenge' && ctx.method === 'POST') {
      await challenge(ctx);
    } else if (ctx.path === '/mfa/associate' && ctx.method === 'POST') {
      await associate(ctx);
    } else if (ctx.path === '/test/mfa/oob' && ctx.method === 'GET') {
      revealOob(ctx);
    } else {
      await next();
    }
  });
}
