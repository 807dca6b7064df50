/** `portcullis help [COMMAND]` and the usage lines that follow a usage error; built from config's flags. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ACTIONS, flagsOf, type ActionName } from "../config.ts";

const SYNOPSIS: Readonly<Record<ActionName, string>> = {
  serve: "portcullis serve [--manifests DIR | --kubeconfig FILE] [flags]   (neither: in-cluster config)",
  check: "portcullis check --manifests DIR [-H 'Name: value']... [flags] METHOD URL",
  compile: "portcullis compile --manifests DIR [flags]",
};

const DESCRIPTION: Readonly<Record<ActionName, string>> = {
  serve: "Answers Envoy ext_authz (HTTP and gRPC) and forward-auth checks with the policies of a manifest folder or a cluster.",
  check:
    "Decides one request as serve's Envoy ext_authz HTTP port would and prints the decision as JSON {status, headers, reason, route, policy}.\n" +
    "A folder with a file that does not parse is not served (every check denied, not_ready), so check denies too.\n" +
    "Exit 0 allow, 1 deny, 2 bad usage or unreadable folder.",
  compile:
    "Prints every policy's status as YAML, exactly what would be written.\n" +
    "Exit 0 when every file parses, every object is valid and every policy is Accepted (a copy alike to an object read earlier is only a warning); 1 otherwise (each problem on stderr); 2 bad usage or unreadable folder.",
};

const COMMAND_LIST = [
  ...ACTIONS.map((c) => [c, DESCRIPTION[c].split("\n")[0]!] as const),
  ["version", "Prints the version (also --version)."],
  ["help [COMMAND]", "Prints this help, or one command's (also --help, -h)."],
  ["completion bash|zsh", "Prints a shell completion script: source <(portcullis completion bash)"],
] as const;

/** The version in package.json. */
export function version(): string {
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "../../package.json"), "utf8")) as { version: string };
  return pkg.version;
}

/** One command's help: synopsis, description, then every flag with its default and variable. */
export function commandHelp(command: ActionName): string {
  const flags = flagsOf(command);
  const left = flags.map(
    (f) => `${f.short === undefined ? "    " : `-${f.short}, `}--${f.name}${f.value === undefined ? "" : ` ${f.value}`}`,
  );
  const width = Math.max(...left.map((l) => l.length)) + 2;
  const lines = flags.map((f, i) => {
    const choices = f.choices === undefined || f.value?.includes("|") ? undefined : `one of ${f.choices.join(", ")}`;
    const notes = [choices, f.default === undefined ? undefined : `default ${f.default}`, f.env].filter((n) => n !== undefined);
    return `  ${left[i]!.padEnd(width)}${f.help}${notes.length === 0 ? "" : ` [${notes.join("; ")}]`}`;
  });
  return `${SYNOPSIS[command]}\n${DESCRIPTION[command].replace(/^/gm, "  ")}\n\n${lines.join("\n")}\n`;
}

/** Every command and every flag. */
export function fullHelp(): string {
  const width = Math.max(...COMMAND_LIST.map(([c]) => c.length)) + 2;
  return [
    "Portcullis enforces Envoy Gateway SecurityPolicy manifests for Envoy ext_authz and forward-auth proxies.\n",
    "Usage: portcullis COMMAND [flags]\n",
    "Commands:",
    ...COMMAND_LIST.map(([c, d]) => `  ${c.padEnd(width)}${d}`),
    "",
    ...ACTIONS.map(commandHelp),
    "Every flag can also be set as an environment variable (--authz-port is PORTCULLIS_AUTHZ_PORT); the flag wins.\n",
  ].join("\n");
}

/** What follows a usage error: the command's synopsis (or the command list) and where to read more. */
export function usageHint(command: ActionName | undefined): string {
  if (command === undefined)
    return `usage: portcullis COMMAND [flags]; the commands are ${COMMAND_LIST.map(([c]) => c.split(" ")[0]).join(", ")}\nrun 'portcullis help' for every command and flag`;
  return `usage: ${SYNOPSIS[command]}\nrun 'portcullis help ${command}' for every flag`;
}
