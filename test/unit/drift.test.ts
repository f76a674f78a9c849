/**
 * scripts/drift.ts (what scripts/drift.sh runs): each host's `bluegreen status` against the stack's
 * outputs, with hosts played by a fake transport; and drift.yml's shape: who gets which permission.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import type { HostResult, Transport } from "../../components/deploy/orchestrator/release";
import { checkHosts, compareHost, DriftError, planOf } from "../../scripts/drift";
import { renderedByStack, root } from "./workflow-helpers";

const digest = (c: string) => `sha256:${c.repeat(64)}`;

/** `pulumi config --json` of the committed local stack, as the CLI prints it (no secret values). */
function localConfigJson(): Record<string, { value?: unknown; secret?: boolean }> {
    const file = YAML.parse(fs.readFileSync(path.join(root, "Pulumi.local.yaml"), "utf8")) as {
        config: Record<string, unknown>;
    };
    return Object.fromEntries(
        Object.entries(file.config).map(([k, v]) => [
            k,
            typeof v === "object" && v !== null && "secure" in v
                ? { secret: true }
                : { value: typeof v === "string" ? v : JSON.stringify(v), secret: false },
        ]),
    );
}

function statusLine(version: string, d: string, colour: string): string {
    return JSON.stringify({
        instance: "local",
        version,
        digest: d,
        image: "127.0.0.1:5555/bluegreen-test-app",
        active: colour ? { colour, version, digest: d, running: true } : null,
        retained: null,
    });
}

/** A transport whose hosts answer `status` with the given lines; records the commands. */
function hosts(lines: Record<string, string>, calls: string[]): () => Transport {
    return () => ({
        run: async (host, command): Promise<HostResult> => {
            calls.push(`${host.name}: ${command}`);
            return lines[host.name] === undefined
                ? { code: 255, stdout: "", stderr: "ssh: connect to host: Connection refused\n" }
                : { code: 0, stdout: `${lines[host.name]}\n`, stderr: "" };
        },
    });
}

describe("drift of the hosts (scripts/drift.sh)", () => {
    const released = { version: "1.0.0", digest: digest("a"), liveColours: { local: "blue" } };

    it("finds none when every host serves the released digest on the released colour", () => {
        assert.deepEqual(compareHost("web-1", { ...status("1.0.0", "a", "blue") }, released).problems, []);
    });
    it("reports a host released to another version by hand, and on which colour", () => {
        const d = compareHost("local", status("2.0.0", "b", "green"), released);
        assert.deepEqual(d.problems, [
            `serves 2.0.0 (${digest("b")}) on green; the stack released 1.0.0 (${digest("a")})`,
            "serves from green; the stack's release left blue serving",
        ]);
    });
    it("reports a host that serves nothing though the stack released", () => {
        assert.match(compareHost("local", status("", "", ""), released).problems[0], /serves nothing/);
    });
    it("reports a host that serves something the stack never released", () => {
        const d = compareHost("local", status("1.0.0", "a", "blue"), {});
        assert.match(d.problems[0], /the stack released nothing/);
    });
    it("asks each host of the stack for `status` of the stack's instance only, through the gate", async () => {
        const calls: string[] = [];
        const drift = await checkHosts(
            "local",
            { config: localConfigJson(), outputs: released },
            hosts({ local: statusLine("1.0.0", digest("a"), "blue") }, calls),
        );
        assert.deepEqual(calls, ["local: bluegreen status --instance local"]);
        assert.deepEqual(drift, [{ host: "local", problems: [] }]);
    });
    it("fails with exit 9, naming the host, when a host cannot be checked", async () => {
        await assert.rejects(
            checkHosts("local", { config: localConfigJson(), outputs: released }, hosts({}, [])),
            (e: unknown) =>
                e instanceof DriftError && e.exitCode === 9 && /cannot check local/.test(e.message),
        );
    });
    it("refuses a host's malformed status line before comparing anything", async () => {
        await assert.rejects(
            checkHosts(
                "local",
                { config: localConfigJson(), outputs: released },
                hosts({ local: '{"instance":"local","version":"$(id)"}' }, []),
            ),
            /reported an invalid version/,
        );
    });
    it("reads the hosts and their pinned keys from the stack's config", () => {
        const plan = planOf("local", localConfigJson());
        assert.equal(plan.hosts.length, 1);
        assert.match(plan.hosts[0].hostKey, /^ssh-ed25519 /);
    });

    function status(version: string, c: string, colour: string) {
        return {
            instance: "local",
            version,
            digest: c ? digest(c) : "",
            image: "127.0.0.1:5555/app",
            active: colour as "" | "blue" | "green",
        };
    }
});

describe("drift.yml", () => {
    const drift = YAML.parse(renderedByStack().production[".github/workflows/drift.yml"]) as {
        on: Record<string, unknown>;
        permissions: Record<string, string>;
        jobs: Record<
            string,
            { permissions: Record<string, string>; environment?: { name: string }; if?: string }
        >;
    };
    it("runs daily and on demand", () => {
        assert.deepEqual(Object.keys(drift.on).sort(), ["schedule", "workflow_dispatch"]);
    });
    it("gives issues: write to the issues job alone, which is bound to no environment", () => {
        assert.deepEqual(drift.permissions, {});
        for (const [id, job] of Object.entries(drift.jobs)) {
            const writes = Object.entries(job.permissions).filter(([, l]) => l === "write");
            assert.deepEqual(writes, id === "issues" ? [["issues", "write"]] : [], id);
        }
        assert.equal(drift.jobs.issues.environment, undefined);
    });
    it("checks staging from the drift environment and production only by hand from a tag, in production", () => {
        assert.equal(drift.jobs.staging.environment?.name, "drift");
        assert.equal(drift.jobs.production.environment?.name, "production");
        assert.match(drift.jobs.production.if ?? "", /workflow_dispatch.*refs\/tags\//);
        const production = JSON.stringify(drift.jobs.production);
        for (const secret of ["DEPLOY_SSH_KEY", "DOCKER_PASSWORD", "DOCKER_USERNAME"]) {
            assert.ok(!production.includes(secret), `the production drift job reads ${secret}`);
        }
    });
});
