/** The ports' HTTP server: requests without a body arrive ended where asked (issue 17), bodies are still read. */
import { connect } from "node:net";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeGracefully, createHttpServer, type Handler, listen, readBody } from "../../controller/server/http.ts";

/** Answers with whether the request had ended when the handler got it, and the body it then read. */
const handler: Handler = async (req, res) => {
  const endedOnArrival = req.readableEnded;
  const body = endedOnArrival ? "" : String(await readBody(req));
  res.writeHeadWith(200, "", ["content-type", "application/json"]);
  res.end(JSON.stringify({ endedOnArrival, body }));
};

const servers = {
  ended: createHttpServer(handler, pino({ level: "silent" }), true),
  streamed: createHttpServer(handler, pino({ level: "silent" })),
};
const ports = { ended: 0, streamed: 0 };
beforeAll(async () => {
  ports.ended = await listen(servers.ended, 0, "127.0.0.1");
  ports.streamed = await listen(servers.streamed, 0, "127.0.0.1");
});
afterAll(() => Promise.all([closeGracefully(servers.ended, 1000), closeGracefully(servers.streamed, 1000)]));

/** The JSON bodies of the answers to `requests`, sent at once on one kept-alive connection. */
function answers(port: keyof typeof ports, requests: string[]): Promise<{ endedOnArrival: boolean; body: string }[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(ports[port], "127.0.0.1", () => socket.write(requests.join("")));
    let text = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      text += chunk;
      const bodies = [...text.matchAll(/\r\n\r\n([0-9a-f]+\r\n)?(\{[^}]*\})/g)].map((m) => JSON.parse(m[2]!));
      if (bodies.length === requests.length) {
        socket.destroy();
        resolve(bodies);
      }
    });
    socket.on("error", reject);
    socket.setTimeout(5000, () => socket.destroy(new Error("not every answer came within 5 s")));
  });
}

const GET = "GET /check HTTP/1.1\r\nHost: portcullis\r\n\r\n";
const POST = "POST /check HTTP/1.1\r\nHost: portcullis\r\nContent-Length: 5\r\n\r\nhello";
const CHUNKED = "POST /check HTTP/1.1\r\nHost: portcullis\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";

describe("createHttpServer", () => {
  it("bodylessEnded: a request without Content-Length or Transfer-Encoding arrives ended; bodies are read as before, in order", async () => {
    expect(await answers("ended", [GET, POST, GET, CHUNKED, GET])).toEqual([
      { endedOnArrival: true, body: "" },
      { endedOnArrival: false, body: "hello" },
      { endedOnArrival: true, body: "" },
      { endedOnArrival: false, body: "abc" },
      { endedOnArrival: true, body: "" },
    ]);
  });

  it("by default every request is a stream the handler may read, the bodiless one too", async () => {
    expect(await answers("streamed", [GET, POST])).toEqual([
      { endedOnArrival: false, body: "" },
      { endedOnArrival: false, body: "hello" },
    ]);
  });
});
