// The command line's pieces that need no cluster: following a sliding output tail, times and
// sizes as Slurm shows them, colour only where wanted, and #DROVER directives read from a script.
import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { exitCodeOf, label, newOutput } from "../../../controller/src/cli/job-commands.ts";
import { clock, size, table, useColour } from "../../../controller/src/cli/output.ts";
import { scriptSubmission } from "../../../controller/src/cli/submit.ts";
import { tempDir } from "../../helpers/temp-dir.ts";

test("following output: only what the sliding tail adds is printed; a gap is said", () => {
  expect(newOutput("", "a\nb\n")).toEqual({ text: "a\nb\n", skipped: false });
  expect(newOutput("a\nb\n", "a\nb\nc\n")).toEqual({ text: "c\n", skipped: false });
  // the tail slid: its start is gone, its end overlaps what was shown
  expect(newOutput("line 1\nline 2\n", "ne 2\nline 3\n")).toEqual({ text: "line 3\n", skipped: false });
  expect(newOutput("old\n", "entirely new\n")).toEqual({ text: "entirely new\n", skipped: true });
  expect(newOutput("same", "same")).toEqual({ text: "", skipped: false });
});

test("times, sizes and exit codes as people read them", () => {
  expect(clock(65_000)).toBe("1:05");
  expect(clock(3_725_000)).toBe("1:02:05");
  expect(clock(90_061_000)).toBe("1-01:01:01");
  expect(clock(null)).toBe("");
  expect(size(512)).toBe("512");
  expect(size(1536)).toBe("1.5K");
  expect(size(3 * 2 ** 30)).toBe("3.0G");
  expect(exitCodeOf({ state: "completed", exitCode: 0 })).toBe(0);
  expect(exitCodeOf({ state: "failed", exitCode: 3 })).toBe(3);
  expect(exitCodeOf({ state: "cancelled", exitCode: null })).toBe(1);
  expect(label({ name: "", command: "/bin/sh -c echo one" })).toBe("echo one");
  expect(label({ name: "", command: "/usr/bin/python3 x.py" })).toBe("python3");
});

test("colour only on a terminal, never with NO_COLOR; tables line up without it", () => {
  expect(useColour({ isTTY: true }, {})).toBe(true);
  expect(useColour({ isTTY: true }, { NO_COLOR: "" })).toBe(false);
  expect(useColour({ isTTY: false }, {})).toBe(false);
  expect(table(["ID", "NAME"], [["1", "a"], ["12", "bb"]], false)).toBe("ID  NAME\n1   a\n12  bb");
});

test("a script's #DROVER lines at its top are options; its #! interpreter runs its text", () => {
  const dir = tempDir("cli-script");
  const script = join(dir, "run.py");
  writeFileSync(script, "#!/usr/bin/env python3\n#DROVER --cpus 4\n#DROVER --name 'my job' --time 1h\nimport sys\n#DROVER --hold\nprint(sys.argv)\n");
  const s = scriptSubmission(script, ["x"]);
  // directives stop at the first command
  expect(s.directives).toEqual(["--cpus", "4", "--name", "my job", "--time", "1h"]);
  expect(s.command.slice(0, 3)).toEqual(["/usr/bin/env", "python3", "-c"]);
  expect(s.command.at(-1)).toBe("x");
  const odd = join(dir, "run.awk");
  writeFileSync(odd, "#!/usr/bin/awk -f\nBEGIN { print 1 }\n");
  expect(() => scriptSubmission(odd, [])).toThrow("does not know how to with /usr/bin/awk");
});
