// A third-party app, built on panva's `openid-client`, driving the Wekeza authorization server:
// discovery, a client-credentials grant, then the FAPI 2.0 authorization-code flow (PAR + PKCE
// S256 + DPoP with a fresh ES256 key) in which this script also plays the customer's browser
// through the server-rendered pages (sign-in, one-time code, consent screen choosing ONE
// account), the code exchange, and `GET /v1/accounts` with the DPoP-bound token.
//
// Run by crates/server/tests/it/oidc_client.rs. Input from the environment:
//   WEKEZA_ISSUER         the issuer URL (http://127.0.0.1:<port> in tests)
//   WEKEZA_CLIENT_ID      a sandbox app's client id …
//   WEKEZA_CLIENT_SECRET  … and secret (client_secret_basic)
//   WEKEZA_REDIRECT_URI   a redirect URI registered for the app
//   WEKEZA_CONSENT_ID     an account-access consent awaiting authorisation
//   WEKEZA_USERNAME       the customer's username …
//   WEKEZA_PASSWORD       … password …
//   WEKEZA_OTP            … and current one-time code
//   WEKEZA_ACCOUNT_ID     (optional) the account to choose; the first offered otherwise
// Output: one JSON object on stdout: { clientCredentials, chosenAccount, tokenType, scope,
// consentId, idTokenSubject, accounts } where `accounts` is the body of GET /v1/accounts.
// Any failure: a message on stderr and exit status 1.

import * as client from 'openid-client';

function env(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') {
    throw new Error(`environment variable ${name} is required`);
  }
  return value;
}

