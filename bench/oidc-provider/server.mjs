// panva's oidc-provider as the baseline of the token-endpoint scenario of `make bench`
// (bench/src/main.rs starts it and reads the fairness rules there).
//
// One sandbox-like client authenticating with client_secret_basic, allowed the
// client_credentials grant only; its tokens are ES256-signed JWT access tokens (`typ: at+jwt`)
// for one resource server — the issuer itself, as on Wekeza — that live 5 minutes. The
// signing key is generated at start-up; storage is the built-in in-memory adapter (nothing is
// stored for JWT access tokens anyway). Run with NODE_ENV=production.
//
// Environment: PORT (listen on 127.0.0.1:PORT), WORKERS (processes sharing the port, one per
// core the server may use), CLIENT_ID, CLIENT_SECRET, SCOPE (space-separated). Prints `ready`
// on stdout once every worker listens; stops when its stdin closes.
import cluster from 'node:cluster';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import process from 'node:process';

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`oidc-provider bench server: ${name} must be set`);
    process.exit(2);
  }
  return value;
}

const port = Number(required('PORT'));
const issuer = `http://127.0.0.1:${port}`;

if (cluster.isPrimary) {
  const workers = Number(process.env.WORKERS || 1);
  // One key for every worker: they are one authorization server with one JWKS.
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = {
    ...privateKey.export({ format: 'jwk' }),
    kid: randomBytes(8).toString('base64url'),
    alg: 'ES256',
    use: 'sig',
  };
  const env = { SIGNING_JWK: JSON.stringify(jwk), COOKIE_KEY: randomBytes(32).toString('base64url') };
  let stopping = false;
  let listening = 0;
  for (let i = 0; i < workers; i += 1) {
    cluster.fork(env);
  }
  // Connections are kept alive, so load must wait for every worker or some would get none.
  cluster.on('listening', () => {
    listening += 1;
    if (listening === workers) console.log('ready');
  });
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) {
      console.error(`oidc-provider bench server: worker ${worker.process.pid} died (${signal || code})`);
      stopping = true;
      process.exit(1);
    }
  });
  const stop = () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers)) worker.kill();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // The bench holds our stdin: when it closes, the bench is gone (however it ended), and so are we.
  process.stdin.on('end', stop);
  process.stdin.resume();
} else {
  const { default: Provider, errors } = await import('oidc-provider');
  const scope = required('SCOPE');
  const provider = new Provider(issuer, {
    scopes: ['openid', ...scope.split(' ')],
    clients: [
      {
        client_id: required('CLIENT_ID'),
        client_secret: required('CLIENT_SECRET'),
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope,
      },
    ],
    jwks: { keys: [JSON.parse(required('SIGNING_JWK'))] },
    cookies: { keys: [required('COOKIE_KEY')] },
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        // Every token is for the one resource server, as on Wekeza: no `resource` parameter.
        defaultResource: () => issuer,
        getResourceServerInfo: (_ctx, resourceIndicator) => {
          if (resourceIndicator !== issuer) throw new errors.InvalidTarget();
          return {
            scope,
            audience: issuer,
            accessTokenTTL: 300,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
    ttl: { ClientCredentials: 300 },
  });
  const server = provider.listen(port, '127.0.0.1');
  // Node closes idle keep-alive connections after 5 s: keep them open across pauses, so that no
  // request races a closing connection.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 121_000;
}
