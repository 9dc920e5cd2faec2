// What each client command does and takes (drover COMMAND --help).

export const COMMON_HELP = `  --url URL      the controller (default: DROVER_URL, else the one you logged in to, else http://127.0.0.1:7070)
  --json         JSON for scripts instead of a table
  -h, --help     this help`;

export const HELP: Record<string, string> = {
  login: `drover login [--user NAME]
Asks for your password (or reads it from the first line of stdin) and keeps the token in
~/.config/drover/credentials.json (mode 0600). DROVER_TOKEN and DROVER_URL override it.
  --user NAME    who you are (default: DROVER_USER, else $USER)`,
  logout: `drover logout
Forgets the saved token.`,
  submit: `drover submit [options] -- COMMAND [ARGS…]
drover submit [options] SCRIPT [ARGS…]
drover submit [options] --file COMMANDS.txt
Queues a job. A SCRIPT is sent as text and run by its #! interpreter (sh, bash, python…); its
"#DROVER --cpus 4" lines at the top are read as options (those on the command line win).
--file takes one command a line (run by /bin/sh; # begins a comment), as "wr add" does.
  -c, --cpus N       processors (default 1)
  --mem SIZE         memory of the whole job: 512M, 4G
  -t, --time T       walltime: 90s, 30m, 2h, 1d, HH:MM:SS (the job is stopped after it)
  -J, --name NAME    its name
  -g, --group G      a group to count it in (wr's report group)
  --after ID[,ID…]   start only after these jobs completed successfully
  -a, --array 1-100  one job per index (1-100:5 steps by 5), with DROVER_ARRAY_INDEX set
  -D, --chdir DIR    run in DIR on the node (default: a directory of its own)
  -e, --env K=V      set a variable (repeatable)
  --priority N       its priority among your jobs (−1024…1024)
  --hold             queue it held (drover release ID starts it)
  -q, --quiet        print the job ids only, one a line`,
  jobs: `drover jobs [--all] [--state S[,S…]] [--user U] [--group G] [--name TEXT] [--limit N]
Jobs not ended yet (all of them with --all), newest first, as squeue shows them. States: queued,
dispatching, running, suspended, completed, failed, cancelled, lost.`,
  show: `drover show ID
Everything about a job: its request, where and how it ran, its messages and events.`,
  logs: `drover logs [-f] [--stderr] ID
The end of a job's output (the last 4 KB); -f follows it until the job ends.`,
  wait: `drover wait [--timeout T] [-q] ID…
Waits until every job has ended and exits with the first non-zero exit code among them (1 for a
job that ended without one: cancelled, lost, a signal, a limit).`,
  history: `drover history [--state S[,S…]] [--user U] [--group G] [--name TEXT] [--limit N]
Ended jobs with their times, exit codes, CPU time and peak memory, as sacct shows them.`,
  nodes: `drover nodes
The nodes: state, processors and memory in use, load, partition, features, generic resources.`,
  drain: `drover drain NODE [--reason TEXT]
Administrators: its running jobs finish, no new job starts there (drover undrain NODE ends it).`,
  undrain: `drover undrain NODE
Administrators: the node takes jobs again.`,
  completion: `drover completion bash|zsh
Prints a completion script: eval "$(drover completion bash)" in ~/.bashrc, or
drover completion zsh > "\${fpath[1]}/_drover".`,
};
for (const action of ["cancel", "hold", "release", "suspend", "resume", "requeue"]) {
  HELP[action] = `drover ${action} ID…
${{ cancel: "Cancels jobs (a running one is stopped).", hold: "Holds queued jobs: they do not start until released.", release: "Releases held jobs.", suspend: "Suspends running jobs (SIGSTOP).", resume: "Resumes suspended jobs.", requeue: "Stops running jobs and queues them again." }[action]}`;
}

export const CLIENT_COMMANDS = Object.keys(HELP);

export const SUMMARY = `People at a terminal:
  drover login                 keep a token for a controller
  drover submit … -- CMD       queue a job (or a script with #DROVER lines, or --file of commands)
  drover jobs                  jobs not ended (--all: every one)
  drover show ID               one job in full
  drover logs [-f] ID          its output (following it)
  drover wait ID…              until they end; exits with the job's exit code
  drover cancel|hold|release|suspend|resume|requeue ID…
  drover history               ended jobs with their use, like sacct
  drover nodes                 the nodes
  drover drain|undrain NODE    (administrators)
  drover completion bash|zsh
Each takes --help, --url and --json.`;

