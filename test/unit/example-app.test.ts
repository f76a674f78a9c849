import { strict as assert } from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { Command, pythonCommands } from "../../components/workflows/ci";
import { renderParsed, root, settings, steps } from "./workflow-helpers";

const app = path.join(root, "examples", "app");
/** Debian packages that provide what ci.yml installs with pip. */
const debianPackages = "flake8 black python3-pytest python3-pytest-cov";
const modules = ["flake8", "black", "pytest", "pytest_cov", "coverage"];

/** A Python interpreter that has every tool ci.yml runs, or the reason there is none. */
function findPython(): { python?: string; tried: string[] } {
    const tried: string[] = [];
    for (const candidate of [process.env.PYTHON, "python3", "/usr/bin/python3", "python"]) {
        if (!candidate) continue;
        const r = spawnSync(candidate, ["-c", `import ${modules.join(", ")}`], { encoding: "utf8" });
        if (r.status === 0) return { python: candidate, tried };
        tried.push(`${candidate}: ${(r.error?.message ?? r.stderr).trim().split("\n").pop()}`);
    }
    return { tried };
}

/** A TCP port nothing listens on at the moment. */
function freePort(): Promise<number> {
    return new Promise((resolve) => {
        const probe = net.createServer().listen(0, "127.0.0.1", () => {
            const { port } = probe.address() as net.AddressInfo;
            probe.close(() => resolve(port));
        });
    });
}

/** Runs ci.yml's commands the way the runner does: bash -eo pipefail, with `python` on PATH. */
class Runner {
    readonly dir: string;
    readonly summary: string;
    private readonly bin: string;
    constructor(python: string) {
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "example-app-"));
        fs.cpSync(app, this.dir, { recursive: true });
        this.bin = fs.mkdtempSync(path.join(os.tmpdir(), "python-bin-"));
        const resolved = spawnSync(python, ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" });
        fs.symlinkSync(resolved.stdout.trim(), path.join(this.bin, "python"));
        this.summary = path.join(this.dir, "step-summary.md");
    }
    run(command: Command) {
        return spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", command.run], {
            cwd: this.dir,
            encoding: "utf8",
            env: {
                ...process.env,
                PATH: `${this.bin}:${process.env.PATH}`,
                GITHUB_STEP_SUMMARY: this.summary,
                PYTHONDONTWRITEBYTECODE: "1",
            },
        });
    }
    dispose() {
        fs.rmSync(this.dir, { recursive: true, force: true });
        fs.rmSync(this.bin, { recursive: true, force: true });
    }
}

