/**
 * A small raw-JSON Kubernetes client on top of @kubernetes/client-node's authentication. Raw JSON
 * (not the generated typed models) keeps lists and watch events in the same shape and never drops
 * fields of custom resources.
 */
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { HttpMethod, KubeConfig, RequestContext } from "@kubernetes/client-node";
import { fetch, type Response } from "undici";
import { unreadable } from "../sources/unreadable.ts";

/** A Kubernetes API error with its HTTP status (409 Conflict, 404 NotFound, 410 Gone, ...). */
export class KubeApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly resourceVersion?: string;
    readonly uid?: string;
    readonly generation?: number;
  } & Record<string, unknown>;
  readonly [key: string]: unknown;
}

export interface KubeList {
  readonly metadata: { readonly resourceVersion?: string };
  readonly items: readonly KubeObject[];
}

export type WatchEvent = {
  readonly type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  readonly object: KubeObject & { code?: number };
};

/**
 * How long the API server keeps a watch open (seconds). Below undici's body timeout (300 s without
 * a byte): a watch on a kind that does not change sends nothing until the server closes it, and at
 * 300 s the client's timer and the server's close raced, so a normal end was logged as a failure.
 */
export const WATCH_TIMEOUT_SECONDS = 240;

export class KubeClient {
  readonly #config: KubeConfig;

  constructor(config: KubeConfig) {
    this.#config = config;
  }

  /** From a kubeconfig file, or the in-cluster service account when `file` is undefined. Throws UnreadableInputError for a file that cannot be read or parsed, or that names no current cluster. */
  static load(file: string | undefined): KubeClient {
    const config = new KubeConfig();
    if (file === undefined) {
      config.loadFromCluster();
    } else {
      try {
        config.loadFromFile(file);
      } catch (e) {
        throw unreadable("the kubeconfig", file, e);
      }
      // Every request would fail alike: say so at start-up (exit 2), not in a warning per kind forever.
      if (config.getCurrentCluster() === null) {
        const why = `it names no current cluster: choose a context with kubectl --kubeconfig ${file} config use-context NAME`;
        throw unreadable("the kubeconfig", file, new Error(why));
      }
    }
    return new KubeClient(config);
  }

  async request<T>(method: "GET" | "POST" | "PUT" | "DELETE", path: string, body?: unknown, timeoutMs = 15_000): Promise<T> {
    const response = await this.#send(method, path, body, AbortSignal.timeout(timeoutMs));
    return (await response.json()) as T;
  }

  /**
   * Streams watch events of `path` from `resourceVersion`. Resolves when the stream ends (the API
   * server closes watches after timeoutSeconds); rejects on an HTTP or network error. An
   * "ERROR" event (e.g. 410 Gone) is delivered to `onEvent` like any other.
   */
  async watch(path: string, resourceVersion: string, onEvent: (e: WatchEvent) => void, signal: AbortSignal): Promise<void> {
    const query = new URLSearchParams({
      watch: "true",
      allowWatchBookmarks: "true",
      timeoutSeconds: String(WATCH_TIMEOUT_SECONDS),
      resourceVersion,
    });
    const response = await this.#send("GET", `${path}?${query}`, undefined, signal);
    const lines = createInterface(Readable.fromWeb(response.body! as import("node:stream/web").ReadableStream));
    for await (const line of lines) {
      if (line.trim() === "") continue;
      onEvent(JSON.parse(line) as WatchEvent);
    }
  }

  async #send(method: string, path: string, body: unknown, signal: AbortSignal): Promise<Response> {
    const cluster = this.#config.getCurrentCluster();
    if (cluster === null) throw new Error("the kubeconfig has no current cluster");
    const ctx = new RequestContext(`${cluster.server}${path}`, HttpMethod[method as keyof typeof HttpMethod]);
    await this.#config.applySecurityAuthentication(ctx);
    const headers: Record<string, string> = { ...ctx.getHeaders(), accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(ctx.getUrl(), {
        method,
        headers,
        dispatcher: ctx.getDispatcher(),
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (e) {
      if (signal.aborted) throw e;
      // undici says only "fetch failed": the reason (refused, no such host, a certificate) is its cause.
      throw new Error(`${method} ${path.split("?")[0]}: cannot reach the API server ${originOf(cluster.server)}: ${networkCause(e)}`);
    }
    if (!response.ok) {
      const text = await response.text();
      let message = text.slice(0, 300);
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        // not a Status object: keep the text
      }
      throw new KubeApiError(response.status, `${method} ${path.split("?")[0]}: ${response.status} ${message}`);
    }
    return response;
  }
}

/**
 * What a failed fetch met ("connect ECONNREFUSED 127.0.0.1:6443", "getaddrinfo ENOTFOUND api", a
 * certificate error), from undici's "fetch failed" and its cause; a URL's user and password cut out
 * (fetch refuses a URL holding them, quoting it).
 */
function networkCause(e: unknown): string {
  const cause = (e as { cause?: unknown }).cause;
  const message =
    cause instanceof AggregateError
      ? cause.errors.map((c: unknown) => (c as Error).message).join("; ")
      : cause instanceof Error
        ? cause.message
        : (e as Error).message;
  return message.replace(/\/\/[^/@\s]*@/g, "//");
}

/** The server's scheme, host and port: never a user or password its URL may hold. */
function originOf(server: string): string {
  return URL.canParse(server) ? new URL(server).origin : "(not a URL)";
}
