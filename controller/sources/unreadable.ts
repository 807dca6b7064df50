/** An input named on the command line (manifest folder, kubeconfig) that cannot be read: exit 2, not a decision. */
export class UnreadableInputError extends Error {}

const REASONS: Readonly<Record<string, string>> = {
  ENOENT: "does not exist",
  ENOTDIR: "is not a folder",
  EISDIR: "is a folder, not a file",
  EACCES: "is not readable (permission denied)",
};

/** `what: path why`, in words for the common file-system errors: "the kubeconfig: /x does not exist". */
export function unreadable(what: string, fallbackPath: string, e: unknown): UnreadableInputError {
  const { code, path } = e as NodeJS.ErrnoException;
  const why = code === undefined ? `is not valid (${(e as Error).message.split("\n")[0]})` : (REASONS[code] ?? `cannot be read (${code})`);
  return new UnreadableInputError(`cannot read ${what}: ${path ?? fallbackPath} ${why}`);
}
