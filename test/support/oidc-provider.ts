/**
 * A real OpenID provider for tests: the certified `oidc-provider` package on an ephemeral port, with
 * one confidential client (client_secret_basic, PKCE required, refresh tokens), its development
 * login form (any login name, any password; the name is the subject) and consent page, RP-initiated
 * logout and token revocation. `loginAt` walks those pages the way a browser would, for tests that
 * drive the flow without one.
 */
import { createServer, type Server } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { References } from "../../controller/compile/references.ts";
import Provider from "oidc-provider";

export interface TestProvider {
  /** "http://127.0.0.1:<port>", or "https://<tls.hostname>" when served over TLS. */
  readonly issuer: string;
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly provider: Provider;
  /** Whether the provider knows `token` as a valid access token of `subject`. */
  accessTokenOf(token: string): Promise<string | undefined>;
  /** Stops answering (discovery, token requests) until `resume`, as an outage would. */
  suspend(): void;
  resume(): void;
  close(): Promise<void>;
}

export interface TestProviderOptions {
  readonly redirectUris: readonly string[];
  readonly postLogoutRedirectUris?: readonly string[];
  /** Seconds an access token (and the ID token) lives. */
  readonly accessTokenTTL?: number;
  /** Serve HTTPS with this key and certificate, the issuer being https://`hostname` (reached at 127.0.0.1:`port` through a backend). */
  readonly tls?: { readonly hostname: string; readonly keyPem: string; readonly certPem: string };
}

export async function startTestProvider(options: TestProviderOptions): Promise<TestProvider> {
  const clientId = "portcullis-web";
  const clientSecret = "a-test-client-secret-of-at-least-32-characters";
  let suspended = false;
  let handler: ((req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => void) | undefined;
  const answer = (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => {
    if (suspended) {
      req.socket.destroy();
      return;
    }
    handler!(req, res);
  };
  const tls = options.tls;
  const server: Server = tls === undefined ? createServer(answer) : createTlsServer({ key: tls.keyPem, cert: tls.certPem }, answer);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = tls === undefined ? `http://127.0.0.1:${port}` : `https://${tls.hostname}`;
  const ttl = options.accessTokenTTL ?? 300;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [...options.redirectUris],
        post_logout_redirect_uris: [...(options.postLogoutRedirectUris ?? [])],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    findAccount: (_ctx, id) => ({ accountId: id, claims: () => ({ sub: id, email: `${id}@example.com` }) }),
    claims: { openid: ["sub"], email: ["email"] },
    pkce: { required: () => true },
    issueRefreshToken: () => true,
    ttl: { AccessToken: ttl, IdToken: ttl, RefreshToken: 3600, Interaction: 600, Session: 3600, Grant: 3600 },
    features: { devInteractions: { enabled: true }, revocation: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    cookies: { keys: ["test-provider-cookie-key"] },
  });
  handler = provider.callback();
  return {
    issuer,
    port,
    clientId,
    clientSecret,
    provider,
    async accessTokenOf(token) {
      const found = await provider.AccessToken.find(token);
      return found?.accountId;
    },
    suspend: () => {
      suspended = true;
    },
    resume: () => {
      suspended = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Follows `authorizationUrl` through the provider's login and consent pages as `login`, and
 * returns the URL the provider finally redirects to (the client's callback with code and state).
 * `browserFetch` is how the browser reaches the provider (default: the global fetch).
 */
export async function loginAt(authorizationUrl: string, login: string, browserFetch: typeof fetch = fetch): Promise<URL> {
  const jar = new Map<string, string>();
  const send = async (url: string, body?: URLSearchParams): Promise<Response> => {
    const res = await browserFetch(url, {
      method: body === undefined ? "GET" : "POST",
      body,
      redirect: "manual",
      headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join("; ") },
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair!.indexOf("=");
      jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    return res;
  };
  const origin = new URL(authorizationUrl).origin;
  let url = authorizationUrl;
  for (let hop = 0; hop < 12; hop++) {
    const res = await send(url);
    const location = res.headers.get("location");
    if (location !== null) {
      const next = new URL(location, url);
      if (next.origin !== origin) return next;
      url = next.href;
      continue;
    }
    const page = await res.text();
    const action = /action="([^"]+)"/.exec(page)?.[1];
    if (action === undefined) throw new Error(`the provider answered ${res.status} without a form: ${page.slice(0, 200)}`);
    const prompt = /name="prompt" value="([^"]+)"/.exec(page)?.[1] ?? "consent";
    const form = new URLSearchParams({ prompt, login, password: "any" });
    const submitted = await send(new URL(action, url).href, form);
    url = new URL(submitted.headers.get("location")!, url).href;
  }
  throw new Error("the provider did not redirect back to the client");
}

/** References holding only Secrets, each with key `client-secret` = `clientSecret`: what compileOidc reads. */
export function clientSecretRefs(clientSecret: string): References {
  return {
    secret: (namespace, ref) => ({
      ok: true,
      value: {
        metadata: { namespace: ref.namespace ?? namespace, name: ref.name },
        type: undefined,
        data: { "client-secret": clientSecret },
      },
    }),
    configMap: () => ({ ok: false, error: "none" }),
    service: () => ({ ok: false, error: "none" }),
    backend: () => ({ ok: false, error: "none" }),
    backendTLSPolicy: () => undefined,
    used: () => ({ secrets: [], configMaps: [], services: [], backends: [] }),
    jwks: () => ({ ok: false, error: "none" }) as never,
  };
}