describe("examples/app", function () {
    this.timeout(120000);
    const commands = pythonCommands(settings());
    let runner: Runner | undefined;

    before(function () {
        const { python, tried } = findPython();
        if (!python) {
            assert.fail(
                `no Python with ${modules.join(", ")} to run ci.yml's lint and test commands.\n` +
                    `Install the Debian packages: apt-get install -y ${debianPackages}\n` +
                    `Tried:\n  ${tried.join("\n  ")}`,
            );
        }
        runner = new Runner(python);
    });
    after(() => runner?.dispose());

    it("is checked by exactly the commands ci.yml runs", () => {
        const runs = new Set(steps(renderParsed()[".github/workflows/ci.yml"]).map(({ step }) => step.run));
        for (const c of [...commands.lint, ...commands.test]) assert.ok(runs.has(c.run), c.run);
    });

    it("passes ci.yml's lint job (flake8, black --check)", () => {
        for (const c of commands.lint) {
            const r = runner!.run(c);
            assert.equal(r.status, 0, `${c.run}\n${r.stdout}${r.stderr}`);
        }
    });

    it("passes ci.yml's test job: unit and integration tests, coverage report and threshold", () => {
        for (const c of commands.test) {
            const r = runner!.run(c);
            assert.equal(r.status, 0, `${c.name}: ${c.run}\n${r.stdout}${r.stderr}`);
        }
        const summary = fs.readFileSync(runner!.summary, "utf8");
        assert.match(summary, /### Coverage/);
        assert.match(summary, /TOTAL/);
        assert.match(summary, /### Test results/);
        assert.match(summary, /^\| unit \| [1-9]\d* \| 0 \| 0 \| 0 \|/m);
        assert.match(summary, /^\| integration \| [1-9]\d* \| 0 \| 0 \| 0 \|/m);
        for (const suite of ["unit", "integration"]) {
            assert.ok(fs.existsSync(path.join(runner!.dir, "test-results", `${suite}.xml`)), suite);
        }
        assert.ok(fs.existsSync(path.join(runner!.dir, "coverage.xml")));
        assert.ok(fs.existsSync(path.join(runner!.dir, "htmlcov", "index.html")));
    });

    it("fails those commands when the code is wrong, so their passing means something", () => {
        const bad = path.join(runner!.dir, "app", "broken.py");
        fs.writeFileSync(bad, "import os\nx=1\n");
        try {
            for (const c of commands.lint) assert.notEqual(runner!.run(c).status, 0, c.run);
        } finally {
            fs.rmSync(bad);
        }
        const failing = path.join(runner!.dir, "tests", "unit", "test_failing.py");
        fs.writeFileSync(failing, "def test_fails():\n    assert False\n");
        try {
            const unit = commands.test.find((c) => c.name === "Unit tests")!;
            assert.notEqual(runner!.run(unit).status, 0);
            // The results summary still runs, and names the failed test.
            fs.rmSync(path.join(runner!.dir, "test-results", "integration.xml"), { force: true });
            fs.writeFileSync(runner!.summary, "");
            const results = commands.test.find((c) => c.name === "Test results")!;
            assert.equal(runner!.run(results).status, 0);
            const summary = fs.readFileSync(runner!.summary, "utf8");
            assert.match(summary, /^\| unit \| \d+ \| 1 \| 0 \|/m);
            assert.match(summary, /^- `tests\.unit\.test_failing::test_fails`$/m);
            assert.match(summary, /^\| integration \| not run/m);
        } finally {
            fs.rmSync(failing);
        }
    });

    it("health-checks the port the release tool gives it in PORT, 8000 by default", async () => {
        const dockerfile = fs.readFileSync(path.join(app, "Dockerfile"), "utf8");
        const m = /^HEALTHCHECK [^\n]*\\\n\s+CMD (\[.*\])$/m.exec(dockerfile);
        assert.ok(m, "HEALTHCHECK ... CMD [exec form]");
        const [, ...args] = JSON.parse(m[1]) as string[];
        const python = findPython().python!;
        const port = await freePort();
        const server = spawn(python, ["-m", "app.main"], {
            cwd: app,
            env: { ...process.env, PORT: String(port), PYTHONDONTWRITEBYTECODE: "1" },
            stdio: "ignore",
        });
        try {
            const check = (env: Record<string, string>) =>
                spawnSync(python, args, { env: { ...process.env, ...env }, encoding: "utf8" }).status;
            const deadline = Date.now() + 10000;
            while (check({ PORT: String(port) }) !== 0 && Date.now() < deadline) {
                await new Promise((r) => setTimeout(r, 100));
            }
            assert.equal(check({ PORT: String(port) }), 0, "healthy on PORT");
            assert.notEqual(check({ PORT: String(await freePort()) }), 0, "another port has no app");
            assert.match(dockerfile, /os\.environ\.get\('PORT', '8000'\)/);
        } finally {
            server.kill();
        }
    });

    it("has a multi-stage Dockerfile and the requirement files ci.yml installs", () => {
        const s = settings();
        const dockerfile = fs.readFileSync(path.join(app, s.dockerfile), "utf8");
        assert.ok((dockerfile.match(/^FROM /gm) ?? []).length >= 2, "two or more stages");
        assert.match(dockerfile, /^COPY --from=build /m);
        assert.match(dockerfile, /^ARG APP_VERSION/m);
        for (const r of s.requirements) assert.ok(fs.existsSync(path.join(app, r)), r);
    });
});
