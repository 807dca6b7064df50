/**
 * The command line's flags: each one's value placeholder, short form, help line and what a valid
 * value is, as help, shell completion and the plain-language errors of config.ts show them; and
 * the environment variable that also sets it (PORTCULLIS_<FLAG>). Which command takes which flag,
 * its type and its default are config.ts's schemas.
 */

export interface FlagSpec {
  /** Placeholder of the value in help; absent for a switch. */
  readonly value?: string;
  readonly short?: string;
  /** Repeatable; from the environment, a comma-separated list. */
  readonly multiple?: true;
  readonly help: string;
  /** What a valid value is, completing "--flag must be …"; enums list their choices instead. */
  readonly expects?: string;
}

/** Every flag of every command; which command takes which follows from config.ts's schemas. */
export const FLAGS: Readonly<Record<string, FlagSpec>> = {
  manifests: {
    value: "DIR",
    help: "folder of YAML or JSON manifests: each file in it of any name but a hidden one, no subfolder, as Envoy Gateway reads it (serve watches it)",
    expects: "a folder",
  },
  kubeconfig: { value: "FILE", help: "kubeconfig of the cluster to watch (Kubernetes mode)", expects: "a file" },
  "watch-namespaces": {
    value: "NS",
    multiple: true,
    help: "Kubernetes mode: read objects, Secrets included, only in these namespaces (repeatable, or comma-separated; default: every namespace)",
    expects: "a namespace name such as apps",
  },
  "bind-address": {
    value: "ADDRESS",
    help: "address every port listens on (127.0.0.1: this machine only)",
    expects: "an address such as 127.0.0.1",
  },
  "authz-port": { value: "PORT", help: "Envoy ext_authz HTTP port", expects: "a port number from 0 to 65535" },
  "forward-auth-port": {
    value: "PORT",
    help: "forward-auth port (nginx auth_request, Caddy forward_auth, Traefik ForwardAuth)",
    expects: "a port number from 0 to 65535",
  },
  "admin-port": { value: "PORT", help: "admin port: /healthz, /readyz, /metrics, /snapshot", expects: "a port number from 0 to 65535" },
  "grpc-port": { value: "PORT", help: "Envoy ext_authz gRPC port", expects: "a port number from 0 to 65535" },
  "controller-name": { value: "NAME", help: "controllerName of the statuses Portcullis writes", expects: "a name" },
  "gateway-class": {
    value: "NAME",
    multiple: true,
    help: "serve only Gateways of this GatewayClass (repeatable; default: every class)",
    expects: "a GatewayClass name",
  },
  "self-service": {
    value: "NS/NAME",
    help: "this Portcullis' own Service: a policy's extAuth naming it (on its ext_authz port) is how the proxy reaches Portcullis, so Portcullis does not call it and decides the policy's other features",
    expects: "written NAMESPACE/NAME",
  },
  "geoip-database": {
    value: "FILE",
    multiple: true,
    help: "a MaxMind GeoIP database (.mmdb: City, Country, ASN, ISP or Anonymous IP) for clientIPGeoLocations rules (repeatable)",
    expects: "a file",
  },
  "on-no-route": { value: "deny|allow", help: "decision for a request that matches no route" },
  "on-no-policy": { value: "allow|deny", help: "decision for a request whose route no SecurityPolicy governs (allow: as Envoy Gateway)" },
  "xff-trusted-hops": {
    value: "N",
    help: "proxies in front of the gateway whose X-Forwarded-For entries are trusted",
    expects: "a whole number from 0 to 10",
  },
  "xff-trusted-cidrs": {
    value: "CIDR",
    multiple: true,
    help: "addresses of the proxies whose X-Forwarded-For entries are trusted (repeatable, or comma-separated; excludes --xff-trusted-hops)",
    expects: "a CIDR such as 10.0.0.0/8",
  },
  "xff-peer-not-appended": {
    help: "Envoy appends no X-Forwarded-For entry (Envoy Gateway's disableXForwardedForAppend): every entry is one it received; needs --xff-trusted-hops or --xff-trusted-cidrs",
    expects: "true or false",
  },
  "client-ip-header": {
    value: "NAME",
    help: "the header that names the client (Envoy Gateway's clientIPDetection.customHeader), read instead of X-Forwarded-For; excludes --xff-trusted-hops and --xff-trusted-cidrs",
    expects: "a header name such as x-real-ip",
  },
  "envoy-gateway-controller-name": {
    value: "NAME",
    multiple: true,
    help: "Kubernetes mode: a GatewayClass controllerName Envoy Gateway runs under besides gateway.envoyproxy.io/… (its gateway.controllerName); its Gateways without a ClientTrafficPolicy find the client address as Envoy's default, the peer (repeatable, or comma-separated)",
    expects: "a controllerName such as example.com/gateway-controller",
  },
  "jwks-fetch-timeout-ms": {
    value: "MS",
    help: "time limit of one remote JWKS fetch, in milliseconds",
    expects: "a whole number from 100 to 60000",
  },
  "log-level": { value: "LEVEL", help: "least severe log level written" },
  "audit-allowed-sample-rate": {
    value: "RATE",
    help: "fraction of allowed requests that also get an audit line, as denials do (0: none, 1: every one)",
    expects: "a number from 0 to 1",
  },
  "jwt-cache-mib": {
    value: "MIB",
    help: "memory the verified-JWT cache may hold, in MiB (estimated heap; a token is admitted on its second sight; the oldest go first; 0: no cache)",
    expects: "a whole number from 0 to 4096",
  },
  "shutdown-grace-seconds": {
    value: "SECONDS",
    help: "time in-flight checks get to finish once the ports close",
    expects: "a number of seconds from 0 to 300",
  },
  "shutdown-delay-seconds": {
    value: "SECONDS",
    help: "time between SIGTERM or SIGINT and closing the ports, while /readyz fails (Kubernetes endpoint propagation; 0 outside a cluster)",
    expects: "a number of seconds from 0 to 120",
  },
  "lease-namespace": { value: "NS", help: "namespace of the status writers' Lease (in a pod: $POD_NAMESPACE)", expects: "a namespace" },
  "lease-name": { value: "NAME", help: "name of the status writers' Lease", expects: "a name" },
  "lease-duration-seconds": {
    value: "SECONDS",
    help: "how long a leader holds the Lease without renewing it",
    expects: "a whole number of seconds from 2 to 300",
  },
  identity: { value: "ID", help: "this replica's name on the Lease and on Events (in a pod: $POD_NAME; else host-pid)", expects: "a name" },
  header: {
    value: "'Name: value'",
    short: "H",
    multiple: true,
    help: "a header line of the request (repeatable; read as serve's Envoy ext_authz HTTP port reads what Envoy sends: a name's lines joined with ',', a value holding ',' read as the lines between its commas too)",
    expects: "written 'Name: value'",
  },
  explain: {
    help: "also print how the decision was reached: the routes tried, the policy and where it came from, each phase in Envoy Gateway's filter order (never a credential)",
    expects: "true or false",
  },
  gateway: {
    value: "NS/NAME",
    help: "decide as the proxy of this Gateway would (as x-portcullis-gateway does)",
    expects: "written NAMESPACE/NAME",
  },
};
/** Switches every command takes. */
export const GLOBAL_FLAGS: Readonly<Record<string, FlagSpec>> = {
  help: { short: "h", help: "print help and exit" },
  version: { help: "print the version and exit" },
};
/** check's positional arguments. */
export const POSITIONALS: Readonly<Record<string, { readonly label: string; readonly expects: string }>> = {
  method: { label: "METHOD", expects: "an HTTP method such as GET" },
  url: { label: "URL", expects: "an absolute http(s) URL such as http://api.example.com/v1/models" },
};

/** A flag's name in the Config: `authz-port` → `authzPort`. */
export const camel = (flag: string) => flag.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
/** The environment variable that also sets a flag: `authz-port` → `PORTCULLIS_AUTHZ_PORT`. */
export const envName = (flag: string) => `PORTCULLIS_${flag.toUpperCase().replace(/-/g, "_")}`;

/** The flags as node:util parseArgs reads them. */
export const PARSE_OPTIONS = Object.fromEntries(
  Object.entries({ ...FLAGS, ...GLOBAL_FLAGS }).map(([name, spec]) => [
    name,
    {
      type: spec.value === undefined ? "boolean" : "string",
      ...(spec.short === undefined ? {} : { short: spec.short }),
      ...(spec.multiple ? { multiple: true } : {}),
    },
  ]),
) as Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>;
