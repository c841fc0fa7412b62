// Auth0's Token Vault for the test OpenID provider (server.mjs): the access token
// exchange with the federated-connection grant, as Auth0 documents it ("Token Vault",
// "Access token exchange with Token Vault", Authentication API "Get Token").
//
//   POST /oauth/token
//     grant_type=urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token
//     subject_token_type=urn:ietf:params:oauth:token-type:refresh_token  (or ...:access_token)
//     subject_token=<an Auth0 refresh token (or access token) of the calling client>
//     requested_token_type=http://auth0.com/oauth/token-type/federated-connection-access-token
//     connection=<connection name>            login_hint=<account> (optional)
//     + client authentication
//   200 {access_token, expires_in, scope, token_type: "Bearer",
//        issued_token_type: "http://auth0.com/oauth/token-type/federated-connection-access-token"}
//
// Configuration (server config key `token_vault`; without it the grant does not exist):
//   token_vault: {connections: {"google-oauth2": {scope: "...", ttl: 3600}, ...}}
// and per user, the accounts they connected (not released as a claim):
//   {sub: ..., connected_accounts: {"google-oauth2": {login_hint: "alice@gmail.com"}}}
//   (an array of such objects for several accounts on one connection; an account may
//   carry its own `scope`, else the connection's applies).
//
// Behaviour, following Auth0:
//   * the client must have the grant in its grant_types and be confidential, else
//     403 unauthorized_client;
//   * a refresh token subject must be a live (not expired, not rotated-out) refresh token
//     issued to the calling client, whose grant still exists; an access token subject must
//     be a live access token of a user.  Else 400 invalid_grant;
//   * an unknown connection, or no connected account on it (matching login_hint when
//     given), is 401 federated_connection_refresh_token_not_found;
//   * the provider's access token is kept per account and handed out again while it is
//     live (expires_in counts down); a new one is minted once it has expired.
// Known differences: Auth0 has the access-token subject used by a separate "Custom API
// client"; here the token must simply belong to a user.  The federated tokens are random
// strings; no external provider is called.
//
// Test-only route (no secrets): GET /test/token-vault/exchanges ->
//   {count, exchanges: [{client_id, sub, connection, login_hint, subject_token_type,
//                        outcome: "issued" | <error code>}]}, oldest first.

import * as crypto from 'node:crypto';

export const FEDERATED_CONNECTION_GRANT = (
  'urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token'
);
const REFRESH_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:refresh_token';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const FEDERATED_TOKEN_TYPE = 'http://auth0.com/oauth/token-type/federated-connection-access-token';
const PARAMETERS = [
  'connection', 'login_hint', 'requested_token_type', 'subject_token', 'subject_token_type',
];

function oauthError(errors, status, code, description) {
  const error = new errors.OIDCProviderError(status, code);
  error.error_description = description;
  return error;
}

function accountsOf(user, connection) {
  const linked = user?.connected_accounts?.[connection];
  if (!linked) return [];
  return (Array.isArray(linked) ? linked : [linked]).filter((a) => a && typeof a === 'object');
}

// The grant is answered by the handler itself (403 unauthorized_client, as Auth0 does),
// not by oidc-provider's generic per-client check that runs first (400 invalid_request).
export function allowGrantInHandler(provider, grantType) {
  const proto = provider.Client.prototype;
  const original = proto.grantTypeAllowed;
  proto.grantTypeAllowed = function allowed(type) {
    return type === grantType || original.call(this, type);
  };
}

export function requireGrantOf(client, grantType, errors) {
  if (!client.grantTypes.includes(grantType) || client.clientAuthMethod === 'none') {
    throw oauthError(errors, 403, 'unauthorized_client',
      `Grant type '${grantType}' not allowed for the client.`);
  }
}

