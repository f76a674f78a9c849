/**
 * program-loader.js, the way `pulumi up` loads the program (Pulumi.yaml's nodeargs): a TypeScript
 * entry and the modules it imports run as one bundle, packages still come from node_modules, stack
 * traces name the TypeScript files and lines (also after the SDK installs source-map-support, as
 * @pulumi/pulumi's cmd/run does), and a syntax error names its file, line and column.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..");
const LOADER = path.join(ROOT, "program-loader.js");

/** Runs `node --require program-loader.js <entry>` in a scratch project whose node_modules are the project's. */
function runEntry(files: Record<string, string>, entry = "index.ts") {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "program-loader-"));
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    for (const [name, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
        fs.writeFileSync(path.join(dir, name), text);
    }
    // As the SDK's cmd/run does before it loads the program.
    const run = `require("source-map-support/register"); require(${JSON.stringify(path.join(dir, entry))});`;
    const r = spawnSync(process.execPath, ["--require", LOADER, "-e", run], { cwd: dir, encoding: "utf8" });
    fs.rmSync(dir, { recursive: true });
    return { ...r, dir };
}

describe("program-loader.js: how pulumi up loads the program", () => {
    it("runs the entry and the modules it imports, with packages from node_modules", () => {
        const r = runEntry({
            "index.ts": [
                'import * as YAML from "yaml";',
                'import { twice } from "./lib/math";',
                "const n: number = twice(21);",
                "console.log(YAML.stringify({ n }).trim());",
            ].join("\n"),
            "lib/math.ts": "export const twice = (x: number): number => x * 2;\n",
        });
        assert.strictEqual(r.status, 0, r.stderr);
        assert.strictEqual(r.stdout.trim(), "n: 42");
    });

    it("a stack trace names the TypeScript file and line that threw", () => {
        const r = runEntry({
            "index.ts": 'import { fail } from "./lib/fail";\nfail();\n',
            "lib/fail.ts": [
                "interface Unused {",
                "    a: string;",
                "}",
                "export function fail(): never {",
                '    throw new Error("thrown in fail.ts");',
                "}",
            ].join("\n"),
        });
        assert.notStrictEqual(r.status, 0);
        assert.match(r.stderr, /Error: thrown in fail\.ts\n\s+at fail \(\S*lib\/fail\.ts:5:11\)/);
        assert.match(r.stderr, /\(\S*\/index\.ts:2:1\)/);
    });

    it("a syntax error names the file, line and column", () => {
        const r = runEntry({
            "index.ts": 'import "./broken";\n',
            "broken.ts": "export function f((x: number) {}\n",
        });
        assert.notStrictEqual(r.status, 0);
        assert.match(r.stderr, /broken\.ts:1:18: ERROR: /);
    });

    it("every module's __dirname is the entry's folder, which is why the program names files from project.ts", () => {
        const r = runEntry({
            "index.ts":
                'import { where } from "./sub/where";\nconsole.log(where === __dirname ? "same" : where);\n',
            "sub/where.ts": "export const where = __dirname;\n",
        });
        assert.strictEqual(r.status, 0, r.stderr);
        assert.strictEqual(r.stdout.trim(), "same");
    });

    it("Pulumi.yaml loads the program through it", () => {
        const project = fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8");
        assert.match(project, /^ {4}nodeargs: --require \.\/program-loader\.js$/m);
    });
});
