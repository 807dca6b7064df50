/**
 * An answer's header lines rendered once and handed to Node as they are. `writeHead(status, lines)`
 * checks every name and value with a regular expression and concatenates each line anew on every
 * call (about 0.15–0.2 µs a line, issue 17); an allow Portcullis remembers (check-memo.ts) is answered
 * again and again with the same lines. The lines are checked as writeHead checks them when they are
 * rendered (the same errors), and written exactly where writeHead would write them: after the status
 * line, before the Date, Connection, Keep-Alive and framing lines Node adds, so the bytes on the wire
 * are those writeHead writes (test/server/head-response.test.ts).
 */
import { type IncomingMessage, ServerResponse, validateHeaderName, validateHeaderValue } from "node:http";
import { utf8Bytes } from "../lib/bytes.ts";

/** An answer's header lines, rendered. */
export interface RenderedHead {
  /** "name: value\r\n" per line, in order. */
  readonly lines: string;
  /**
   * Name, value, … of the lines Node itself acts on (it frames the body, keeps the connection or
   * omits its own Date by them): passed to writeHead as lines, after `lines`. Usually none.
   */
  readonly nodeLines: readonly string[];
}

/**
 * The header names Node's writeHead reads besides writing them (lib/_http_outgoing.js `matchHeader`,
 * and `processHeader` for content-disposition). Their lines go through writeHead.
 */
const READ_BY_NODE: ReadonlySet<string> = new Set([
  "connection",
  "content-length",
  "transfer-encoding",
  "date",
  "expect",
  "trailer",
  "keep-alive",
  "content-disposition",
]);

const NO_LINES: readonly string[] = Object.freeze([]);

/**
 * `headers`, then one `set-cookie` line per cookie, as lines. Throws what writeHead throws for a name
 * that is not a token or a value with a character a header cannot hold (ERR_INVALID_HTTP_TOKEN,
 * ERR_INVALID_CHAR).
 */
export function renderHead(headers: Readonly<Record<string, string>>, cookies: readonly string[]): RenderedHead {
  let lines = "";
  let nodeLines: string[] | undefined;
  for (const name in headers) {
    // Values go out as UTF-8 bytes, as Envoy sends a claim and gRPC carries it: Node writes a header
    // string one byte per character (and refuses characters above U+00FF).
    const value = utf8Bytes(headers[name]!);
    validateHeaderName(name);
    validateHeaderValue(name, value);
    if (READ_BY_NODE.has(name.toLowerCase())) (nodeLines ??= []).push(name, value);
    else lines += `${name}: ${value}\r\n`;
  }
  for (let c = 0; c < cookies.length; c++) {
    const cookie = cookies[c]!;
    validateHeaderValue("set-cookie", cookie);
    lines += `set-cookie: ${cookie}\r\n`;
  }
  return { lines, nodeLines: nodeLines ?? NO_LINES };
}

type StoreHeader = (this: ServerResponse, firstLine: string, headers: unknown) => void;
/** Node's own: writeHead hands it the status line and the header lines it was given. */
const storeHeader = (ServerResponse.prototype as unknown as { _storeHeader?: StoreHeader })._storeHeader;

/**
 * The lines the head being stored takes after its status line: set by writeHeadWith for the length
 * of its writeHead call, which is synchronous (one head at a time). Not a field of the response: a
 * field is initialised in every response's constructor, about 50 ns per check (issue 17).
 */
let waitingLines = "";

/**
 * The ServerResponse of the decision ports (server/http.ts createHttpServer's `ServerResponse`):
 * writeHeadWith writes rendered lines. Node stores a head in `_storeHeader(statusLine, headers)`;
 * lines waiting there follow the status line. Should a Node version store heads some other way, the
 * lines are found unwritten and the answer is refused (an error: the connection is cut, never an
 * answer without them, whose missing x-envoy-auth-headers-to-remove would let a client's own copy of
 * a header through).
 */
export class HeadResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  // Written out: V8's default constructor of a derived class passes its arguments on spread, which
  // measured 60–120 ns more per response than this one (a response is made for every check).
  constructor(req: Request) {
    super(req);
  }

  /** `writeHead(status, headers)` with `lines` (RenderedHead.lines) first. */
  writeHeadWith(status: number, lines: string, headers: readonly string[]): void {
    waitingLines = lines;
    let unwritten: string;
    try {
      this.writeHead(status, headers as string[]);
    } finally {
      unwritten = waitingLines;
      waitingLines = "";
    }
    if (unwritten !== "") throw new Error("Node's ServerResponse did not store the answer's header lines: the answer is not sent");
  }

  /** Node's, with the waiting lines after the status line. */
  _storeHeader(firstLine: string, headers: unknown): void {
    const lines = waitingLines;
    waitingLines = "";
    storeHeader!.call(this, lines === "" ? firstLine : firstLine + lines, headers);
  }
}
