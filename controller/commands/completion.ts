/**
 * `portcullis completion bash|zsh`: a static completion script built from config's flags, so it
 * offers exactly the commands, flags and fixed choices the parser accepts, and never runs Node on Tab.
 */
import { ACTIONS, COMMANDS, flagsOf, type ActionName, type FlagInfo } from "../config.ts";

/** What check's METHOD is usually; any word is accepted. */
const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
/** Flags whose value is a path: completed by the shell's own file completion. */
const DIRECTORY_FLAGS = new Set(["manifests"]);
const FILE_FLAGS = new Set(["kubeconfig"]);

const spellings = (f: FlagInfo) => [`--${f.name}`, ...(f.short === undefined ? [] : [`-${f.short}`])];
/** Every flag of every command, once. */
const allFlags = () => [...new Map(ACTIONS.flatMap(flagsOf).map((f) => [f.name, f])).values()];

export function completionScript(shell: "bash" | "zsh"): string {
  return shell === "bash" ? bashScript() : zshScript();
}

function bashScript(): string {
  const valued = allFlags().filter((f) => f.value !== undefined);
  const valueCase = (flags: FlagInfo[], reply: string) =>
    flags.length === 0 ? [] : [`    ${flags.flatMap(spellings).join("|")}) ${reply}; return ;;`];
  const byChoices = new Map<string, FlagInfo[]>();
  for (const f of valued.filter((f) => f.choices !== undefined))
    byChoices.set(f.choices!.join(" "), [...(byChoices.get(f.choices!.join(" ")) ?? []), f]);
  const commandCase = (command: ActionName) => {
    const words = flagsOf(command).flatMap(spellings).join(" ");
    const reply = `COMPREPLY=($(compgen -W "${words}" -- "$cur"))`;
    // check's first positional is METHOD; the URL that follows has nothing to offer.
    const positional =
      command === "check"
        ? `if [[ $cur == -* ]]; then ${reply}; elif ((positionals == 0)); then COMPREPLY=($(compgen -W "${METHODS.join(" ")}" -- "$cur")); fi`
        : reply;
    return `    ${command}) ${positional} ;;`;
  };
  return [
    "# bash completion for portcullis. Load it with: source <(portcullis completion bash)",
    "_portcullis() {",
    "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} command= word skip= positionals=0",
    "  # The first word that is neither a flag nor a flag's value is the command; the others are its arguments.",
    '  for word in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do',
    "    if [[ -n $skip ]]; then skip=; continue; fi",
    "    case $word in",
    `      ${valued.flatMap(spellings).join("|")}) skip=1 ;;`,
    "      -*) ;;",
    "      *) if [[ -z $command ]]; then command=$word; else ((positionals++)); fi ;;",
    "    esac",
    "  done",
    "  case $prev in",
    ...valueCase(
      valued.filter((f) => DIRECTORY_FLAGS.has(f.name)),
      'compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur"))',
    ),
    ...valueCase(
      valued.filter((f) => FILE_FLAGS.has(f.name)),
      'compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur"))',
    ),
    ...[...byChoices].flatMap(([choices, flags]) => valueCase(flags, `COMPREPLY=($(compgen -W "${choices}" -- "$cur"))`)),
    ...valueCase(
      valued.filter((f) => f.choices === undefined && !DIRECTORY_FLAGS.has(f.name) && !FILE_FLAGS.has(f.name)),
      "COMPREPLY=()",
    ),
    "  esac",
    "  case $command in",
    `    "") COMPREPLY=($(compgen -W "${COMMANDS.join(" ")} --help --version" -- "$cur")) ;;`,
    ...ACTIONS.map(commandCase),
    `    help) COMPREPLY=($(compgen -W "${COMMANDS.join(" ")}" -- "$cur")) ;;`,
    '    completion) COMPREPLY=($(compgen -W "bash zsh" -- "$cur")) ;;',
    "  esac",
    "}",
    "complete -F _portcullis portcullis",
    "",
  ].join("\n");
}

/** Text inside a zsh single-quoted _arguments spec: quotes closed and reopened, brackets and colons escaped. */
const zshText = (text: string) => text.replace(/'/g, "'\\''").replace(/([[\]:])/g, "\\$1");

function zshScript(): string {
  const description = {
    serve: "serve decisions for a manifest folder or a cluster",
    check: "decide one request and print it as JSON",
    compile: "print every policy's status; exit 1 if one is not Accepted",
    version: "print the version",
    help: "print help",
    completion: "print a shell completion script",
  };
  const flagSpec = (f: FlagInfo) => {
    const action = DIRECTORY_FLAGS.has(f.name)
      ? "_files -/"
      : FILE_FLAGS.has(f.name)
        ? "_files"
        : f.choices === undefined
          ? " "
          : `(${f.choices.join(" ")})`;
    const value = f.value === undefined ? "" : `:${zshText(f.value.toLowerCase())}:${action}`;
    const names = spellings(f);
    const prefix = f.name === "header" || f.name === "gateway-class" ? "*" : names.length > 1 ? `(${names.join(" ")})` : "";
    const spelled = names.length > 1 ? `{${names.join(",")}}` : names[0];
    return `      ${prefix === "" ? "" : `'${prefix}'`}${spelled}'[${zshText(f.help)}]${value}'`;
  };
  const commandCase = (command: ActionName) => {
    const specs = flagsOf(command).map(flagSpec);
    if (command === "check") specs.push(`      '1:method:(${METHODS.join(" ")})'`, "      '2:url:_urls'");
    return [`    ${command})`, "      _arguments -s \\", `${specs.join(" \\\n")} ;;`].join("\n");
  };
  return [
    "#compdef portcullis",
    "# zsh completion for portcullis. Load it with: source <(portcullis completion zsh) (after compinit)",
    "_portcullis() {",
    `  local -a commands=(${COMMANDS.map((c) => `'${c}:${zshText(description[c])}'`).join(" ")})`,
    "  if (( CURRENT == 2 )); then",
    "    _describe -t commands 'portcullis command' commands",
    "    return",
    "  fi",
    "  shift words; (( CURRENT-- ))",
    "  case $words[1] in",
    ...ACTIONS.map(commandCase),
    `    help) _arguments '1:command:(${COMMANDS.join(" ")})' ;;`,
    "    completion) _arguments '1:shell:(bash zsh)' ;;",
    "  esac",
    "}",
    'if [[ $funcstack[1] == _portcullis ]]; then _portcullis "$@"; else compdef _portcullis portcullis; fi',
    "",
  ].join("\n");
}