export function installTokenVault(provider, config, { users, errors }) {
  if (!config) return;
  const connections = new Map(Object.entries(config.connections ?? {}));
  const exchanges = [];
  // `${sub}\n${connection}\n${account index}` -> {value, expiresAt (epoch s), scope}
  const federated = new Map();

  async function subjectAccount(ctx, type, value) {
    const { client } = ctx.oidc;
    if (type === REFRESH_TOKEN_TYPE) {
      const token = await provider.RefreshToken.find(value, { ignoreExpiration: true });
      const grant = token && await provider.Grant.find(token.grantId);
      if (
        !token || token.clientId !== client.clientId || token.isExpired || token.consumed
        || !grant || grant.isExpired
      ) {
        throw oauthError(errors, 400, 'invalid_grant', 'Unknown or invalid refresh token.');
      }
      return token.accountId;
    }
    const token = await provider.AccessToken.find(value);
    if (!token || token.isExpired || !token.accountId) {
      throw oauthError(errors, 400, 'invalid_grant', 'Invalid access token.');
    }
    return token.accountId;
  }

  function providerToken(sub, connection, index, account) {
    const key = `${sub}\n${connection}\n${index}`;
    const now = Math.floor(Date.now() / 1000);
    let token = federated.get(key);
    if (!token || token.expiresAt <= now) {
      const ttl = connections.get(connection).ttl ?? 3600;
      token = {
        value: `fc-${crypto.randomBytes(24).toString('base64url')}`,
        expiresAt: now + ttl,
      };
      federated.set(key, token);
    }
    const scope = account.scope ?? connections.get(connection).scope;
    return { ...token, expiresIn: token.expiresAt - now, scope };
  }

  async function exchange(ctx, record) {
    const { client, params } = ctx.oidc;
    requireGrantOf(client, FEDERATED_CONNECTION_GRANT, errors);
    for (const name of ['connection', 'subject_token', 'subject_token_type', 'requested_token_type']) {
      if (typeof params[name] !== 'string' || !params[name]) {
        throw oauthError(errors, 400, 'invalid_request', `Missing required parameter: ${name}`);
      }
    }
    const type = params.subject_token_type;
    if (type !== REFRESH_TOKEN_TYPE && type !== ACCESS_TOKEN_TYPE) {
      throw oauthError(errors, 400, 'invalid_request', 'Unsupported subject_token_type.');
    }
    if (params.requested_token_type !== FEDERATED_TOKEN_TYPE) {
      throw oauthError(errors, 400, 'invalid_request', 'Unsupported requested_token_type.');
    }
    const sub = await subjectAccount(ctx, type, params.subject_token);
    record.sub = sub;
    const accounts = accountsOf(users.get(sub), params.connection);
    const hint = params.login_hint;
    const index = connections.has(params.connection)
      ? accounts.findIndex((a) => hint === undefined || a.login_hint === hint || a.email === hint)
      : -1;
    if (index < 0) {
      throw oauthError(errors, 401, 'federated_connection_refresh_token_not_found',
        'Federated connection Refresh Token not found.');
    }
    const token = providerToken(sub, params.connection, index, accounts[index]);
    ctx.body = {
      access_token: token.value,
      expires_in: token.expiresIn,
      ...(token.scope ? { scope: token.scope } : {}),
      token_type: 'Bearer',
      issued_token_type: FEDERATED_TOKEN_TYPE,
    };
  }

  allowGrantInHandler(provider, FEDERATED_CONNECTION_GRANT);
  provider.registerGrantType(FEDERATED_CONNECTION_GRANT, async (ctx) => {
    const { client, params } = ctx.oidc;
    const record = {
      client_id: client.clientId,
      sub: null,
      connection: params.connection ?? null,
      login_hint: params.login_hint ?? null,
      subject_token_type: params.subject_token_type ?? null,
      outcome: 'issued',
    };
    try {
      await exchange(ctx, record);
    } catch (err) {
      record.outcome = err?.error ?? 'server_error';
      throw err;
    } finally {
      exchanges.push(record);
    }
  }, PARAMETERS);

  provider.use(async (ctx, next) => {
    if (ctx.path === '/test/token-vault/exchanges' && ctx.method === 'GET') {
      ctx.type = 'json';
      ctx.body = { count: exchanges.length, exchanges };
      return;
    }
    await next();
  });
}
