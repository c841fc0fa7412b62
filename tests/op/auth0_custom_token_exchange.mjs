// Auth0's Custom Token Exchange (RFC 8693 profile) for the test OpenID provider
// (server.mjs), as Auth0 documents it ("Custom Token Exchange"):
//
//   POST /oauth/token
//     grant_type=urn:ietf:params:oauth:grant-type:token-exchange
//     subject_token_type=<the profile's own URI>   subject_token=<the other system's token>
//     audience=<API> (optional)   scope=<scopes> (optional)
//     + client authentication
//   200 {access_token, id_token (with openid), refresh_token (with offline_access),
//        expires_in, scope, token_type: "Bearer",
//        issued_token_type: "urn:ietf:params:oauth:token-type:access_token"}
//
// Configuration (server config key `custom_token_exchange`; without it the grant does not
// exist).  At Auth0 a profile's Action decides which user a subject token stands for; here
// each profile lists the tokens it accepts and the user each one maps to:
//   custom_token_exchange: {profiles: [{subject_token_type: "urn:acme:legacy-token",
//                                       tokens: {"<legacy token>": "<user sub>"}}]}
//
// Behaviour, following Auth0:
//   * the client must have the grant in its grant_types and be confidential, else 403
//     unauthorized_client;
//   * a subject_token_type no profile handles is 400 invalid_request; a subject token the
//     profile does not accept (or mapped to no known user) is 400 invalid_grant;
//   * an `audience` that is not a configured resource server is 403 access_denied
//     ("Service not found");
//   * success issues the provider's real tokens for the mapped user: an ID token when
//     `openid` is in scope (claims as for a login; no sid, no nonce), an access token (a
//     JWT for `audience`, else one for /userinfo), and a refresh token when
//     `offline_access` is in scope and the client may use refresh tokens; the refresh
//     token works with the ordinary refresh_token grant.
// Not modelled: actor tokens (delegation) and organizations (ignored).

import { allowGrantInHandler, requireGrantOf } from './auth0_token_vault.mjs';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const PARAMETERS = ['audience', 'scope', 'subject_token', 'subject_token_type'];
const OIDC_SCOPES = new Set(['openid', 'offline_access', 'profile', 'email', 'address', 'phone']);

function oauthError(errors, status, code, description) {
  const error = new errors.OIDCProviderError(status, code);
  error.error_description = description;
  return error;
}

export function installCustomTokenExchange(provider, config, { users, resourceServers, errors }) {
  if (!config) return;
  const profiles = new Map(
    (config.profiles ?? []).map((p) => [p.subject_token_type, new Map(Object.entries(p.tokens ?? {}))]),
  );

  async function exchange(ctx) {
    const { client, params } = ctx.oidc;
    requireGrantOf(client, TOKEN_EXCHANGE_GRANT, errors);
    for (const name of ['subject_token', 'subject_token_type']) {
      if (typeof params[name] !== 'string' || !params[name]) {
        throw oauthError(errors, 400, 'invalid_request', `Missing required parameter: ${name}`);
      }
    }
    const profile = profiles.get(params.subject_token_type);
    if (!profile) {
      throw oauthError(errors, 400, 'invalid_request',
        'No Custom Token Exchange profile for this subject_token_type.');
    }
    const sub = profile.get(params.subject_token);
    const user = sub === undefined ? undefined : users.get(sub);
    if (!user) {
      throw oauthError(errors, 400, 'invalid_grant', 'Invalid subject token.');
    }
    const audience = typeof params.audience === 'string' && params.audience ? params.audience : undefined;
    const rs = audience === undefined ? undefined : resourceServers.get(audience);
    if (audience !== undefined && !rs) {
      throw oauthError(errors, 403, 'access_denied', `Service not found: ${audience}`);
    }

    const requested = (params.scope ?? '').split(' ').filter(Boolean);
    const oidcScope = requested.filter((s) => OIDC_SCOPES.has(s)).join(' ');
    const apiScope = rs ? requested.filter((s) => (rs.scopes ?? []).includes(s)).join(' ') : '';

    const grant = new provider.Grant({ accountId: sub, clientId: client.clientId });
    if (oidcScope) grant.addOIDCScope(oidcScope);
    if (rs) grant.addResourceScope(audience, apiScope);
    const grantId = await grant.save();

    const at = new provider.AccessToken({
      accountId: sub, client, grantId, gty: 'token_exchange',
    });
    if (rs) {
      at.resourceServer = new provider.ResourceServer(audience, {
        scope: (rs.scopes ?? []).join(' '),
        audience,
        accessTokenFormat: 'jwt',
        accessTokenTTL: rs.access_token_ttl,
        jwt: { sign: { alg: 'RS256' } },
      });
      at.scope = apiScope || undefined;
    } else {
      at.scope = oidcScope || undefined;
    }
    const accessToken = await at.save();

    let refreshToken;
    if (requested.includes('offline_access') && client.grantTypeAllowed('refresh_token')) {
      const rt = new provider.RefreshToken({
        accountId: sub,
        client,
        grantId,
        gty: 'token_exchange',
        rotations: 0,
        scope: oidcScope,
        ...(rs ? { resource: audience } : {}),
      });
      refreshToken = await rt.save();
    }

    let idToken;
    if (requested.includes('openid')) {
      const token = new provider.IdToken({ ...user, sub }, { ctx });
      token.scope = oidcScope;
      idToken = await token.issue({ use: 'idtoken' });
    }

    ctx.body = {
      access_token: accessToken,
      ...(idToken ? { id_token: idToken } : {}),
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
      expires_in: at.expiration,
      ...(at.scope ? { scope: at.scope } : {}),
      token_type: at.tokenType,
      issued_token_type: ACCESS_TOKEN_TYPE,
    };
  }

  allowGrantInHandler(provider, TOKEN_EXCHANGE_GRANT);
  provider.registerGrantType(TOKEN_EXCHANGE_GRANT, exchange, PARAMETERS);
}
