import { CliError } from "./connection.ts";
import { CLIENT_COMMANDS } from "./help.ts";

const SERVER = ["start", "controller", "agent", "version", "help"];

/** `drover completion bash|zsh`: commands, then each command's options. */
export function completion(shell: string | undefined): number {
  const commands = [...SERVER, ...CLIENT_COMMANDS].join(" ");
  const options: Record<string, string> = {
    submit: "--cpus --mem --time --name --group --after --array --chdir --env --priority --hold --file --quiet --url --json --help",
    jobs: "--all --state --user --group --name --limit --url --json --help",
    history: "--state --user --group --name --limit --url --json --help",
    logs: "--follow --stderr --url --json --help",
    wait: "--timeout --quiet --url --json --help",
    login: "--user --url --json --help",
    drain: "--reason --url --json --help",
  };
  if (shell === "bash") {
    process.stdout.write(`# drover completion for bash: eval "$(drover completion bash)"
_drover() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="\${COMP_WORDS[1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then COMPREPLY=($(compgen -W "${commands}" -- "$cur")); return; fi
  case "$cmd" in
${Object.entries(options).map(([c, o]) => `    ${c}) COMPREPLY=($(compgen -W "${o}" -- "$cur")) ;;`).join("\n")}
    *) COMPREPLY=($(compgen -W "--url --json --help" -- "$cur")) ;;
  esac
}
complete -o default -F _drover drover
`);
    return 0;
  }
  if (shell === "zsh") {
    process.stdout.write(`#compdef drover
# drover completion for zsh: drover completion zsh > "\${fpath[1]}/_drover"
_drover() {
  if (( CURRENT == 2 )); then compadd ${commands}; return; fi
  case "$words[2]" in
${Object.entries(options).map(([c, o]) => `    ${c}) compadd -- ${o} ;;`).join("\n")}
    *) compadd -- --url --json --help ;;
  esac
  _files
}
compdef _drover drover
`);
    return 0;
  }
  throw new CliError(`drover completion takes bash or zsh`, 2);
}
