/**
 * The GitHub Actions analysers the tests run over rendered workflows: zizmor and actionlint, at the
 * versions scripts/analysers.json pins, from the cache scripts/install-analysers.sh fills
 * (scripts/test.sh always runs it). A missing analyser fails the test that needs it, saying how to
 * install it; nothing is skipped.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { root } from "./workflow-helpers";

const pins = JSON.parse(fs.readFileSync(path.join(root, "scripts", "analysers.json"), "utf8")) as {
    zizmor: { version: string };
    actionlint: { version: string };
};

const dir = process.env.CICD_ANALYSERS_DIR ?? path.join(os.homedir(), ".cache", "cicd-pipeline", "tools");

function tool(file: string, name: string): string {
    if (!fs.existsSync(file)) {
        throw new Error(
            `${name} is not installed at ${file}. Install it with scripts/install-analysers.sh ` +
                `(scripts/test.sh runs it), or set CICD_ANALYSERS_DIR to where it is`,
        );
    }
    return file;
}

export const zizmorVersion = pins.zizmor.version;
export const actionlintVersion = pins.actionlint.version;

/** The zizmor binary, or an error that says how to install it. */
export function zizmorPath(): string {
    return tool(path.join(dir, `zizmor-${zizmorVersion}`, "bin", "zizmor"), `zizmor ${zizmorVersion}`);
}

/** The actionlint binary, or an error that says how to install it. */
export function actionlintPath(): string {
    return tool(
        path.join(dir, `actionlint-${actionlintVersion}`, "actionlint"),
        `actionlint ${actionlintVersion}`,
    );
}

/** Writes files (path in the repository to content) under a new temporary directory. */
export function writeTree(files: Record<string, string>): string {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "workflows-"));
    for (const [p, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(out, p)), { recursive: true });
        fs.writeFileSync(path.join(out, p), text);
    }
    return out;
}

export interface Finding {
    readonly rule: string;
    readonly file: string;
    readonly message: string;
}

/**
 * zizmor over a directory of workflows, offline, at a persona; its findings. `ignores: false`
 * disregards inline `# zizmor: ignore[...]` comments (--no-ignores).
 */
export function zizmor(
    dirOfWorkflows: string,
    o: { persona: "regular" | "auditor"; ignores: boolean },
): Finding[] {
    const args = [
        "--offline",
        "--format",
        "json",
        `--persona=${o.persona}`,
        ...(o.ignores ? [] : ["--no-ignores"]),
    ];
    const r = spawnSync(zizmorPath(), [...args, dirOfWorkflows], { encoding: "utf8" });
    // zizmor exits non-zero when it finds something; its JSON is on stdout either way.
    if (r.error || !r.stdout.trim().startsWith("[")) {
        throw new Error(`zizmor failed (${r.status}): ${r.error ?? ""}${r.stderr}`);
    }
    return (
        JSON.parse(r.stdout) as {
            ident: string;
            desc: string;
            locations: { symbolic: { key: { Local?: { verbatim_path: string } } } }[];
        }[]
    ).map((f) => ({
        rule: f.ident,
        file: f.locations[0]?.symbolic.key.Local?.verbatim_path ?? "",
        message: f.desc,
    }));
}

/** actionlint, with shellcheck on PATH, over workflow files; one line per finding. */
export function actionlint(files: string[]): string[] {
    const shellcheck = spawnSync("shellcheck", ["--version"], { encoding: "utf8" });
    if (shellcheck.error || shellcheck.status !== 0) {
        throw new Error(
            "shellcheck is not installed (Debian package shellcheck; scripts/test.sh installs it)",
        );
    }
    const r = spawnSync(actionlintPath(), ["-no-color", "-oneline", ...files], { encoding: "utf8" });
    if (r.error) throw r.error;
    if (r.status !== 0 && r.status !== 1) throw new Error(`actionlint failed (${r.status}): ${r.stderr}`);
    return r.stdout.split("\n").filter(Boolean);
}
