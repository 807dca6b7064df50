/**
 * The part of oidc-provider's API the tests use (the package ships no TypeScript declarations and
 * @types/oidc-provider is not installed).
 */
declare module "oidc-provider" {
  import type { IncomingMessage, ServerResponse } from "node:http";

  interface Account {
    accountId: string;
    claims(): Record<string, unknown>;
  }

  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown> & { findAccount?: (ctx: unknown, id: string) => Account });
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    readonly AccessToken: { find(token: string): Promise<{ accountId: string } | undefined> };
  }
}
