import { expect, test } from "bun:test";
import { instancesOf, parseWorkflow, shellScriptWorkflow } from "../../../controller/src/workflows/workflow-file.ts";

const files = ["prepare.sh", "data/a.csv", "data/b.csv", "data/readme.txt", "params.txt"];
const parse = (yaml: string) => parseWorkflow(yaml, files, "w.yaml");
const refused = (yaml: string) => {
  try {
    parse(yaml);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("accepted");
};

test("tasks come in the order their inputs and after lists imply, with what they take from each other", () => {
  const w = parse(`
name: demo
environments: { big: { features: [bigmem] } }
tasks:
  gather:
    inputs: ["simulate:out.txt"]
    command: "cat simulate/*/out.txt > all.txt"
    outputs: [all.txt]
  simulate:
    explore: { SEED: { range: [1, 3] }, ALPHA: { list: [0.1, x] } }
    command: [sh, -c, 'echo $SEED $ALPHA > out.txt']
    inputs: ["prepare:params.out", params.txt]
    outputs: [out.txt]
    environment: big
    retries: 2
    resources: { cpus: 2, memory: 1G, walltime: 5m }
  prepare:
    script: prepare.sh
    outputs: [params.out]
`);
  expect(w.name).toBe("demo");
  expect(w.tasks.map((t) => t.name)).toEqual(["prepare", "simulate", "gather"]);
  const [prepare, simulate, gather] = w.tasks;
  expect(prepare!.argv).toEqual(["sh", "prepare.sh"]);
  expect(prepare!.inputs).toEqual([{ path: "prepare.sh" }]);
  expect(simulate).toMatchObject({ cpus: 2, memoryBytes: 1024 ** 3, walltimeMs: 300_000, retries: 2, environment: "big", after: ["prepare"] });
  expect(simulate!.inputs).toEqual([{ from: "prepare", path: "params.out" }, { path: "params.txt" }]);
  expect(gather!.argv).toEqual(["sh", "-c", "cat simulate/*/out.txt > all.txt"]);
  expect(instancesOf(simulate!)).toHaveLength(6);
  expect(instancesOf(simulate!)[1]).toEqual({ SEED: "1", ALPHA: "x" });
  expect(instancesOf(gather!)).toEqual([{}]);
});

test("explorations: ranges with steps, zipped factors, files matching a pattern", () => {
  const w = parse(`
tasks:
  a:
    command: [true]
    explore: { X: { range: [0, 1, 0.25] }, F: { files: "data/*.csv" } }
  b:
    command: [true]
    explore: { P: { list: [1, 2] }, Q: { list: [a, b] } }
    combine: zip
`);
  expect(w.tasks[0]!.explore!.factors).toEqual([
    { name: "X", values: ["0", "0.25", "0.5", "0.75", "1"] },
    { name: "F", values: ["data/a.csv", "data/b.csv"], files: true },
  ]);
  expect(instancesOf(w.tasks[0]!)).toHaveLength(10);
  expect(instancesOf(w.tasks[1]!)).toEqual([{ P: "1", Q: "a" }, { P: "2", Q: "b" }]);
});

test("a bad workflow is refused with a message naming what is wrong", () => {
  expect(refused("tasks:\n  a: { command: [true], after: [b] }\n  b: { command: [true], after: [a] }\n")).toBe("the workflow has a cycle: a → b → a");
  expect(refused("tasks:\n  a: { command: [true], after: [zz] }\n")).toContain("after names zz, which the workflow does not have");
  expect(refused("tasks:\n  a: { command: [true], inputs: [missing.csv] }\n")).toContain("input missing.csv is not a file of the work directory");
  expect(refused("tasks:\n  a: { command: [true], inputs: ['../etc/passwd'] }\n")).toContain("must be a relative path inside the work directory");
  expect(refused("tasks:\n  a: { command: [true], outputs: [/tmp/x] }\n")).toContain("must be a relative path");
  expect(refused("tasks:\n  a: { command: [true], explore: { X: { list: [] } } }\n")).toContain("list must be a non-empty list");
  expect(refused("tasks:\n  a: { command: [true], explore: { X: { range: [5, 1] } } }\n")).toContain('"to" must not be below "from"');
  expect(refused("tasks:\n  a: { command: [true], explore: { X: { range: [1, 1000000] } } }\n")).toContain("at most 100000");
  expect(refused("tasks:\n  a: { command: [true], explore: { X: { files: 'none/*.x' } } }\n")).toContain('no file of the work directory matches "none/*.x"');
  expect(refused("tasks:\n  a: { command: [true], explore: { P: { list: [1, 2] }, Q: { list: [1] } }, combine: zip }\n")).toContain("zipped factors must have as many values each (P: 2, Q: 1)");
  expect(refused("tasks:\n  a: { command: [true], environment: gpu }\n")).toContain("environment gpu is not declared");
  expect(refused("tasks:\n  a: { command: [true], retries: -1 }\n")).toContain("retries must be a whole number");
  expect(refused("tasks:\n  a: { command: [true], resources: { memory: lots } }\n")).toContain("task a:");
  expect(refused("tasks:\n  a: { command: [true], colour: red }\n")).toContain('unknown field "colour"');
  expect(refused("tasks:\n  a: { script: nope.sh }\n")).toContain("its script nope.sh is not in the work directory");
  expect(refused("tasks: {}\n")).toContain("has no tasks");
  expect(refused("tasks: [oops\n")).toContain("is not valid YAML");
  expect(refused("tasks:\n  a: { command: [true], outputs: [x] }\n  b: { command: [true], inputs: ['a:y'] }\n")).toContain("input a:y is not an output of task a");
});

test("a shell script is a one-task workflow that sees the whole work directory and keeps everything it leaves", () => {
  const w = shellScriptWorkflow("prepare.sh", files);
  expect(w.tasks).toHaveLength(1);
  expect(w.tasks[0]).toMatchObject({ name: "main", argv: ["sh", "prepare.sh"], outputs: ["*"] });
  expect(w.tasks[0]!.inputs).toHaveLength(files.length);
});
