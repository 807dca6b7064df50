import { describe, expect, it } from "vitest";
import { unreadable, UnreadableInputError } from "../../controller/sources/unreadable.ts";

const fsError = (code: string | undefined, path?: string, message = "boom") => Object.assign(new Error(message), { code, path });

describe("unreadable", () => {
  it.each([
    ["ENOENT", "/x does not exist"],
    ["ENOTDIR", "/x is not a folder"],
    ["EISDIR", "/x is a folder, not a file"],
    ["EACCES", "/x is not readable (permission denied)"],
    ["EIO", "/x cannot be read (EIO)"],
  ])("%s is said in words", (code, words) => {
    const error = unreadable("the kubeconfig", "/fallback", fsError(code, "/x"));
    expect(error).toBeInstanceOf(UnreadableInputError);
    expect(error.message).toBe(`cannot read the kubeconfig: ${words}`);
  });
  it("names the given path when the error has none, and a parse error by its first line", () => {
    expect(unreadable("the kubeconfig", "/k", fsError(undefined, undefined, "bad indentation (2:1)\n  at line 2")).message).toBe(
      "cannot read the kubeconfig: /k is not valid (bad indentation (2:1))",
    );
  });
});
