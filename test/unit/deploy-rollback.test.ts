import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const script = path.join(__dirname, "..", "..", "scripts", "rollback.sh");

/** Runs rollback.sh with a stand-in `pulumi` that records its arguments. */
function rollback(args: string[], pinnedDigest = "", history: unknown[] = []) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rollback-"));
    const calls = path.join(dir, "calls");
    fs.writeFileSync(path.join(dir, "history.json"), JSON.stringify(history));
    fs.writeFileSync(
        path.join(dir, "pulumi"),
        `#!/bin/bash\nprintf '%s\\n' "$*" >> ${JSON.stringify(calls)}\n` +
            `if [[ "$1 $2" == "config get" ]]; then [[ -n "${pinnedDigest}" ]] && echo "${pinnedDigest}"; exit 0; fi\n` +
            `if [[ "$1 $2" == "stack history" ]]; then cat ${JSON.stringify(path.join(dir, "history.json"))}; fi\n`,
        { mode: 0o755 },
    );
    const r = spawnSync("bash", [script, ...args], {
        encoding: "utf8",
        env: { ...process.env, PATH: `${dir}:/usr/bin:/bin` },
    });
    const recorded = fs.existsSync(calls) ? fs.readFileSync(calls, "utf8").trim().split("\n") : [];
    fs.rmSync(dir, { recursive: true });
    return { code: r.status, stderr: r.stderr, calls: recorded };
}

/** The calls that remove the pinned version and digest again. */
const unpin = (stack: string) => [`config rm --stack ${stack} version`, `config rm --stack ${stack} digest`];

describe("deploy: scripts/rollback.sh", () => {
    it("releases the earlier version through pulumi up, then leaves no version pinned in the stack file", () => {
        const r = rollback(["production", "1.0.0"]);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(r.calls, [
            "config get --stack production digest",
            "up --stack production --yes --skip-preview --config version=1.0.0",
            ...unpin("production"),
        ]);
    });

    it("passes a given digest along with the version", () => {
        const digest = `sha256:${"ef".repeat(32)}`;
        const r = rollback(["staging", "1.0.0", digest]);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(r.calls, [
            `up --stack staging --yes --skip-preview --config version=1.0.0 --config digest=${digest}`,
            ...unpin("staging"),
        ]);
    });

    it("refuses to roll back a stack that pins a digest without the version's digest", () => {
        const r = rollback(["production", "1.0.0"], `sha256:${"ab".repeat(32)}`);
        assert.strictEqual(r.code, 2);
        assert.match(r.stderr, /pins digest sha256:abab.*give the digest of 1\.0\.0/);
        assert.ok(!r.calls.some((c) => c.startsWith("up")));
    });

    it("takes the digest the stack last released the version with, when the stack pins digests", () => {
        const update = (version: string, digest: string, result: string, startTime: string) => ({
            kind: "update",
            result,
            startTime,
            config: {
                "cicd-pipeline:version": { value: version, secret: false },
                "cicd-pipeline:digest": { value: digest, secret: false },
            },
        });
        const [old, latest, failed, other] = ["11", "22", "33", "44"].map((x) => `sha256:${x.repeat(32)}`);
        const r = rollback(["production", "1.0.0"], `sha256:${"ab".repeat(32)}`, [
            update("1.0.0", old, "succeeded", "2026-01-01T00:00:00.000Z"),
            update("1.0.0", failed, "failed", "2026-03-01T00:00:00.000Z"),
            update("1.0.0", latest, "succeeded", "2026-02-01T00:00:00.000Z"),
            update("2.0.0", other, "succeeded", "2026-04-01T00:00:00.000Z"),
        ]);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(r.calls, [
            "config get --stack production digest",
            "stack history --stack production --json",
            `up --stack production --yes --skip-preview --config version=1.0.0 --config digest=${latest}`,
            ...unpin("production"),
        ]);
    });

    for (const args of [
        ["production", "1.0;rm -rf /"],
        ["prod uction", "1.0.0"],
        ["production"],
        ["p", "1", "sha256:x"],
    ]) {
        it(`rejects ${JSON.stringify(args)} before running pulumi`, () => {
            const r = rollback(args);
            assert.strictEqual(r.code, 2, r.stderr);
            assert.deepStrictEqual(r.calls, []);
        });
    }
});
