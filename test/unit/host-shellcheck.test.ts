/**
 * shellcheck over every shell program of the project: the host tools (components/deploy/host), the
 * scripts, the test rig's setup, the benchmarks, the CI entry point and the stand-in programs of the
 * host tier (test/stubs). The workflows' run: scripts are checked in workflows.test.ts.
 *
 * A file is a shell program if its name ends in .sh or its first line is a sh/bash shebang, so a
 * new script is checked without being listed here. Findings are fixed, or disabled inline with a
 * comment that gives the reason.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..");
const SKIP = new Set(["node_modules", ".git", "golden"]);

function shellPrograms(dir: string, found: string[] = []): string[] {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        if (SKIP.has(entry.name)) continue;
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) {
            shellPrograms(file, found);
        } else if (entry.isFile()) {
            const head = fs.readFileSync(file, { encoding: "latin1" }).slice(0, 64);
            if (entry.name.endsWith(".sh") || /^#!\s*\S*(?:\/env\s+)?(?:ba)?sh\b/.test(head)) {
                found.push(path.relative(ROOT, file));
            }
        }
    }
    return found.sort();
}

describe("shellcheck: every shell program of the project", function () {
    this.timeout(60000);
    const files = shellPrograms(ROOT);

    it("finds the host tools, the scripts and the stand-ins", () => {
        for (const f of [
            "components/deploy/host/bluegreen",
            "components/deploy/host/bluegreen-gate",
            "scripts/rollback.sh",
            "scripts/host-setup.sh",
            "testkit/rig-setup.sh",
            "scripts/provide-node.sh",
            "bench/proxy-compare.sh",
            "test/stubs/docker",
            "test/stubs/curl",
            "test/stubs/socat",
            "test/stubs/flock",
        ]) {
            assert.ok(files.includes(f), `${f} is not among the checked files: ${files.join(" ")}`);
        }
    });

    it("reports nothing at any severity", () => {
        const probe = spawnSync("shellcheck", ["--version"], { encoding: "utf8" });
        if (probe.error || probe.status !== 0) {
            assert.fail(
                "shellcheck is not installed (Debian package: shellcheck); it checks every shell program",
            );
        }
        // -x follows `source`d files. A file with a shebang is checked as the shell it names; one
        // without (a workflow step's script, which GitHub runs with bash) as bash.
        const shebang = (f: string) => fs.readFileSync(path.join(ROOT, f), "latin1").startsWith("#!");
        const groups: [string[], string[]][] = [
            [[], files.filter(shebang)],
            [["--shell=bash"], files.filter((f) => !shebang(f))],
        ];
        for (const [shell, group] of groups) {
            if (group.length === 0) continue;
            const args = ["--severity=style", "--external-sources", "--format=gcc", ...shell, ...group];
            const r = spawnSync("shellcheck", args, { cwd: ROOT, encoding: "utf8" });
            assert.strictEqual(r.stdout + r.stderr, "", `shellcheck findings:\n${r.stdout}${r.stderr}`);
            assert.strictEqual(r.status, 0);
        }
    });
});