function check(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

/** A browser of sorts: Node's fetch, no redirects followed, cookies kept per origin. */
class Browser {
  constructor() {
    this.cookies = new Map();
  }

  async request(url, init = {}) {
    const target = new URL(url);
    const headers = new Headers(init.headers);
    const jar = this.cookies.get(target.origin);
    if (jar && jar.size > 0) {
      headers.set('cookie', [...jar].map(([name, value]) => `${name}=${value}`).join('; '));
    }
    const response = await fetch(target, { ...init, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      const cookies = this.cookies.get(target.origin) ?? new Map();
      if (/;\s*max-age=0/i.test(line) || value === '') {
        cookies.delete(name);
      } else {
        cookies.set(name, value);
      }
      this.cookies.set(target.origin, cookies);
    }
    const html = await response.text();
    return { status: response.status, location: response.headers.get('location'), html, url: target };
  }

  /** Submits the form of `page` that posts to `action`, its hidden inputs and `fields` added. */
  async submit(page, action, fields) {
    const form = findForm(page.html, action);
    check(form, `no form posting to ${action} on the page:\n${page.html}`);
    const body = new URLSearchParams();
    for (const [name, value] of hiddenInputs(form)) {
      body.append(name, value);
    }
    for (const [name, value] of fields) {
      body.append(name, value);
    }
    return this.request(new URL(action, page.url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
  }
}

const decode = (text) =>
  text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&#x27;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

function attribute(tag, name) {
  const match = tag.match(new RegExp(`\\s${name}="([^"]*)"`, 'i'));
  return match ? decode(match[1]) : undefined;
}

function findForm(html, action) {
  for (const match of html.matchAll(/<form\b[^>]*>[\s\S]*?<\/form>/gi)) {
    const open = match[0].match(/<form\b[^>]*>/i)[0];
    if (attribute(open, 'action') === action) {
      return match[0];
    }
  }
  return undefined;
}

function inputs(form) {
  return [...form.matchAll(/<input\b[^>]*>/gi)].map((match) => ({
    type: (attribute(match[0], 'type') ?? 'text').toLowerCase(),
    name: attribute(match[0], 'name'),
    value: attribute(match[0], 'value') ?? '',
  }));
}

function hiddenInputs(form) {
  return inputs(form)
    .filter((input) => input.type === 'hidden' && input.name)
    .map((input) => [input.name, input.value]);
}

async function main() {
  const issuer = new URL(env('WEKEZA_ISSUER'));
  const clientId = env('WEKEZA_CLIENT_ID');
  const clientSecret = env('WEKEZA_CLIENT_SECRET');
  const redirectUri = env('WEKEZA_REDIRECT_URI');
  const consentId = env('WEKEZA_CONSENT_ID');
  const insecure = issuer.protocol === 'http:';

  // Discovery (the test server listens on plain HTTP on the loopback interface).
  const config = await client.discovery(
    issuer,
    clientId,
    undefined,
    client.ClientSecretBasic(clientSecret),
    insecure ? { execute: [client.allowInsecureRequests] } : undefined,
  );
  const metadata = config.serverMetadata();
  check(metadata.pushed_authorization_request_endpoint, 'no PAR endpoint in the metadata');
  check(metadata.supportsPKCE('S256'), 'S256 PKCE not announced');
  check(metadata.dpop_signing_alg_values_supported?.includes('ES256'), 'ES256 DPoP not announced');

  // Client credentials.
  const app = await client.clientCredentialsGrant(config, { scope: 'accounts.read' });
  check(typeof app.access_token === 'string' && app.access_token.length > 0, 'no client token');
  check(app.token_type.toLowerCase() === 'bearer', `token_type ${app.token_type}`);

  // PAR + PKCE + DPoP.
  const dpop = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authorizationUrl = await client.buildAuthorizationUrlWithPAR(
    config,
    {
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: 'accounts.read openid',
      consent_id: consentId,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    },
    { DPoP: dpop },
  );
  check(authorizationUrl.searchParams.has('request_uri'), `${authorizationUrl}`);

  // The customer: sign-in page, password, one-time code, consent screen.
  const browser = new Browser();
  let page = await browser.request(authorizationUrl);
  check(page.status === 200, `authorization page ${page.status}: ${page.html}`);
  page = await browser.submit(page, '/oauth2/authorize/sign-in', [
    ['username', env('WEKEZA_USERNAME')],
    ['password', env('WEKEZA_PASSWORD')],
  ]);
  check(page.status === 200, `sign-in ${page.status}: ${page.html}`);
  page = await browser.submit(page, '/oauth2/authorize/second-factor', [
    ['otp', env('WEKEZA_OTP')],
  ]);
  check(page.status === 200, `second factor ${page.status}: ${page.html}`);
  const decision = findForm(page.html, '/oauth2/authorize/decision');
  check(decision, `no consent screen:\n${page.html}`);
  const offered = inputs(decision)
    .filter((input) => input.name === 'account_id')
    .map((input) => input.value);
  check(offered.length > 0, `no accounts offered:\n${page.html}`);
  const chosen = process.env.WEKEZA_ACCOUNT_ID || offered[0];
  check(offered.includes(chosen), `${chosen} not offered among ${offered}`);
  page = await browser.submit(page, '/oauth2/authorize/decision', [
    ['account_id', chosen],
    ['decision', 'approve'],
  ]);
  check(page.status === 303 && page.location, `decision ${page.status}: ${page.html}`);
  const callback = new URL(page.location);
  check(
    callback.href.startsWith(redirectUri),
    `redirected to ${callback} instead of ${redirectUri}`,
  );

  // The code exchanged (iss, state, PKCE, nonce and the ID token checked by openid-client).
  const tokens = await client.authorizationCodeGrant(
    config,
    callback,
    { pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true },
    undefined,
    { DPoP: dpop },
  );
  check(tokens.token_type.toLowerCase() === 'dpop', `token_type ${tokens.token_type}`);

  // The customer's data under the consent, with the DPoP-bound token.
  const response = await client.fetchProtectedResource(
    config,
    tokens.access_token,
    new URL('/v1/accounts', issuer),
    'GET',
    undefined,
    undefined,
    { DPoP: dpop },
  );
  const text = await response.text();
  check(response.status === 200, `GET /v1/accounts ${response.status}: ${text}`);

  process.stdout.write(
    `${JSON.stringify({
      clientCredentials: { tokenType: app.token_type, scope: app.scope },
      chosenAccount: chosen,
      tokenType: tokens.token_type,
      scope: tokens.scope,
      consentId: tokens.consent_id,
      idTokenSubject: tokens.claims()?.sub,
      accounts: JSON.parse(text),
    })}\n`,
  );
}

main().catch((error) => {
  console.error(error?.stack ?? String(error));
  if (error?.cause) {
    console.error('cause:', error.cause);
  }
  process.exit(1);
});
