/**
 * The workflows' bash and Python are real files (components/workflows/scripts/), checked where they
 * are: shellcheck on the .sh files, flake8 and black --check on the .py files (Debian packages
 * shellcheck, flake8 and black; scripts/test.sh installs them), each with the folder's own config.
 * Then: every file is inlined into a rendered workflow, and a placeholder without a value, or a
 * value without a placeholder, is an error at render time.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import { scriptsDir, scriptText } from "../../components/workflows/scripts";
import { renderParsed, steps } from "./workflow-helpers";

const files = fs.readdirSync(scriptsDir).sort();
const shell = files.filter((f) => f.endsWith(".sh"));
const python = files.filter((f) => f.endsWith(".py"));

/** Runs a checker in the scripts folder; fails the test, naming the package, when it is missing. */
function check(tool: string, args: string[]): void {
    const r = spawnSync(tool, args, { cwd: scriptsDir, encoding: "utf8" });
    if (r.error)
        assert.fail(`${tool} is not installed (Debian package ${tool}; scripts/test.sh installs it)`);
    assert.equal(r.status, 0, `${tool} ${args.join(" ")}:\n${r.stdout}${r.stderr}`);
}

describe("workflow script files", () => {
    it("holds the workflows' scripts", () => {
        assert.ok(shell.length >= 8, `only ${shell.length} .sh files`);
        assert.deepEqual(python, ["metrics.py", "test-results.py"]);
    });

    it("passes shellcheck, every finding down to style", () => {
        check("shellcheck", ["--severity=style", "--external-sources", ...shell]);
    });

    it("passes flake8", () => {
        check("flake8", python);
    });

    it("passes black --check", () => {
        check("black", ["--check", "--diff", ...python]);
    });

    it("has each file inlined into a rendered workflow's run: step", () => {
        const runs = Object.values(renderParsed())
            .flatMap((w) => steps(w))
            .map(({ step }) => step.run ?? "")
            .join("\n");
        for (const file of [...shell, ...python]) {
            const body = fs.readFileSync(`${scriptsDir}/${file}`, "utf8").split("\n\n").slice(1).join("\n\n");
            const lines = body.split("\n").filter((l) => l.trim() !== "" && !/@[A-Z_]+@|^# fmt: o/.test(l));
            assert.ok(lines.length > 3, file);
            for (const line of lines) assert.ok(runs.includes(line), `${file}: not rendered: ${line}`);
        }
    });

    it("refuses a placeholder without a value, and a value without a placeholder", () => {
        assert.throws(
            () => scriptText("smoke-test.sh"),
            /smoke-test\.sh: no value for the placeholder @SMOKE_PATHS@/,
        );
        assert.throws(
            () => scriptText("check-pushed.sh", { IMAGE: "x" }),
            /check-pushed\.sh: has no placeholder @IMAGE@/,
        );
        assert.match(
            scriptText("smoke-test.sh", { SMOKE_PATHS: "/health /version" }),
            /^paths=\(\/health \/version\)$/m,
        );
    });

    it("leaves out the file's header and black's pragmas", () => {
        const text = scriptText("metrics.py");
        assert.ok(text.startsWith("import json\n"), text.slice(0, 40));
        assert.doesNotMatch(text, /fmt: o/);
    });
});
