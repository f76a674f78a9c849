/**
 * Each validation pattern is written once in TypeScript (components/deploy/patterns.ts) and again in
 * the bash program that runs on the hosts (the orchestrator, TypeScript too, imports patterns.ts). These tests feed both the same
 * values, valid and hostile, and require the same verdict, so that the copies cannot drift apart.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { hostPatterns } from "../../components/deploy/patterns";
import { TOOL_SOURCE } from "../../components/deploy/host-commands";

const samples = [
    "1.4.2",
    "v1.0.0-rc.1",
    "_x",
    "-x",
    ".x",
    "1.0;id",
    "1.0'",
    "$(id)",
    "a b",
    "",
    `sha256:${"a".repeat(64)}`,
    `sha256:${"A".repeat(64)}`,
    `sha256:${"a".repeat(63)}`,
    `sha512:${"a".repeat(64)}`,
    "docker.io/acme/web-app",
    "acme/web-app",
    "haproxy",
    "127.0.0.1:5555/bluegreen-test/app",
    "registry.example.com:8443/team/app",
    "Docker.io/acme/app",
    "acme/app:1.0",
    "acme//app",
    "acme/app;reboot",
    `haproxy:2.6@sha256:${"c".repeat(64)}`,
    "haproxy:2.6",
    "haproxy 2.6",
    "512m",
    "2g",
    "0m",
    "512",
    "1g;id",
    "/health",
    "/x`id`",
    "health",
    "app",
    "web-1",
    "Web",
    "127.0.0.1",
    "::1",
    "0.0.0.0;id",
    "deploy",
    "root$",
    "a".repeat(129),
];

/** The verdicts of bash's [[ =~ ]] with each named pattern of a file, on every sample. */
function bashVerdicts(file: string, names: string[]): Record<string, boolean[]> {
    const script = [
        `eval "$(grep -E '^readonly RE_[A-Z_]+=' ${JSON.stringify(file)})"`,
        ...names.map(
            (n) =>
                `printf '%s ' ${n}; while IFS= read -r -d '' s; do [[ "$s" =~ $${n} ]] && printf 1 || printf 0; done < "$SAMPLES"; echo`,
        ),
    ].join("\n");
    const input = samples.join("\0") + "\0";
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "patterns-"));
    const samplesFile = `${dir}/samples`;
    fs.writeFileSync(samplesFile, input);
    const r = spawnSync("bash", ["-c", script], {
        encoding: "utf8",
        env: { ...process.env, SAMPLES: samplesFile },
    });
    fs.rmSync(dir, { recursive: true });
    assert.strictEqual(r.status, 0, r.stderr);
    const out: Record<string, boolean[]> = {};
    for (const line of r.stdout.trim().split("\n")) {
        const [name, bits] = line.split(" ");
        out[name] = [...(bits ?? "")].map((b) => b === "1");
    }
    return out;
}

const cases: [string, string, string, RegExp][] = [
    ["bluegreen", TOOL_SOURCE, "RE_REPO", hostPatterns.image],
    ["bluegreen", TOOL_SOURCE, "RE_TAG", hostPatterns.version],
    ["bluegreen", TOOL_SOURCE, "RE_DIGEST", hostPatterns.digest],
    ["bluegreen", TOOL_SOURCE, "RE_PROXY_IMAGE", hostPatterns.proxyImage],
    ["bluegreen", TOOL_SOURCE, "RE_MEMORY", hostPatterns.memory],
    ["bluegreen", TOOL_SOURCE, "RE_URL_PATH", hostPatterns.urlPath],
    ["bluegreen", TOOL_SOURCE, "RE_INSTANCE", hostPatterns.instance],
    ["bluegreen", TOOL_SOURCE, "RE_ADDR", hostPatterns.address],
];

describe("deploy: the host programs' patterns are patterns.ts's", () => {
    for (const [program, file, name, pattern] of cases) {
        it(`${program} ${name} judges every sample as patterns.ts does`, () => {
            const bash = bashVerdicts(file, [name])[name];
            assert.strictEqual(bash.length, samples.length, `${name} is not defined in ${program}`);
            const differ = samples.filter((s, i) => bash[i] !== pattern.test(s));
            assert.deepStrictEqual(differ, [], `${program} ${name} and patterns.ts disagree on these`);
        });
    }
});
